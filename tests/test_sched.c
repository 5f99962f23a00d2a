/*
 * The scheduler hypercalls against Xen's rules (spec §1.5, §1.7, §1.8):
 * yield, block (returns on an event, clears the upcall mask), poll, the
 * single-shot timer and VIRQ_TIMER, and shutdown with VIRQ_DOM_EXC.
 */
#include <pthread.h>
#include <stdio.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF

static struct xensim *sim_with_guests(unsigned int nr_vcpus)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c1 = { .name = "guest", .nr_vcpus = nr_vcpus };
    ck_assert_int_eq(th_domain_cfg(sim, &c1), 1);
    ck_assert_int_eq(th_domain(sim, "peer", false, XENSIM_GNTTAB_STRICT), 2);
    return sim;
}

static void free_checked(struct xensim *sim, unsigned int ndom)
{
    for (domid_t d = 0; d < ndom; d++)
        ck_assert_msg(th_ports_in_use(sim, d) == 0, "dom%u leaks %u ports", d, th_ports_in_use(sim, d));
    th_sim_free_checked(sim);
}

static long poll_ports(const evtchn_port_t *ports, unsigned int n, uint64_t timeout)
{
    struct sched_poll sp = { .nr_ports = n, .timeout = timeout };
    /* A guest handle is a bare pointer or a struct holding one, by
     * interface version; the bytes are the same. */
    memcpy(&sp.ports, &ports, sizeof(ports));
    return HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
}

/* An interdomain pair dom1:p <-> dom2:q with nothing pending. */
static void make_pair(struct xensim *sim, evtchn_port_t *p, evtchn_port_t *q)
{
    long a = ev_alloc_unbound(sim, 1, SELF, 2);
    long b = ev_bind_interdomain(sim, 2, 1, (evtchn_port_t)a);
    ck_assert_int_gt(a, 0);
    ck_assert_int_gt(b, 0);
    *p = (evtchn_port_t)a;
    *q = (evtchn_port_t)b;
    ev_clear_pending(sim, 2, *q);
}

static void drop_pair(struct xensim *sim, evtchn_port_t p, evtchn_port_t q)
{
    ck_assert_int_eq(ev_close(sim, 1, p), 0);
    ck_assert_int_eq(ev_close(sim, 2, q), 0);
}

static void yield_fn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0);
}

START_TEST(test_yield)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, yield_fn, NULL);
    free_checked(sim, 3);
}
END_TEST

/* Block with an event already pending returns at once, mask cleared. */
static void block_pending_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)p), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_block, NULL), 0);
    ck_assert(!xensim_guest_irq_disabled());
    ck_assert_uint_eq(g_upcall_mask(0), 0);
    ck_assert(g_pending((evtchn_port_t)p));
    xensim_guest_irq_disable();
    g_set_upcall_pending(0, 0);
    g_set_sel(0, 0);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)p), 0);
}

START_TEST(test_block_pending)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, block_pending_fn, NULL);
    free_checked(sim, 3);
}
END_TEST

/* Block sleeps until another domain's event arrives. */
struct wait_arg {
    evtchn_port_t port;
    _Atomic int ready, returned;
    long rc;
    bool pending_after, irq_disabled_after;
    uint8_t upcall_after;
};

static void block_wait_fn(void *p)
{
    struct wait_arg *w = p;
    xensim_guest_irq_disable();
    atomic_store(&w->ready, 1);
    w->rc = HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    atomic_store(&w->returned, 1);
    w->pending_after = g_pending(w->port);
    w->upcall_after = g_upcall_pending(0);
    w->irq_disabled_after = xensim_guest_irq_disabled();
    xensim_guest_irq_disable();
    g_set_upcall_pending(0, 0);
    g_set_sel(0, 0);
    g_set_pending(w->port, false);
}

/* What vCPU 1 sees of vCPU 0 blocked, after the masked send. */
struct blocked_view {
    struct wait_arg *w;
    evtchn_port_t masked;
    bool returned, masked_pending;
    uint8_t upcall;
    uint64_t sel;
};

static void blocked_view_fn(void *p)
{
    struct blocked_view *b = p;
    b->returned = atomic_load(&b->w->returned);
    b->masked_pending = g_pending(b->masked);
    b->upcall = g_upcall_pending(0);
    b->sel = g_sel(0);
}

