/*
 * Concurrency: many domains and vCPUs sending on every usable port, closes
 * racing sends and binds, both ends closing at once. Checks behaviour only
 * (no event lost, Xen's errno for each race, no deadlock), never timing.
 */
#include <pthread.h>
#include <stdio.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF

/* Guest code on one vCPU while the test thread does something else. */
struct async_call {
    struct xensim *sim;
    domid_t dom;
    unsigned int vcpu;
    void (*fn)(void *);
    void *arg;
    int rc;
    pthread_t thread;
};

static void *async_main(void *p)
{
    struct async_call *a = p;
    a->rc = xensim_domain_call(a->sim, a->dom, a->vcpu, a->fn, a->arg);
    return NULL;
}

static void async_start(struct async_call *a)
{
    ck_assert_int_eq(pthread_create(&a->thread, NULL, async_main, a), 0);
}

static void async_join(struct async_call *a)
{
    ck_assert_int_eq(pthread_join(a->thread, NULL), 0);
    ck_assert_int_eq(a->rc, 0);
}

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
 */
#define NR_RECV_PORTS 1024
#define NR_SENDER_DOMS 5
#define ROUNDS 60

struct all_ports {
    domid_t recv;
    domid_t sender_of[NR_RECV_PORTS];       /* for recv port p */
    evtchn_port_t sender_port[NR_RECV_PORTS];
    _Atomic uint32_t counter[NR_RECV_PORTS];
    uint32_t last_seen[NR_RECV_PORTS];      /* receiver only */
    _Atomic unsigned int nr_final;
    _Atomic int go;
    _Atomic int stop;                        /* the test gave up */
    _Atomic long send_errors;
    _Atomic unsigned long deliveries, sends;
    _Atomic int regressions;
};

static struct all_ports ap;

struct sender_arg {
    domid_t dom;
    unsigned int vcpu;
};

static void sender_fn(void *p)
{
    struct sender_arg *s = p;
    spin_until(&ap.go, 1);
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        for (evtchn_port_t rp = 1; rp < NR_RECV_PORTS; rp++) {
            if (ap.sender_of[rp] != s->dom || (rp & 1) != s->vcpu)
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
    g_set_pending(port, false);
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t v = atomic_load(&ap.counter[port]);
    if (v < ap.last_seen[port])
        atomic_store(&ap.regressions, 1);
    if (v == ROUNDS && ap.last_seen[port] != ROUNDS)
        atomic_fetch_add(&ap.nr_final, 1);
    ap.last_seen[port] = v;
    atomic_fetch_add(&ap.deliveries, 1);
}

static void receiver_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    atomic_store(&ap.go, 1);
    while (atomic_load(&ap.nr_final) < NR_RECV_PORTS - 1 && !atomic_load(&ap.stop)) {
        xensim_evtchn_scan(recv_handler, NULL);
        if (atomic_load(&ap.nr_final) == NR_RECV_PORTS - 1)
            break;
        /* returns once an upcall is pending; clears the upcall mask */
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        xensim_guest_irq_disable();
    }
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
}

START_TEST(test_all_ports_all_senders)
{
    struct xensim *sim = th_sim_new();
    ap.recv = th_domain(sim, "receiver", false, XENSIM_GNTTAB_STRICT);
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

    struct async_call recv = { .sim = sim, .dom = ap.recv, .fn = receiver_fn };
    struct async_call snd[NR_SENDER_DOMS * 2];
    struct sender_arg sa[NR_SENDER_DOMS * 2];
    int n = 0;
    for (int i = 0; i < NR_SENDER_DOMS; i++) {
        /* dom0 has one vCPU: it sends on both parities from vCPU 0 */
        for (unsigned int v = 0; v < (i ? 2u : 1u); v++) {
            sa[n] = (struct sender_arg){ .dom = senders[i], .vcpu = v };
            snd[n] = (struct async_call){ .sim = sim, .dom = senders[i], .vcpu = v,
                                          .fn = sender_fn, .arg = &sa[n] };
            n++;
        }
    }
    /* dom0 owns ports 1 and 2: one odd, one even */
    struct sender_arg sa0b = { .dom = 0, .vcpu = 1 };
    struct async_call snd0b = { .sim = sim, .dom = 0, .vcpu = 0, .fn = sender_fn, .arg = &sa0b };

    async_start(&recv);
    for (int i = 0; i < n; i++)
        async_start(&snd[i]);
    for (int i = 0; i < n; i++)
        async_join(&snd[i]);
    async_start(&snd0b);
    async_join(&snd0b);

    for (unsigned int w = 0; atomic_load(&ap.nr_final) < NR_RECV_PORTS - 1; w++) {
        if (w == 30000) {
            atomic_store(&ap.stop, 1);
            for (evtchn_port_t rp = 1; rp < NR_RECV_PORTS; rp++)
                if (ap.last_seen[rp] != ROUNDS)
                    fprintf(stderr, "port %u: last delivery saw round %u of %u\n", rp,
                            ap.last_seen[rp], ROUNDS);
            ck_abort_msg("%u of %u ports never delivered their last send",
                         NR_RECV_PORTS - 1 - atomic_load(&ap.nr_final), NR_RECV_PORTS - 1);
        }
        ev_sleep_ms(1);
    }
    async_join(&recv);
    ck_assert_int_eq(atomic_load(&ap.send_errors), 0);
    ck_assert_int_eq(atomic_load(&ap.regressions), 0);
    ck_assert_uint_eq(atomic_load(&ap.sends), (unsigned long)ROUNDS * (NR_RECV_PORTS - 1));
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
#define CHURN 300

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
 */
#define BIND_ROUNDS 400

struct bind_race {
    _Atomic int round;                  /* published by dom1 vCPU 0 */
    _Atomic uint32_t port;
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
        atomic_store(&br.finished, 0);
        atomic_store(&br.round, r);
        while (atomic_load(&br.finished) < 3)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

static void br_closer_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= BIND_ROUNDS; r++) {
        spin_until(&br.round, r);
        if (hc_close(atomic_load(&br.port)) != 0)
            atomic_fetch_add(&br.bad, 1);
        atomic_fetch_add(&br.finished, 1);
        /* do not run into the next round before it is published */
        while (atomic_load(&br.round) == r && r < BIND_ROUNDS)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

static void br_binder_fn(void *p)
{
    (void)p;
    for (int r = 1; r <= BIND_ROUNDS; r++) {
        spin_until(&br.round, r);
        long l = hc_bind(1, atomic_load(&br.port));
        if (l > 0) {
            atomic_fetch_add(&br.wins[r - 1], 1);
            if (hc_close((evtchn_port_t)l) != 0)
                atomic_fetch_add(&br.bad, 1);
        } else if (l != -EINVAL) {
            atomic_fetch_add(&br.bad, 1);
        }
        atomic_fetch_add(&br.finished, 1);
        while (atomic_load(&br.round) == r && r < BIND_ROUNDS)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
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
#define MESH_ROUNDS 8

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
#define CC_ROUNDS 500

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

static Suite *stress_suite(void)
{
    Suite *s = suite_create("evtchn_stress");
    TCase *t = tcase_create("stress");
    tcase_add_test(t, test_all_ports_all_senders);
    tcase_add_test(t, test_close_racing_send);
    tcase_add_test(t, test_bind_racing_close);
    tcase_add_test(t, test_mesh_cross_binds);
    tcase_add_test(t, test_close_both_ends);
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
