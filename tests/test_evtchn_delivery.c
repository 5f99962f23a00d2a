/*
 * 2-level delivery as Xen does it (spec §1.5): bit positions in the real
 * shared_info for both word sizes, the set_pending and unmask orders, where
 * upcalls run, IPIs and bind_vcpu, and the host-thread evtchn device.
 */
#include <poll.h>
#include <stdio.h>
#include <xensim/hostdev.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF

static const enum xensim_evtchn_abi abis[2] = { XENSIM_EVTCHN_2L_32, XENSIM_EVTCHN_2L_64 };

/* One guest domain (domid 1) of the given ABI and vCPU count. */
static struct xensim *sim_with_guest(enum xensim_evtchn_abi abi, unsigned int nr_vcpus)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "guest", .evtchn_abi = abi, .nr_vcpus = nr_vcpus };
    ck_assert_int_eq(th_domain_cfg(sim, &cfg), 1);
    return sim;
}

static void free_checked(struct xensim *sim, unsigned int ndom)
{
    for (domid_t d = 0; d < ndom; d++)
        ck_assert_msg(th_ports_in_use(sim, d) == 0, "dom%u leaks %u ports", d, th_ports_in_use(sim, d));
    th_sim_free_checked(sim);
}

/* Upcall bookkeeping; every test runs in its own process. */
static _Atomic unsigned int up_count[XENSIM_MAX_VCPUS];
static _Atomic unsigned int up_total;
static _Atomic int up_bad;           /* an upcall ran unmasked or on a non-vCPU */
static _Atomic int up_domid = -1;
static evtchn_port_t up_seen[4096];
static _Atomic unsigned int up_nseen;

static void up_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    g_set_pending(port, false);
    unsigned int i = atomic_fetch_add(&up_nseen, 1);
    if (i < 4096)
        up_seen[i] = port;
}

static void upcall(void)
{
    unsigned int v = xensim_guest_vcpu_id();
    if (!xensim_guest_irq_disabled() || v >= XENSIM_MAX_VCPUS)
        atomic_store(&up_bad, 1);
    atomic_store(&up_domid, xensim_guest_domid());
    xensim_evtchn_scan(up_handler, NULL);
    atomic_fetch_add(&up_count[v < XENSIM_MAX_VCPUS ? v : 0], 1);
    atomic_fetch_add(&up_total, 1);
}

static void register_fn(void *p)
{
    (void)p;
    ck_assert_int_eq(g_register_upcall(upcall), 0);
}

