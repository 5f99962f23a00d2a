/*
 * The guest kernel's event layer, private to guest/: one table of bit
 * operations and one consumer per ABI (evtchn_2l.c on shared_info,
 * evtchn_fifo.c on the event array and control blocks), chosen per
 * domain the first time its kernel uses events (evtchn.c). Relies on the
 * public guest.h only.
 */
#ifndef XENSIM_GUEST_EVTCHN_H
#define XENSIM_GUEST_EVTCHN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xensim/guest.h>
#include <xen/foreign/x86_32.h>

struct guest_evtchn;
struct guest_fifo;

typedef void (*guest_evtchn_handler_t)(evtchn_port_t port, void *arg);

/* What the kernel does to a port's bits and how it consumes events. Every
 * op bounds-checks the port itself: callers pass what guests pass. */
struct guest_evtchn_ops {
    const char *name;
    /* Ports this ABI can name: 2-level word_bits^2, FIFO 2^17. */
    unsigned int (*nr_ports)(const struct guest_evtchn *ge);
    /* Makes the port's bits exist before it is used (FIFO: adds event
     * array pages up to it). 0 or a negative errno. */
    int (*setup)(struct guest_evtchn *ge, evtchn_port_t port);
    void (*mask)(struct guest_evtchn *ge, evtchn_port_t port);
    void (*clear_pending)(struct guest_evtchn *ge, evtchn_port_t port);
    bool (*is_pending)(struct guest_evtchn *ge, evtchn_port_t port);
    bool (*is_masked)(struct guest_evtchn *ge, evtchn_port_t port);
    /* The upcall's loop on this vCPU: handler(port) for each event, which
     * acks it; returns how many were handled. */
    unsigned int (*scan)(struct guest_evtchn *ge, guest_evtchn_handler_t handler, void *arg);
};

extern const struct guest_evtchn_ops guest_evtchn_2l_ops, guest_evtchn_fifo_ops;

/* A domain's event layer: its ABI's ops, set once at boot, and the FIFO
 * consumer's state. lock serialises boot and setup (the hypercalls that
 * grow the event array); the ops themselves take no lock. */
struct guest_evtchn {
    struct xensim_irqlock lock;
    const struct guest_evtchn_ops *_Atomic ops;
    struct guest_fifo *fifo;            /* set before ops, FIFO only */
};

/* This domain's event layer, booted at first use (switching to FIFO if
 * the domain's configuration asks its kernel to); NULL off a vCPU or
 * when no memory is left. */
struct guest_evtchn *guest_evtchn(void);

/* evtchn_fifo.c: the switch at boot (EVTCHNOP_init_control on every
 * vCPU, then the first event array page). 0, or a negative errno and the
 * kernel stays 2-level. Called with ge->lock held. */
int guest_fifo_boot(struct guest_evtchn *ge);
void guest_fifo_free(struct guest_fifo *f);

/* This vCPU's upcall flag and mask, written by the kernel and by Xen.
 * Both come first in either vcpu_info layout; NULL off a vCPU. */
_Static_assert(offsetof(struct vcpu_info, evtchn_upcall_pending) ==
               offsetof(struct vcpu_info_x86_32, evtchn_upcall_pending), "vcpu_info layout");
_Static_assert(offsetof(struct vcpu_info, evtchn_upcall_mask) ==
               offsetof(struct vcpu_info_x86_32, evtchn_upcall_mask), "vcpu_info layout");

static inline uint8_t *guest_upcall_pending(void)
{
    struct vcpu_info *vi = xensim_guest_vcpu_info();
    return vi ? &vi->evtchn_upcall_pending : NULL;
}

static inline uint8_t *guest_upcall_mask(void)
{
    struct vcpu_info *vi = xensim_guest_vcpu_info();
    return vi ? &vi->evtchn_upcall_mask : NULL;
}

#endif
