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

extern const struct guest_evtchn_ops guest_evtchn_2l_ops;

/* A domain's event layer: its ABI's ops, set once at boot. lock
 * serialises boot and setup; the ops themselves take no lock. */
struct guest_evtchn {
    struct xensim_irqlock lock;
    const struct guest_evtchn_ops *_Atomic ops;
};

/* This domain's event layer, booted at first use; NULL off a vCPU or
 * when no memory is left. */
struct guest_evtchn *guest_evtchn(void);

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
