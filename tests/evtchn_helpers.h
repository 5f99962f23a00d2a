/*
 * Helpers for the event channel, scheduler and domain suites: run one
 * EVTCHNOP as guest code on a vCPU, read a port's bits straight from the
 * 2-level shared_info layout, and wait for a condition without a deadline.
 */
#ifndef XENSIM_TEST_EVTCHN_HELPERS_H
#define XENSIM_TEST_EVTCHN_HELPERS_H

#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include <xensim/task.h>
#include <xen/foreign/x86_32.h>

/* A domain id no domain has (below DOMID_FIRST_RESERVED). */
#define EV_NODOM ((domid_t)0x7FEF)

union ev_arg {
    evtchn_alloc_unbound_t alloc_unbound;
    evtchn_bind_interdomain_t bind_interdomain;
    evtchn_bind_virq_t bind_virq;
    evtchn_bind_ipi_t bind_ipi;
    evtchn_bind_pirq_t bind_pirq;
    evtchn_close_t close;
    evtchn_send_t send;
    evtchn_status_t status;
    evtchn_bind_vcpu_t bind_vcpu;
    evtchn_unmask_t unmask;
    evtchn_reset_t reset;
    evtchn_init_control_t init_control;
    evtchn_expand_array_t expand_array;
    evtchn_set_priority_t set_priority;
};

struct ev_call {
    int cmd;
    void *arg;
    long rc;
};

static void ev_call_fn(void *p)
{
    struct ev_call *c = p;
    c->rc = HYPERVISOR_event_channel_op(c->cmd, c->arg);
}

/* HYPERVISOR_event_channel_op(cmd, arg) as guest code of `who` on `vcpu`. */
static inline long ev_hc_on(struct xensim *sim, domid_t who, unsigned int vcpu,
                            int cmd, void *arg)
{
    struct ev_call c = { .cmd = cmd, .arg = arg, .rc = -9999 };
    th_call(sim, who, vcpu, ev_call_fn, &c);
    return c.rc;
}

static inline long ev_hc(struct xensim *sim, domid_t who, int cmd, void *arg)
{
    return ev_hc_on(sim, who, 0, cmd, arg);
}

/* Each returns the new port or a negative errno. */
static inline long ev_alloc_unbound(struct xensim *sim, domid_t who, domid_t dom,
                                    domid_t remote)
{
    evtchn_alloc_unbound_t a = { .dom = dom, .remote_dom = remote };
    long rc = ev_hc(sim, who, EVTCHNOP_alloc_unbound, &a);
    return rc ? rc : (long)a.port;
}

static inline long ev_bind_interdomain(struct xensim *sim, domid_t who, domid_t rdom,
                                       evtchn_port_t rport)
{
    evtchn_bind_interdomain_t a = { .remote_dom = rdom, .remote_port = rport };
    long rc = ev_hc(sim, who, EVTCHNOP_bind_interdomain, &a);
    return rc ? rc : (long)a.local_port;
}

static inline long ev_bind_virq(struct xensim *sim, domid_t who, uint32_t virq,
                                uint32_t vcpu)
{
    evtchn_bind_virq_t a = { .virq = virq, .vcpu = vcpu };
    long rc = ev_hc(sim, who, EVTCHNOP_bind_virq, &a);
    return rc ? rc : (long)a.port;
}

static inline long ev_bind_ipi(struct xensim *sim, domid_t who, uint32_t vcpu)
{
    evtchn_bind_ipi_t a = { .vcpu = vcpu };
    long rc = ev_hc(sim, who, EVTCHNOP_bind_ipi, &a);
    return rc ? rc : (long)a.port;
}

static inline long ev_close(struct xensim *sim, domid_t who, evtchn_port_t port)
{
    evtchn_close_t a = { .port = port };
    return ev_hc(sim, who, EVTCHNOP_close, &a);
}

static inline long ev_send(struct xensim *sim, domid_t who, evtchn_port_t port)
{
    evtchn_send_t a = { .port = port };
    return ev_hc(sim, who, EVTCHNOP_send, &a);
}

static inline long ev_unmask(struct xensim *sim, domid_t who, evtchn_port_t port)
{
    evtchn_unmask_t a = { .port = port };
    return ev_hc(sim, who, EVTCHNOP_unmask, &a);
}

