/*
 * fuzz_xenstored_ring: the same streams as fuzz_xenstored_wire, written
 * by a guest into its own store ring (struct xenstore_domain_interface)
 * and served by the real daemon through dom0's evtchn and gntdev handles,
 * as in the simulator: with every index the guest controls fuzzed too
 * (req_prod far ahead or behind, rsp_cons anywhere, the daemon's own
 * indices scribbled on, a reconnection asked for mid-stream). Each input
 * runs on the guest's vCPU in one guest call: it writes and notifies,
 * then waits in SCHEDOP_poll for the daemon's event. Findings: a crash or
 * hang; a reply that is not the oldest request's, a malformed event; a
 * daemon that serves a ring whose indices are impossible instead of
 * flagging XENSTORE_ERROR_RINGIDX and stopping, or flags a ring that did
 * nothing wrong; anything left once the guest is released and
 * introduced again (nodes, watches, transactions, connections, quota
 * counts), and the simulator's teardown check at exit.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include <xen/io/xs_wire.h>
#include "fz.h"
#include "fz_xs_daemon.h"
#include "xs_msgs.h"

#define MAX_OPS 128

static struct {
    struct xensim *sim;
    struct fzxs *x;
    domid_t guest;
    struct xenstore_domain_interface *intf;
    evtchn_port_t port;
    struct xsm_stream s;
    bool corrupted;                  /* the input broke an index on purpose */
    bool stopped;                    /* the daemon flagged the ring */
    struct fz_acct baseline;
    uint8_t out[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 64];
} h;

static void ring_find_fn(void *arg)
{
    (void)arg;
    const start_info_t *si = xensim_guest_start_info();
    h.intf = xensim_guest_pfn_to_virt(si->store_mfn);
    h.port = si->store_evtchn;
}

static void harness_fini(void)
{
    fzxs_free(h.x);
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_no_per_input_leak_scan(argc, argv);
    h.sim = fz_sim_new(XENSIM_GNTTAB_FAST);
    h.x = fzxs_new_sim(h.sim);
    struct xensim_domain_config c = { .name = "guest" };
    h.guest = fz_domain(h.sim, &c);
    fz_call(h.sim, h.guest, 0, ring_find_fn, NULL);
    fzxs_adopt(h.x, h.guest, h.intf);
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

static void notify(void)
{
    long rc = xensim_evtchn_send(h.port);
    FZ_CHECK(rc == 0, "send on the store port: %s", xensim_strerror((int)rc));
}

/* Until the daemon's next event: the pending bit is cleared before the
 * condition is looked at again, so no event is lost. */
static void wait_event(void)
{
    evtchn_port_t p = h.port;
    struct sched_poll poll = { .nr_ports = 1 };
    set_xen_guest_handle(poll.ports, &p);
    HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    xensim_evtchn_clear_pending(p);
}

static bool ring_stopped(void)
{
    uint32_t e = __atomic_load_n(&h.intf->error, __ATOMIC_ACQUIRE);
    if (e != XENSTORE_ERROR_NONE) {
        /* An oversized message is ERROR_PROTO; an impossible index,
         * which only a corrupting input writes, ERROR_RINGIDX. */
        FZ_CHECK(h.corrupted || (e == XENSTORE_ERROR_PROTO && h.s.doomed),
                 "the daemon flagged error %u on a ring that did nothing wrong", e);
        h.stopped = true;
    }
    return h.stopped;
}

/* Reads what the daemon wrote; returns whether it wrote anything. */
static bool take_replies(void)
{
    struct xenstore_domain_interface *r = h.intf;
    XENSTORE_RING_IDX cons = r->rsp_cons, prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);
    if (cons == prod)
        return false;
    if (!h.corrupted)
        FZ_CHECK(prod - cons <= XENSTORE_RING_SIZE, "rsp_prod %u is %u past rsp_cons", prod,
                 prod - cons);
    while (cons != prod && prod - cons <= XENSTORE_RING_SIZE) {
        uint32_t off = MASK_XENSTORE_IDX(cons), n = prod - cons;
        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        if (!h.corrupted)
            xsm_read(&h.s, r->rsp + off, n);
        cons += n;
    }
    __atomic_store_n(&r->rsp_cons, prod, __ATOMIC_RELEASE);
    notify();
    return true;
}

/* Puts len bytes on the request ring as room allows, taking replies
 * meanwhile; with until_sentinel, then waits for the sentinel's reply. */
