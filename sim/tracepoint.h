/*
 * The trace points' side of <xensim/trace.h>, private to sim/: how a hot
 * path asks whether anyone listens (one load and a branch), and the
 * out-of-line functions that build an event and hand it to the
 * subscribers (trace.c). A point reads
 *     if (trace_on(sim))
 *         trace_send(...);
 * so that nothing but the branch is paid while nobody subscribes.
 */
#ifndef XENSIM_TRACEPOINT_H
#define XENSIM_TRACEPOINT_H

#include <xensim/trace.h>
#include "sim.h"

static inline bool trace_on(const struct xensim *sim)
{
    return __builtin_expect(atomic_load_explicit(&sim->trace_nsubs, memory_order_relaxed) != 0, 0);
}

/* Fills the header of an event: kind, time, who; the rest 0. */
void trace_event_init(struct xensim_trace_event *ev, enum xensim_trace_kind kind,
                      const struct xensim *sim, domid_t domid, uint32_t vcpu);
/* The vCPU this thread runs if it is one of d's, else XENSIM_TRACE_NO_VCPU. */
uint32_t trace_current_vcpu(const struct domain *d);
/* Calls every subscriber with ev. */
void trace_emit(struct xensim *sim, const struct xensim_trace_event *ev);

/* The points of the event path; see <xensim/trace.h> for what each says. */
void trace_hypercall(struct vcpu *v, enum xensim_trace_kind kind, uint32_t hypercall,
                     uint32_t subop, long rc);
/* Before the raise, so the send is seen before the upcall it causes. */
void trace_send(struct domain *ld, evtchn_port_t lport, struct domain *rd, evtchn_port_t rport,
                struct vcpu *rv, bool to_host);
void trace_raise(struct vcpu *v, evtchn_port_t port);
void trace_upcall(struct vcpu *v, enum xensim_trace_kind kind);
void trace_block(struct vcpu *v, uint64_t deadline);
void trace_wake(struct vcpu *v, bool woken);

/* Subscribing with sim->trace_lock held, for the built-in subscribers,
 * which change under that lock together with their own state. */
int trace_subscribe_locked(struct xensim *sim, xensim_trace_fn fn, void *arg);
int trace_unsubscribe_locked(struct xensim *sim, xensim_trace_fn fn, void *arg);

/* The built-in subscribers' teardown, at xensim_destroy (trace.c calls
 * them with sim->trace_lock held). */
void trace_chrome_stop_locked(struct xensim *sim);
void narrate_xen_stop_locked(struct xensim *sim);

#endif
