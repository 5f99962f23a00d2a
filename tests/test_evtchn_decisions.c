/*
 * Issue 10's event channel items and the FIFO ABI's corners, one case
 * each, with the line of Xen 4.17 that decides it (xen/common/
 * event_channel.c, event_2l.c, event_fifo.c, sched/core.c,
 * include/xen/event.h), quoted in the comment above the case. Public API
 * only, plus the test helpers.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fifo_helpers.h"

#define SELF DOMID_SELF

/* dom0, dom1 (2 vCPUs), dom2 (1 vCPU). */
static struct xensim *sim_three(void)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c1 = { .name = "guest1", .nr_vcpus = 2 };
    ck_assert_int_eq(th_domain_cfg(sim, &c1), 1);
    ck_assert_int_eq(th_domain(sim, "guest2", false, XENSIM_GNTTAB_STRICT), 2);
    return sim;
}

static void free_checked(struct xensim *sim)
{
    for (domid_t d = 0; d < 3; d++)
        ck_assert_msg(th_ports_in_use(sim, d) == 0, "dom%u leaks %u ports", d,
                      th_ports_in_use(sim, d));
    th_sim_free_checked(sim);
}

static long poll_ports(const evtchn_port_t *ports, unsigned int n, uint64_t timeout)
{
    struct sched_poll sp = { .nr_ports = n, .timeout = timeout };
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

/* A raw bind, so that the guest kernel's own event layer stays out. */
static long raw_ipi(uint32_t vcpu)
{
    evtchn_bind_ipi_t op = { .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);
    return rc ? rc : (long)op.port;
}

static void drop_pair(struct xensim *sim, evtchn_port_t p, evtchn_port_t q)
{
    ck_assert_int_eq(ev_close(sim, 1, p), 0);
    ck_assert_int_eq(ev_close(sim, 2, q), 0);
}

/*
 * Item 1. EVTCHNOP_status writes only the fields of the port's state and
 * copies the whole struct back, so the rest of u is the caller's own:
 * evtchn_status(), case ECS_INTERDOMAIN, writes
 * `status->u.interdomain.dom = ...` and `status->u.interdomain.port = ...`
 * and nothing else, so the 2 bytes of padding between them come back as
 * they went in. (Fixed on main; test_evtchn_ops' test_status_writes_
 * only_its_fields holds the other states.)
 */
START_TEST(item1_status_leaves_padding)
{
    struct xensim *sim = sim_three();
    evtchn_port_t p, q;
    make_pair(sim, &p, &q);
    evtchn_status_t st;
    memset(&st, 0xAA, sizeof(st));
    st.dom = 1;
    st.port = p;
    ck_assert_int_eq(ev_hc(sim, 0, EVTCHNOP_status, &st), 0);
    ck_assert_uint_eq(st.status, EVTCHNSTAT_interdomain);
    ck_assert_uint_eq(st.u.interdomain.dom, 2);
    ck_assert_uint_eq(st.u.interdomain.port, q);
    const uint8_t *u = (const uint8_t *)&st.u;
    size_t pad = offsetof(evtchn_status_t, u.interdomain.port) -
                 offsetof(evtchn_status_t, u.interdomain.dom) - sizeof(domid_t);
    ck_assert_uint_eq(pad, 2);
    ck_assert_uint_eq(u[2], 0xAA);
    ck_assert_uint_eq(u[3], 0xAA);
    drop_pair(sim, p, q);
    free_checked(sim);
}
END_TEST

/*
 * Item 2. EVTCHNOP_reset_cont (14) shares EVTCHNOP_reset's case in
 * do_event_channel_op (`case EVTCHNOP_reset: case EVTCHNOP_reset_cont:`):
 * the domain lookup (-ESRCH), XSM (-EPERM), then evtchn_reset(d, true),
 * whose "not paused by the toolstack" check (-EINVAL) comes first and
 * whose `i = resuming ? d->next_evtchn : !d->next_evtchn;` is 0 with no
 * reset under way: `if ( !i ) return -EBUSY;`. Nothing is closed.
 */
START_TEST(item2_reset_cont)
{
    struct xensim *sim = sim_three();
    evtchn_reset_t r = { .dom = SELF };
    unsigned int before = th_ports_in_use(sim, 1);

    ck_assert_int_eq(XENSIM_EVTCHNOP_reset_cont, 14);
    ck_assert_int_eq(ev_hc(sim, 1, XENSIM_EVTCHNOP_reset_cont, &r), -EBUSY);
    r.dom = 1;
    ck_assert_int_eq(ev_hc(sim, 1, XENSIM_EVTCHNOP_reset_cont, &r), -EBUSY);
    r.dom = EV_NODOM;
    ck_assert_int_eq(ev_hc(sim, 1, XENSIM_EVTCHNOP_reset_cont, &r), -ESRCH);
    ck_assert_int_eq(ev_hc(sim, 0, XENSIM_EVTCHNOP_reset_cont, &r), -ESRCH);
    r.dom = 2;
    ck_assert_int_eq(ev_hc(sim, 1, XENSIM_EVTCHNOP_reset_cont, &r), -EPERM);
    /* dom0 on a running domU: Xen's `d != current->domain &&
     * !d->controller_pause_count` */
    ck_assert_int_eq(ev_hc(sim, 0, XENSIM_EVTCHNOP_reset_cont, &r), -EINVAL);
    ck_assert_int_eq(xensim_domain_pause(sim, 2), 0);
    ck_assert_int_eq(ev_hc(sim, 0, XENSIM_EVTCHNOP_reset_cont, &r), -EBUSY);
    ck_assert_int_eq(xensim_domain_unpause(sim, 2), 0);
    /* copied in first, as every EVTCHNOP */
    ck_assert_int_eq(ev_hc(sim, 1, XENSIM_EVTCHNOP_reset_cont, NULL), -EFAULT);
    ck_assert_uint_eq(th_ports_in_use(sim, 1), before);
    /* and a reset proper still works afterwards (next_evtchn went back
     * to 0), lowest port first */
    long p = ev_bind_ipi(sim, 2, 0);
    ck_assert_int_eq(p, 3);
    r.dom = SELF;
    ck_assert_int_eq(ev_hc(sim, 2, EVTCHNOP_reset, &r), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 2, &info), 0);
    ck_assert_uint_eq(info.ports_in_use, 0);
    ck_assert_int_eq(ev_hc(sim, 2, XENSIM_EVTCHNOP_reset_cont, &r), -EBUSY);
    /* the builder's ports went with the reset: give them back */
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 2, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 2, 0), 2);
    free_checked(sim);
}
END_TEST

