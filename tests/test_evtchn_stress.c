/*
 * Concurrency: many domains and vCPUs sending on every usable port, closes
 * racing sends and binds, both ends closing at once. Checks behaviour only
 * (no event lost, Xen's errno for each race, no deadlock), never timing.
 */
#include <pthread.h>
#include <stdio.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF

static void spin_until(_Atomic int *flag, int value)
{
    while (atomic_load(flag) < value)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static long hc_send(evtchn_port_t p)
{
    evtchn_send_t s = { .port = p };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

static long hc_close(evtchn_port_t p)
{
    evtchn_close_t c = { .port = p };
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
}

static long hc_bind(domid_t dom, evtchn_port_t p)
{
    evtchn_bind_interdomain_t b = { .remote_dom = dom, .remote_port = p };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
    return rc ? rc : (long)b.local_port;
}

static long hc_alloc(domid_t remote)
{
    evtchn_alloc_unbound_t a = { .dom = SELF, .remote_dom = remote };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
    return rc ? rc : (long)a.port;
}

/*
 * Every one of the receiver's 1023 usable ports is interdomain with one of
 * five sender domains (dom0 holds the builder's ports 1 and 2; four guests
 * the rest), each sending from two vCPUs. Before each send a sender stores
 * the round number in the port's counter; the receiver clears a port's
 * pending bit and then reads its counter. So if a read misses the last
 * round, that round's send set the bit after the clear and a further
 * delivery follows: the receiver must end up reading the final round on
 * every port, however sends coalesced.
 *
 * Three receivers: (0) one vCPU scanning after SCHEDOP_block; (1) two
 * vCPUs taking upcalls, each port bound to one of them; (2) as 1, but the
 * handler masks, acks and unmasks with EVTCHNOP_unmask, like Linux's
 * evtchn driver. In 1 and 2 ports 1 and 2 wake the receivers at the end.
 */
#define NR_RECV_PORTS 1024
#define NR_SENDER_DOMS 5
#define ROUNDS 200

struct all_ports {
    int variant;
    domid_t recv;
    evtchn_port_t first_data;               /* data ports: first_data..1023 */
    domid_t sender_of[NR_RECV_PORTS];       /* for recv port p */
    evtchn_port_t sender_port[NR_RECV_PORTS];
    _Atomic uint32_t counter[NR_RECV_PORTS];
    _Atomic uint32_t last_seen[NR_RECV_PORTS];
    _Atomic bool final[NR_RECV_PORTS];
    _Atomic unsigned int nr_final;
    _Atomic int go;
    _Atomic int stop;
    _Atomic long send_errors, unmask_errors;
    _Atomic unsigned long deliveries, sends;
    _Atomic int regressions;
};

static struct all_ports ap;

static unsigned int nr_data(void)
{
    return NR_RECV_PORTS - ap.first_data;
}

struct sender_arg {
    domid_t dom;
    unsigned int parity;
};

static void sender_fn(void *p)
{
    struct sender_arg *s = p;
    spin_until(&ap.go, 1);
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        for (evtchn_port_t rp = ap.first_data; rp < NR_RECV_PORTS; rp++) {
            if (ap.sender_of[rp] != s->dom || (rp & 1) != s->parity)
                continue;
            atomic_store(&ap.counter[rp], round);
            atomic_thread_fence(memory_order_seq_cst);
            if (hc_send(ap.sender_port[rp]) != 0)
                atomic_fetch_add(&ap.send_errors, 1);
            atomic_fetch_add(&ap.sends, 1);
        }
    }
}

static void recv_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    bool ack_by_unmask = ap.variant == 2;
    if (port < ap.first_data) {
        g_set_pending(port, false);
        return;
    }
    if (ack_by_unmask)
        g_set_mask(port, true);
    g_set_pending(port, false);
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t v = atomic_load(&ap.counter[port]);
    uint32_t old = atomic_load(&ap.last_seen[port]);
    while (v > old && !atomic_compare_exchange_weak(&ap.last_seen[port], &old, v))
        ;
    if (ap.variant == 0 && v < old)
        atomic_store(&ap.regressions, 1);
    if (v == ROUNDS && !atomic_exchange(&ap.final[port], true))
        atomic_fetch_add(&ap.nr_final, 1);
    atomic_fetch_add(&ap.deliveries, 1);
    if (ack_by_unmask) {
        evtchn_unmask_t u = { .port = port };
        if (HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u) != 0)
            atomic_fetch_add(&ap.unmask_errors, 1);
    }
}

static void recv_upcall(void)
{
    xensim_evtchn_scan(recv_handler, NULL);
}

