/*
 * What the simulator gives a guest kernel and the toolstack beside the
 * hypercalls: per-domain data keys and their destructors, holding calls
 * off, the irq-save lock, and domain listeners. Public API only.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static _Atomic int destroyed_order[4];
static _Atomic int nr_destroyed;

static void destroy_a(void *v)
{
    destroyed_order[atomic_fetch_add(&nr_destroyed, 1)] = *(int *)v;
    free(v);
}

static struct xensim_guest_key key_a = { .destroy = destroy_a };
static struct xensim_guest_key key_b = { .destroy = destroy_a };

struct kv {
    int a, b;          /* values to set */
    int seen_a, seen_b;
    void *first, *second;
};

static void set_values(void *p)
{
    struct kv *kv = p;
    ck_assert_ptr_null(xensim_guest_data(&key_a));
    int *a = malloc(sizeof(int)), *b = malloc(sizeof(int)), *c = malloc(sizeof(int));
    *a = kv->a;
    *b = kv->b;
    *c = -1;
    kv->first = xensim_guest_data_init(&key_a, a);
    ck_assert_ptr_eq(kv->first, a);
    /* A second init does not replace the first value. */
    kv->second = xensim_guest_data_init(&key_a, c);
    ck_assert_ptr_eq(kv->second, a);
    free(c);
    ck_assert_ptr_eq(xensim_guest_data_init(&key_b, b), b);
}

static void read_values(void *p)
{
    struct kv *kv = p;
    int *a = xensim_guest_data(&key_a), *b = xensim_guest_data(&key_b);
    kv->seen_a = a ? *a : 0;
    kv->seen_b = b ? *b : 0;
}

START_TEST(data_keys_per_domain)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "two-vcpus", .nr_vcpus = 2 };
    domid_t g1 = th_domain_cfg(sim, &cfg), g2 = th_domain(sim, "g2", false, XENSIM_GNTTAB_FAST);
    struct kv k1 = { .a = 11, .b = 12 }, k2 = { .a = 21, .b = 22 }, r = { 0 };

    /* Off a vCPU there is no domain to hold data. */
    ck_assert_ptr_null(xensim_guest_data(&key_a));
    ck_assert_ptr_null(xensim_guest_data_init(&key_a, &r));
    th_call(sim, g1, 0, set_values, &k1);
    th_call(sim, g2, 0, set_values, &k2);
    th_call(sim, g1, 1, read_values, &r);     /* another vCPU, same domain */
    ck_assert_int_eq(r.seen_a, 11);
    ck_assert_int_eq(r.seen_b, 12);
    th_call(sim, g2, 0, read_values, &r);
    ck_assert_int_eq(r.seen_a, 21);
    ck_assert_int_eq(r.seen_b, 22);

    /* Destroy runs after the vCPUs stop, the last key first. */
    atomic_store(&nr_destroyed, 0);
    ck_assert_int_eq(xensim_domain_destroy(sim, g1), 0);
    ck_assert_int_eq(atomic_load(&nr_destroyed), 2);
    ck_assert_int_eq(destroyed_order[0], 12);
    ck_assert_int_eq(destroyed_order[1], 11);
    th_call(sim, g2, 0, read_values, &r);
    ck_assert_int_eq(r.seen_a, 21);
    th_sim_free_checked(sim);
    ck_assert_int_eq(atomic_load(&nr_destroyed), 4);
}
END_TEST

static _Atomic int call_ran;

static void mark_ran(void *p)
{
    (void)p;
    atomic_store(&call_ran, 1);
}

struct hold_ctx {
    _Atomic int held, queued, released;
    int ran_while_held, ran_after;
};

/* The guest's own code (not a call: calls never nest in calls): it holds
 * calls off while the host queues one, then lets it in. */