/*
 * Item 3. SCHEDOP_poll reads its ports one at a time and refuses one that
 * is not usable: evtchn_port_poll() is `if ( evtchn_usable(evtchn) ) rc =
 * evtchn_is_pending(d, evtchn);` with rc = -EINVAL otherwise, and
 * evtchn_usable() is `evtchn->state > ECS_RESERVED`. So port 0 and free
 * ports give -EINVAL; a pending port ends the scan, so what comes after
 * it is never read (do_poll: `if ( rc > 0 ) goto out;`); and an upcall
 * that is due returns before any port is read
 * (`if ( local_events_need_delivery() ) goto out;`).
 */
static void item3_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    long u = xensim_evtchn_alloc_unbound(0);
    ck_assert_int_gt(p, 0);
    ck_assert_int_gt(u, 0);
    evtchn_port_t pend = (evtchn_port_t)p, unb = (evtchn_port_t)u, freep = 20;
    g_set_mask(pend, true);
    ck_assert_int_eq(xensim_evtchn_send(pend), 0);

    evtchn_port_t zero = 0;
    ck_assert_int_eq(poll_ports(&zero, 1, 1), -EINVAL);
    ck_assert_int_eq(poll_ports(&freep, 1, 1), -EINVAL);
    evtchn_port_t pf[2] = { pend, freep }, fp[2] = { freep, pend };
    ck_assert_int_eq(poll_ports(pf, 2, 0), 0);
    ck_assert_int_eq(poll_ports(fp, 2, 0), -EINVAL);
    /* an unbound port is usable: this poll times out (deadline passed) */
    ck_assert_int_eq(poll_ports(&unb, 1, 1), 0);

    /* after a pending port, an unreadable one is never read */
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(two, MAP_FAILED);
    ck_assert_int_eq(mprotect(two + pg, pg, PROT_NONE), 0);
    evtchn_port_t *edge = (evtchn_port_t *)(two + pg) - 1;
    *edge = pend;
    ck_assert_int_eq(poll_ports(edge, 2, 0), 0);
    *edge = unb;
    ck_assert_int_eq(poll_ports(edge, 2, 0), -EFAULT);

    /* an upcall that is due: 0 before any port is read, even a bad one */
    g_set_mask(pend, false);
    g_set_sel(0, g_selbit(pend));
    g_set_upcall_pending(0, 1);
    __atomic_store_n(&((struct vcpu_info *)xensim_guest_vcpu_info())->evtchn_upcall_mask, 0,
                     __ATOMIC_SEQ_CST);
    ck_assert_int_eq(poll_ports((evtchn_port_t *)(two + pg), 1, 0), 0);
    ck_assert_int_eq(poll_ports(&zero, 1, 0), 0);
    xensim_guest_irq_disable();
    g_set_upcall_pending(0, 0);
    g_set_sel(0, 0);
    munmap(two, 2 * pg);
    ck_assert_int_eq(xensim_evtchn_close(pend), 0);
    ck_assert_int_eq(xensim_evtchn_close(unb), 0);
}