START_TEST(test_block_wakes_on_event)
{
    struct xensim *sim = sim_with_guests(2);
    evtchn_port_t p, q;
    make_pair(sim, &p, &q);
    /* a second channel whose port dom1 has masked: a send on it sets
     * pending only, which must not end the block (§1.5) */
    evtchn_port_t mp, mq;
    make_pair(sim, &mp, &mq);
    ev_set_mask(sim, 1, mp, true);
    struct wait_arg w = { .port = p };
    struct async_call a = { .sim = sim, .dom = 1, .fn = block_wait_fn, .arg = &w };
    async_start(&a);
    EV_WAIT_FOR(atomic_load(&w.ready));
    /* The send is done when ev_send returns: vCPU 1 then finds vCPU 0
     * still blocked, with no upcall or selector bit that would end it. */
    ck_assert_int_eq(ev_send(sim, 2, mq), 0);
    struct blocked_view b = { .w = &w, .masked = mp };
    th_call(sim, 1, 1, blocked_view_fn, &b);
    ck_assert(b.masked_pending);
    ck_assert_uint_eq(b.upcall, 0);
    ck_assert_uint_eq(b.sel, 0);
    ck_assert_msg(!b.returned, "a send on a masked port ended SCHEDOP_block");
    ck_assert_int_eq(ev_send(sim, 2, q), 0);
    async_join(&a);
    ck_assert_int_eq(w.rc, 0);
    ck_assert(w.pending_after);
    ck_assert_uint_eq(w.upcall_after, 1);
    ck_assert(!w.irq_disabled_after);
    ck_assert(ev_is_pending(sim, 1, mp));
    ev_set_mask(sim, 1, mp, false);
    drop_pair(sim, mp, mq);
    drop_pair(sim, p, q);
    free_checked(sim, 3);
}
END_TEST

/* Poll: returns at once if a listed port is pending, masked or not. */
static void poll_pending_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    long r = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    ck_assert_int_gt(r, 0);
    g_set_mask((evtchn_port_t)p, true);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)p), 0);
    evtchn_port_t list[2] = { (evtchn_port_t)r, (evtchn_port_t)p };
    ck_assert_int_eq(poll_ports(list, 2, 0), 0);
    ck_assert_int_eq(poll_ports(&list[1], 1, 0), 0);
    ck_assert(g_pending((evtchn_port_t)p));
    /* poll leaves the upcall mask alone */
    ck_assert(xensim_guest_irq_disabled());
    g_set_mask((evtchn_port_t)p, false);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)p), 0);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)r), 0);
}

START_TEST(test_poll_pending)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, poll_pending_fn, NULL);
    free_checked(sim, 3);
}
END_TEST

/* Poll sleeps on a masked port and wakes when it is set. */
static void poll_wait_fn(void *p)
{
    struct wait_arg *w = p;
    xensim_guest_irq_disable();
    g_set_mask(w->port, true);
    atomic_store(&w->ready, 1);
    w->rc = poll_ports(&w->port, 1, 0);
    w->pending_after = g_pending(w->port);
    w->upcall_after = g_upcall_pending(0);
    w->irq_disabled_after = xensim_guest_irq_disabled();
    g_set_pending(w->port, false);
    g_set_mask(w->port, false);
}

START_TEST(test_poll_wakes_on_masked_port)
{
    struct xensim *sim = sim_with_guests(1);
    evtchn_port_t p, q;
    make_pair(sim, &p, &q);
    struct wait_arg w = { .port = p };
    struct async_call a = { .sim = sim, .dom = 1, .fn = poll_wait_fn, .arg = &w };
    async_start(&a);
    EV_WAIT_FOR(atomic_load(&w.ready));
    ck_assert_int_eq(ev_send(sim, 2, q), 0);
    async_join(&a);
    ck_assert_int_eq(w.rc, 0);
    ck_assert(w.pending_after);
    /* masked: no upcall was marked */
    ck_assert_uint_eq(w.upcall_after, 0);
    ck_assert(w.irq_disabled_after);
    drop_pair(sim, p, q);
    free_checked(sim, 3);
}
END_TEST