static long send_port(evtchn_port_t p)
{
    evtchn_send_t s = { .port = p };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

static long unmask_port(evtchn_port_t p)
{
    evtchn_unmask_t u = { .port = p };
    return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
}

static long close_port(evtchn_port_t p)
{
    evtchn_close_t c = { .port = p };
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
}

/* Number of set bits over the whole pending (or mask) array. */
static unsigned int g_count_bits(bool mask)
{
    unsigned int n = 0, w = g_w();
    for (evtchn_port_t word = 0; word < w; word++) {
        void *ptr = g_word(mask, word * w);
        uint64_t v = w == 32 ? *(volatile uint32_t *)ptr : *(volatile uint64_t *)ptr;
        n += (unsigned int)__builtin_popcountll(v);
    }
    return n;
}

/*
 * Bit positions: port p is bit p % W of word p / W and selector bit p / W,
 * in struct shared_info_x86_32 for W = 32 and struct shared_info for 64.
 */
struct bits_arg {
    unsigned int w, nr_ports;
};

static void bits_fn(void *p)
{
    struct bits_arg *a = p;
    unsigned int w = a->w;
    void *si = xensim_guest_shared_info();

    ck_assert_uint_eq(xensim_guest_evtchn_word_bits(), w);
    if (w == 32)
        ck_assert_ptr_eq(xensim_guest_vcpu_info(), &((struct shared_info_x86_32 *)si)->vcpu_info[0]);
    else
        ck_assert_ptr_eq(xensim_guest_vcpu_info(), &((struct shared_info *)si)->vcpu_info[0]);
    /* All shared_info bits start clear (§1.5). */
    ck_assert_uint_eq(g_count_bits(true), 0);

    xensim_guest_irq_disable();
    ck_assert_uint_eq(g_upcall_mask(0), 1);
    for (evtchn_port_t q = 3; q < a->nr_ports; q++)
        ck_assert_int_eq(xensim_evtchn_bind_ipi(0), (long)q);
    ck_assert_int_eq(xensim_evtchn_bind_ipi(0), -ENOSPC);
    ck_assert_uint_eq(g_count_bits(false), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    ck_assert_uint_eq(g_sel(0), 0);

    const evtchn_port_t probes[] = { 3, 31, 32, 33, 63, 64, 65, 127, 128, 511, 512, 1023,
                                     1024, 2047, 2048, 4031, 4032, 4095 };
    for (unsigned int i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        evtchn_port_t q = probes[i];
        if (q >= a->nr_ports)
            continue;
        /* Unmasked: pending, selector, upcall_pending. */
        ck_assert_int_eq(send_port(q), 0);
        ck_assert_msg(g_pending(q), "port %u: pending bit %u of word %u not set", q, q % w, q / w);
        ck_assert_uint_eq(g_count_bits(false), 1);
        ck_assert_msg(g_sel(0) == g_selbit(q), "port %u: selector 0x%llx, expected bit %u", q,
                      (unsigned long long)g_sel(0), q / w);
        ck_assert_uint_eq(g_upcall_pending(0), 1);
        g_set_pending(q, false);
        g_set_sel(0, 0);
        g_set_upcall_pending(0, 0);

        /* Masked: pending only, then unmask raises the selector and upcall. */
        g_set_mask(q, true);
        ck_assert_uint_eq(g_count_bits(true), 1);
        ck_assert_int_eq(send_port(q), 0);
        ck_assert(g_pending(q));
        ck_assert_uint_eq(g_sel(0), 0);
        ck_assert_uint_eq(g_upcall_pending(0), 0);
        ck_assert_int_eq(unmask_port(q), 0);
        ck_assert_uint_eq(g_count_bits(true), 0);
        ck_assert(g_pending(q));
        ck_assert_uint_eq(g_sel(0), g_selbit(q));
        ck_assert_uint_eq(g_upcall_pending(0), 1);
        g_set_pending(q, false);
        g_set_sel(0, 0);
        g_set_upcall_pending(0, 0);
    }
    for (evtchn_port_t q = 3; q < a->nr_ports; q++)
        ck_assert_int_eq(close_port(q), 0);
}

START_TEST(test_bit_positions)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    struct bits_arg a = { .w = _i ? 64 : 32, .nr_ports = _i ? 4096 : 1024 };
    th_call(sim, 1, 0, bits_fn, &a);
    free_checked(sim, 2);
}
END_TEST

/* One IPI port on vCPU 0 of the calling domain, upcalls masked. */
static evtchn_port_t g_ipi_masked_upcalls(void)
{
    xensim_guest_irq_disable();
    long p = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(p, 0);
    return (evtchn_port_t)p;
}

/* Step 1 of set_pending: if the port was pending already, nothing else. */
static void test_and_set_fn(void *arg)
{
    (void)arg;
    evtchn_port_t p = g_ipi_masked_upcalls();
    ck_assert_int_eq(send_port(p), 0);
    ck_assert(g_pending(p));
    ck_assert_uint_eq(g_sel(0), g_selbit(p));
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
    ck_assert_int_eq(send_port(p), 0);
    ck_assert(g_pending(p));
    ck_assert_msg(g_sel(0) == 0, "a send on a pending port touched the selector");
    ck_assert_msg(g_upcall_pending(0) == 0, "a send on a pending port raised upcall_pending");
    ck_assert_int_eq(close_port(p), 0);
    ck_assert(!g_pending(p));
}

/* Step 2: the selector bit is test-and-set; only a clear->set edge marks
 * upcall_pending. */
static void sel_edge_fn(void *arg)
{
    (void)arg;
    evtchn_port_t p = g_ipi_masked_upcalls();
    g_set_sel(0, g_selbit(p));
    ck_assert_int_eq(send_port(p), 0);
    ck_assert(g_pending(p));
    ck_assert_uint_eq(g_sel(0), g_selbit(p));
    ck_assert_msg(g_upcall_pending(0) == 0, "selector bit was already set: no mark-events-pending");
    g_set_sel(0, 0);
    ck_assert_int_eq(close_port(p), 0);
}

/* EVTCHNOP_unmask re-raises only if the mask bit was set and the port is
 * pending, and marks upcall_pending only on a selector clear->set edge. */
static void unmask_rules_fn(void *arg)
{
    (void)arg;
    evtchn_port_t p = g_ipi_masked_upcalls();

    /* not masked, pending: no re-raise */
    ck_assert_int_eq(send_port(p), 0);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    g_set_pending(p, false);

    /* masked, not pending: nothing but the mask bit */
    g_set_mask(p, true);
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert(!g_masked(p));
    ck_assert(!g_pending(p));
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);

    /* masked, pending, selector bit already set: no upcall_pending */
    g_set_mask(p, true);
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_uint_eq(g_sel(0), 0);
    g_set_sel(0, g_selbit(p));
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert(!g_masked(p));
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    g_set_sel(0, 0);
    g_set_pending(p, false);

    /* masked, pending: selector and upcall_pending */
    g_set_mask(p, true);
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert_uint_eq(g_sel(0), g_selbit(p));
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
    ck_assert_int_eq(close_port(p), 0);
}