static void receiver_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    if (ap.variant == 0) {
        atomic_store(&ap.go, 1);
        while (atomic_load(&ap.nr_final) < nr_data() && !atomic_load(&ap.stop)) {
            xensim_evtchn_scan(recv_handler, NULL);
            if (atomic_load(&ap.nr_final) == nr_data())
                break;
            /* returns once an upcall is pending; clears the upcall mask */
            HYPERVISOR_sched_op(SCHEDOP_block, NULL);
            xensim_guest_irq_disable();
        }
        return;
    }
    ck_assert_int_eq(g_register_upcall(recv_upcall), 0);
    if (xensim_guest_vcpu_id() == 0)
        atomic_store(&ap.go, 1);
    /* upcalls run as block returns; ports 1 and 2 end the loop */
    while (!atomic_load(&ap.stop))
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    xensim_guest_irq_disable();
}

static void bind_senders_fn(void *p)
{
    domid_t me = xensim_guest_domid();
    (void)p;
    for (evtchn_port_t rp = 1; rp < NR_RECV_PORTS; rp++) {
        if (ap.sender_of[rp] != me)
            continue;
        long l = hc_bind(ap.recv, rp);
        ck_assert_int_gt(l, 0);
        ap.sender_port[rp] = (evtchn_port_t)l;
    }
}

static void recv_alloc_fn(void *p)
{
    (void)p;
    for (evtchn_port_t rp = 3; rp < NR_RECV_PORTS; rp++) {
        long r = hc_alloc(ap.sender_of[rp]);
        ck_assert_int_eq(r, (long)rp);
        if (ap.variant) {
            evtchn_bind_vcpu_t bv = { .port = rp, .vcpu = rp & 1 };
            ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);
        }
    }
    if (ap.variant) {
        for (evtchn_port_t rp = 1; rp <= 2; rp++) {
            evtchn_bind_vcpu_t bv = { .port = rp, .vcpu = rp - 1 };
            ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);
        }
    }
}

static void unbind_senders_fn(void *p)
{
    domid_t me = xensim_guest_domid();
    (void)p;
    for (evtchn_port_t rp = 1; rp < NR_RECV_PORTS; rp++)
        if (ap.sender_of[rp] == me)
            ck_assert_int_eq(hc_close(ap.sender_port[rp]), 0);
}

static void recv_close_fn(void *p)
{
    (void)p;
    for (evtchn_port_t rp = 3; rp < NR_RECV_PORTS; rp++)
        ck_assert_int_eq(hc_close(rp), 0);
    /* the builder's ports back as they were */
    for (evtchn_port_t rp = 1; rp <= 2; rp++) {
        evtchn_bind_vcpu_t bv = { .port = rp, .vcpu = 0 };
        ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);
    }
}

static void stop_receivers_fn(void *p)
{
    (void)p;
    ck_assert_int_eq(hc_send(ap.sender_port[1]), 0);
    ck_assert_int_eq(hc_send(ap.sender_port[2]), 0);
}