/*
 * Poll and upcalls. With the upcall mask clear and an upcall already
 * pending, poll returns at once (Xen checks local_events_need_delivery()
 * first); an unmasked event arriving during the poll kicks the vCPU out of
 * it and its upcall runs (§1.5: mark-events-pending kicks the vCPU).
 */
static _Atomic unsigned int sched_upcalls;

static void ack_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    g_set_pending(port, false);
}

static void sched_upcall(void)
{
    xensim_evtchn_scan(ack_handler, NULL);
    atomic_fetch_add(&sched_upcalls, 1);
}

static void poll_upcall_pending_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    long r = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    ck_assert_int_gt(r, 0);
    evtchn_port_t port = (evtchn_port_t)p;
    g_set_mask(port, true);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)r), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    /* no handler registered: the upcall stays pending with the mask clear;
     * nothing will ever raise the polled port, and there is no timeout,
     * so a poll that slept would never return (Check's timeout fails it) */
    xensim_guest_irq_enable();
    ck_assert_int_eq(poll_ports(&port, 1, 0), 0);
    ck_assert(!g_pending(port));
    xensim_guest_irq_disable();
    g_set_mask(port, false);
    g_set_pending((evtchn_port_t)r, false);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
    ck_assert_int_eq(xensim_evtchn_close(port), 0);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)r), 0);
}

START_TEST(test_poll_returns_for_pending_upcall)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, poll_upcall_pending_fn, NULL);
    free_checked(sim, 3);
}
END_TEST

struct poll_kick_arg {
    evtchn_port_t masked, live;
    _Atomic int ready;
    long rc;
    unsigned int upcalls;
    bool masked_pending;
};

static void poll_kick_fn(void *p)
{
    struct poll_kick_arg *a = p;
    ck_assert_int_eq(g_register_upcall(sched_upcall), 0);
    xensim_guest_irq_disable();
    g_set_mask(a->masked, true);
    xensim_guest_irq_enable();
    atomic_store(&a->ready, 1);
    /* No timeout, and nobody raises the polled port: only the kick of
     * the upcall ends this poll (a missed kick hangs until Check's
     * timeout fails the case). */
    a->rc = poll_ports(&a->masked, 1, 0);
    a->upcalls = atomic_load(&sched_upcalls);
    a->masked_pending = g_pending(a->masked);
    xensim_guest_irq_disable();
    g_set_mask(a->masked, false);
}

START_TEST(test_poll_kicked_by_upcall)
{
    struct xensim *sim = sim_with_guests(1);
    struct poll_kick_arg a;
    memset(&a, 0, sizeof(a));
    evtchn_port_t q1, q2;
    make_pair(sim, &a.masked, &q1);
    make_pair(sim, &a.live, &q2);
    struct async_call c = { .sim = sim, .dom = 1, .fn = poll_kick_fn, .arg = &a };
    async_start(&c);
    EV_WAIT_FOR(atomic_load(&a.ready));
    ck_assert_int_eq(ev_send(sim, 2, q2), 0);
    async_join(&c);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_uint_eq(a.upcalls, 1);
    ck_assert(!a.masked_pending);
    ck_assert(!ev_is_pending(sim, 1, a.masked));
    ck_assert(!ev_is_pending(sim, 1, a.live));
    drop_pair(sim, a.masked, q1);
    drop_pair(sim, a.live, q2);
    free_checked(sim, 3);
}
END_TEST

/* Poll with an absolute timeout returns 0 once it passes. */
static void poll_timeout_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    evtchn_port_t port = (evtchn_port_t)p;
    uint64_t deadline = xensim_guest_system_time() + 20 * 1000 * 1000;
    ck_assert_int_eq(poll_ports(&port, 1, deadline), 0);
    ck_assert(!g_pending(port));
    ck_assert_msg(xensim_guest_system_time() >= deadline, "poll returned before its timeout with nothing pending");

    /* another port pending (upcalls masked) does not end a one-port poll */
    long o = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(o, 0);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)o), 0);
    deadline = xensim_guest_system_time() + 20 * 1000 * 1000;
    ck_assert_int_eq(poll_ports(&port, 1, deadline), 0);
    ck_assert(!g_pending(port));
    ck_assert_msg(xensim_guest_system_time() >= deadline, "poll on one port returned for another one");
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)o), 0);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
    /* a timeout already in the past */
    ck_assert_int_eq(poll_ports(&port, 1, 1), 0);
    ck_assert_int_eq(xensim_evtchn_close(port), 0);
}