START_TEST(test_set_pending_order)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    th_call(sim, 1, 0, test_and_set_fn, NULL);
    th_call(sim, 1, 0, sel_edge_fn, NULL);
    th_call(sim, 1, 0, unmask_rules_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/*
 * Where the registered upcall runs: at the return of a hypercall made with
 * upcalls enabled, when the guest enables them, and when it blocks.
 */
static void upcall_points_fn(void *arg)
{
    (void)arg;
    ck_assert_int_eq(g_register_upcall(upcall), 0);
    evtchn_port_t p = g_ipi_masked_upcalls();

    /* Upcalls masked: the event waits. */
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 1);

    /* Enabling delivers before it returns, once, with the mask set inside. */
    xensim_guest_irq_enable();
    ck_assert_uint_eq(atomic_load(&up_total), 1);
    ck_assert_uint_eq(atomic_load(&up_count[0]), 1);
    ck_assert_uint_eq(atomic_load(&up_nseen), 1);
    ck_assert_uint_eq(up_seen[0], p);
    ck_assert(!xensim_guest_irq_disabled());
    ck_assert(!g_pending(p));
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);

    /* Enabled: the send's own return delivers. */
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 2);
    ck_assert_uint_eq(atomic_load(&up_nseen), 2);

    /* A masked port: pending only, no upcall; unmask gives exactly one. */
    g_set_mask(p, true);
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 2);
    ck_assert(g_pending(p));
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 3);
    ck_assert_uint_eq(atomic_load(&up_nseen), 3);
    ck_assert_int_eq(unmask_port(p), 0);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 3);

    /* Blocking clears the upcall mask; a pending event returns at once and
     * is delivered. */
    xensim_guest_irq_disable();
    ck_assert_int_eq(send_port(p), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 3);
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_block, NULL), 0);
    ck_assert_uint_eq(atomic_load(&up_total), 4);
    ck_assert(!xensim_guest_irq_disabled());

    ck_assert_int_eq(atomic_load(&up_bad), 0);
    xensim_guest_irq_disable();
    ck_assert_int_eq(close_port(p), 0);
}

START_TEST(test_upcall_points)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    th_call(sim, 1, 0, upcall_points_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/* Hypercalls made inside the upcall (mask set) do not nest another one;
 * the scan loop picks up what they raise. */
static _Atomic int up_depth, up_max_depth;
static evtchn_port_t nest_second;

static void nest_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    g_set_pending(port, false);
    unsigned int i = atomic_fetch_add(&up_nseen, 1);
    if (i < 4096)
        up_seen[i] = port;
    if (i == 0)
        ck_assert_int_eq(send_port(nest_second), 0);
}

static void nest_upcall(void)
{
    int d = atomic_fetch_add(&up_depth, 1) + 1;
    if (d > atomic_load(&up_max_depth))
        atomic_store(&up_max_depth, d);
    if (!xensim_guest_irq_disabled())
        atomic_store(&up_bad, 1);
    xensim_evtchn_scan(nest_handler, NULL);
    atomic_fetch_add(&up_total, 1);
    atomic_fetch_sub(&up_depth, 1);
}

static void nest_fn(void *arg)
{
    (void)arg;
    ck_assert_int_eq(g_register_upcall(nest_upcall), 0);
    evtchn_port_t p = g_ipi_masked_upcalls();
    long r = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(r, 0);
    nest_second = (evtchn_port_t)r;
    ck_assert_int_eq(send_port(p), 0);
    xensim_guest_irq_enable();
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0);
    ck_assert_int_ge(atomic_load(&up_total), 1);
    ck_assert_int_eq(atomic_load(&up_max_depth), 1);
    ck_assert_uint_eq(atomic_load(&up_nseen), 2);
    ck_assert_uint_eq(up_seen[0], p);
    ck_assert_uint_eq(up_seen[1], nest_second);
    ck_assert_int_eq(atomic_load(&up_bad), 0);
    ck_assert(!g_pending(p));
    ck_assert(!g_pending(nest_second));
    xensim_guest_irq_disable();
    ck_assert_int_eq(close_port(p), 0);
    ck_assert_int_eq(close_port(nest_second), 0);
}

