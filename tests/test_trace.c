/*
 * Trace points and subscribers (<xensim/trace.h>): the events of a send
 * and the upcall it causes, in order and with their fields; unsubscribing;
 * two subscribers; grant map, copy and unmap; block and wake; the
 * XenStore message entry point; narration lines and programs' notes, and
 * the Chrome events handed to a function; the names. Waits on the events
 * themselves, never on time. Uses the public API only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/trace.h>
#include <xen/sched.h>
#include "harness.h"

/* A subscriber that keeps copies of the events (up to a bound) and lets
 * the test wait for one. order numbers arrivals across recorders. */
#define REC_MAX 4096
static _Atomic unsigned int order;

struct recorder {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned int n, dropped;
    struct xensim_trace_event ev[REC_MAX];
    unsigned int at[REC_MAX];
};

static struct recorder *rec_new(void)
{
    struct recorder *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    return r;
}

static void rec_free(struct recorder *r)
{
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static void rec_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    struct recorder *r = arg;
    (void)sim;
    pthread_mutex_lock(&r->lock);
    if (r->n < REC_MAX) {
        memcpy(&r->ev[r->n], ev, sizeof(*ev));   /* padding too: compared whole */
        r->at[r->n] = atomic_fetch_add(&order, 1);
        r->n++;
    } else {
        r->dropped++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static unsigned int rec_count(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    unsigned int n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Index of the first event from `from` on of kind for domid (and vcpu,
 * unless any), or -1. Caller holds r->lock. */
static int rec_find(const struct recorder *r, unsigned int from, enum xensim_trace_kind kind,
                    domid_t domid, uint32_t vcpu, bool any_vcpu)
{
    for (unsigned int i = from; i < r->n; i++)
        if (r->ev[i].kind == kind && r->ev[i].domid == domid &&
            (any_vcpu || r->ev[i].vcpu == vcpu))
            return (int)i;
    return -1;
}

/* Waits (bounded by Check's timeout) for such an event from `from` on. */
static int rec_wait(struct recorder *r, unsigned int from, enum xensim_trace_kind kind,
                    domid_t domid, uint32_t vcpu)
{
    pthread_mutex_lock(&r->lock);
    int i;
    while ((i = rec_find(r, from, kind, domid, vcpu, false)) < 0)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return i;
}

/* An interdomain channel: the guest listens, dom0 sends. */
struct chan {
    domid_t guest;
    long guest_port, dom0_port;
};

static void ignore_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
}

static void guest_listen(void *p)
{
    struct chan *c = p;
    c->guest_port = xensim_evtchn_alloc_unbound(0);
    ck_assert_int_gt(c->guest_port, 0);
    ck_assert_int_eq(xensim_irq_bind((evtchn_port_t)c->guest_port, ignore_irq, NULL), 0);
}

static void dom0_bind(void *p)
{
    struct chan *c = p;
    c->dom0_port = xensim_evtchn_bind_interdomain(c->guest, (evtchn_port_t)c->guest_port);
    ck_assert_int_gt(c->dom0_port, 0);
}

static void dom0_send(void *p)
{
    struct chan *c = p;
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)c->dom0_port), 0);
}

static void dom0_close(void *p)
{
    struct chan *c = p;
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->dom0_port), 0);
}

static void guest_unlisten(void *p)
{
    struct chan *c = p;
    xensim_irq_unbind((evtchn_port_t)c->guest_port);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->guest_port), 0);
}

static struct xensim *chan_open(struct chan *c)
{
    struct xensim *sim = th_sim_new();
    c->guest = th_domain(sim, "traced", false, XENSIM_GNTTAB_FAST);
    th_call(sim, c->guest, 0, guest_listen, c);
    th_call(sim, 0, 0, dom0_bind, c);
    return sim;
}

static void chan_close(struct xensim *sim, struct chan *c)
{
    th_call(sim, 0, 0, dom0_close, c);
    th_call(sim, c->guest, 0, guest_unlisten, c);
    th_sim_free_checked(sim);
}