START_TEST(test_all_ports_all_senders)
{
    ap.variant = _i;
    ap.first_data = _i ? 3 : 1;
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config rc_cfg = { .name = "receiver", .nr_vcpus = _i ? 2 : 1 };
    ap.recv = th_domain_cfg(sim, &rc_cfg);
    domid_t senders[NR_SENDER_DOMS] = { 0 };
    for (int i = 1; i < NR_SENDER_DOMS; i++) {
        struct xensim_domain_config cfg = { .name = "sender", .nr_vcpus = 2 };
        senders[i] = th_domain_cfg(sim, &cfg);
    }
    /* ports 1 and 2 wait for dom0 (the builder's); the rest go round */
    ap.sender_of[1] = ap.sender_of[2] = 0;
    for (evtchn_port_t rp = 3; rp < NR_RECV_PORTS; rp++)
        ap.sender_of[rp] = senders[1 + rp % (NR_SENDER_DOMS - 1)];
    th_call(sim, ap.recv, 0, recv_alloc_fn, NULL);
    for (int i = 0; i < NR_SENDER_DOMS; i++)
        th_call(sim, senders[i], 0, bind_senders_fn, NULL);
    ck_assert_uint_eq(th_ports_in_use(sim, ap.recv), NR_RECV_PORTS - 3);

    unsigned int nr_recv = _i ? 2 : 1;
    struct async_call recv[2];
    for (unsigned int v = 0; v < nr_recv; v++)
        recv[v] = (struct async_call){ .sim = sim, .dom = ap.recv, .vcpu = v, .fn = receiver_fn };
    struct async_call snd[NR_SENDER_DOMS * 2];
    struct sender_arg sa[NR_SENDER_DOMS * 2];
    int n = 0;
    for (int i = 1; i < NR_SENDER_DOMS; i++) {
        for (unsigned int v = 0; v < 2; v++) {
            sa[n] = (struct sender_arg){ .dom = senders[i], .parity = v };
            snd[n] = (struct async_call){ .sim = sim, .dom = senders[i], .vcpu = v,
                                          .fn = sender_fn, .arg = &sa[n] };
            n++;
        }
    }
    /* dom0 has one vCPU: it sends on ports 1 and 2 (receiver 0 only) */
    struct sender_arg sa0[2] = { { .dom = 0, .parity = 0 }, { .dom = 0, .parity = 1 } };
    struct async_call snd0 = { .sim = sim, .dom = 0, .vcpu = 0, .fn = sender_fn, .arg = &sa0[0] };

    for (unsigned int v = 0; v < nr_recv; v++)
        async_start(&recv[v]);
    for (int i = 0; i < n; i++)
        async_start(&snd[i]);
    if (!_i) {
        async_start(&snd0);
        async_join(&snd0);
        snd0.arg = &sa0[1];
        async_start(&snd0);
        async_join(&snd0);
    }
    for (int i = 0; i < n; i++)
        async_join(&snd[i]);

    for (unsigned int w = 0; atomic_load(&ap.nr_final) < nr_data(); w++) {
        if (w == 30000) {
            atomic_store(&ap.stop, 1);
            for (evtchn_port_t rp = ap.first_data; rp < NR_RECV_PORTS; rp++)
                if (atomic_load(&ap.last_seen[rp]) != ROUNDS)
                    fprintf(stderr, "port %u: last delivery saw round %u of %u\n", rp,
                            atomic_load(&ap.last_seen[rp]), ROUNDS);
            ck_abort_msg("receiver %d: %u of %u ports never delivered their last send", _i,
                         nr_data() - atomic_load(&ap.nr_final), nr_data());
        }
        ev_sleep_ms(1);
    }
    if (_i) {
        atomic_store(&ap.stop, 1);
        th_call(sim, 0, 0, stop_receivers_fn, NULL);
    }
    for (unsigned int v = 0; v < nr_recv; v++)
        async_join(&recv[v]);
    ck_assert_int_eq(atomic_load(&ap.send_errors), 0);
    ck_assert_int_eq(atomic_load(&ap.unmask_errors), 0);
    ck_assert_int_eq(atomic_load(&ap.regressions), 0);
    ck_assert_uint_eq(atomic_load(&ap.sends), (unsigned long)ROUNDS * nr_data());
    ck_assert_uint_le(atomic_load(&ap.deliveries), atomic_load(&ap.sends));

    for (int i = 0; i < NR_SENDER_DOMS; i++)
        th_call(sim, senders[i], 0, unbind_senders_fn, NULL);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, ap.recv, 1, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);
    th_call(sim, ap.recv, 0, recv_close_fn, NULL);
    for (int i = 0; i < NR_SENDER_DOMS; i++)
        ck_assert_uint_eq(th_ports_in_use(sim, senders[i]), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, ap.recv), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Closes racing sends. dom1's vCPU 0 sends on its ports without pause;
 * its vCPU 1 closes and re-allocates them; dom2 closes its ends and binds
 * again. Send may only return 0 (bound or unbound) or -EINVAL (freed for
 * a moment); every close of one's own live port returns 0; a bind returns
 * a port or -EINVAL. At the end the two sides agree.
 */
#define NR_CHAN 48
#define CHURN 3000

struct race {
    evtchn_port_t a[NR_CHAN];           /* dom1's ports */
    evtchn_port_t b[NR_CHAN];           /* dom2's, when have[i] */
    bool have[NR_CHAN];
    _Atomic int done;
    _Atomic long bad_send, bad_close, bad_bind, bad_alloc;
    _Atomic unsigned long sends, binds_ok;
};

static struct race rc;

static void race_setup_fn(void *p)
{
    (void)p;
    for (int i = 0; i < NR_CHAN; i++) {
        long r = hc_alloc(2);
        ck_assert_int_gt(r, 0);
        rc.a[i] = (evtchn_port_t)r;
    }
}

static void race_bind_all_fn(void *p)
{
    (void)p;
    for (int i = 0; i < NR_CHAN; i++) {
        long r = hc_bind(1, rc.a[i]);
        ck_assert_int_gt(r, 0);
        rc.b[i] = (evtchn_port_t)r;
        rc.have[i] = true;
    }
}