START_TEST(test_upcall_not_nested)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    th_call(sim, 1, 0, nest_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/* CALLBACKOP argument checks (Xen's do_callback_op). */
static void callback_bad_fn(void *arg)
{
    (void)arg;
    struct callback_register cb = { .type = CALLBACKTYPE_event, .address = 0 };
    ck_assert_int_eq(HYPERVISOR_callback_op(CALLBACKOP_register, NULL), -EFAULT);
    ck_assert_int_eq(HYPERVISOR_callback_op(CALLBACKOP_register, (void *)(uintptr_t)8), -EFAULT);
    ck_assert_int_eq(HYPERVISOR_callback_op(99, &cb), -ENOSYS);
    /* x86 PV: an unknown callback type is -ENOSYS; the event callback
     * cannot be unregistered (-EINVAL) */
    struct callback_register odd = { .type = 99, .address = 0 };
    ck_assert_int_eq(HYPERVISOR_callback_op(CALLBACKOP_register, &odd), -ENOSYS);
    struct callback_unregister un = { .type = CALLBACKTYPE_event };
    ck_assert_int_eq(HYPERVISOR_callback_op(CALLBACKOP_unregister, &un), -EINVAL);
    ck_assert_int_eq(HYPERVISOR_callback_op(-1, &cb), -ENOSYS);
}

START_TEST(test_callback_bad_args)
{
    struct xensim *sim = sim_with_guest(XENSIM_EVTCHN_2L_32, 1);
    th_call(sim, 1, 0, callback_bad_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/* An idle vCPU is blocked: another domain's send runs its upcall there. */
START_TEST(test_upcall_on_idle_vcpu)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    domid_t d2 = th_domain(sim, "sender", false, XENSIM_GNTTAB_STRICT);
    long p = ev_alloc_unbound(sim, 1, SELF, d2);
    ck_assert_int_eq(p, 3);
    long q = ev_bind_interdomain(sim, d2, 1, (evtchn_port_t)p);
    ck_assert_int_eq(q, 3);
    th_call(sim, 1, 0, register_fn, NULL);

    ck_assert_int_eq(ev_send(sim, d2, (evtchn_port_t)q), 0);
    EV_WAIT_FOR(atomic_load(&up_total) >= 1);
    ck_assert_int_eq(atomic_load(&up_domid), 1);
    ck_assert_uint_eq(atomic_load(&up_count[0]), 1);
    ck_assert_uint_eq(up_seen[0], p);
    ck_assert_int_eq(atomic_load(&up_bad), 0);

    /* and again: every edge delivered once it is seen */
    ck_assert_int_eq(ev_send(sim, d2, (evtchn_port_t)q), 0);
    EV_WAIT_FOR(atomic_load(&up_nseen) >= 2);
    ck_assert_uint_eq(up_seen[1], p);

    ck_assert_int_eq(ev_close(sim, d2, (evtchn_port_t)q), 0);
    ck_assert_int_eq(ev_close(sim, 1, (evtchn_port_t)p), 0);
    free_checked(sim, 3);
}
END_TEST

/* IPIs between the vCPUs of one domain land on the target's selector. */
struct ipi_arg {
    evtchn_port_t to1, to0;
};

static void ipi_bind_fn(void *p)
{
    struct ipi_arg *a = p;
    xensim_guest_irq_disable();
    long r = xensim_evtchn_bind_ipi(1);
    ck_assert_int_gt(r, 0);
    a->to1 = (evtchn_port_t)r;
    r = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(r, 0);
    a->to0 = (evtchn_port_t)r;
}

static void ipi_send_check_fn(void *p)
{
    struct ipi_arg *a = p;
    xensim_guest_irq_disable();
    ck_assert_int_eq(send_port(a->to1), 0);
    ck_assert(g_pending(a->to1));
    ck_assert_uint_eq(g_sel(1), g_selbit(a->to1));
    ck_assert_uint_eq(g_upcall_pending(1), 1);
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    g_set_pending(a->to1, false);
    g_set_sel(1, 0);
    g_set_upcall_pending(1, 0);
}

static void ipi_send_fn(void *p)
{
    ck_assert_int_eq(send_port(*(evtchn_port_t *)p), 0);
}

static void close_ports_fn(void *p)
{
    struct ipi_arg *a = p;
    ck_assert_int_eq(close_port(a->to1), 0);
    ck_assert_int_eq(close_port(a->to0), 0);
}

START_TEST(test_ipi_between_vcpus)
{
    struct xensim *sim = sim_with_guest(abis[_i], 2);
    struct ipi_arg a;
    th_call(sim, 1, 0, ipi_bind_fn, &a);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, 1, a.to1, &st), EVTCHNSTAT_ipi);
    ck_assert_uint_eq(st.vcpu, 1);

    /* Bits first, without a handler on vCPU 1. */
    th_call(sim, 1, 0, ipi_send_check_fn, &a);

    /* With handlers, each vCPU's upcall runs on that vCPU. */
    th_call(sim, 1, 1, register_fn, NULL);
    th_call(sim, 1, 0, register_fn, NULL);
    th_call(sim, 1, 0, ipi_send_fn, &a.to1);
    EV_WAIT_FOR(atomic_load(&up_count[1]) >= 1);
    ck_assert_uint_eq(up_seen[0], a.to1);
    th_call(sim, 1, 1, ipi_send_fn, &a.to0);
    EV_WAIT_FOR(atomic_load(&up_count[0]) >= 1);
    ck_assert_uint_eq(up_seen[1], a.to0);
    ck_assert_int_eq(atomic_load(&up_bad), 0);

    th_call(sim, 1, 0, close_ports_fn, &a);
    free_checked(sim, 2);
}
END_TEST