static inline long ev_bind_vcpu(struct xensim *sim, domid_t who, evtchn_port_t port,
                                uint32_t vcpu)
{
    evtchn_bind_vcpu_t a = { .port = port, .vcpu = vcpu };
    return ev_hc(sim, who, EVTCHNOP_bind_vcpu, &a);
}

static inline long ev_reset(struct xensim *sim, domid_t who, domid_t dom)
{
    evtchn_reset_t a = { .dom = dom };
    return ev_hc(sim, who, EVTCHNOP_reset, &a);
}

static inline long ev_status(struct xensim *sim, domid_t who, domid_t dom,
                             evtchn_port_t port, evtchn_status_t *st)
{
    memset(st, 0, sizeof(*st));
    st->dom = dom;
    st->port = port;
    return ev_hc(sim, who, EVTCHNOP_status, st);
}

/* Status of dom's port as dom0 (privileged) sees it; asserts success. */
static inline uint32_t ev_state(struct xensim *sim, domid_t dom, evtchn_port_t port,
                                evtchn_status_t *st)
{
    evtchn_status_t tmp;
    if (!st)
        st = &tmp;
    ck_assert_int_eq(ev_status(sim, 0, dom, port, st), 0);
    return st->status;
}

/*
 * Raw 2-level bits, read by guest code from its own shared_info. W is the
 * word size in bits: struct shared_info_x86_32 when 32, the native
 * struct shared_info when 64 (both keep vcpu_info[] at offset 0).
 */
static inline unsigned int g_w(void)
{
    return xensim_guest_evtchn_word_bits();
}

static inline void *g_word(bool mask, evtchn_port_t p)
{
    void *si = xensim_guest_shared_info();
    if (g_w() == 32) {
        struct shared_info_x86_32 *s = si;
        return mask ? &s->evtchn_mask[p / 32] : &s->evtchn_pending[p / 32];
    }
    struct shared_info *s = si;
    return mask ? (void *)&s->evtchn_mask[p / 64] : (void *)&s->evtchn_pending[p / 64];
}

static inline bool g_bit(bool mask, evtchn_port_t p)
{
    void *w = g_word(mask, p);
    if (g_w() == 32)
        return (__atomic_load_n((uint32_t *)w, __ATOMIC_SEQ_CST) >> (p % 32)) & 1;
    return (__atomic_load_n((uint64_t *)w, __ATOMIC_SEQ_CST) >> (p % 64)) & 1;
}

static inline void g_set_bit(bool mask, evtchn_port_t p, bool on)
{
    void *w = g_word(mask, p);
    if (g_w() == 32) {
        uint32_t b = 1u << (p % 32);
        if (on)
            __atomic_fetch_or((uint32_t *)w, b, __ATOMIC_SEQ_CST);
        else
            __atomic_fetch_and((uint32_t *)w, ~b, __ATOMIC_SEQ_CST);
    } else {
        uint64_t b = 1ull << (p % 64);
        if (on)
            __atomic_fetch_or((uint64_t *)w, b, __ATOMIC_SEQ_CST);
        else
            __atomic_fetch_and((uint64_t *)w, ~b, __ATOMIC_SEQ_CST);
    }
}

static inline bool g_pending(evtchn_port_t p) { return g_bit(false, p); }
static inline bool g_masked(evtchn_port_t p) { return g_bit(true, p); }
static inline void g_set_pending(evtchn_port_t p, bool on) { g_set_bit(false, p, on); }
static inline void g_set_mask(evtchn_port_t p, bool on) { g_set_bit(true, p, on); }

/* Fields of vCPU v's vcpu_info inside shared_info. */
static inline uint8_t *g_upcall_pending_ptr(unsigned int v)
{
    void *si = xensim_guest_shared_info();
    if (g_w() == 32)
        return &((struct shared_info_x86_32 *)si)->vcpu_info[v].evtchn_upcall_pending;
    return &((struct shared_info *)si)->vcpu_info[v].evtchn_upcall_pending;
}

static inline uint8_t g_upcall_pending(unsigned int v)
{
    return __atomic_load_n(g_upcall_pending_ptr(v), __ATOMIC_SEQ_CST);
}

static inline void g_set_upcall_pending(unsigned int v, uint8_t val)
{
    __atomic_store_n(g_upcall_pending_ptr(v), val, __ATOMIC_SEQ_CST);
}