static void hold_entry(void *p)
{
    struct hold_ctx *h = p;

    xensim_guest_calls_hold();
    atomic_store(&h->held, 1);
    while (!atomic_load(&h->queued))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    /* Hypercall exits while held do not run it... */
    for (int i = 0; i < 1000; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    h->ran_while_held = atomic_load(&call_ran);
    xensim_guest_calls_release();
    /* ...one after the release does (the host may still be queueing it). */
    while (!atomic_load(&call_ran))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    h->ran_after = 1;
    atomic_store(&h->released, 1);
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

struct queue_ctx {
    struct xensim *sim;
    domid_t dom;
    struct hold_ctx *h;
};

static void *queue_call(void *p)
{
    struct queue_ctx *q = p;
    ck_assert_int_eq(xensim_domain_call(q->sim, q->dom, 0, mark_ran, NULL), 0);
    return NULL;
}

START_TEST(calls_held_off)
{
    struct xensim *sim = th_sim_new();
    struct hold_ctx h = { 0 };
    struct xensim_domain_config cfg = { .name = "holder", .entry = hold_entry, .entry_arg = &h };
    struct queue_ctx q = { .sim = sim, .h = &h };
    pthread_t t;

    atomic_store(&call_ran, 0);
    q.dom = th_domain_cfg(sim, &cfg);
    while (!atomic_load(&h.held))
        sched_yield();
    /* Flagged just before the call is queued: if holding were broken, the
     * call would most likely run during the guest's 1000 hypercalls. When
     * holding works it cannot, whatever the timing. */
    atomic_store(&h.queued, 1);
    ck_assert_int_eq(pthread_create(&t, NULL, queue_call, &q), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    while (!atomic_load(&h.released))
        sched_yield();
    ck_assert_int_eq(h.ran_while_held, 0);
    ck_assert_int_eq(h.ran_after, 1);
    th_sim_free_checked(sim);
}
END_TEST

static void irqlock_fn(void *p)
{
    struct xensim_irqlock *l = p;

    xensim_guest_irq_enable();
    bool was = xensim_irqlock_lock(l);
    ck_assert(!was);
    ck_assert(xensim_guest_irq_disabled());
    xensim_irqlock_unlock(l, was);
    ck_assert(!xensim_guest_irq_disabled());
    xensim_guest_irq_disable();
    was = xensim_irqlock_lock(l);
    ck_assert(was);
    xensim_irqlock_unlock(l, was);
    ck_assert(xensim_guest_irq_disabled());
}

START_TEST(irqlock_masks_events)
{
    struct xensim *sim = th_sim_new();
    struct xensim_irqlock l;
    domid_t g = th_domain(sim, "g", false, XENSIM_GNTTAB_FAST);

    xensim_irqlock_init(&l);
    th_call(sim, g, 0, irqlock_fn, &l);
    xensim_irqlock_destroy(&l);
    th_sim_free_checked(sim);
}
END_TEST

struct heard {
    char log[256];
};

static void on_built(struct xensim *sim, domid_t domid, void *arg)
{
    struct heard *h = arg;
    struct xensim_domain_info info;

    /* The domain exists, still paused. */
    ck_assert_int_eq(xensim_domain_info(sim, domid, &info), 0);
    snprintf(h->log + strlen(h->log), sizeof(h->log) - strlen(h->log), "built %u %s; ",
             domid, info.state == XENSIM_DOMAIN_PAUSED ? "paused" : "?");
}

static void on_destroying(struct xensim *sim, domid_t domid, void *arg)
{
    struct heard *h = arg;
    struct xensim_domain_info info;

    ck_assert_int_eq(xensim_domain_info(sim, domid, &info), 0);
    snprintf(h->log + strlen(h->log), sizeof(h->log) - strlen(h->log), "destroying %u; ",
             domid);
}

static const struct xensim_domain_listener listener = {
    .built = on_built, .destroying = on_destroying,
};

START_TEST(listeners_hear_domains)
{
    struct xensim *sim = th_sim_new();
    struct heard h = { "" };

    ck_assert_int_eq(xensim_listener_add(sim, &listener, &h), 0);
    domid_t g = th_domain(sim, "g", false, XENSIM_GNTTAB_FAST);
    ck_assert_int_eq(xensim_domain_destroy(sim, g), 0);
    ck_assert_str_eq(h.log, "built 1 paused; destroying 1; ");
    ck_assert_int_eq(xensim_listener_remove(sim, &listener, &h), 0);
    ck_assert_int_eq(xensim_listener_remove(sim, &listener, &h), -ENOENT);
    th_domain(sim, "unheard", false, XENSIM_GNTTAB_FAST);
    ck_assert_str_eq(h.log, "built 1 paused; destroying 1; ");
    /* A listener left at xensim_destroy() hears every domain go. */
    ck_assert_int_eq(xensim_listener_add(sim, &listener, &h), 0);
    h.log[0] = 0;
    th_sim_free_checked(sim);
    ck_assert_str_eq(h.log, "destroying 2; destroying 0; ");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("guest-kernel");
    TCase *tc = tcase_create("platform");
    tcase_add_test(tc, data_keys_per_domain);
    tcase_add_test(tc, calls_held_off);
    tcase_add_test(tc, irqlock_masks_events);
    tcase_add_test(tc, listeners_hear_domains);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