/* The last vcpu_info slot: an IPI to vCPU 31 of a 32-vCPU domain. */
static void last_vcpu_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    unsigned int last = XENSIM_MAX_VCPUS - 1;
    ck_assert_uint_eq(xensim_guest_nr_vcpus(), XENSIM_MAX_VCPUS);
    long p = xensim_evtchn_bind_ipi(last);
    ck_assert_int_gt(p, 0);
    ck_assert_int_eq(send_port((evtchn_port_t)p), 0);
    for (unsigned int v = 0; v < XENSIM_MAX_VCPUS; v++) {
        ck_assert_uint_eq(g_sel(v), v == last ? g_selbit((evtchn_port_t)p) : 0);
        ck_assert_uint_eq(g_upcall_pending(v), v == last);
    }
    g_set_pending((evtchn_port_t)p, false);
    g_set_sel(last, 0);
    g_set_upcall_pending(last, 0);
    ck_assert_int_eq(close_port((evtchn_port_t)p), 0);
}

START_TEST(test_last_vcpu_slot)
{
    struct xensim *sim = sim_with_guest(abis[_i], XENSIM_MAX_VCPUS);
    th_call(sim, 1, 0, last_vcpu_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/* bind_vcpu changes where future events go; a selector bit already set on
 * the old vCPU stays there. */
struct move_arg {
    evtchn_port_t a, b;
};

static void move_fn(void *p)
{
    struct move_arg *m = p;
    xensim_guest_irq_disable();
    long a = xensim_evtchn_alloc_unbound(SELF);
    long b = xensim_evtchn_bind_interdomain(SELF, (evtchn_port_t)a);
    ck_assert_int_gt(a, 0);
    ck_assert_int_gt(b, 0);
    m->a = (evtchn_port_t)a;
    m->b = (evtchn_port_t)b;
    /* the bind made b pending on vCPU 0 */
    ck_assert(g_pending(m->b));
    ck_assert_uint_eq(g_sel(0), g_selbit(m->b));
    ck_assert_uint_eq(g_upcall_pending(0), 1);

    evtchn_bind_vcpu_t bv = { .port = m->b, .vcpu = 1 };
    ck_assert_int_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);
    ck_assert_uint_eq(g_sel(0), g_selbit(m->b));
    ck_assert_uint_eq(g_sel(1), 0);
    ck_assert_uint_eq(g_upcall_pending(1), 0);
    g_set_pending(m->b, false);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);

    ck_assert_int_eq(send_port(m->a), 0);
    ck_assert(g_pending(m->b));
    ck_assert_uint_eq(g_sel(1), g_selbit(m->b));
    ck_assert_uint_eq(g_upcall_pending(1), 1);
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    g_set_pending(m->b, false);
    g_set_sel(1, 0);
    g_set_upcall_pending(1, 0);

    /* so does the guest helper's local unmask */
    g_set_mask(m->b, true);
    ck_assert_int_eq(send_port(m->a), 0);
    ck_assert_uint_eq(g_sel(1), 0);
    xensim_evtchn_unmask(m->b);
    ck_assert(!g_masked(m->b));
    ck_assert_uint_eq(g_sel(1), g_selbit(m->b));
    ck_assert_uint_eq(g_upcall_pending(1), 1);
    ck_assert_uint_eq(g_sel(0), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    g_set_pending(m->b, false);
    g_set_sel(1, 0);
    g_set_upcall_pending(1, 0);

    /* unmask re-raises on the port's notify vCPU */
    g_set_mask(m->b, true);
    ck_assert_int_eq(send_port(m->a), 0);
    ck_assert_uint_eq(g_sel(1), 0);
    ck_assert_int_eq(unmask_port(m->b), 0);
    ck_assert_uint_eq(g_sel(1), g_selbit(m->b));
    ck_assert_uint_eq(g_upcall_pending(1), 1);
    ck_assert_uint_eq(g_sel(0), 0);
    g_set_pending(m->b, false);
    g_set_sel(1, 0);
    g_set_upcall_pending(1, 0);

    ck_assert_int_eq(close_port(m->b), 0);
    ck_assert_int_eq(close_port(m->a), 0);
}

START_TEST(test_bind_vcpu_moves_delivery)
{
    struct xensim *sim = sim_with_guest(abis[_i], 2);
    struct move_arg m;
    th_call(sim, 1, 0, move_fn, &m);
    free_checked(sim, 2);
}
END_TEST

/* Interdomain: the remote port is raised on the remote's notify vCPU. */
static void check_remote_fn(void *p)
{
    evtchn_port_t port = *(evtchn_port_t *)p;
    ck_assert(g_pending(port));
    ck_assert_uint_eq(g_sel(0), g_selbit(port));
    ck_assert_uint_eq(g_upcall_pending(0), 1);
    g_set_pending(port, false);
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);
}