/* One send and its upcall, seen by r; returns the SEND's index. */
static int send_and_wait(struct xensim *sim, struct chan *c, struct recorder *r)
{
    unsigned int from = rec_count(r);
    th_call(sim, 0, 0, dom0_send, c);
    int send = rec_wait(r, from, XENSIM_TRACE_SEND, 0, 0);
    rec_wait(r, (unsigned int)send, XENSIM_TRACE_UPCALL_EXIT, c->guest, 0);
    return send;
}

START_TEST(test_send_to_upcall)
{
    struct chan c = { 0 };
    struct xensim *sim = chan_open(&c);
    struct recorder *r = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, r), 0);
    int send = send_and_wait(sim, &c, r);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, r), 0);

    /* No lock needed from here: nothing is recorded any more. */
    const struct xensim_trace_event *s = &r->ev[send];
    ck_assert_uint_eq(s->vcpu, 0);
    ck_assert_uint_eq(s->port, (evtchn_port_t)c.dom0_port);
    ck_assert_uint_eq(s->remote_dom, c.guest);
    ck_assert_uint_eq(s->remote_port, (evtchn_port_t)c.guest_port);
    ck_assert_uint_eq(s->u.send.remote_vcpu, 0);
    ck_assert(!s->u.send.to_host);
    ck_assert_uint_gt(s->seq, 0);

    /* The hypercall around it, on dom0's vCPU. */
    int enter = -1;
    for (int i = send - 1; i >= 0 && enter < 0; i--)
        if (r->ev[i].kind == XENSIM_TRACE_HYPERCALL_ENTER && r->ev[i].domid == 0)
            enter = i;
    ck_assert_int_ge(enter, 0);
    ck_assert_uint_eq(r->ev[enter].hypercall, __HYPERVISOR_event_channel_op);
    ck_assert_uint_eq(r->ev[enter].subop, EVTCHNOP_send);
    ck_assert_str_eq(xensim_trace_op_name(r->ev[enter].hypercall, r->ev[enter].subop),
                     "EVTCHNOP_send");
    int exit = rec_find(r, (unsigned int)send, XENSIM_TRACE_HYPERCALL_EXIT, 0, 0, false);
    ck_assert_int_gt(exit, send);
    ck_assert_uint_eq(r->ev[exit].subop, EVTCHNOP_send);
    ck_assert_int_eq(r->ev[exit].rc, 0);

    /* Then the guest's vCPU: raised for its port, then the upcall, both
     * naming this send as their cause. */
    int raise = rec_find(r, (unsigned int)send, XENSIM_TRACE_RAISE, c.guest, 0, false);
    ck_assert_int_gt(raise, send);
    ck_assert_uint_eq(r->ev[raise].port, (evtchn_port_t)c.guest_port);
    ck_assert_uint_eq(r->ev[raise].seq, s->seq);
    int up = rec_find(r, (unsigned int)raise, XENSIM_TRACE_UPCALL_ENTER, c.guest, 0, false);
    ck_assert_int_gt(up, raise);
    ck_assert_uint_eq(r->ev[up].seq, s->seq);
    int down = rec_find(r, (unsigned int)up, XENSIM_TRACE_UPCALL_EXIT, c.guest, 0, false);
    ck_assert_int_gt(down, up);
    /* One clock for every thread. */
    ck_assert_uint_le(r->ev[enter].ts_ns, s->ts_ns);
    ck_assert_uint_le(s->ts_ns, r->ev[raise].ts_ns);
    ck_assert_uint_le(r->ev[raise].ts_ns, r->ev[up].ts_ns);
    ck_assert_uint_le(r->ev[up].ts_ns, r->ev[down].ts_ns);
    ck_assert_uint_eq(r->dropped, 0);

    rec_free(r);
    chan_close(sim, &c);
}
END_TEST