static void race_sender_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    while (atomic_load(&rc.done) < 2) {
        for (int i = 0; i < NR_CHAN; i++) {
            long r = hc_send(rc.a[i]);
            if (r != 0 && r != -EINVAL)
                atomic_fetch_add(&rc.bad_send, 1);
            atomic_fetch_add(&rc.sends, 1);
        }
    }
}

static void race_owner_churn_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    for (int k = 0; k < CHURN; k++) {
        int i = (k * 7) % NR_CHAN;
        if (hc_close(rc.a[i]) != 0)
            atomic_fetch_add(&rc.bad_close, 1);
        /* the freed port is the lowest free one: it comes straight back */
        if (hc_alloc(2) != (long)rc.a[i])
            atomic_fetch_add(&rc.bad_alloc, 1);
    }
    atomic_fetch_add(&rc.done, 1);
}

static void race_peer_churn_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    for (int k = 0; k < CHURN; k++) {
        int i = (k * 5) % NR_CHAN;
        if (rc.have[i] && hc_close(rc.b[i]) != 0)
            atomic_fetch_add(&rc.bad_close, 1);
        rc.have[i] = false;
        long r = hc_bind(1, rc.a[i]);
        if (r > 0) {
            rc.b[i] = (evtchn_port_t)r;
            rc.have[i] = true;
            atomic_fetch_add(&rc.binds_ok, 1);
        } else if (r != -EINVAL) {
            atomic_fetch_add(&rc.bad_bind, 1);
        }
    }
    atomic_fetch_add(&rc.done, 1);
}

static void race_peer_cleanup_fn(void *p)
{
    (void)p;
    for (int i = 0; i < NR_CHAN; i++)
        if (rc.have[i])
            ck_assert_int_eq(hc_close(rc.b[i]), 0);
}

static void race_owner_cleanup_fn(void *p)
{
    (void)p;
    for (int i = 0; i < NR_CHAN; i++)
        ck_assert_int_eq(hc_close(rc.a[i]), 0);
}

START_TEST(test_close_racing_send)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c1 = { .name = "owner", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(sim, &c1), 1);
    ck_assert_int_eq(th_domain(sim, "peer", false, XENSIM_GNTTAB_STRICT), 2);
    th_call(sim, 1, 0, race_setup_fn, NULL);
    th_call(sim, 2, 0, race_bind_all_fn, NULL);

    struct async_call s = { .sim = sim, .dom = 1, .vcpu = 0, .fn = race_sender_fn };
    struct async_call o = { .sim = sim, .dom = 1, .vcpu = 1, .fn = race_owner_churn_fn };
    struct async_call q = { .sim = sim, .dom = 2, .vcpu = 0, .fn = race_peer_churn_fn };
    async_start(&s);
    async_start(&o);
    async_start(&q);
    async_join(&o);
    async_join(&q);
    async_join(&s);
    ck_assert_int_eq(atomic_load(&rc.bad_send), 0);
    ck_assert_int_eq(atomic_load(&rc.bad_close), 0);
    ck_assert_int_eq(atomic_load(&rc.bad_bind), 0);
    ck_assert_int_eq(atomic_load(&rc.bad_alloc), 0);

    /* Each channel ended either connected both ways, or with dom1's port
     * unbound for dom2 and dom2's (if any) unbound for dom1. */
    for (int i = 0; i < NR_CHAN; i++) {
        evtchn_status_t sa, sb;
        uint32_t st = ev_state(sim, 1, rc.a[i], &sa);
        if (st == EVTCHNSTAT_interdomain) {
            ck_assert(rc.have[i]);
            ck_assert_uint_eq(sa.u.interdomain.dom, 2);
            ck_assert_uint_eq(sa.u.interdomain.port, rc.b[i]);
            ck_assert_int_eq(ev_state(sim, 2, rc.b[i], &sb), EVTCHNSTAT_interdomain);
            ck_assert_uint_eq(sb.u.interdomain.dom, 1);
            ck_assert_uint_eq(sb.u.interdomain.port, rc.a[i]);
        } else {
            ck_assert_int_eq(st, EVTCHNSTAT_unbound);
            ck_assert_uint_eq(sa.u.unbound.dom, 2);
            if (rc.have[i]) {
                ck_assert_int_eq(ev_state(sim, 2, rc.b[i], &sb), EVTCHNSTAT_unbound);
                ck_assert_uint_eq(sb.u.unbound.dom, 1);
            }
        }
    }
    th_call(sim, 2, 0, race_peer_cleanup_fn, NULL);
    th_call(sim, 1, 0, race_owner_cleanup_fn, NULL);
    for (domid_t d = 0; d < 3; d++)
        ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Binds racing a close, in lock-step rounds: dom1 allocates a port for
 * dom2; both of dom2's vCPUs try to bind it while dom1's second vCPU closes
 * it. At most one bind wins; the loser gets -EINVAL; every close is 0.
 * (A winner keeps its port until all three have tried: closing it would
 * hand dom1's port back to dom2, unbound, and a second bind could win.)
 */
#define BIND_ROUNDS 2000

struct bind_race {
    _Atomic int round;                  /* published by dom1 vCPU 0 */
    _Atomic uint32_t port;
    _Atomic int tried;                  /* participants past their op */
    _Atomic int finished;               /* participants done with the round */
    _Atomic long wins[BIND_ROUNDS];
    _Atomic long bad;
};

static struct bind_race br;

static void br_alloc_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= BIND_ROUNDS; r++) {
        long port = hc_alloc(2);
        if (port <= 0)
            atomic_fetch_add(&br.bad, 1);
        atomic_store(&br.port, (uint32_t)port);
        atomic_store(&br.tried, 0);
        atomic_store(&br.finished, 0);
        atomic_store(&br.round, r);
        while (atomic_load(&br.finished) < 3)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

/* Waits for the next round to be published (or the end). */
static void br_next(int r)
{
    while (atomic_load(&br.round) == r && r < BIND_ROUNDS)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static void br_closer_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= BIND_ROUNDS; r++) {
        spin_until(&br.round, r);
        if (hc_close(atomic_load(&br.port)) != 0)
            atomic_fetch_add(&br.bad, 1);
        atomic_fetch_add(&br.tried, 1);
        atomic_fetch_add(&br.finished, 1);
        br_next(r);
    }
}