START_TEST(test_interdomain_bits)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    struct xensim_domain_config c2 = { .name = "peer", .evtchn_abi = abis[1 - _i] };
    domid_t d2 = th_domain_cfg(sim, &c2);
    long p = ev_alloc_unbound(sim, 1, SELF, d2);
    long q = ev_bind_interdomain(sim, d2, 1, (evtchn_port_t)p);
    ck_assert_int_eq(p, 3);
    ck_assert_int_eq(q, 3);
    /* d2's bind made its own port pending */
    evtchn_port_t qq = (evtchn_port_t)q, pp = (evtchn_port_t)p;
    th_call(sim, d2, 0, check_remote_fn, &qq);
    ck_assert(!ev_is_pending(sim, 1, pp));
    /* each direction, across word sizes */
    ck_assert_int_eq(ev_send(sim, d2, qq), 0);
    th_call(sim, 1, 0, check_remote_fn, &pp);
    ck_assert_int_eq(ev_send(sim, 1, pp), 0);
    th_call(sim, d2, 0, check_remote_fn, &qq);
    ck_assert_int_eq(ev_close(sim, 1, pp), 0);
    ck_assert_int_eq(ev_close(sim, d2, qq), 0);
    free_checked(sim, 3);
}
END_TEST

/* The PV-kernel helpers agree with the raw bits and with Xen's unmask. */
static void scan_order_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    g_set_pending(port, false);
    unsigned int i = atomic_fetch_add(&up_nseen, 1);
    if (i < 4096)
        up_seen[i] = port;
}

static void helpers_fn(void *arg)
{
    (void)arg;
    xensim_guest_irq_disable();
    unsigned int w = g_w();
    evtchn_port_t ports[6];
    /* six IPI ports spread over three words: 3, 4, w, w+1, 2w, 2w+5 */
    const evtchn_port_t want[6] = { 3, 4, w, w + 1, 2 * w, 2 * w + 5 };
    for (evtchn_port_t q = 3; q <= 2 * w + 5; q++) {
        long r = xensim_evtchn_bind_ipi(0);
        ck_assert_int_eq(r, (long)q);
    }
    for (int i = 0; i < 6; i++)
        ports[i] = want[i];

    /* helpers vs raw bits */
    xensim_evtchn_mask(ports[1]);
    ck_assert(g_masked(ports[1]));
    ck_assert(xensim_evtchn_is_masked(ports[1]));
    ck_assert(!xensim_evtchn_is_masked(ports[0]));
    ck_assert_int_eq(send_port(ports[0]), 0);
    ck_assert(xensim_evtchn_is_pending(ports[0]));
    xensim_evtchn_clear_pending(ports[0]);
    ck_assert(!g_pending(ports[0]));
    g_set_sel(0, 0);
    g_set_upcall_pending(0, 0);

    /* the local unmask re-raises a pending event like Xen's */
    ck_assert_int_eq(send_port(ports[1]), 0);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    xensim_evtchn_unmask(ports[1]);
    ck_assert(!g_masked(ports[1]));
    ck_assert_uint_eq(g_sel(0), g_selbit(ports[1]));
    ck_assert_uint_eq(g_upcall_pending(0), 1);

    /* scan: lowest first, masked ports skipped, all words */
    xensim_evtchn_mask(ports[3]);
    for (int i = 5; i >= 0; i--)
        ck_assert_int_eq(send_port(ports[i]), 0);
    atomic_store(&up_nseen, 0);
    unsigned int n = xensim_evtchn_scan(scan_order_handler, NULL);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(atomic_load(&up_nseen), 5);
    ck_assert_uint_eq(up_seen[0], ports[0]);
    ck_assert_uint_eq(up_seen[1], ports[1]);
    ck_assert_uint_eq(up_seen[2], ports[2]);
    ck_assert_uint_eq(up_seen[3], ports[4]);
    ck_assert_uint_eq(up_seen[4], ports[5]);
    ck_assert_uint_eq(g_upcall_pending(0), 0);
    ck_assert(g_pending(ports[3]));
    ck_assert_uint_eq(xensim_evtchn_scan(scan_order_handler, NULL), 0);

    xensim_evtchn_unmask(ports[3]);
    ck_assert_uint_eq(xensim_evtchn_scan(scan_order_handler, NULL), 1);
    ck_assert_uint_eq(up_seen[5], ports[3]);
    for (evtchn_port_t q = 3; q <= 2 * w + 5; q++)
        ck_assert_int_eq(close_port(q), 0);
}