START_TEST(test_unsubscribe_stops)
{
    struct chan c = { 0 };
    struct xensim *sim = chan_open(&c);
    struct recorder *a = rec_new(), *b = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, a), 0);
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, a), -EEXIST);
    ck_assert_int_eq(xensim_trace_subscribe(sim, NULL, a), -EINVAL);
    send_and_wait(sim, &c, a);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, a), 0);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, a), -ENOENT);
    unsigned int seen = rec_count(a);

    /* b watches a second send happen; a hears nothing of it. */
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, b), 0);
    send_and_wait(sim, &c, b);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, b), 0);
    ck_assert_uint_eq(rec_count(a), seen);
    ck_assert_uint_gt(rec_count(b), 0);

    rec_free(a);
    rec_free(b);
    chan_close(sim, &c);
}
END_TEST

START_TEST(test_two_subscribers)
{
    struct chan c = { 0 };
    struct xensim *sim = chan_open(&c);
    struct recorder *a = rec_new(), *b = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, a), 0);
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, b), 0);
    int sa = send_and_wait(sim, &c, a);
    rec_wait(b, 0, XENSIM_TRACE_UPCALL_EXIT, c.guest, 0);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, a), 0);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, b), 0);

    /* b saw the same send, after a had it: subscribers go in order. */
    int sb = -1;
    for (unsigned int i = 0; i < b->n && sb < 0; i++)
        if (b->ev[i].kind == XENSIM_TRACE_SEND && b->ev[i].seq == a->ev[sa].seq)
            sb = (int)i;
    ck_assert_int_ge(sb, 0);
    ck_assert_mem_eq(&a->ev[sa], &b->ev[sb], sizeof(a->ev[sa]));
    ck_assert_uint_lt(a->at[sa], b->at[sb]);

    rec_free(a);
    rec_free(b);
    chan_close(sim, &c);
}
END_TEST

/* The guest grants a page; dom0 maps it, copies into it by grant, unmaps. */
struct grant {
    domid_t guest;
    xen_pfn_t guest_pfn, dom0_pfn;
    long ref;
    grant_handle_t handle;
    uint64_t host_addr;
    int16_t map_status, copy_status, unmap_status, bad_status;
};

static void guest_grant(void *p)
{
    struct grant *g = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&g->guest_pfn), 0);
    g->ref = xensim_gnttab_grant_access(0, g->guest_pfn, false);
    ck_assert_int_ge(g->ref, 0);
}

static void dom0_map_copy_unmap(void *p)
{
    struct grant *g = p;
    struct gnttab_map_grant_ref m = {
        .flags = GNTMAP_host_map, .ref = (grant_ref_t)g->ref, .dom = g->guest,
    };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    g->map_status = m.status;
    g->handle = m.handle;
    g->host_addr = m.host_addr;

    ck_assert_int_eq(xensim_guest_page_alloc(&g->dom0_pfn), 0);
    struct gnttab_copy cp = {
        .source = { .u.gmfn = g->dom0_pfn, .domid = DOMID_SELF, .offset = 8 },
        .dest = { .u.ref = (grant_ref_t)g->ref, .domid = g->guest, .offset = 16 },
        .len = 32, .flags = GNTCOPY_dest_gref,
    };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_copy, &cp, 1), 0);
    g->copy_status = cp.status;

    struct gnttab_unmap_grant_ref u = { .host_addr = g->host_addr, .handle = g->handle };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    g->unmap_status = u.status;

    /* A ref the guest never granted fails, and the event says so. */
    struct gnttab_map_grant_ref bad = {
        .flags = GNTMAP_host_map, .ref = (grant_ref_t)g->ref + 100, .dom = g->guest,
    };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &bad, 1), 0);
    g->bad_status = bad.status;
    xensim_guest_page_free(g->dom0_pfn);
}

static void guest_ungrant(void *p)
{
    struct grant *g = p;
    ck_assert_int_eq(xensim_gnttab_end_access((grant_ref_t)g->ref), 0);
    xensim_gnttab_free_ref((grant_ref_t)g->ref);
    xensim_guest_page_free(g->guest_pfn);
}