START_TEST(item3_poll_unusable_ports)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, item3_fn, NULL);
    free_checked(sim);
}
END_TEST

/*
 * Item 4. Any event that sets evtchn_upcall_pending ends a poll, whatever
 * the upcall mask: vcpu_mark_events_pending() kicks the vCPU on the 0-to-1
 * edge, and vcpu_unblock() says "Polling period ends when a VCPU is
 * unblocked", clearing poll_evtchn and the poll_mask bit without looking
 * at the mask. With upcall_pending already 1 there is no edge
 * (`if ( test_and_set_bit(0, &vcpu_info(v, evtchn_upcall_pending)) )
 * return;`), so a second event does not end it.
 */
struct item4_arg {
    evtchn_port_t polled, other;
    _Atomic int ready;
    long rc;
    bool polled_pending, ended_at_deadline;
    uint64_t deadline;
};

static void item4_edge_fn(void *p)
{
    struct item4_arg *a = p;
    xensim_guest_irq_disable();
    g_set_mask(a->polled, true);
    atomic_store(&a->ready, 1);
    /* No timeout, and nobody raises the polled port: only the edge on
     * upcall_pending ends this poll (a missed one hangs until Check's
     * timeout fails the case). */
    a->rc = poll_ports(&a->polled, 1, 0);
    a->polled_pending = g_pending(a->polled);
    ck_assert(xensim_guest_irq_disabled());
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    g_set_mask(a->polled, false);
    g_set_pending(a->other, false);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
}

static void item4_no_edge_fn(void *p)
{
    struct item4_arg *a = p;
    xensim_guest_irq_disable();
    g_set_mask(a->polled, true);
    g_set_upcall_pending(0, 1);
    a->deadline = xensim_guest_system_time() + 30 * 1000 * 1000;
    atomic_store(&a->ready, 1);
    a->rc = poll_ports(&a->polled, 1, a->deadline);
    a->ended_at_deadline = xensim_guest_system_time() >= a->deadline;
    a->polled_pending = g_pending(a->polled);
    g_set_mask(a->polled, false);
    g_set_pending(a->other, false);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
}

START_TEST(item4_edge_ends_masked_poll)
{
    struct xensim *sim = sim_three();
    evtchn_port_t q1, q2;
    struct item4_arg a = { 0 };
    make_pair(sim, &a.polled, &q1);
    make_pair(sim, &a.other, &q2);
    struct async_call c = { .sim = sim, .dom = 1, .fn = item4_edge_fn, .arg = &a };
    async_start(&c);
    EV_WAIT_FOR(atomic_load(&a.ready));
    ck_assert_int_eq(ev_send(sim, 2, q2), 0);
    async_join(&c);
    ck_assert_int_eq(a.rc, 0);
    ck_assert(!a.polled_pending);

    /* upcall_pending already set: the same send leaves the poll to its
     * deadline */
    memset(&a.ready, 0, sizeof(a.ready));
    struct async_call c2 = { .sim = sim, .dom = 1, .fn = item4_no_edge_fn, .arg = &a };
    async_start(&c2);
    EV_WAIT_FOR(atomic_load(&a.ready));
    ck_assert_int_eq(ev_send(sim, 2, q2), 0);
    async_join(&c2);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_msg(a.ended_at_deadline, "an event with upcall_pending already set ended the poll");
    ck_assert(!a.polled_pending);
    drop_pair(sim, a.polled, q1);
    drop_pair(sim, a.other, q2);
    free_checked(sim);
}
END_TEST

/*
 * Item 5. A send to a port already pending wakes nobody:
 * evtchn_2l_set_pending() begins `if ( guest_test_and_set_bit(d, port,
 * &shared_info(d, evtchn_pending)) ) return;`, before its
 * evtchn_check_pollers(d, port). A poll on several ports (or none) wakes
 * for any port that becomes pending, so it is the one that would notice.
 */