static void ring_io(const uint8_t *buf, size_t len, bool until_sentinel)
{
    struct xenstore_domain_interface *r = h.intf;
    size_t off = 0;
    if (!h.corrupted)
        xsm_wrote(&h.s, buf, len);
    while (!ring_stopped() && (off < len || (until_sentinel && !h.s.sentinel_seen))) {
        bool progress = take_replies();
        XENSTORE_RING_IDX prod = r->req_prod, cons = __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE);
        uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
        if (off < len && room && room <= XENSTORE_RING_SIZE) {
            uint32_t at = MASK_XENSTORE_IDX(prod), n = XENSTORE_RING_SIZE - at;
            if (n > room)
                n = room;
            if (n > len - off)
                n = (uint32_t)(len - off);
            memcpy(r->req + at, buf + off, n);
            off += n;
            __atomic_store_n(&r->req_prod, prod + n, __ATOMIC_RELEASE);
            notify();
            progress = true;
        }
        if (progress)
            continue;
        /* Nothing to do until the daemon moves. It may already have,
         * or stopped the ring without an event: after a barrier it has
         * served everything, so what is left to wait for comes with an
         * event (a daemon that never answers hangs here: a finding). */
        XENSTORE_RING_IDX rc = r->req_cons;
        fzxs_barrier(h.x);
        if (!ring_stopped() && r->rsp_cons == __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE) &&
            rc == __atomic_load_n(&r->req_cons, __ATOMIC_ACQUIRE))
            wait_event();
    }
}

static void ring_sync(void)
{
    static uint8_t zero[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    size_t n;
    if (h.s.doomed && !h.stopped && !h.corrupted) {
        /* An oversized header: the daemon must stop the ring. Not after a
         * corruption: a reconnect asked for before the daemon read the
         * header drops it unread, as the ring protocol says (partial
         * packets go), and a moved index may hide it. */
        fzxs_barrier(h.x);
        FZ_CHECK(ring_stopped(), "an oversized message did not stop the ring");
    }
    if (h.corrupted || h.stopped || h.s.doomed)
        return;
    while ((n = xsm_pad(&h.s, zero, sizeof(zero))) > 0 && !h.s.doomed && !h.stopped)
        ring_io(zero, n, false);
    if (h.s.doomed || h.stopped)
        return;
    h.s.sentinel_seen = false;
    n = xsm_sentinel(h.out, sizeof(h.out));
    ring_io(h.out, n, true);
}

/* Indices a hostile guest writes. The daemon must refuse any it cannot
 * serve (XENSTORE_ERROR_RINGIDX) and stop; from here on the replies are
 * not checked, only what the daemon does with its ring. */
static void op_corrupt(struct fz_in *in)
{
    struct xenstore_domain_interface *r = h.intf;
    uint8_t what = fz_u8(in);
    uint32_t v = fz_u32(in);
    FZ_TRACE("corrupt %u with %u", what % 6, v);
    h.corrupted = true;
    switch (what % 6) {
    case 0:
        __atomic_store_n(&r->req_prod, r->req_cons + XENSTORE_RING_SIZE + 1 + (v & 0xffff),
                         __ATOMIC_RELEASE);
        break;
    case 1:
        __atomic_store_n(&r->req_prod, r->req_prod + v, __ATOMIC_RELEASE);
        break;
    case 2:
        __atomic_store_n(&r->rsp_cons, r->rsp_cons + v, __ATOMIC_RELEASE);
        break;
    case 3:
        __atomic_store_n(&r->req_cons, r->req_cons + v, __ATOMIC_RELEASE);
        break;
    case 4:
        __atomic_store_n(&r->rsp_prod, r->rsp_prod + v, __ATOMIC_RELEASE);
        break;
    default:
        __atomic_store_n(&r->connection, v & 1 ? XENSTORE_RECONNECT : v, __ATOMIC_RELEASE);
    }
    notify();
    fzxs_barrier(h.x);
    ring_stopped();
    /* A producer more than a ring ahead can never be served. */
    if (what % 6 == 0)
        FZ_CHECK(h.stopped && h.intf->error == XENSTORE_ERROR_RINGIDX,
                 "req_prod %u past req_cons: the daemon did not flag the ring (error %u)",
                 h.intf->req_prod - h.intf->req_cons, h.intf->error);
}

static void run_input(void *arg)
{
    struct fz_in *in = arg;
    for (unsigned int op = 0; op < MAX_OPS && !fz_empty(in) && !h.stopped; op++) {
        uint8_t c = fz_u8(in);
        switch (c % 8) {
        case 0:
            ring_sync();
            break;
        case 1:
            op_corrupt(in);
            break;
        default: {
            size_t n = xsm_build(in, h.guest, h.out, sizeof(h.out));
            if (!h.corrupted)
                ring_io(h.out, n, false);
        }
        }
    }
    ring_sync();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    xsm_init(&h.s, "store ring");
    h.corrupted = h.stopped = false;
    fz_call(h.sim, h.guest, 0, run_input, &in);
    /* A ring the input touched at all starts the next one fresh. */
    if (h.corrupted || h.s.replies || h.s.events || fzxs_changed(h.x) ||
        h.intf->req_prod || h.intf->rsp_prod)
        fzxs_reset_guests(h.x);
    fzxs_expect_clean(h.x, "after the input");
    fz_acct_expect(h.sim, &h.baseline, "after the input");
    return 0;
}