START_TEST(test_map_copy_unmap)
{
    struct xensim *sim = th_sim_new();
    struct grant g = { .guest = th_domain(sim, "granter", false, XENSIM_GNTTAB_STRICT) };
    th_call(sim, g.guest, 0, guest_grant, &g);
    struct recorder *r = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, r), 0);
    th_call(sim, 0, 0, dom0_map_copy_unmap, &g);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, r), 0);
    ck_assert_int_eq(g.map_status, GNTST_okay);
    ck_assert_int_eq(g.copy_status, GNTST_okay);
    ck_assert_int_eq(g.unmap_status, GNTST_okay);
    ck_assert_int_ne(g.bad_status, GNTST_okay);

    int map = rec_find(r, 0, XENSIM_TRACE_MAP, 0, 0, false);
    ck_assert_int_ge(map, 0);
    const struct xensim_trace_event *e = &r->ev[map];
    ck_assert_uint_eq(e->remote_dom, g.guest);
    ck_assert_uint_eq(e->ref, (grant_ref_t)g.ref);
    ck_assert_uint_eq(e->handle, g.handle);
    ck_assert_uint_eq(e->frame, g.guest_pfn);
    ck_assert_int_eq(e->rc, GNTST_okay);
    ck_assert_uint_eq(e->u.map.flags, GNTMAP_host_map);
    ck_assert_uint_eq(e->u.map.host_addr, g.host_addr);

    int copy = rec_find(r, (unsigned int)map, XENSIM_TRACE_COPY, 0, 0, false);
    ck_assert_int_gt(copy, map);
    e = &r->ev[copy];
    ck_assert_int_eq(e->rc, GNTST_okay);
    ck_assert_uint_eq(e->remote_dom, g.guest);
    ck_assert_uint_eq(e->ref, (grant_ref_t)g.ref);
    ck_assert_uint_eq(e->u.copy.src_dom, DOMID_SELF);
    ck_assert_uint_eq(e->u.copy.src, g.dom0_pfn);
    ck_assert_uint_eq(e->u.copy.dst_dom, g.guest);
    ck_assert_uint_eq(e->u.copy.dst, (grant_ref_t)g.ref);
    ck_assert_uint_eq(e->u.copy.src_offset, 8);
    ck_assert_uint_eq(e->u.copy.dst_offset, 16);
    ck_assert_uint_eq(e->u.copy.len, 32);
    ck_assert_uint_eq(e->u.copy.flags, GNTCOPY_dest_gref);

    int unmap = rec_find(r, (unsigned int)copy, XENSIM_TRACE_UNMAP, 0, 0, false);
    ck_assert_int_gt(unmap, copy);
    e = &r->ev[unmap];
    ck_assert_uint_eq(e->handle, g.handle);
    ck_assert_uint_eq(e->ref, (grant_ref_t)g.ref);
    ck_assert_uint_eq(e->remote_dom, g.guest);
    ck_assert_uint_eq(e->frame, g.guest_pfn);
    ck_assert_int_eq(e->rc, GNTST_okay);
    ck_assert_uint_eq(e->u.map.flags, GNTMAP_host_map);

    int bad = rec_find(r, (unsigned int)unmap, XENSIM_TRACE_MAP, 0, 0, false);
    ck_assert_int_gt(bad, unmap);
    ck_assert_int_eq(r->ev[bad].rc, g.bad_status);
    ck_assert_uint_eq(r->ev[bad].ref, (grant_ref_t)g.ref + 100);

    rec_free(r);
    th_call(sim, g.guest, 0, guest_ungrant, &g);
    th_sim_free_checked(sim);
}
END_TEST

/* A poll (on no port: any event) whose deadline has passed blocks, and
 * wakes by the deadline. */
static void guest_poll_expired(void *p)
{
    (void)p;
    struct sched_poll op = { .nr_ports = 0, .timeout = 1 };
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_poll, &op), 0);
}