static void br_binder_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= BIND_ROUNDS; r++) {
        spin_until(&br.round, r);
        long l = hc_bind(1, atomic_load(&br.port));
        if (l > 0)
            atomic_fetch_add(&br.wins[r - 1], 1);
        else if (l != -EINVAL)
            atomic_fetch_add(&br.bad, 1);
        atomic_fetch_add(&br.tried, 1);
        spin_until(&br.tried, 3);
        if (l > 0 && hc_close((evtchn_port_t)l) != 0)
            atomic_fetch_add(&br.bad, 1);
        atomic_fetch_add(&br.finished, 1);
        br_next(r);
    }
}

START_TEST(test_bind_racing_close)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c = { .name = "x", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(sim, &c), 1);
    ck_assert_int_eq(th_domain_cfg(sim, &c), 2);
    struct async_call calls[4] = {
        { .sim = sim, .dom = 1, .vcpu = 0, .fn = br_alloc_fn },
        { .sim = sim, .dom = 1, .vcpu = 1, .fn = br_closer_fn },
        { .sim = sim, .dom = 2, .vcpu = 0, .fn = br_binder_fn },
        { .sim = sim, .dom = 2, .vcpu = 1, .fn = br_binder_fn },
    };
    for (int i = 0; i < 4; i++)
        async_start(&calls[i]);
    for (int i = 0; i < 4; i++)
        async_join(&calls[i]);
    ck_assert_int_eq(atomic_load(&br.bad), 0);
    for (int r = 0; r < BIND_ROUNDS; r++)
        ck_assert_msg(atomic_load(&br.wins[r]) <= 1, "round %d: %ld binds of one unbound port won", r,
                      atomic_load(&br.wins[r]));
    for (domid_t d = 0; d < 3; d++)
        ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Every pair among four domains, both directions at once: each domain
 * binds the ports the others allocated for it, sends on them and closes
 * them while the others do the same to it. Opposite lock orders must not
 * deadlock; every op succeeds.
 */
#define NR_MESH 4
#define MESH_PORTS 24
#define MESH_ROUNDS 30

struct mesh {
    /* unbound[i][j][k]: port of domain i+1 waiting for domain j+1 */
    evtchn_port_t unbound[NR_MESH][NR_MESH][MESH_PORTS];
    _Atomic int phase;
    _Atomic int ready;
    _Atomic long bad;
};

static struct mesh mesh;

static void mesh_alloc_fn(void *p)
{
    unsigned int i = xensim_guest_domid() - 1;
    (void)p;
    for (unsigned int j = 0; j < NR_MESH; j++) {
        if (j == i)
            continue;
        for (int k = 0; k < MESH_PORTS; k++) {
            long r = hc_alloc((domid_t)(j + 1));
            if (r <= 0)
                atomic_fetch_add(&mesh.bad, 1);
            mesh.unbound[i][j][k] = (evtchn_port_t)r;
        }
    }
}

