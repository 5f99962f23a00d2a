/*
 * The trace point dispatcher (<xensim/trace.h>): the subscriber list and
 * the points of the event path, which build an event and call each
 * subscriber with it. Owns sim->trace_subs, trace_nsubs, trace_seq and
 * v->trace_cause; the Chrome writer (trace_chrome.c) and the narrator
 * (narrate_xen.c) subscribe here like anyone else.
 *
 * The list is an RCU list changed under sim->trace_lock, so a point takes
 * no lock, and an unsubscribe that waits for a grace period knows the
 * subscriber is no longer running.
 */
#include <errno.h>
#include "tracepoint.h"
/* After sim.h's rcu_publish.h, so the list's inline helpers publish with
 * the release stores a TSan build sees. */
#include <urcu/rculist.h>

struct trace_sub {
    xensim_trace_fn fn;
    void *arg;
    struct cds_list_head link;
};

void trace_init(struct xensim *sim)
{
    pthread_mutex_init(&sim->trace_lock, NULL);
    CDS_INIT_LIST_HEAD(&sim->trace_subs);
}

static struct trace_sub *sub_find(struct xensim *sim, xensim_trace_fn fn, void *arg)
{
    struct trace_sub *s;
    cds_list_for_each_entry(s, &sim->trace_subs, link)
        if (s->fn == fn && s->arg == arg)
            return s;
    return NULL;
}

int trace_subscribe_locked(struct xensim *sim, xensim_trace_fn fn, void *arg)
{
    if (sub_find(sim, fn, arg))
        return -EEXIST;
    struct trace_sub *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->fn = fn;
    s->arg = arg;
    cds_list_add_tail_rcu(&s->link, &sim->trace_subs);
    atomic_fetch_add(&sim->trace_nsubs, 1);
    return 0;
}

int trace_unsubscribe_locked(struct xensim *sim, xensim_trace_fn fn, void *arg)
{
    struct trace_sub *s = sub_find(sim, fn, arg);
    if (!s)
        return -ENOENT;
    cds_list_del_rcu(&s->link);
    atomic_fetch_sub(&sim->trace_nsubs, 1);
    /* Points still calling s finish before the grace period ends. */
    synchronize_rcu();
    free(s);
    return 0;
}

int xensim_trace_subscribe(struct xensim *sim, xensim_trace_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    sim_mutex_lock(&sim->trace_lock);
    int rc = trace_subscribe_locked(sim, fn, arg);
    sim_mutex_unlock(&sim->trace_lock);
    return rc;
}

int xensim_trace_unsubscribe(struct xensim *sim, xensim_trace_fn fn, void *arg)
{
    sim_mutex_lock(&sim->trace_lock);
    int rc = trace_unsubscribe_locked(sim, fn, arg);
    sim_mutex_unlock(&sim->trace_lock);
    return rc;
}

void trace_free(struct xensim *sim)
{
    sim_mutex_lock(&sim->trace_lock);
    trace_chrome_stop_locked(sim);
    narrate_xen_stop_locked(sim);
    while (!cds_list_empty(&sim->trace_subs)) {
        struct trace_sub *s = cds_list_entry(sim->trace_subs.next, struct trace_sub, link);
        trace_unsubscribe_locked(sim, s->fn, s->arg);
    }
    sim_mutex_unlock(&sim->trace_lock);
    pthread_mutex_destroy(&sim->trace_lock);
}

void trace_emit(struct xensim *sim, const struct xensim_trace_event *ev)
{
    /* Host threads (the timer, hostdev users, xenstored) may be new to
     * RCU; a vCPU is registered already and pays a thread-local test. */
    sim_rcu_ensure();
    rcu_read_lock();
    struct trace_sub *s;
    cds_list_for_each_entry_rcu(s, &sim->trace_subs, link)
        s->fn(sim, ev, s->arg);
    rcu_read_unlock();
}

void trace_event_init(struct xensim_trace_event *ev, enum xensim_trace_kind kind,
                      const struct xensim *sim, domid_t domid, uint32_t vcpu)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->ts_ns = sim_now(sim);
    ev->domid = domid;
    ev->vcpu = vcpu;
}