START_TEST(test_block_wake)
{
    struct xensim *sim = th_sim_new();
    domid_t guest = th_domain(sim, "poller", false, XENSIM_GNTTAB_FAST);
    struct recorder *r = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, r), 0);
    th_call(sim, guest, 0, guest_poll_expired, NULL);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, r), 0);

    int enter = rec_find(r, 0, XENSIM_TRACE_HYPERCALL_ENTER, guest, 0, false);
    ck_assert_int_ge(enter, 0);
    ck_assert_uint_eq(r->ev[enter].hypercall, __HYPERVISOR_sched_op);
    ck_assert_uint_eq(r->ev[enter].subop, SCHEDOP_poll);
    int block = rec_find(r, (unsigned int)enter, XENSIM_TRACE_BLOCK, guest, 0, false);
    ck_assert_int_gt(block, enter);
    ck_assert_uint_eq(r->ev[block].u.block.deadline, 1);
    int wake = rec_find(r, (unsigned int)block, XENSIM_TRACE_WAKE, guest, 0, false);
    ck_assert_int_gt(wake, block);
    ck_assert(!r->ev[wake].u.wake.woken);

    rec_free(r);
    th_sim_free_checked(sim);
}
END_TEST

START_TEST(test_xenstore_msg)
{
    struct xensim *sim = th_sim_new();
    struct xsd_sockmsg msg = { .type = XS_READ, .req_id = 7, .tx_id = 3, .len = 5 };
    static const char payload[] = "name";
    /* Nobody listens: nothing to see, nothing breaks. */
    xensim_trace_xenstore_msg(sim, 5, &msg, payload, false);

    struct recorder *r = rec_new();
    ck_assert_int_eq(xensim_trace_subscribe(sim, rec_event, r), 0);
    xensim_trace_xenstore_msg(sim, 5, &msg, payload, false);
    msg.type = XS_ERROR;
    xensim_trace_xenstore_msg(sim, 5, &msg, "ENOENT", true);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, rec_event, r), 0);

    int req = rec_find(r, 0, XENSIM_TRACE_XENSTORE_MSG, 5, 0, true);
    ck_assert_int_ge(req, 0);
    const struct xensim_trace_event *e = &r->ev[req];
    ck_assert_uint_eq(e->vcpu, XENSIM_TRACE_NO_VCPU);
    ck_assert_uint_eq(e->u.xenstore.type, XS_READ);
    ck_assert_uint_eq(e->u.xenstore.req_id, 7);
    ck_assert_uint_eq(e->u.xenstore.tx_id, 3);
    ck_assert_uint_eq(e->u.xenstore.len, 5);
    ck_assert(!e->u.xenstore.reply);
    ck_assert_ptr_eq(e->u.xenstore.payload, payload);
    int rep = rec_find(r, (unsigned int)req + 1, XENSIM_TRACE_XENSTORE_MSG, 5, 0, true);
    ck_assert_int_gt(rep, req);
    ck_assert_uint_eq(r->ev[rep].u.xenstore.type, XS_ERROR);
    ck_assert(r->ev[rep].u.xenstore.reply);

    rec_free(r);
    th_sim_free_checked(sim);
}
END_TEST

/* Keeps the text of narration lines and notes, which are valid only
 * during the call. */
struct texts {
    pthread_mutex_t lock;
    unsigned int n;
    char line[8][256];
    uint64_t seq[8];
    enum xensim_trace_kind kind[8];
};

static void texts_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    struct texts *t = arg;
    (void)sim;
    if (ev->kind != XENSIM_TRACE_NARRATE && ev->kind != XENSIM_TRACE_NOTE)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->n < 8) {
        if (ev->kind == XENSIM_TRACE_NARRATE)
            snprintf(t->line[t->n], sizeof(t->line[0]), "%s|%s", ev->u.narrate.who,
                     ev->u.narrate.text);
        else
            snprintf(t->line[t->n], sizeof(t->line[0]), "%s|%s", ev->u.note.name,
                     ev->u.note.args ? ev->u.note.args : "(null)");
        t->seq[t->n] = ev->seq;
        t->kind[t->n] = ev->kind;
        t->n++;
    }
    pthread_mutex_unlock(&t->lock);
}