struct item5_arg {
    evtchn_port_t a, b;
    unsigned int nr;
    _Atomic int ready, done;
    long rc;
    bool at_deadline;
};

static void item5_fn(void *p)
{
    struct item5_arg *x = p;
    xensim_guest_irq_disable();
    evtchn_port_t list[2] = { x->a, x->b };
    uint64_t deadline = xensim_guest_system_time() + 30 * 1000 * 1000;
    atomic_store(&x->ready, 1);
    x->rc = poll_ports(list, x->nr, deadline);
    x->at_deadline = xensim_guest_system_time() >= deadline;
    atomic_store(&x->done, 1);
}

START_TEST(item5_resend_wakes_no_poller)
{
    struct xensim *sim = sim_three();
    evtchn_port_t pp, pq, ap, aq, bp, bq;
    make_pair(sim, &pp, &pq);
    make_pair(sim, &ap, &aq);
    make_pair(sim, &bp, &bq);
    /* pp is pending and masked: sends to it change nothing but would
     * call the pollers' check in the old code */
    ev_set_mask(sim, 1, pp, true);
    ck_assert_int_eq(ev_send(sim, 2, pq), 0);
    ck_assert(ev_is_pending(sim, 1, pp));
    for (unsigned int nr = 0; nr <= 2; nr += 2) {
        struct item5_arg x = { .a = ap, .b = bp, .nr = nr };
        struct async_call c = { .sim = sim, .dom = 1, .fn = item5_fn, .arg = &x };
        async_start(&c);
        EV_WAIT_FOR(atomic_load(&x.ready));
        /* Resend until the poll is over: any one that woke it would end
         * it before its deadline. */
        unsigned int sends = 0;
        while (!atomic_load(&x.done)) {
            ck_assert_int_eq(ev_send(sim, 2, pq), 0);
            sends++;
            sched_yield();
        }
        async_join(&c);
        ck_assert_int_eq(x.rc, 0);
        ck_assert_msg(x.at_deadline, "nr_ports %u: a send to a pending port ended the poll after %u sends",
                      nr, sends);
    }
    ev_set_mask(sim, 1, pp, false);
    ev_clear_pending(sim, 1, pp);
    drop_pair(sim, pp, pq);
    drop_pair(sim, ap, aq);
    drop_pair(sim, bp, bq);
    free_checked(sim);
}
END_TEST

/*
 * FIFO: a vCPU's second init_control is -EINVAL, there is no -EEXIST:
 * map_control_block() begins `if ( v->evtchn_fifo->control_block )
 * return -EINVAL;`. link_bits reaches the guest only on success: the
 * dispatcher's `if ( !rc && __copy_to_guest(arg, &init_control, 1) )`.
 */
static void fifo_second_init_fn(void *p)
{
    (void)p;
    xen_pfn_t a = g_page(), b = g_page();
    uint8_t bits = 0xA5;
    ck_assert_int_eq(g_init_control(a, 0, 0, &bits), 0);
    ck_assert_uint_eq(bits, EVTCHN_FIFO_LINK_BITS);
    bits = 0xA5;
    ck_assert_int_eq(g_init_control(b, 0, 0, &bits), -EINVAL);
    ck_assert_uint_eq(bits, 0xA5);
    ck_assert_int_eq(g_init_control(b, 8, 1, &bits), 0);
    ck_assert_int_eq(g_init_control(a, 8, 1, &bits), -EINVAL);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
}

START_TEST(fifo_second_init_control_einval)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, fifo_second_init_fn, NULL);
    /* the reset closed the builder's ports: give them back */
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 2);
    free_checked(sim);
}
END_TEST

/*
 * FIFO: a port pending under 2-level is not lost at the switch.
 * setup_ports() keeps it (`if ( guest_test_bit(d, port,
 * &shared_info(d, evtchn_pending)) ) evtchn->pending = true;`) and
 * add_page_to_event_array() raises it once its page exists (`if (
 * evtchn->pending ) evtchn_fifo_set_pending(...)`). A send with no word
 * is kept the same way (`if ( unlikely(!word) ) { evtchn->pending =
 * true; return; }`).
 */