uint32_t trace_current_vcpu(const struct domain *d)
{
    const struct vcpu *cur = current_vcpu;
    return cur && cur->d == d ? cur->id : XENSIM_TRACE_NO_VCPU;
}

void trace_hypercall(struct vcpu *v, enum xensim_trace_kind kind, uint32_t hypercall,
                     uint32_t subop, long rc)
{
    struct xensim_trace_event ev;
    trace_event_init(&ev, kind, v->d->sim, v->d->domid, v->id);
    ev.hypercall = hypercall;
    ev.subop = subop;
    ev.rc = rc;
    trace_emit(v->d->sim, &ev);
}

void trace_send(struct domain *ld, evtchn_port_t lport, struct domain *rd, evtchn_port_t rport,
                struct vcpu *rv, bool to_host)
{
    struct xensim *sim = ld->sim;
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_SEND, sim, ld->domid, trace_current_vcpu(ld));
    ev.seq = atomic_fetch_add(&sim->trace_seq, 1) + 1;
    ev.port = lport;
    ev.remote_dom = rd->domid;
    ev.remote_port = rport;
    ev.u.send.remote_vcpu = rv->id;
    ev.u.send.to_host = to_host;
    ev.u.send.was_pending = evtchn_port_pending(rd, rport);
    /* A host process takes its events without an upcall. */
    if (!to_host)
        atomic_store(&rv->trace_cause, ev.seq);
    trace_emit(sim, &ev);
}

void trace_raise(struct vcpu *v, evtchn_port_t port)
{
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_RAISE, v->d->sim, v->d->domid, v->id);
    ev.port = port;
    ev.seq = atomic_load(&v->trace_cause);
    trace_emit(v->d->sim, &ev);
}

void trace_upcall(struct vcpu *v, enum xensim_trace_kind kind)
{
    struct xensim_trace_event ev;
    trace_event_init(&ev, kind, v->d->sim, v->d->domid, v->id);
    if (kind == XENSIM_TRACE_UPCALL_ENTER)
        ev.seq = atomic_exchange(&v->trace_cause, 0);
    trace_emit(v->d->sim, &ev);
}

void trace_block(struct vcpu *v, uint64_t deadline)
{
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_BLOCK, v->d->sim, v->d->domid, v->id);
    ev.u.block.deadline = deadline;
    trace_emit(v->d->sim, &ev);
}

void trace_wake(struct vcpu *v, bool woken)
{
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_WAKE, v->d->sim, v->d->domid, v->id);
    ev.u.wake.woken = woken;
    trace_emit(v->d->sim, &ev);
}

void xensim_trace_xenstore_msg(struct xensim *sim, domid_t domid, const struct xsd_sockmsg *msg,
                               const void *payload, bool reply)
{
    if (!trace_on(sim) || !msg)
        return;
    const struct vcpu *cur = current_vcpu;
    uint32_t vcpu = cur && cur->d->sim == sim && cur->d->domid == domid ? cur->id
                                                                        : XENSIM_TRACE_NO_VCPU;
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_XENSTORE_MSG, sim, domid, vcpu);
    ev.u.xenstore.type = msg->type;
    ev.u.xenstore.req_id = msg->req_id;
    ev.u.xenstore.tx_id = msg->tx_id;
    ev.u.xenstore.len = msg->len;
    ev.u.xenstore.reply = reply;
    ev.u.xenstore.payload = payload;
    trace_emit(sim, &ev);
}

int xensim_trace_note(struct xensim *sim, domid_t domid, const char *name, const char *args)
{
    if (args) {
        const char *p = args;
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        if (*p != '{')
            return -EINVAL;
    }
    if (!trace_on(sim))
        return 0;
    const struct vcpu *v = current_vcpu;
    struct xensim_trace_event ev;
    trace_event_init(&ev, XENSIM_TRACE_NOTE, sim, domid,
                     v && v->d->sim == sim && v->d->domid == domid ? v->id
                                                                   : XENSIM_TRACE_NO_VCPU);
    ev.u.note.name = name ? name : "note";
    ev.u.note.args = args;
    trace_emit(sim, &ev);
    return 0;
}