static char narrated[256];
static void keep_line(const char *line, void *arg)
{
    (void)arg;
    snprintf(narrated, sizeof(narrated), "%s", line);
}

START_TEST(test_narrate_and_note)
{
    struct xensim *sim = th_sim_new();
    static struct texts t = { .lock = PTHREAD_MUTEX_INITIALIZER };
    /* Without a subscriber a note is only checked. */
    ck_assert_int_eq(xensim_trace_note(sim, 0, "x", "{}"), 0);
    ck_assert_int_eq(xensim_trace_note(sim, 0, "x", "[1]"), -EINVAL);
    ck_assert_int_eq(xensim_trace_subscribe(sim, texts_event, &t), 0);

    /* No narrator: a host line goes nowhere, not even to the trace. */
    xensim_narrate_host(sim, "[toolstack]", "unheard %d", 1);
    xensim_set_narrator(sim, keep_line, NULL, XENSIM_NARRATE_GUEST);
    xensim_narrate_host(sim, "[toolstack]", "adds vbd %d", 51712);
    ck_assert_str_eq(narrated, "[toolstack]  adds vbd 51712");
    xensim_narrate_host(sim, "[toolstack]", "second");
    ck_assert_int_eq(xensim_trace_note(sim, 1, "rings", " {\"a\":1}"), 0);
    ck_assert_int_eq(xensim_trace_note(sim, 1, "bare", NULL), 0);
    ck_assert_int_eq(xensim_trace_note(sim, 1, "bad", "nope"), -EINVAL);
    xensim_set_narrator(sim, NULL, NULL, 0);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, texts_event, &t), 0);

    ck_assert_uint_eq(t.n, 4);
    ck_assert_int_eq(t.kind[0], XENSIM_TRACE_NARRATE);
    ck_assert_str_eq(t.line[0], "[toolstack]|adds vbd 51712");
    ck_assert_str_eq(t.line[1], "[toolstack]|second");
    /* Lines are numbered from 1, in order. */
    ck_assert_uint_eq(t.seq[0], 1);
    ck_assert_uint_eq(t.seq[1], 2);
    ck_assert_int_eq(t.kind[2], XENSIM_TRACE_NOTE);
    ck_assert_str_eq(t.line[2], "rings| {\"a\":1}");
    ck_assert_str_eq(t.line[3], "bare|(null)");
    th_sim_free_checked(sim);
}
END_TEST

/* Collects the Chrome events a json sink is handed. */
struct sink {
    pthread_mutex_t lock;
    char *all;
    size_t len;
    unsigned int events;
};

static void sink_fn(const char *json, size_t len, void *arg)
{
    struct sink *k = arg;
    pthread_mutex_lock(&k->lock);
    ck_assert_uint_eq(strlen(json), len);
    char *more = realloc(k->all, k->len + len + 2);
    ck_assert_ptr_nonnull(more);
    k->all = more;
    memcpy(k->all + k->len, json, len);
    k->len += len;
    k->all[k->len++] = '\n';
    k->all[k->len] = '\0';
    k->events++;
    pthread_mutex_unlock(&k->lock);
}