START_TEST(test_guest_helpers)
{
    struct xensim *sim = sim_with_guest(abis[_i], 1);
    th_call(sim, 1, 0, helpers_fn, NULL);
    free_checked(sim, 2);
}
END_TEST

/* The host-thread evtchn device (hostdev.h), as /dev/xen/evtchn behaves. */
static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int r = poll(&pfd, 1, timeout_ms);
    ck_assert_int_ge(r, 0);
    return r == 1 && (pfd.revents & POLLIN);
}

START_TEST(test_hostdev)
{
    struct xensim *sim = sim_with_guest(XENSIM_EVTCHN_2L_32, 1);
    domid_t d2 = th_domain(sim, "other", false, XENSIM_GNTTAB_STRICT);

    errno = 0;
    ck_assert_ptr_null(xensim_evtchn_dev_open(sim, EV_NODOM));
    ck_assert_int_eq(errno, ESRCH);

    struct xensim_evtchn_dev *dev = xensim_evtchn_dev_open(sim, 0);
    ck_assert_ptr_nonnull(dev);
    int fd = xensim_evtchn_dev_fd(dev);
    ck_assert_int_ge(fd, 0);
    ck_assert(!fd_readable(fd, 0));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), -EAGAIN);

    long p = ev_alloc_unbound(sim, 1, SELF, 0);
    ck_assert_int_eq(p, 3);
    long l = xensim_evtchn_dev_bind_interdomain(dev, 1, (evtchn_port_t)p);
    ck_assert_int_eq(l, 1);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)l, &st), EVTCHNSTAT_interdomain);
    ck_assert_uint_eq(st.u.interdomain.dom, 1);
    ck_assert_uint_eq(st.u.interdomain.port, (uint32_t)p);

    /* The bind set the binder's port pending (§1.4): one spurious event,
     * reported masked and cleared (§1.10). */
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), l);
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), -EAGAIN);
    ck_assert(ev_is_masked(sim, 0, (evtchn_port_t)l));
    ck_assert(!ev_is_pending(sim, 0, (evtchn_port_t)l));
    ck_assert(!fd_readable(fd, 0));

    /* While reported and not unmasked, a send is latched, not reported. */
    ck_assert_int_eq(ev_send(sim, 1, (evtchn_port_t)p), 0);
    ck_assert(ev_is_pending(sim, 0, (evtchn_port_t)l));
    ck_assert(!fd_readable(fd, 0));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), -EAGAIN);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)l), 0);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), l);
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), -EAGAIN);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)l), 0);
    ck_assert(!fd_readable(fd, 0));

    /* An unmasked send is reported. */
    ck_assert_int_eq(ev_send(sim, 1, (evtchn_port_t)p), 0);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), l);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)l), 0);

    /* notify reaches the guest */
    ck_assert(!ev_is_pending(sim, 1, (evtchn_port_t)p));
    ck_assert_int_eq(xensim_evtchn_dev_notify(dev, (evtchn_port_t)l), 0);
    ck_assert(ev_is_pending(sim, 1, (evtchn_port_t)p));
    ev_clear_pending(sim, 1, (evtchn_port_t)p);

    /* unbind: the guest's port goes back to unbound for dom0 */
    ck_assert_int_eq(xensim_evtchn_dev_unbind(dev, (evtchn_port_t)l), 0);
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)l, NULL), EVTCHNSTAT_closed);
    ck_assert_int_eq(ev_state(sim, 1, (evtchn_port_t)p, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);
    ck_assert(!ev_is_pending(sim, 1, (evtchn_port_t)p));
    ck_assert_int_eq(ev_close(sim, 1, (evtchn_port_t)p), 0);

    /* bind_unbound: the guest binds, so the guest's port is the pending one */
    long u = xensim_evtchn_dev_bind_unbound(dev, 1);
    ck_assert_int_eq(u, 1);
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)u, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 1);
    long g = ev_bind_interdomain(sim, 1, 0, (evtchn_port_t)u);
    ck_assert_int_eq(g, 3);
    ck_assert(ev_is_pending(sim, 1, (evtchn_port_t)g));
    ck_assert(!fd_readable(fd, 0));
    ck_assert_int_eq(ev_send(sim, 1, (evtchn_port_t)g), 0);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), u);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)u), 0);

    /* a VIRQ: VIRQ_DOM_EXC fires when a domain shuts down */
    long v = xensim_evtchn_dev_bind_virq(dev, VIRQ_DOM_EXC);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)v, &st), EVTCHNSTAT_virq);
    ck_assert_uint_eq(st.u.virq, VIRQ_DOM_EXC);
    ck_assert_int_eq(xensim_domain_shutdown(sim, d2, SHUTDOWN_poweroff), 0);
    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, d2), SHUTDOWN_poweroff);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), v);

    /* the handle acts only on ports it bound; binds check as Xen does */
    long k = ev_alloc_unbound(sim, 0, SELF, 1);
    ck_assert_int_eq(k, 3);
    ck_assert_int_lt(xensim_evtchn_dev_notify(dev, (evtchn_port_t)k), 0);
    ck_assert_int_lt(xensim_evtchn_dev_unbind(dev, (evtchn_port_t)k), 0);
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)k, NULL), EVTCHNSTAT_unbound);
    ck_assert_int_lt(xensim_evtchn_dev_notify(dev, 5000), 0);
    ck_assert_int_lt(xensim_evtchn_dev_unbind(dev, 0), 0);
    ck_assert_int_eq(ev_close(sim, 0, (evtchn_port_t)k), 0);
    ck_assert_int_eq(xensim_evtchn_dev_bind_interdomain(dev, EV_NODOM, 1), -ESRCH);
    ck_assert_int_eq(xensim_evtchn_dev_bind_interdomain(dev, 1, 1), 3);
    ck_assert_int_eq(xensim_evtchn_dev_unbind(dev, 3), 0);
    ck_assert_int_eq(xensim_evtchn_dev_bind_interdomain(dev, 1, 2000), -EINVAL);
    ck_assert_int_eq(xensim_evtchn_dev_bind_interdomain(dev, d2, 3), -EINVAL);
    ck_assert_int_eq(xensim_evtchn_dev_bind_virq(dev, VIRQ_DOM_EXC), -EEXIST);
    ck_assert_int_eq(xensim_evtchn_dev_bind_virq(dev, NR_VIRQS), -EINVAL);
    ck_assert_int_eq(ev_state(sim, 0, 3, NULL), EVTCHNSTAT_closed);
    /* drain the spurious event of that bind (§1.4: the binder's port) */
    while (xensim_evtchn_dev_pending(dev) > 0)
        ;
    /* u reported and never unmasked: masked as the handle closes */
    ck_assert_int_eq(ev_send(sim, 1, (evtchn_port_t)g), 0);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), u);

    /* closing the handle closes every port it bound */
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 2);
    xensim_evtchn_dev_close(dev);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    ck_assert_int_eq(ev_state(sim, 1, (evtchn_port_t)g, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);

    /* A new handle's bind starts the port unmasked, whatever its last user
     * left (the port was masked when last reported), as Linux's driver
     * does: the bind's own event and the next send both arrive. QEMU's
     * back ends met a stale mask here after an in-process back end let
     * go of the same port number. */
    ck_assert(ev_is_masked(sim, 0, (evtchn_port_t)u));
    dev = xensim_evtchn_dev_open(sim, 0);
    ck_assert_ptr_nonnull(dev);
    fd = xensim_evtchn_dev_fd(dev);
    ck_assert_int_eq(xensim_evtchn_dev_bind_interdomain(dev, 1, (evtchn_port_t)g), u);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), u);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)u), 0);
    ck_assert_int_eq(ev_send(sim, 1, (evtchn_port_t)g), 0);
    ck_assert(fd_readable(fd, 10000));
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), u);
    xensim_evtchn_dev_close(dev);
    ck_assert_int_eq(ev_close(sim, 1, (evtchn_port_t)g), 0);
    ck_assert_int_eq(xensim_domain_destroy(sim, d2), 0);
    free_checked(sim, 2);
}
END_TEST