START_TEST(test_poll_timeout)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, poll_timeout_fn, NULL);
    free_checked(sim, 3);
}
END_TEST

/* Poll's argument checks. */
static void poll_bad_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    g_set_mask((evtchn_port_t)p, true);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)p), 0);

    evtchn_port_t many[129];
    for (int i = 0; i < 129; i++)
        many[i] = (evtchn_port_t)p;
    ck_assert_int_eq(poll_ports(many, 129, 0), -EINVAL);
    ck_assert_int_eq(poll_ports(many, 0xFFFFFFFFu, 0), -EINVAL);
    ck_assert_int_eq(poll_ports(many, 128, 0), 0);

    evtchn_port_t bad[2] = { 1024, (evtchn_port_t)p };
    ck_assert_int_eq(poll_ports(bad, 2, 0), -EINVAL);
    bad[0] = 0xFFFFFFFFu;
    ck_assert_int_eq(poll_ports(bad, 1, 0), -EINVAL);
    ck_assert_int_eq(poll_ports(NULL, 1, 0), -EFAULT);
    ck_assert_int_eq(poll_ports((evtchn_port_t *)(uintptr_t)8, 1, 0), -EFAULT);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_poll, NULL), -EFAULT);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_shutdown, NULL), -EFAULT);
    ck_assert_int_eq(HYPERVISOR_sched_op(99, NULL), -ENOSYS);
    ck_assert_int_eq(HYPERVISOR_sched_op(-1, NULL), -ENOSYS);

    g_set_mask((evtchn_port_t)p, false);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)p), 0);
}

START_TEST(test_poll_bad_args)
{
    struct xensim *sim = sim_with_guests(1);
    th_call(sim, 1, 0, poll_bad_fn, NULL);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    free_checked(sim, 3);
}
END_TEST

/* The single-shot timer raises VIRQ_TIMER on the vCPU that set it. */
static uint64_t ms_from_now(unsigned int ms)
{
    return xensim_guest_system_time() + (uint64_t)ms * 1000 * 1000;
}

struct timer_arg {
    evtchn_port_t t[2];
};

static void timer_bind_fn(void *p)
{
    struct timer_arg *a = p;
    for (unsigned int v = 0; v < xensim_guest_nr_vcpus(); v++) {
        long r = xensim_evtchn_bind_virq(VIRQ_TIMER, v);
        ck_assert_int_gt(r, 0);
        a->t[v] = (evtchn_port_t)r;
    }
}

static void timer_close_fn(void *p)
{
    struct timer_arg *a = p;
    for (unsigned int v = 0; v < xensim_guest_nr_vcpus(); v++)
        ck_assert_int_eq(xensim_evtchn_close(a->t[v]), 0);
}

static void clear_timer_event(unsigned int me, evtchn_port_t t)
{
    g_set_pending(t, false);
    g_set_sel(me, 0);
    g_set_upcall_pending(me, 0);
}

static void sys_time_fn(void *p)
{
    *(uint64_t *)p = xensim_guest_system_time();
}

static void clear_timer0_fn(void *p)
{
    struct timer_arg *a = p;
    clear_timer_event(0, a->t[0]);
}