START_TEST(test_json_sink)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "a \"quoted\" name" };
    ck_assert_int_ge(xensim_domain_create(sim, &cfg), 0);
    static struct sink k = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct xensim_trace_json *j = NULL, *j2 = NULL;
    ck_assert_int_eq(xensim_trace_json_start(sim, sink_fn, &k, &j), 0);
    /* Two sinks and a file may run together. */
    ck_assert_int_eq(xensim_trace_json_start(sim, sink_fn, &k, &j2), 0);
    xensim_trace_json_stop(sim, j2);
    ck_assert_int_eq(xensim_trace_json_start(sim, NULL, &k, &j2), -EINVAL);
    k.events = 0;
    xensim_set_narrator(sim, keep_line, NULL, XENSIM_NARRATE_GUEST);
    xensim_narrate_host(sim, "[toolstack]", "say \"hi\"\tnow");
    xensim_set_narrator(sim, NULL, NULL, 0);
    ck_assert_int_eq(xensim_trace_note(sim, 0, "state", "{\"ports\":[6]}"), 0);
    xensim_trace_json_stop(sim, j);
    unsigned int seen = k.events;
    ck_assert_int_eq(xensim_trace_note(sim, 0, "after", "{}"), 0);
    ck_assert_uint_eq(k.events, seen);

    /* The domain that existed is named first, its quotes escaped. */
    ck_assert_ptr_nonnull(strstr(k.all, " a \\\"quoted\\\" name\"}}"));
    ck_assert_ptr_nonnull(strstr(k.all, "\"name\":\"narrate\",\"cat\":\"narration\""));
    ck_assert_ptr_nonnull(strstr(k.all, "\"step\":1,\"who\":\"[toolstack]\",\"text\":\"say \\\"hi\\\"\\u0009now\"}}"));
    ck_assert_ptr_nonnull(strstr(k.all, "\"name\":\"state\",\"cat\":\"note\""));
    ck_assert_ptr_nonnull(strstr(k.all, "\"args\":{\"ports\":[6]}}"));
    ck_assert_ptr_null(strstr(k.all, "after"));
    free(k.all);
    th_sim_free_checked(sim);
}
END_TEST

START_TEST(test_names)
{
    static const struct {
        uint32_t hypercall, subop;
        const char *name;
    } ops[] = {
        { __HYPERVISOR_event_channel_op, EVTCHNOP_send, "EVTCHNOP_send" },
        { __HYPERVISOR_event_channel_op, 99, "event_channel_op" },
        { __HYPERVISOR_grant_table_op, GNTTABOP_copy, "GNTTABOP_copy" },
        /* the continuation in cache_flush's upper bits is not the op */
        { __HYPERVISOR_grant_table_op, GNTTABOP_cache_flush | (5u << 12),
          "GNTTABOP_cache_flush" },
        { __HYPERVISOR_sched_op, SCHEDOP_poll, "SCHEDOP_poll" },
        { __HYPERVISOR_sched_op, 99, "sched_op" },
        { __HYPERVISOR_set_timer_op, 0, "set_timer_op" },
        { __HYPERVISOR_callback_op, 0, "callback_op" },
        { __HYPERVISOR_memory_op, 0, "hypercall" },
        { 12345, 0, "hypercall" },
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        ck_assert_str_eq(xensim_trace_op_name(ops[i].hypercall, ops[i].subop), ops[i].name);
    ck_assert_str_eq(xensim_trace_kind_name(XENSIM_TRACE_SEND), "send");
    ck_assert_str_eq(xensim_trace_kind_name(XENSIM_TRACE_XENSTORE_MSG), "xenstore_msg");
    ck_assert_str_eq(xensim_trace_kind_name((enum xensim_trace_kind)0), "unknown");
    ck_assert_str_eq(xensim_trace_kind_name((enum xensim_trace_kind)999), "unknown");
    for (int k = 1; k < XENSIM_TRACE_NR_KINDS; k++)
        ck_assert_str_ne(xensim_trace_kind_name((enum xensim_trace_kind)k), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("points");
    tcase_add_test(tc, test_send_to_upcall);
    tcase_add_test(tc, test_unsubscribe_stops);
    tcase_add_test(tc, test_two_subscribers);
    tcase_add_test(tc, test_map_copy_unmap);
    tcase_add_test(tc, test_block_wake);
    tcase_add_test(tc, test_xenstore_msg);
    tcase_add_test(tc, test_narrate_and_note);
    tcase_add_test(tc, test_json_sink);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