static void mesh_run_fn(void *p)
{
    unsigned int j = xensim_guest_domid() - 1;
    int round = *(int *)p;
    evtchn_port_t mine[NR_MESH][MESH_PORTS];
    xensim_guest_irq_disable();
    atomic_fetch_add(&mesh.ready, 1);
    spin_until(&mesh.phase, round);
    for (unsigned int i = 0; i < NR_MESH; i++) {
        if (i == j)
            continue;
        for (int k = 0; k < MESH_PORTS; k++) {
            long r = hc_bind((domid_t)(i + 1), mesh.unbound[i][j][k]);
            if (r <= 0)
                atomic_fetch_add(&mesh.bad, 1);
            mine[i][k] = (evtchn_port_t)r;
            if (hc_send(mine[i][k]) != 0)
                atomic_fetch_add(&mesh.bad, 1);
        }
    }
    for (unsigned int i = 0; i < NR_MESH; i++) {
        if (i == j)
            continue;
        for (int k = 0; k < MESH_PORTS; k++)
            if (hc_close(mine[i][k]) != 0)
                atomic_fetch_add(&mesh.bad, 1);
    }
}

static void mesh_close_fn(void *p)
{
    unsigned int i = xensim_guest_domid() - 1;
    (void)p;
    for (unsigned int j = 0; j < NR_MESH; j++)
        for (int k = 0; j != i && k < MESH_PORTS; k++)
            if (hc_close(mesh.unbound[i][j][k]) != 0)
                atomic_fetch_add(&mesh.bad, 1);
}

START_TEST(test_mesh_cross_binds)
{
    struct xensim *sim = th_sim_new();
    for (int i = 0; i < NR_MESH; i++)
        ck_assert_int_eq(th_domain(sim, "mesh", false, XENSIM_GNTTAB_STRICT), i + 1);
    for (int i = 0; i < NR_MESH; i++)
        th_call(sim, (domid_t)(i + 1), 0, mesh_alloc_fn, NULL);
    for (int round = 1; round <= MESH_ROUNDS; round++) {
        struct async_call calls[NR_MESH];
        atomic_store(&mesh.ready, 0);
        for (int i = 0; i < NR_MESH; i++) {
            calls[i] = (struct async_call){ .sim = sim, .dom = (domid_t)(i + 1), .fn = mesh_run_fn,
                                            .arg = &round };
            async_start(&calls[i]);
        }
        EV_WAIT_FOR(atomic_load(&mesh.ready) == NR_MESH);
        atomic_store(&mesh.phase, round);
        for (int i = 0; i < NR_MESH; i++)
            async_join(&calls[i]);
        ck_assert_int_eq(atomic_load(&mesh.bad), 0);
        /* the owners' ports are unbound again, for the same binder */
        evtchn_status_t st;
        ck_assert_int_eq(ev_state(sim, 1, mesh.unbound[0][3][0], &st), EVTCHNSTAT_unbound);
        ck_assert_uint_eq(st.u.unbound.dom, 4);
    }
    for (int i = 0; i < NR_MESH; i++)
        th_call(sim, (domid_t)(i + 1), 0, mesh_close_fn, NULL);
    ck_assert_int_eq(atomic_load(&mesh.bad), 0);
    for (domid_t d = 0; d <= NR_MESH; d++)
        ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Both ends of a channel closed at once, many times: both closes return 0
 * whichever goes first, and nothing is left behind.
 */
#define CC_ROUNDS 1000

struct close_close {
    _Atomic int round;
    _Atomic int closed;
    evtchn_port_t a, b;
    _Atomic long bad;
};

static struct close_close cc;

static void cc_owner_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= CC_ROUNDS; r++) {
        spin_until(&cc.round, r);
        if (hc_close(cc.a) != 0)
            atomic_fetch_add(&cc.bad, 1);
        atomic_fetch_add(&cc.closed, 1);
    }
}

static void cc_peer_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= CC_ROUNDS; r++) {
        spin_until(&cc.round, r);
        if (hc_close(cc.b) != 0)
            atomic_fetch_add(&cc.bad, 1);
        atomic_fetch_add(&cc.closed, 1);
    }
}

static void cc_make_a_fn(void *p)
{
    (void)p;
    long r = hc_alloc(2);
    ck_assert_int_gt(r, 0);
    cc.a = (evtchn_port_t)r;
}