static Suite *delivery_suite(void)
{
    Suite *s = suite_create("evtchn_delivery");
    TCase *t = tcase_create("2l");
    /* each runs once per ABI: 32-bit words (1024 ports), 64-bit (4096) */
    tcase_add_loop_test(t, test_bit_positions, 0, 2);
    tcase_add_loop_test(t, test_set_pending_order, 0, 2);
    tcase_add_loop_test(t, test_interdomain_bits, 0, 2);
    tcase_add_loop_test(t, test_bind_vcpu_moves_delivery, 0, 2);
    tcase_add_loop_test(t, test_last_vcpu_slot, 0, 2);
    tcase_add_loop_test(t, test_guest_helpers, 0, 2);
    suite_add_tcase(s, t);

    t = tcase_create("upcalls");
    tcase_add_loop_test(t, test_upcall_points, 0, 2);
    tcase_add_loop_test(t, test_upcall_on_idle_vcpu, 0, 2);
    tcase_add_loop_test(t, test_ipi_between_vcpus, 0, 2);
    tcase_add_loop_test(t, test_upcall_not_nested, 0, 2);
    tcase_add_test(t, test_callback_bad_args);
    suite_add_tcase(s, t);

    t = tcase_create("hostdev");
    tcase_add_test(t, test_hostdev);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(delivery_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
