/*
 * The hypervisor's "[xen]" narration, told from trace events: a send from
 * one guest to another, the kick of the vCPU it raised, and that vCPU
 * entering its event callback. The daemons' traffic (host processes) is
 * left out: it would drown the story. Owns sim->narrate_xen, which changes
 * under sim->trace_lock; writes through narrate.c.
 */
#include <errno.h>
#include "narrate.h"
#include "tracepoint.h"

struct narrate_xen {
    /* A bit per vCPU of each domain: a narrated send made a port of it
     * pending, so its kick and its upcall are told too. */
    _Atomic uint32_t due[DOMID_FIRST_RESERVED];
};
_Static_assert(XENSIM_MAX_VCPUS <= 32, "narrate_xen keeps a 32-bit word of vCPUs");

static void say(struct xensim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct xensim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    narrate_vline(sim, "[xen]", fmt, ap);
    va_end(ap);
}

static void narrate_send(struct xensim *sim, struct narrate_xen *nx,
                         const struct xensim_trace_event *ev)
{
    bool ipi = ev->remote_dom == ev->domid && ev->remote_port == ev->port;
    if (ev->vcpu == XENSIM_TRACE_NO_VCPU || ev->u.send.to_host || ipi)
        return;
    /* Points run under rcu_read_lock, and a send's peer is alive. */
    struct domain *rd = domain_lookup(sim, ev->remote_dom);
    if (!rd)
        return;
    unsigned int bits = rd->evtchn_word_bits;
    say(sim, "EVTCHNOP_send(dom%u port %u): dom%u port %u %s, evtchn_pending[%u] bit %u",
        ev->domid, ev->port, ev->remote_dom, ev->remote_port,
        ev->u.send.was_pending ? "was already pending (coalesced)" : "marked pending",
        ev->remote_port / bits, ev->remote_port % bits);
    if (!ev->u.send.was_pending)
        atomic_fetch_or(&nx->due[ev->remote_dom], 1u << ev->u.send.remote_vcpu);
}

static void narrate_raise(struct xensim *sim, struct narrate_xen *nx,
                          const struct xensim_trace_event *ev)
{
    if (atomic_load(&nx->due[ev->domid]) & (1u << ev->vcpu))
        say(sim, "dom%u vcpu%u: selector bit set, evtchn_upcall_pending = 1, vCPU kicked",
            ev->domid, ev->vcpu);
}

static void narrate_upcall(struct xensim *sim, struct narrate_xen *nx,
                           const struct xensim_trace_event *ev)
{
    uint32_t bit = 1u << ev->vcpu;
    if (atomic_fetch_and(&nx->due[ev->domid], ~bit) & bit)
        say(sim, "enters dom%u's event callback on vcpu%u (the \"interrupt\")", ev->domid,
            ev->vcpu);
}

typedef void (*narrate_fn)(struct xensim *sim, struct narrate_xen *nx,
                           const struct xensim_trace_event *ev);
static const narrate_fn narrate_fns[XENSIM_TRACE_NR_KINDS] = {
    [XENSIM_TRACE_SEND] = narrate_send,
    [XENSIM_TRACE_RAISE] = narrate_raise,
    [XENSIM_TRACE_UPCALL_ENTER] = narrate_upcall,
};

static void narrate_xen_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    unsigned int k = (unsigned int)ev->kind;
    if (k < ARRAY_SIZE(narrate_fns) && narrate_fns[k])
        narrate_fns[k](sim, arg, ev);
}

int narrate_xen_set_locked(struct xensim *sim, bool on)
{
    struct narrate_xen *nx = sim->narrate_xen;
    if (on == (nx != NULL))
        return 0;
    if (!on) {
        trace_unsubscribe_locked(sim, narrate_xen_event, nx);
        sim->narrate_xen = NULL;
        free(nx);
        return 0;
    }
    nx = calloc(1, sizeof(*nx));
    if (!nx)
        return -ENOMEM;
    int rc = trace_subscribe_locked(sim, narrate_xen_event, nx);
    if (rc) {
        free(nx);
        return rc;
    }
    sim->narrate_xen = nx;
    return 0;
}

void narrate_xen_stop_locked(struct xensim *sim)
{
    narrate_xen_set_locked(sim, false);
}