static void cc_make_b_fn(void *p)
{
    (void)p;
    long r = hc_bind(1, cc.a);
    ck_assert_int_gt(r, 0);
    cc.b = (evtchn_port_t)r;
}

START_TEST(test_close_both_ends)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c = { .name = "x", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(sim, &c), 1);
    ck_assert_int_eq(th_domain_cfg(sim, &c), 2);
    struct async_call o = { .sim = sim, .dom = 1, .vcpu = 1, .fn = cc_owner_fn };
    struct async_call q = { .sim = sim, .dom = 2, .vcpu = 1, .fn = cc_peer_fn };
    async_start(&o);
    async_start(&q);
    for (int r = 1; r <= CC_ROUNDS; r++) {
        th_call(sim, 1, 0, cc_make_a_fn, NULL);
        th_call(sim, 2, 0, cc_make_b_fn, NULL);
        atomic_store(&cc.closed, 0);
        atomic_store(&cc.round, r);
        EV_WAIT_FOR(atomic_load(&cc.closed) == 2);
        ck_assert_int_eq(ev_state(sim, 1, cc.a, NULL), EVTCHNSTAT_closed);
        ck_assert_int_eq(ev_state(sim, 2, cc.b, NULL), EVTCHNSTAT_closed);
    }
    async_join(&o);
    async_join(&q);
    ck_assert_int_eq(atomic_load(&cc.bad), 0);
    for (domid_t d = 0; d < 3; d++)
        ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * A domain destroyed under concurrent sends and binds from another: every
 * send returns 0 (the port turns unbound, §1.8), a bind returns a port,
 * -EINVAL or -ESRCH, and afterwards every survivor's port is unbound with
 * remote = the dead domid. Nothing may touch freed memory (ASan build).
 */
#define DR_PORTS 64

struct destroy_race {
    evtchn_port_t victim_port[DR_PORTS];     /* the victim's, unbound for dom1 */
    evtchn_port_t mine[2][DR_PORTS];         /* dom1's, per vCPU; 0 = none */
    _Atomic int stop;
    _Atomic unsigned long ops;
    _Atomic long bad;
};

static struct destroy_race dr;

static void dr_victim_alloc_fn(void *p)
{
    (void)p;
    for (int i = 0; i < DR_PORTS; i++) {
        long r = hc_alloc(1);
        ck_assert_int_gt(r, 0);
        dr.victim_port[i] = (evtchn_port_t)r;
    }
}

/* vCPU 0 binds the first half up front and sends on it; vCPU 1 binds the
 * second half while the victim dies. */
static void dr_bind_half_fn(void *p)
{
    (void)p;
    for (int i = 0; i < DR_PORTS / 2; i++) {
        long r = hc_bind(2, dr.victim_port[i]);
        ck_assert_int_gt(r, 0);
        dr.mine[0][i] = (evtchn_port_t)r;
    }
}

static void dr_sender_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    while (!atomic_load(&dr.stop)) {
        for (int i = 0; i < DR_PORTS / 2; i++) {
            if (hc_send(dr.mine[0][i]) != 0)
                atomic_fetch_add(&dr.bad, 1);
            atomic_fetch_add(&dr.ops, 1);
        }
    }
}

static void dr_binder_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    for (int k = 0; !atomic_load(&dr.stop); k++) {
        int i = DR_PORTS / 2 + k % (DR_PORTS / 2);
        if (dr.mine[1][i]) {
            if (hc_close(dr.mine[1][i]) != 0)
                atomic_fetch_add(&dr.bad, 1);
            dr.mine[1][i] = 0;
        }
        long r = hc_bind(2, dr.victim_port[i]);
        if (r > 0)
            dr.mine[1][i] = (evtchn_port_t)r;
        else if (r != -EINVAL && r != -ESRCH)
            atomic_fetch_add(&dr.bad, 1);
        atomic_fetch_add(&dr.ops, 1);
    }
}

static void dr_cleanup_fn(void *p)
{
    (void)p;
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < DR_PORTS; i++)
            if (dr.mine[v][i])
                ck_assert_int_eq(hc_close(dr.mine[v][i]), 0);
}