static void timer_fire_fn(void *p)
{
    struct timer_arg *a = p;
    unsigned int me = xensim_guest_vcpu_id(), other = 1 - me;
    evtchn_port_t t = a->t[me];

    xensim_guest_irq_disable();
    ck_assert(!g_pending(t));
    ck_assert_int_eq(HYPERVISOR_set_timer_op(ms_from_now(1)), 0);
    ck_assert_int_eq(poll_ports(&t, 1, 0), 0);
    ck_assert(g_pending(t));
    ck_assert(!g_pending(a->t[other]));
    ck_assert_uint_eq(g_sel(me), g_selbit(t));
    ck_assert_uint_eq(g_upcall_pending(me), 1);
    ck_assert_uint_eq(g_upcall_pending(other), 0);
    clear_timer_event(me, t);

    /* a deadline in the past fires at once */
    ck_assert_int_eq(HYPERVISOR_set_timer_op(1), 0);
    ck_assert_int_eq(poll_ports(&t, 1, 0), 0);
    ck_assert(g_pending(t));
    clear_timer_event(me, t);

    /* setting again replaces the deadline */
    ck_assert_int_eq(HYPERVISOR_set_timer_op(ms_from_now(3600 * 1000)), 0);
    ck_assert_int_eq(HYPERVISOR_set_timer_op(ms_from_now(1)), 0);
    ck_assert_int_eq(poll_ports(&t, 1, 0), 0);
    ck_assert(g_pending(t));
    clear_timer_event(me, t);

    /* the timer wakes SCHEDOP_block through the unmasked VIRQ port */
    ck_assert_int_eq(HYPERVISOR_set_timer_op(ms_from_now(1)), 0);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_block, NULL), 0);
    ck_assert(g_pending(t));
    xensim_guest_irq_disable();
    clear_timer_event(me, t);
}

START_TEST(test_timer_virq_per_vcpu)
{
    struct xensim *sim = sim_with_guests(2);
    struct timer_arg a;
    th_call(sim, 1, 0, timer_bind_fn, &a);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, 1, a.t[1], &st), EVTCHNSTAT_virq);
    ck_assert_uint_eq(st.vcpu, 1);
    ck_assert_uint_eq(st.u.virq, VIRQ_TIMER);
    th_call(sim, 1, 1, timer_fire_fn, &a);
    th_call(sim, 1, 0, timer_fire_fn, &a);
    th_call(sim, 1, 0, timer_close_fn, &a);
    free_checked(sim, 3);
}
END_TEST

/*
 * Xen's do_set_timer_op: a deadline that wrapped negative, or more than
 * 2^50 ns (about 13 days) ahead, is taken as "soon" and fires in 100 ms,
 * a workaround for Linux's jiffy wrap.
 */
static void timer_huge_fn(void *p)
{
    struct timer_arg *a = p;
    evtchn_port_t t = a->t[0];
    xensim_guest_irq_disable();
    const uint64_t huge[] = { ~0ull, 1ull << 63, xensim_guest_system_time() + (1ull << 51) };
    for (unsigned int i = 0; i < 3; i++) {
        /* no poll timeout: a deadline taken at its word would hang here
         * until Check's timeout fails the case */
        ck_assert_int_eq(HYPERVISOR_set_timer_op(huge[i]), 0);
        ck_assert_int_eq(poll_ports(&t, 1, 0), 0);
        ck_assert_msg(g_pending(t), "set_timer_op(0x%llx): poll returned, timer not fired",
                      (unsigned long long)huge[i]);
        clear_timer_event(0, t);
    }
    ck_assert_int_eq(HYPERVISOR_set_timer_op(0), 0);
}

START_TEST(test_timer_huge_deadline)
{
    struct xensim *sim = sim_with_guests(1);
    struct timer_arg a;
    th_call(sim, 1, 0, timer_bind_fn, &a);
    th_call(sim, 1, 0, timer_huge_fn, &a);
    th_call(sim, 1, 0, timer_close_fn, &a);
    free_checked(sim, 3);
}
END_TEST

/*
 * Timers that must not be seen: one cancelled, one with no VIRQ_TIMER
 * bound. Neither can be awaited, so vCPU 1 arms a later timer of its own
 * before vCPU 0 arms the earlier one, and awaits it: by the time vCPU 1's
 * fires, vCPU 0's has fired too if it was still armed (the timer thread
 * fires the earlier deadline, and of equal ones the later armed, first).
 */
struct quiet_arg {
    evtchn_port_t t1;           /* vCPU 1's VIRQ_TIMER port */
    evtchn_port_t watch;        /* a port of vCPU 0 that nothing raises */
    uint64_t d0, d1;            /* vCPU 0's and vCPU 1's deadlines */
    bool cancel;                /* vCPU 0 cancels its timer */
    bool too_late;              /* vCPU 0's timer was due before the cancel */
};

static void quiet_arm1_fn(void *p)
{
    struct quiet_arg *q = p;
    ck_assert_int_eq(HYPERVISOR_set_timer_op(q->d1), 0);
}

