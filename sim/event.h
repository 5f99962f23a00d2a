/*
 * How a raised port reaches a vCPU, as Xen's asm/event.h: the upcall flag
 * and the kick, and the vCPUs polling on the port. Inline because every
 * send runs them, and so that a send's path stays in the ABI's file and
 * the scheduler's (docs/ARCHITECTURE.md). For the ABIs (evtchn_2l.c,
 * evtchn_fifo.c) and host consumers (hostdev_evtchn.c).
 */
#ifndef XENSIM_SIM_EVENT_H
#define XENSIM_SIM_EVENT_H

#include <sched.h>
#include "sim.h"
#include "tracepoint.h"

/* Sets evtchn_upcall_pending for port's event and kicks the vCPU, once
 * per 0 to 1 edge of the flag. */
static inline void vcpu_mark_events_pending(struct vcpu *v, evtchn_port_t port)
{
    /* Traced, the raise is seen before its upcall: a vCPU that is running
     * (not blocked, so not waiting for the kick) can see the flag at its
     * next hypercall exit, before this thread reaches the trace point;
     * vcpu_upcall_wait_traced holds it until then. */
    bool traced = trace_on(v->d->sim);
    if (traced)
        atomic_fetch_add(&v->raises_untraced, 1);
    bool edge = !__atomic_exchange_n(v->upcall_pending, 1, __ATOMIC_SEQ_CST);
    if (traced) {
        if (edge)
            trace_raise(v, port);
        atomic_fetch_sub(&v->raises_untraced, 1);
    }
    if (edge)
        v->d->sim->sched->kick(v);
}

/* Before an upcall is traced: the raises it may be for are traced first
 * (they run on other threads, between two atomics, without blocking). */
static inline void vcpu_upcall_wait_traced(struct vcpu *v)
{
    while (atomic_load(&v->raises_untraced))
        sched_yield();
}

/* Xen's evtchn_check_pollers: port became pending, so vCPUs of d polling
 * on it, or on any port, wake. */
static inline void vcpu_wake_pollers(struct domain *d, evtchn_port_t port)
{
    if (!atomic_load(&d->pollers))
        return;
    for (unsigned int i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpus[i];
        if (!atomic_load(&v->polling))
            continue;
        /* A poll on one port sees the port itself (hypercall.c); one on
         * several, or still reading its ports, wakes for any. */
        long want = atomic_load(&v->poll_evtchn);
        if (want < 0)
            atomic_store(&v->poll_woken, true);
        if (want < 0 || want == (long)port)
            d->sim->sched->kick(v);
    }
}

#endif