START_TEST(test_destroy_racing_send_and_bind)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c = { .name = "survivor", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(sim, &c), 1);
    ck_assert_int_eq(th_domain(sim, "victim", false, XENSIM_GNTTAB_STRICT), 2);
    th_call(sim, 2, 0, dr_victim_alloc_fn, NULL);
    th_call(sim, 1, 0, dr_bind_half_fn, NULL);

    struct async_call s = { .sim = sim, .dom = 1, .vcpu = 0, .fn = dr_sender_fn };
    struct async_call b = { .sim = sim, .dom = 1, .vcpu = 1, .fn = dr_binder_fn };
    async_start(&s);
    async_start(&b);
    EV_WAIT_FOR(atomic_load(&dr.ops) > 20000);
    ck_assert_int_eq(xensim_domain_destroy(sim, 2), 0);
    unsigned long after = atomic_load(&dr.ops);
    EV_WAIT_FOR(atomic_load(&dr.ops) > after + 20000);
    atomic_store(&dr.stop, 1);
    async_join(&s);
    async_join(&b);
    ck_assert_int_eq(atomic_load(&dr.bad), 0);

    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < DR_PORTS; i++) {
            evtchn_status_t st;
            if (!dr.mine[v][i])
                continue;
            ck_assert_int_eq(ev_state(sim, 1, dr.mine[v][i], &st), EVTCHNSTAT_unbound);
            ck_assert_uint_eq(st.u.unbound.dom, 2);
        }
    }
    th_call(sim, 1, 0, dr_cleanup_fn, NULL);
    ck_assert_uint_eq(th_ports_in_use(sim, 1), 0);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Destroying a domain whose vCPUs are busy in guest code: one blocked in
 * SCHEDOP_poll inside a xensim_domain_call, one with a timer about to fire.
 * The call returns (with an error) instead of hanging; the timer does not
 * touch the dead domain.
 */
static _Atomic int in_poll;

static void poll_forever_fn(void *p)
{
    (void)p;
    long r = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(r, 0);
    evtchn_port_t port = (evtchn_port_t)r;
    struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t *pp = &port;
    memcpy(&sp.ports, &pp, sizeof(pp));
    atomic_store(&in_poll, 1);
    HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    ck_abort_msg("poll returned in a domain being destroyed, with nothing pending");
}

static void timer_soon_fn(void *p)
{
    uint64_t *deadline = p;
    long r = xensim_evtchn_bind_virq(VIRQ_TIMER, 1);
    ck_assert_int_gt(r, 0);
    *deadline = xensim_guest_system_time() + 2 * 1000 * 1000;
    ck_assert_int_eq(HYPERVISOR_set_timer_op(*deadline), 0);
}

/* dom0 waits for a timer of its own due after the dead domain's: the
 * timer thread fires the earlier deadline first, so it has reached the
 * dead domain's (cancelled at its shutdown) by then. */
static void timer_after_fn(void *p)
{
    const uint64_t *deadline = p;
    long r = xensim_evtchn_bind_virq(VIRQ_TIMER, 0);
    ck_assert_int_gt(r, 0);
    evtchn_port_t port = (evtchn_port_t)r;
    xensim_guest_irq_disable();
    ck_assert_int_eq(HYPERVISOR_set_timer_op(*deadline + 1000 * 1000), 0);
    struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t *pp = &port;
    memcpy(&sp.ports, &pp, sizeof(pp));
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0);
    ck_assert(g_pending(port));
    ck_assert_int_eq(xensim_evtchn_close(port), 0);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
}

START_TEST(test_destroy_busy_domain)
{
    for (int k = 0; k < 20; k++) {
        struct xensim *sim = th_sim_new();
        struct xensim_domain_config c = { .name = "busy", .nr_vcpus = 2 };
        domid_t d = th_domain_cfg(sim, &c);
        uint64_t deadline = 0;
        th_call(sim, d, 1, timer_soon_fn, &deadline);
        atomic_store(&in_poll, 0);
        struct async_call a = { .sim = sim, .dom = d, .vcpu = 0, .fn = poll_forever_fn };
        async_start(&a);
        EV_WAIT_FOR(atomic_load(&in_poll));
        ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
        ck_assert_int_eq(pthread_join(a.thread, NULL), 0);
        ck_assert_int_eq(a.rc, -ESHUTDOWN);
        th_call(sim, 0, 0, timer_after_fn, &deadline);
        ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
        th_sim_free_checked(sim);
    }
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("evtchn_stress");
    TCase *t = tcase_create("stress");
    tcase_add_loop_test(t, test_all_ports_all_senders, 0, 3);
    tcase_add_test(t, test_close_racing_send);
    tcase_add_test(t, test_bind_racing_close);
    tcase_add_test(t, test_mesh_cross_binds);
    tcase_add_test(t, test_close_both_ends);
    tcase_add_test(t, test_destroy_racing_send_and_bind);
    tcase_add_test(t, test_destroy_busy_domain);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stress_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