static void quiet_arm0_fn(void *p)
{
    struct quiet_arg *q = p;
    ck_assert_int_eq(HYPERVISOR_set_timer_op(q->d0), 0);
    if (q->cancel) {
        ck_assert_int_eq(HYPERVISOR_set_timer_op(0), 0);
        q->too_late = xensim_guest_system_time() >= q->d0;
    }
}

static void quiet_await1_fn(void *p)
{
    struct quiet_arg *q = p;
    xensim_guest_irq_disable();
    ck_assert_int_eq(poll_ports(&q->t1, 1, 0), 0);
    ck_assert(g_pending(q->t1));
    clear_timer_event(1, q->t1);
}

struct quiet_view { evtchn_port_t watch; bool pending; uint8_t upcall; uint64_t sel; };

static void quiet_view_fn(void *p)
{
    struct quiet_view *v = p;
    v->pending = g_pending(v->watch);
    v->upcall = g_upcall_pending(0);
    v->sel = g_sel(0);
}

/* One round: arms both, waits for vCPU 1's, reports what vCPU 0 got.
 * Returns false if vCPU 0's timer was already due when it was cancelled. */
static bool quiet_round(struct xensim *sim, struct quiet_arg *q, uint64_t gap_ms,
                        struct quiet_view *v)
{
    uint64_t now = 0;
    th_call(sim, 1, 1, sys_time_fn, &now);
    q->d0 = now + gap_ms * 1000 * 1000;
    q->d1 = q->d0 + gap_ms * 1000 * 1000;
    q->too_late = false;
    th_call(sim, 1, 1, quiet_arm1_fn, q);
    th_call(sim, 1, 0, quiet_arm0_fn, q);
    th_call(sim, 1, 1, quiet_await1_fn, q);
    v->watch = q->watch;
    th_call(sim, 1, 0, quiet_view_fn, v);
    return !q->too_late;
}

START_TEST(test_timer_cancel)
{
    struct xensim *sim = sim_with_guests(2);
    struct timer_arg a;
    th_call(sim, 1, 0, timer_bind_fn, &a);
    struct quiet_arg q = { .t1 = a.t[1], .watch = a.t[0], .cancel = true };
    struct quiet_view v;
    /* A preemption longer than the gap between arming and cancelling
     * leaves nothing to test: try again with a longer gap. */
    uint64_t gap = 20;
    while (!quiet_round(sim, &q, gap, &v)) {
        ck_assert_msg(gap < 20000, "could not cancel a timer before it was due");
        th_call(sim, 1, 0, clear_timer0_fn, &a);
        gap *= 2;
    }
    ck_assert_msg(!v.pending, "a cancelled timer fired");
    ck_assert_uint_eq(v.upcall, 0);
    ck_assert_uint_eq(v.sel, 0);
    th_call(sim, 1, 0, timer_close_fn, &a);
    free_checked(sim, 3);
}
END_TEST

/* Without VIRQ_TIMER bound on vCPU 0 its timer fires into nothing. */
static void bind_timer1_fn(void *p)
{
    struct quiet_arg *q = p;
    long r = xensim_evtchn_bind_virq(VIRQ_TIMER, 1);
    ck_assert_int_gt(r, 0);
    q->t1 = (evtchn_port_t)r;
    long w = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(w, 0);
    q->watch = (evtchn_port_t)w;
}

static void unbind_timer1_fn(void *p)
{
    struct quiet_arg *q = p;
    ck_assert_int_eq(xensim_evtchn_close(q->t1), 0);
    ck_assert_int_eq(xensim_evtchn_close(q->watch), 0);
}

START_TEST(test_timer_unbound)
{
    struct xensim *sim = sim_with_guests(2);
    struct quiet_arg q = { .cancel = false };
    th_call(sim, 1, 0, bind_timer1_fn, &q);
    struct quiet_view v;
    ck_assert(quiet_round(sim, &q, 1, &v));
    ck_assert(!v.pending);
    ck_assert_uint_eq(v.upcall, 0);
    ck_assert_uint_eq(v.sel, 0);
    th_call(sim, 1, 0, unbind_timer1_fn, &q);
    free_checked(sim, 3);
}
END_TEST

