/*
 * Private to the toolstack: a connection to the simulator's xenstored
 * (toolstack/xenstored.c keeps which one runs) for the other calls.
 */
#ifndef TS_XENSTORED_H
#define TS_XENSTORED_H

#include <stdbool.h>
#include <xen/event_channel.h>
#include <xensim/xensim.h>
#include "xs_client.h"

/* A socket connection as dom0 to the xenstored of sim: 0, or -ENODEV
 * when xensim_xenstore_start() was not called. ts_xs_close() it. */
int ts_connect(struct xensim *sim, struct ts_xs *x);

/* A running daemon as the toolstack uses it: the built-in one
 * (xenstored.c) or a program (program.c). connect returns a socket
 * connection as dom0 (a descriptor) or a negative errno; usage fills u or
 * returns -EOPNOTSUPP when the daemon cannot say; stop ends the daemon
 * and frees it. */
struct ts_daemon_ops {
    int (*connect)(void *daemon);
    int (*usage)(void *daemon, struct xensim_xenstore_usage *u);
    void (*stop)(void *daemon);
    /* The daemon's tree and watches as a debugger sees them (under its
     * lock), or -EOPNOTSUPP when the daemon is a process of its own. */
    int (*visit)(void *daemon, const struct xensim_xenstore_visitor *v, void *arg);
};

/* Makes daemon sim's xenstored (-EEXIST if one runs) and introduces
 * every domain to it; the toolstack owns it from then on, unless this
 * fails. */
int ts_attach(struct xensim *sim, const struct ts_daemon_ops *ops, void *daemon);
bool ts_running(struct xensim *sim);

/* dom0's store ring, made by its kernel (xenbus/): 0, or -EEXIST if it
 * has one already, or a negative errno. */
int ts_dom0_ring(struct xensim *sim, xen_pfn_t *pfn, evtchn_port_t *port);

/*
 * Both halves of a device in one transaction (devices.c), as libxl's
 * libxl__device_generic_add writes them: each directory owned by its end
 * and readable by the other, the fixed keys then the extra ones (each a
 * NULL-terminated key, value list, or NULL). fpath_new: -EEXIST if the
 * front end's directory is there already (a console 0's is the domain's
 * own console directory, written to as it is).
 */
struct ts_device_halves {
    const char *fpath, *bpath;
    bool fpath_new;
    domid_t frontend, backend;
    const char *const *front_fixed, *const *front_extra;
    const char *const *back_fixed, *const *back_extra;
};
int ts_device_add(struct ts_xs *ts, const struct ts_device_halves *h);

#endif