static void fifo_carry_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    long port = raw_ipi(0);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)port), 0);
    ck_assert(g_pending((evtchn_port_t)port));
    xen_pfn_t cb = g_page(), arr = g_page();
    ck_assert_int_eq(g_init_control(cb, 0, 0, NULL), 0);
    ck_assert_int_eq(g_expand_array(arr), 0);
    uint32_t w = __atomic_load_n(&g_words(arr)[port], __ATOMIC_SEQ_CST);
    ck_assert_uint_eq(w, FW_P | FW_L);
    ck_assert_uint_eq(g_cb(cb, 0)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], (uint32_t)port);
    ck_assert_uint_eq(g_cb(cb, 0)->ready, 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
    g_set_upcall_pending(0, 0);
    g_set_sel(0, 0);
    g_set_pending((evtchn_port_t)port, false);
}

START_TEST(fifo_2l_pending_raised_at_expand)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, fifo_carry_fn, NULL);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 2);
    free_checked(sim);
}
END_TEST

/*
 * FIFO: an event for a vCPU without a control block is dropped, PENDING
 * and all: "Control block not mapped. The guest must not unmask an event
 * until the control block is initialized, so we can just drop the
 * event." (evtchn_fifo_set_pending, after the March 2022 patch "Don't set
 * PENDING bit if guest misbehaves", which checks the block before the
 * PENDING test-and-set.)
 */
static void fifo_no_block_fn(void *p)
{
    (void)p;
    xen_pfn_t cb = g_page(), arr = g_page(), cb1 = g_page();
    ck_assert_int_eq(g_init_control(cb, 0, 0, NULL), 0);
    ck_assert_int_eq(g_expand_array(arr), 0);
    evtchn_bind_ipi_t op = { .vcpu = 1 };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op), 0);
    ck_assert_int_eq(xensim_evtchn_send(op.port), 0);
    ck_assert_uint_eq(__atomic_load_n(&g_words(arr)[op.port], __ATOMIC_SEQ_CST), 0);
    ck_assert_uint_eq(g_upcall_pending(1), 0);
    /* with its block, vCPU 1 gets it */
    ck_assert_int_eq(g_init_control(cb1, 0, 1, NULL), 0);
    ck_assert_int_eq(xensim_evtchn_send(op.port), 0);
    ck_assert_uint_eq(__atomic_load_n(&g_words(arr)[op.port], __ATOMIC_SEQ_CST), FW_P | FW_L);
    ck_assert_uint_eq(g_cb(cb1, 0)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], op.port);
    ck_assert_uint_eq(g_upcall_pending(1), 1);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
    g_set_upcall_pending(1, 0);
}

START_TEST(fifo_no_control_block_drops)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, fifo_no_block_fn, NULL);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 2);
    free_checked(sim);
}
END_TEST

/*
 * FIFO: expand_array takes one page per call and does not check the
 * frame against those already given (add_page_to_event_array only maps
 * it), so the same page 128 times is accepted, and the 129th call fails
 * on the slot, before the frame is looked at: `if ( slot >=
 * EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES ) return -ENOSPC;`. Before
 * init_control it is `if ( !d->evtchn_fifo ) return -EOPNOTSUPP;`.
 */
static void fifo_expand_fn(void *p)
{
    (void)p;
    xen_pfn_t cb = g_page(), arr = g_page();
    ck_assert_int_eq(g_expand_array(arr), -EOPNOTSUPP);
    ck_assert_int_eq(g_init_control(cb, 0, 0, NULL), 0);
    for (int i = 0; i < 128; i++)
        ck_assert_int_eq(g_expand_array(arr), 0);
    ck_assert_int_eq(g_expand_array(arr), -ENOSPC);
    ck_assert_int_eq(g_expand_array(~(xen_pfn_t)0), -ENOSPC);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
    ck_assert_int_eq(g_expand_array(arr), -EOPNOTSUPP);
}

START_TEST(fifo_expand_array_limits)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, fifo_expand_fn, NULL);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 2);
    free_checked(sim);
}
END_TEST

/*
 * FIFO: ports past the 2-level limit exist only under FIFO
 * (evtchn_allocate_port: `port >= max_evtchns(d)` is -ENOSPC, and
 * max_evtchns is EVTCHN_FIFO_NR_CHANNELS once d->evtchn_fifo is set),
 * within max_evtchn_port. After reset goes back to 2-level the port stays
 * valid but free (port_is_valid checks only `p >= d->valid_evtchns`).
 */
struct high_ports {
    long got, after_cap;
    long status_rc;
    uint32_t status;
};