/*
 * SCHEDOP_shutdown: the domain is shut down with the reason, guest code
 * after the hypercall never runs, and dom0's VIRQ_DOM_EXC is raised.
 */
static _Atomic int after_shutdown;

static void shutdown_entry(void *arg)
{
    sched_shutdown_t s = { .reason = (unsigned int)(uintptr_t)arg };
    HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
    atomic_store(&after_shutdown, 1);
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

static void poll_one_fn(void *p)
{
    evtchn_port_t port = *(evtchn_port_t *)p;
    ck_assert_int_eq(poll_ports(&port, 1, 0), 0);
    ck_assert(g_pending(port));
    g_set_pending(port, false);
}

static const unsigned int reasons[] = { SHUTDOWN_poweroff, SHUTDOWN_reboot, SHUTDOWN_crash };

START_TEST(test_shutdown_reasons)
{
    unsigned int reason = reasons[_i];
    struct xensim *sim = th_sim_new();
    long e = ev_bind_virq(sim, 0, VIRQ_DOM_EXC, 0);
    ck_assert_int_eq(e, 1);
    evtchn_port_t ep = (evtchn_port_t)e;
    ev_set_mask(sim, 0, ep, true);

    /* Any domain may bind a global VIRQ (4.17), but Xen only delivers it
     * to its handler, the hardware domain (§1.4, §1.7). */
    domid_t watcher = th_domain(sim, "watcher", false, XENSIM_GNTTAB_STRICT);
    long we = ev_bind_virq(sim, watcher, VIRQ_DOM_EXC, 0);
    ck_assert_int_eq(we, 3);

    struct xensim_domain_config cfg = {
        .name = "quitter", .entry = shutdown_entry, .entry_arg = (void *)(uintptr_t)reason,
    };
    int d = xensim_domain_create(sim, &cfg);
    ck_assert_int_eq(d, 2);
    ck_assert(!ev_is_pending(sim, 0, ep));
    ck_assert_int_eq(xensim_domain_unpause(sim, (domid_t)d), 0);
    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, (domid_t)d), (int)reason);

    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, (domid_t)d, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_SHUTDOWN);
    ck_assert_uint_eq(info.shutdown_reason, reason);
    th_call(sim, 0, 0, poll_one_fn, &ep);
    ck_assert_msg(!ev_is_pending(sim, watcher, (evtchn_port_t)we),
                  "VIRQ_DOM_EXC reached a domain that is not its handler");
    /* shutting down is not dying: its ports stay until destroy */
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, (domid_t)d, 1, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);

    /* a shut-down domain is not dying: the toolstack may still allocate
     * (the port goes with the domain) */
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, (domid_t)d, 0), 3);
    ck_assert_int_eq(xensim_domain_call(sim, (domid_t)d, 0, poll_one_fn, &ep), -ESHUTDOWN);

    ck_assert_int_eq(xensim_domain_destroy(sim, (domid_t)d), 0);
    ck_assert_int_eq(atomic_load(&after_shutdown), 0);
    ck_assert_int_eq(ev_close(sim, 0, ep), 0);
    ck_assert_int_eq(ev_close(sim, watcher, (evtchn_port_t)we), 0);
    free_checked(sim, 2);
}
END_TEST

static Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *t = tcase_create("block_poll");
    tcase_add_test(t, test_yield);
    tcase_add_test(t, test_block_pending);
    tcase_add_test(t, test_block_wakes_on_event);
    tcase_add_test(t, test_poll_pending);
    tcase_add_test(t, test_poll_wakes_on_masked_port);
    tcase_add_test(t, test_poll_timeout);
    tcase_add_test(t, test_poll_bad_args);
    tcase_add_test(t, test_poll_returns_for_pending_upcall);
    tcase_add_test(t, test_poll_kicked_by_upcall);
    suite_add_tcase(s, t);

    t = tcase_create("timer");
    tcase_add_test(t, test_timer_virq_per_vcpu);
    tcase_add_test(t, test_timer_cancel);
    tcase_add_test(t, test_timer_unbound);
    tcase_add_test(t, test_timer_huge_deadline);
    suite_add_tcase(s, t);

    t = tcase_create("shutdown");
    tcase_add_loop_test(t, test_shutdown_reasons, 0, 3);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sched_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