static inline uint8_t g_upcall_mask(unsigned int v)
{
    void *si = xensim_guest_shared_info();
    if (g_w() == 32)
        return __atomic_load_n(&((struct shared_info_x86_32 *)si)->vcpu_info[v].evtchn_upcall_mask,
                               __ATOMIC_SEQ_CST);
    return __atomic_load_n(&((struct shared_info *)si)->vcpu_info[v].evtchn_upcall_mask,
                           __ATOMIC_SEQ_CST);
}

static inline uint64_t g_sel(unsigned int v)
{
    void *si = xensim_guest_shared_info();
    if (g_w() == 32)
        return __atomic_load_n(&((struct shared_info_x86_32 *)si)->vcpu_info[v].evtchn_pending_sel,
                               __ATOMIC_SEQ_CST);
    return __atomic_load_n(&((struct shared_info *)si)->vcpu_info[v].evtchn_pending_sel,
                           __ATOMIC_SEQ_CST);
}

static inline void g_set_sel(unsigned int v, uint64_t val)
{
    void *si = xensim_guest_shared_info();
    if (g_w() == 32)
        __atomic_store_n(&((struct shared_info_x86_32 *)si)->vcpu_info[v].evtchn_pending_sel,
                         (uint32_t)val, __ATOMIC_SEQ_CST);
    else
        __atomic_store_n(&((struct shared_info *)si)->vcpu_info[v].evtchn_pending_sel,
                         (xen_ulong_t)val, __ATOMIC_SEQ_CST);
}

/* The selector bit of port p. */
static inline uint64_t g_selbit(evtchn_port_t p)
{
    return 1ull << (p / g_w());
}

/* Pending/masked as seen by guest code of dom (vCPU 0). */
struct ev_bits_call {
    evtchn_port_t port;
    bool pending, masked;
};

static void ev_bits_fn(void *p)
{
    struct ev_bits_call *c = p;
    c->pending = g_pending(c->port);
    c->masked = g_masked(c->port);
}

static inline bool ev_is_pending(struct xensim *sim, domid_t dom, evtchn_port_t port)
{
    struct ev_bits_call c = { .port = port };
    th_call(sim, dom, 0, ev_bits_fn, &c);
    return c.pending;
}

static inline bool ev_is_masked(struct xensim *sim, domid_t dom, evtchn_port_t port)
{
    struct ev_bits_call c = { .port = port };
    th_call(sim, dom, 0, ev_bits_fn, &c);
    return c.masked;
}

struct ev_setbit_call {
    evtchn_port_t port;
    bool mask, on;
};

static void ev_setbit_fn(void *p)
{
    struct ev_setbit_call *c = p;
    g_set_bit(c->mask, c->port, c->on);
}

/* Guest code of dom writes a bit of its own shared_info, as a guest may. */
static inline void ev_set_mask(struct xensim *sim, domid_t dom, evtchn_port_t port, bool on)
{
    struct ev_setbit_call c = { .port = port, .mask = true, .on = on };
    th_call(sim, dom, 0, ev_setbit_fn, &c);
}

static inline void ev_clear_pending(struct xensim *sim, domid_t dom, evtchn_port_t port)
{
    struct ev_setbit_call c = { .port = port, .mask = false, .on = false };
    th_call(sim, dom, 0, ev_setbit_fn, &c);
}

/* On the simulation's clock, so that a seeded run (XENSIM_TEST_SEED)
 * lets the others run meanwhile. */
static inline void ev_sleep_ms(unsigned int ms)
{
    xensim_sleep_ns((uint64_t)ms * 1000000u);
}

/* Waits for cond without assuming how long it takes; a generous bound
 * turns a lost event into a readable failure before the fork timeout. */
#define EV_WAIT_FOR(cond)                                                     \
    do {                                                                      \
        for (unsigned int w_ = 0; !(cond); w_++) {                            \
            ck_assert_msg(w_ < 20000, "gave up waiting for: %s", #cond);      \
            ev_sleep_ms(1);                                                   \
        }                                                                     \
    } while (0)

/* The event upcall as a PV kernel registers it. */
static inline long g_register_upcall(xensim_upcall_t fn)
{
    struct callback_register cb = {
        .type = CALLBACKTYPE_event,
        .address = (xen_callback_t)(uintptr_t)fn,
    };
    return HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
}

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

static inline void async_start(struct async_call *a)
{
    ck_assert_int_eq(pthread_create(&a->thread, NULL, async_main, a), 0);
}

static inline void async_join(struct async_call *a)
{
    ck_assert_int_eq(pthread_join(a->thread, NULL), 0);
    ck_assert_int_eq(a->rc, 0);
}

#endif