static void fifo_high_fn(void *p)
{
    struct high_ports *h = p;
    xen_pfn_t cb = g_page();
    ck_assert_int_eq(g_init_control(cb, 0, 0, NULL), 0);
    /* fill the ports up to 1100 (the cap): the last ones are past 1023 */
    for (;;) {
        long r = raw_ipi(0);
        if (r < 0) {
            h->after_cap = r;
            break;
        }
        h->got = r;
    }
    for (evtchn_port_t q = 3; q <= (evtchn_port_t)h->got; q++)
        ck_assert_int_eq(xensim_evtchn_close(q), 0);
    ck_assert_int_eq(xensim_evtchn_close(1), 0);
    ck_assert_int_eq(xensim_evtchn_close(2), 0);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
    evtchn_status_t st = { .dom = DOMID_SELF, .port = 1100 };
    h->status_rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    h->status = st.status;
    ck_assert_int_eq(raw_ipi(0), 1);
    ck_assert_int_eq(xensim_evtchn_close(1), 0);
}

START_TEST(fifo_ports_past_2l_limit)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config c = { .name = "capped", .max_evtchn_port = 1100 };
    domid_t d = th_domain_cfg(sim, &c);
    struct high_ports h = { 0 };
    th_call(sim, d, 0, fifo_high_fn, &h);
    ck_assert_int_eq(h.got, 1100);
    ck_assert_int_eq(h.after_cap, -ENOSPC);
    ck_assert_int_eq(h.status_rc, 0);
    ck_assert_uint_eq(h.status, EVTCHNSTAT_closed);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), 2);
    ck_assert_uint_eq(th_ports_in_use(sim, d), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * set_priority's checks: the port first (`if ( !chn ) return -EINVAL;`),
 * then evtchn_port_set_priority(): `if ( !d->evtchn_port_ops->set_priority
 * ) return -ENOSYS;` before `if ( !evtchn_usable(evtchn) ) return
 * -EACCES;`, and only then FIFO's `if ( priority > EVTCHN_FIFO_PRIORITY_MIN
 * ) return -EINVAL;`. A bind puts the priority back to 7
 * (evtchn_fifo_init: `evtchn->priority = EVTCHN_FIFO_PRIORITY_DEFAULT;`).
 */
static void fifo_prio_fn(void *p)
{
    (void)p;
    xensim_guest_irq_disable();
    ck_assert_int_eq(g_set_priority(20, 99), -ENOSYS);
    xen_pfn_t cb = g_page(), arr = g_page();
    ck_assert_int_eq(g_init_control(cb, 0, 0, NULL), 0);
    ck_assert_int_eq(g_expand_array(arr), 0);
    ck_assert_int_eq(g_set_priority(20, 99), -EACCES);
    ck_assert_int_eq(g_set_priority(0, 7), -EACCES);
    long port = raw_ipi(0);
    ck_assert_int_gt(port, 0);
    ck_assert_int_eq(g_set_priority((evtchn_port_t)port, 16), -EINVAL);
    ck_assert_int_eq(g_set_priority((evtchn_port_t)port, 0), 0);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)port), 0);
    /* rebound: priority 7 again, so a send lands on queue 7 */
    ck_assert_int_eq(raw_ipi(0), port);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)port), 0);
    ck_assert_uint_eq(g_cb(cb, 0)->head[7], (uint32_t)port);
    ck_assert_uint_eq(g_cb(cb, 0)->head[0], 0);
    evtchn_reset_t r = { .dom = DOMID_SELF };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    g_pages_free();
    g_set_upcall_pending(0, 0);
}

START_TEST(fifo_set_priority_order)
{
    struct xensim *sim = sim_three();
    th_call(sim, 1, 0, fifo_prio_fn, NULL);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 1);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, 1, 0), 2);
    free_checked(sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evtchn_decisions");
    TCase *t = tcase_create("issue10");
    tcase_add_test(t, item1_status_leaves_padding);
    tcase_add_test(t, item2_reset_cont);
    tcase_add_test(t, item3_poll_unusable_ports);
    tcase_add_test(t, item4_edge_ends_masked_poll);
    tcase_add_test(t, item5_resend_wakes_no_poller);
    suite_add_tcase(s, t);

    t = tcase_create("fifo");
    tcase_add_test(t, fifo_second_init_control_einval);
    tcase_add_test(t, fifo_2l_pending_raised_at_expand);
    tcase_add_test(t, fifo_no_control_block_drops);
    tcase_add_test(t, fifo_expand_array_limits);
    tcase_add_test(t, fifo_ports_past_2l_limit);
    tcase_add_test(t, fifo_set_priority_order);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
