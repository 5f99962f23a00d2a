/*
 * What the hostile front ends (vbd_front.c, vif_front.c) share: the part
 * of their state a watch callback may touch in the middle of an attack,
 * the event channel, and the bracket around an attack; and the sizes
 * every hostile peer uses (the console pair's too). Private to hostile/.
 */
#ifndef XENSIM_HOSTILE_FRONT_H
#define XENSIM_HOSTILE_FRONT_H

#include <stdbool.h>
#include <xensim/hostile.h>
#include <xensim/xenbus.h>

#define HOSTILE_STORM_EVENTS 100000
#define HOSTILE_WAIT_NS (30ull * 1000 * 1000 * 1000)   /* for the back end to answer */
#define HOSTILE_NO_REF 0x7ffffff0u                      /* a ref nobody granted */

/* First in each front end's own state (dev->priv points at both). Watch
 * callbacks run inside this domain's xenbus calls, so the framework may
 * disconnect or remove the device in the middle of an attack: attacks
 * use these copies of the device's paths, test `live` after every
 * xenbus call, and remove leaves the memory to an attack still running. */
struct hostile_front {
    evtchn_port_t port;
    char nodename[XENSIM_XENBUS_PATH_MAX], otherend[XENSIM_XENBUS_PATH_MAX];
    bool live;                 /* rings set up and not disconnected */
    bool attacking, removed;   /* remove() ran during an attack */
    /* Ends the grants, frees the pages and the state itself. */
    void (*release)(struct hostile_front *f);
};

/* A fresh port for the other end, bound (the attacks read their rings
 * themselves); the front end is live. 0 or a negative errno. */
int hostile_front_bind(struct hostile_front *f, domid_t otherend);
/* At connect: keeps the device's paths. */
void hostile_front_paths(struct hostile_front *f, const struct xensim_xenbus_device *dev);
/* The drivers' disconnect and remove. */
void hostile_front_disconnect(struct xensim_xenbus_device *dev);
void hostile_front_remove(struct xensim_xenbus_device *dev);

/* HOSTILE_STORM_EVENTS notifications while live. */
void hostile_front_storm(struct hostile_front *f, struct xensim_hostile_report *r);
/* Clears the port and waits for its next event, 10 ms at most. */
void hostile_front_poll(struct hostile_front *f);

/* The device devid of drv, Connected, marked as under attack; NULL if
 * there is none. */
struct hostile_front *hostile_front_begin(const struct xensim_xenbus_driver *drv,
                                          unsigned int devid);
/* After the attack: frees a device removed during it. */
void hostile_front_end(struct hostile_front *f);

#endif
