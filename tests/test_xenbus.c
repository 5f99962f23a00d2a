/*
 * The guest xenbus client against the real daemon over the store ring:
 * operations and their errors (a table), permissions, transactions with
 * EAGAIN retry under a concurrent writer, watches, nesting, a hostile ring.
 */
#include <pthread.h>
#include <stdio.h>
#include "test_xenbus_helpers.h"

struct env {
    struct xensim *sim;
    domid_t a, b;
};

static struct env env_new(void)
{
    struct env e = { .sim = xbt_sim_new() };

    e.a = xbt_guest(e.sim, "a");
    e.b = xbt_guest(e.sim, "b");
    return e;
}

/* Table of operations from guest a: (op, path, value, expected). Paths
 * with %d get a's domid. */
enum op { W, R, RM, MK, DIR, EX, BIG };
struct row {
    enum op op;
    const char *path;
    const char *value;            /* W: written; R: expected; DIR: names joined by ',' */
    int expect;
};

static const struct row rows[] = {
    { W, "data/x", "hello", 0 },
    { R, "data/x", "hello", 0 },
    { R, "/local/domain/%d/data/x", "hello", 0 },
    { W, "data/x", "", 0 },
    { R, "data/x", "", 0 },
    { W, "data/d/k1", "1", 0 },
    { W, "data/d/k2", "2", 0 },
    { DIR, "data/d", "k1,k2", 2 },
    { MK, "data/empty", NULL, 0 },
    { MK, "data/empty", NULL, 0 },               /* exists: nothing happens */
    { DIR, "data/empty", "", 0 },
    { EX, "data/empty", NULL, 1 },
    { EX, "data/nope", NULL, 0 },
    { R, "data/nope", NULL, -ENOENT },
    { R, "data/nope/deeper", NULL, -ENOENT },
    { RM, "data/d", NULL, 0 },
    { R, "data/d/k1", NULL, -ENOENT },
    { RM, "data/nope", NULL, 0 },                /* parent exists: fine */
    { RM, "data/nope/deeper", NULL, -ENOENT },
    { R, "/local/domain/0/name", NULL, -EACCES },
    { W, "/local/domain/0/x", "v", -EACCES },
    { W, "name", "evil", -EACCES },              /* home is read-only */
    { R, "domid", "%d", 0 },
    { W, "data//x", "v", -EINVAL },
    { W, "data/x/", "v", -EINVAL },
    { W, "data/b@d!", "v", -EINVAL },
    { RM, "/", NULL, -EACCES },                  /* C: the guest may not write / */
    { BIG, "data/big", NULL, -E2BIG },           /* refused before sending */
    { R, "data/x", "", 0 },                      /* and the ring still works */
};

struct table_arg {
    domid_t dom;
    int failures;
    char msg[512];
};

static void expand(char *out, size_t size, const char *fmt, domid_t d)
{
    snprintf(out, size, fmt, (int)d);
}

static void table_fn(void *p)
{
    struct table_arg *a = p;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        char path[256], want[64], *v = NULL, **names = NULL;
        int rc = -9999;

        expand(path, sizeof(path), r->path, a->dom);
        switch (r->op) {
        case W:
            rc = xensim_xenbus_write(0, path, r->value);
            break;
        case R:
            rc = xensim_xenbus_read(0, path, &v, NULL);
            if (!rc) {
                expand(want, sizeof(want), r->value, a->dom);
                if (strcmp(v, want))
                    rc = -1000;
            }
            free(v);
            break;
        case RM:
            rc = xensim_xenbus_rm(0, path);
            break;
        case MK:
            rc = xensim_xenbus_mkdir(0, path);
            break;
        case EX:
            rc = xensim_xenbus_exists(0, path);
            break;
        case DIR:
            rc = xensim_xenbus_directory(0, path, &names);
            if (rc >= 0) {
                char joined[128] = "";

                for (int k = 0; k < rc; k++) {
                    strcat(joined, k ? "," : "");
                    strcat(joined, names[k]);
                }
                if (strcmp(joined, r->value))
                    rc = -1001;
                free(names);
            }
            break;
        case BIG: {
            static char big[XENSTORE_PAYLOAD_MAX + 10];

            memset(big, 'x', sizeof(big) - 1);
            rc = xensim_xenbus_write(0, path, big);
            break;
        }
        }
        if (rc != r->expect && !a->failures++)
            snprintf(a->msg, sizeof(a->msg), "row %zu (%s): got %d, want %d", i, path, rc,
                     r->expect);
    }
}

START_TEST(ops_table)
{
    struct env e = env_new();
    struct table_arg a = { .dom = e.a };

    xbt_run(e.sim, e.a, table_fn, &a);
    ck_assert_msg(a.failures == 0, "%d failures, first: %s", a.failures, a.msg);
    xbt_sim_free(e.sim);
}
END_TEST

struct perm_arg {
    domid_t a, b;
    int set, get, n, chown, b_read, b_read2;
    struct xs_permissions got[4];
    char path[64];
};

static void perm_a_fn(void *p)
{
    struct perm_arg *a = p;
    struct xs_permissions set[] = { { a->a, XS_PERM_NONE }, { a->b, XS_PERM_READ } };
    struct xs_permissions give[] = { { a->b, XS_PERM_NONE } };
    struct xs_permissions *got = NULL;

    ck_assert_int_eq(xensim_xenbus_write(0, "data/shared", "s"), 0);
    a->set = xensim_xenbus_set_perms(0, "data/shared", set, 2);
    a->n = xensim_xenbus_get_perms(0, "data/shared", &got);
    if (a->n > 0)
        memcpy(a->got, got, sizeof(*got) * (a->n < 4 ? a->n : 4));
    free(got);
    a->chown = xensim_xenbus_set_perms(0, "data/shared", give, 1);  /* XSA-115 */
}

static void perm_b_fn(void *p)
{
    struct perm_arg *a = p;
    char buf[16];

    a->b_read = xensim_xenbus_read_buf(0, a->path, buf, sizeof(buf));
}

START_TEST(permissions)
{
    struct env e = env_new();
    struct perm_arg a = { .a = e.a, .b = e.b };

    snprintf(a.path, sizeof(a.path), "/local/domain/%u/data/x", e.a);
    ck_assert_int_eq(xensim_xenstore_write(e.sim, a.path, "private"), 0);
    xbt_run(e.sim, e.b, perm_b_fn, &a);
    ck_assert_int_eq(a.b_read, -EACCES);
    xbt_run(e.sim, e.a, perm_a_fn, &a);
    ck_assert_int_eq(a.set, 0);
    ck_assert_int_eq(a.n, 2);
    ck_assert_uint_eq(a.got[0].id, e.a);
    ck_assert_uint_eq(a.got[0].perms, XS_PERM_NONE);
    ck_assert_uint_eq(a.got[1].id, e.b);
    ck_assert_uint_eq(a.got[1].perms, XS_PERM_READ);
    ck_assert_int_eq(a.chown, -EPERM);
    snprintf(a.path, sizeof(a.path), "/local/domain/%u/data/shared", e.a);
    xbt_run(e.sim, e.b, perm_b_fn, &a);
    ck_assert_int_eq(a.b_read, 1);
    xbt_sim_free(e.sim);
}
END_TEST

/* Transactions. */
struct tx_arg {
    int attempts;
    int rc;
    char *path;
    int start_in_tx, ended_twice, aborted_read;
};

static int conflict_body(xensim_xenbus_transaction_t t, void *p)
{
    struct tx_arg *a = p;
    int v = 0;

    a->attempts++;
    xensim_xenbus_scanf(t, NULL, "data/counter", "%d", &v);
    /* Someone else changes what we read, the first time only. */
    if (a->attempts == 1)
        ck_assert_int_eq(xensim_xenbus_write(0, "data/counter", "100"), 0);
    return xensim_xenbus_printf(t, NULL, "data/counter", "%d", v + 1);
}

static void tx_conflict_fn(void *p)
{
    struct tx_arg *a = p;
    xensim_xenbus_transaction_t t;
    char buf[16];

    ck_assert_int_eq(xensim_xenbus_write(0, "data/counter", "1"), 0);
    a->rc = xensim_xenbus_transaction_run(conflict_body, a, 0);
    ck_assert_int_eq(xensim_xenbus_read_buf(0, "data/counter", buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "101");

    /* Abort discards; the id is dead afterwards. */
    ck_assert_int_eq(xensim_xenbus_transaction_start(&t), 0);
    ck_assert_int_eq(xensim_xenbus_write(t, "data/counter", "7"), 0);
    ck_assert_int_eq(xensim_xenbus_read_buf(t, "data/counter", buf, sizeof(buf)), 1);
    ck_assert_int_eq(xensim_xenbus_transaction_end(t, true), 0);
    ck_assert_int_eq(xensim_xenbus_read_buf(0, "data/counter", buf, sizeof(buf)), 3);
    a->ended_twice = xensim_xenbus_transaction_end(t, false);
    a->aborted_read = xensim_xenbus_read_buf(t, "data/counter", buf, sizeof(buf));
}

START_TEST(transaction_eagain_retry)
{
    struct env e = env_new();
    struct tx_arg a = { 0 };

    xbt_run(e.sim, e.a, tx_conflict_fn, &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_int_eq(a.attempts, 2);
    ck_assert_int_eq(a.ended_twice, -ENOENT);
    ck_assert_int_eq(a.aborted_read, -ENOENT);
    ck_assert_uint_eq(xbt_stats(e.sim, e.a).transactions, 0);
    xbt_sim_free(e.sim);
}
END_TEST

/* Two domains increment one counter concurrently, each in transactions. */
#define INCREMENTS 40
struct inc_arg {
    struct xensim *sim;
    domid_t dom;
    char path[64];
    int attempts;
};

static int inc_body(xensim_xenbus_transaction_t t, void *p)
{
    struct inc_arg *a = p;
    int v = 0;

    a->attempts++;
    if (xensim_xenbus_scanf(t, NULL, a->path, "%d", &v) != 1)
        return -EINVAL;
    return xensim_xenbus_printf(t, NULL, a->path, "%d", v + 1);
}

static void inc_fn(void *p)
{
    struct inc_arg *a = p;

    for (int i = 0; i < INCREMENTS; i++)
        ck_assert_int_eq(xensim_xenbus_transaction_run(inc_body, a, 1000), 0);
}

static void *inc_thread(void *p)
{
    struct inc_arg *a = p;

    xbt_run(a->sim, a->dom, inc_fn, a);
    return NULL;
}

START_TEST(transaction_concurrent_writers)
{
    struct env e = env_new();
    struct inc_arg x = { .sim = e.sim, .dom = e.a }, y = { .sim = e.sim, .dom = e.b };
    struct xs_permissions p[] = { { e.a, XS_PERM_NONE }, { e.b, XS_PERM_READ | XS_PERM_WRITE } };
    pthread_t th;

    snprintf(x.path, sizeof(x.path), "/local/domain/%u/data/counter", e.a);
    strcpy(y.path, x.path);
    ck_assert_int_eq(xensim_xenstore_write(e.sim, x.path, "0"), 0);
    ck_assert_int_eq(xensim_xenstore_set_perms(e.sim, x.path, p, 2), 0);
    pthread_create(&th, NULL, inc_thread, &y);
    xbt_run(e.sim, e.a, inc_fn, &x);
    pthread_join(th, NULL);
    /* No increment lost. (Whether the two ever collided depends on the
     * schedule; transaction_eagain_retry forces a collision.) */
    ck_assert_str_eq(xbt_read(e.sim, "%s", x.path), "80");
    xbt_sim_free(e.sim);
}
END_TEST

/* Watches. */
struct watch_rec {
    struct xensim_xenbus_watch w;
    _Atomic int count;
    char last[256];
    int nested_rc;
    bool nest;
};

static void watch_cb(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct watch_rec *r = w->data;

    (void)token;
    snprintf(r->last, sizeof(r->last), "%s", path);
    if (r->nest) {
        char buf[32];

        /* A request from inside a callback. */
        r->nested_rc = xensim_xenbus_read_buf(0, "domid", buf, sizeof(buf));
    }
    atomic_fetch_add(&r->count, 1);
}

static void watch_set_fn(void *p)
{
    struct watch_rec *r = p;

    r->w.callback = watch_cb;
    r->w.data = r;
    ck_assert_int_eq(xensim_xenbus_watch(&r->w), 0);
}

static void watch_unset_fn(void *p)
{
    struct watch_rec *r = p;

    ck_assert_int_eq(xensim_xenbus_unwatch(&r->w), 0);
    ck_assert_int_eq(xensim_xenbus_unwatch(&r->w), -ENOENT);
}

static void write_fn(void *p)
{
    ck_assert_int_eq(xensim_xenbus_write(0, p, "v"), 0);
}

static void rm_fn(void *p)
{
    ck_assert_int_eq(xensim_xenbus_rm(0, p), 0);
}

START_TEST(watches)
{
    struct env e = env_new();
    struct watch_rec rel = { .w.node = "data/w", .nest = true };
    struct watch_rec abs = { 0 };
    char abspath[64];
    unsigned long dw, dt;

    snprintf(abspath, sizeof(abspath), "/local/domain/%u/data/w", e.a);
    abs.w.node = abspath;
    xbt_run(e.sim, e.a, watch_set_fn, &rel);
    xbt_run(e.sim, e.a, watch_set_fn, &abs);
    /* Fired once when set, with the watch's own path. */
    ck_assert(xbt_wait_atomic(&rel.count, 1, 5000));
    ck_assert(xbt_wait_atomic(&abs.count, 1, 5000));
    ck_assert_str_eq(rel.last, "data/w");
    ck_assert_str_eq(abs.last, abspath);
    xbt_daemon_counts(e.sim, &dw, &dt);
    ck_assert_uint_eq(dw, 2);

    /* A change below, by the domain itself: relative path back. */
    xbt_run(e.sim, e.a, write_fn, "data/w/child");
    ck_assert(xbt_wait_atomic(&rel.count, 2, 5000));
    ck_assert_str_eq(rel.last, "data/w/child");
    ck_assert_int_eq(rel.nested_rc, 1);
    ck_assert(xbt_wait_atomic(&abs.count, 2, 5000));
    ck_assert_str_eq(abs.last, strcat(strcpy((char[80]){ 0 }, abspath), "/child"));

    /* A change by someone else (the host): delivered by the irq handler
     * while the vCPU idles. */
    ck_assert_int_eq(xensim_xenstore_write(e.sim, abspath, "x"), 0);
    ck_assert(xbt_wait_atomic(&rel.count, 3, 5000));
    ck_assert_str_eq(rel.last, "data/w");

    /* rm of the watched subtree. */
    xbt_run(e.sim, e.a, rm_fn, "data/w");
    ck_assert(xbt_wait_atomic(&rel.count, 4, 5000));
    ck_assert_str_eq(rel.last, "data/w");

    /* Unwatched: no more events, nothing left in the daemon. */
    xbt_run(e.sim, e.a, watch_unset_fn, &rel);
    xbt_run(e.sim, e.a, watch_unset_fn, &abs);
    int before = atomic_load(&rel.count), abs_before = atomic_load(&abs.count);
    xbt_run(e.sim, e.a, write_fn, "data/w");
    /* A watch set after the write fires after anything the write caused:
     * the daemon answers a ring in order and the client dispatches in
     * order, so once it fired, an event for rel or abs would have run. */
    struct watch_rec marker = { .w.node = "data/marker" };
    xbt_run(e.sim, e.a, watch_set_fn, &marker);
    ck_assert(xbt_wait_atomic(&marker.count, 1, 5000));
    ck_assert_int_eq(atomic_load(&rel.count), before);
    ck_assert_int_eq(atomic_load(&abs.count), abs_before);
    xbt_run(e.sim, e.a, watch_unset_fn, &marker);
    xbt_daemon_counts(e.sim, &dw, &dt);
    ck_assert_uint_eq(dw, 0);
    ck_assert_uint_eq(xbt_stats(e.sim, e.a).watches, 0);
    xbt_sim_free(e.sim);
}
END_TEST

/* A request from an irq handler: b notifies a's port; a's handler writes. */
struct irq_arg {
    domid_t peer;
    long port;
    _Atomic int done;
    int rc;
};

static void irq_handler(evtchn_port_t port, void *p)
{
    struct irq_arg *a = p;

    (void)port;
    a->rc = xensim_xenbus_write(0, "data/from-irq", "yes");
    atomic_fetch_add(&a->done, 1);
}

static void irq_bind_fn(void *p)
{
    struct irq_arg *a = p;

    ck_assert_int_eq(xensim_xenbus_init(), 0);
    a->port = xensim_evtchn_alloc_unbound(a->peer);
    ck_assert_int_gt(a->port, 0);
    ck_assert_int_eq(xensim_irq_bind(a->port, irq_handler, a), 0);
}

struct send_arg {
    domid_t peer;
    long remote, local;
};

static void send_fn(void *p)
{
    struct send_arg *s = p;

    if (!s->local)
        s->local = xensim_evtchn_bind_interdomain(s->peer, s->remote);
    ck_assert_int_gt(s->local, 0);
    ck_assert_int_eq(xensim_evtchn_send(s->local), 0);
}

static void close_fn(void *p)
{
    long *port = p;

    xensim_irq_unbind(*port);
    ck_assert_int_eq(xensim_evtchn_close(*port), 0);
}

START_TEST(request_from_irq_handler)
{
    struct env e = env_new();
    struct irq_arg a = { .peer = e.b };
    struct send_arg s = { .peer = e.a };

    xbt_run(e.sim, e.a, irq_bind_fn, &a);
    s.remote = a.port;
    xbt_run(e.sim, e.b, send_fn, &s);
    ck_assert(xbt_wait_atomic(&a.done, 1, 5000));
    ck_assert_int_eq(a.rc, 0);
    ck_assert_str_eq(xbt_read(e.sim, "/local/domain/%u/data/from-irq", e.a), "yes");
    xbt_run(e.sim, e.b, close_fn, &s.local);
    xbt_run(e.sim, e.a, close_fn, &a.port);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.a), 0);
    xbt_sim_free(e.sim);
}
END_TEST

/* A hostile ring: garbage indices written straight into the page. */
struct hostile_arg {
    int how;
    int rc, rc2;
    bool broken;
};

static void hostile_fn(void *p)
{
    struct hostile_arg *a = p;
    const start_info_t *si = xensim_guest_start_info();
    struct xenstore_domain_interface *intf = xensim_guest_pfn_to_virt(si->store_mfn);
    char buf[16];
    struct xensim_xenbus_stats st;

    ck_assert_int_eq(xensim_xenbus_read_buf(0, "domid", buf, sizeof(buf)) > 0, 1);
    switch (a->how) {
    case 0:   /* responses "produced" beyond the ring */
        __atomic_store_n(&intf->rsp_prod, intf->rsp_cons + 5000, __ATOMIC_SEQ_CST);
        break;
    case 1:   /* a header claiming a huge body */
    {
        struct xsd_sockmsg h = { .type = XS_READ, .req_id = 77, .len = 100000 };
        XENSTORE_RING_IDX prod = intf->rsp_prod;

        for (size_t i = 0; i < sizeof(h); i++)
            intf->rsp[MASK_XENSTORE_IDX(prod + i)] = ((char *)&h)[i];
        __atomic_store_n(&intf->rsp_prod, prod + sizeof(h), __ATOMIC_SEQ_CST);
        break;
    }
    case 2:   /* request consumer index ahead of the producer */
        __atomic_store_n(&intf->req_cons, intf->req_prod + 3000, __ATOMIC_SEQ_CST);
        break;
    }
    a->rc = xensim_xenbus_read_buf(0, "domid", buf, sizeof(buf));
    a->rc2 = xensim_xenbus_write(0, "data/x", "1");
    xensim_xenbus_get_stats(&st);
    a->broken = st.broken;
}

START_TEST(hostile_ring)
{
    struct env e = env_new();
    struct hostile_arg a = { .how = _i };

    xbt_run(e.sim, e.a, hostile_fn, &a);
    ck_assert_int_eq(a.rc, -EIO);
    ck_assert_int_eq(a.rc2, -EIO);
    ck_assert(a.broken);
    /* The other domain is still served. */
    struct table_arg t = { .dom = e.b };
    xbt_run(e.sim, e.b, table_fn, &t);
    ck_assert_msg(t.failures == 0, "%s", t.msg);
    xbt_sim_free(e.sim);
}
END_TEST

/* Errors with no daemon at all on dom0's side: a domain with no ring. */
static void dom0_fn(void *p)
{
    *(int *)p = xensim_xenbus_write(0, "data/x", "1");
}

START_TEST(no_ring)
{
    struct xensim *sim = xbt_sim_new();
    int rc = 0;

    xbt_run(sim, 0, dom0_fn, &rc);
    ck_assert_int_eq(rc, -ENODEV);
    ck_assert_int_eq(xensim_xenbus_init(), -EPERM);   /* not a vCPU */
    xbt_sim_free(sim);
}
END_TEST

/* Two vCPUs of one domain issue requests at once: one at a time on the
 * ring, every answer to its asker. */
struct vcpu_arg {
    struct xensim *sim;
    domid_t dom;
    unsigned int vcpu;
    int errors;
};

static void vcpu_fn(void *p)
{
    struct vcpu_arg *a = p;
    char path[32], want[32], buf[32];

    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "data/v%u", a->vcpu);
        snprintf(want, sizeof(want), "%u-%d", a->vcpu, i);
        if (xensim_xenbus_write(0, path, want) || xensim_xenbus_read_buf(0, path, buf, sizeof(buf)) < 0 ||
            strcmp(buf, want))
            a->errors++;
    }
}

static void *vcpu_thread(void *p)
{
    struct vcpu_arg *a = p;

    th_call(a->sim, a->dom, a->vcpu, vcpu_fn, a);
    return NULL;
}

START_TEST(two_vcpus_concurrent)
{
    struct xensim *sim = xbt_sim_new();
    struct xensim_domain_config cfg = { .name = "smp", .nr_vcpus = 2 };
    domid_t d = th_domain_cfg(sim, &cfg);
    struct xs_permissions p[] = { { d, XS_PERM_NONE } };
    char path[64];
    struct vcpu_arg a[2];
    pthread_t th[2];

    snprintf(path, sizeof(path), "/local/domain/%u/data", d);
    ck_assert_int_eq(xensim_xenstore_write(sim, path, ""), 0);
    ck_assert_int_eq(xensim_xenstore_set_perms(sim, path, p, 1), 0);
    for (unsigned int i = 0; i < 2; i++) {
        a[i] = (struct vcpu_arg){ .sim = sim, .dom = d, .vcpu = i };
        pthread_create(&th[i], NULL, vcpu_thread, &a[i]);
    }
    for (unsigned int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(a[0].errors, 0);
    ck_assert_int_eq(a[1].errors, 0);
    xbt_sim_free(sim);
}
END_TEST

/* Requests from an irq handler arriving while the same vCPU waits for a
 * reply of its own: they nest behind it instead of deadlocking. */
struct nest_arg {
    int errors;
    _Atomic int handled;
    _Atomic int nested;           /* handled inside one of the loop's requests */
    bool in_request;              /* the loop is inside a xenbus call */
    _Atomic bool stop;
};

static void nest_handler(evtchn_port_t port, void *p)
{
    struct nest_arg *a = p;
    char buf[16];

    (void)port;
    if (xensim_xenbus_read_buf(0, "domid", buf, sizeof(buf)) < 0)
        a->errors++;
    /* Same vCPU: the loop only makes hypercalls inside its xenbus calls,
     * so this upcall interrupted one of them, waiting for its reply. */
    if (a->in_request)
        atomic_fetch_add(&a->nested, 1);
    atomic_fetch_add(&a->handled, 1);
}

struct nest_env {
    struct irq_arg irq;
    struct nest_arg nest;
};

static void nest_bind_fn(void *p)
{
    struct nest_env *e = p;

    ck_assert_int_eq(xensim_xenbus_init(), 0);
    e->irq.port = xensim_evtchn_alloc_unbound(e->irq.peer);
    ck_assert_int_gt(e->irq.port, 0);
    ck_assert_int_eq(xensim_irq_bind(e->irq.port, nest_handler, &e->nest), 0);
}

/* Requests until some handler ran nested in one of them (bounded). */
static void nest_loop_fn(void *p)
{
    struct nest_env *e = p;
    char buf[32];

    for (int i = 0; i < 200000 && (i < 300 || atomic_load(&e->nest.nested) < 3); i++) {
        e->nest.in_request = true;
        if (xensim_xenbus_write(0, "data/loop", "x") || xensim_xenbus_read_buf(0, "data/loop", buf, 32) != 1)
            e->nest.errors++;
        e->nest.in_request = false;
    }
}

struct sender {
    struct xensim *sim;
    domid_t dom;
    struct send_arg s;
    struct nest_env *e;
};

static void *sender_thread(void *p)
{
    struct sender *s = p;

    while (!atomic_load(&s->e->nest.stop)) {
        xbt_run(s->sim, s->dom, send_fn, &s->s);
        xbt_sleep_ms(1);
    }
    return NULL;
}

START_TEST(nested_requests)
{
    struct env e = env_new();
    struct nest_env ne = { .irq = { .peer = e.b } };
    struct sender snd = { .sim = e.sim, .dom = e.b, .s = { .peer = e.a }, .e = &ne };
    pthread_t th;

    xbt_run(e.sim, e.a, nest_bind_fn, &ne);
    snd.s.remote = ne.irq.port;
    xbt_run(e.sim, e.b, send_fn, &snd.s);
    pthread_create(&th, NULL, sender_thread, &snd);
    xbt_run(e.sim, e.a, nest_loop_fn, &ne);
    atomic_store(&ne.nest.stop, true);
    pthread_join(th, NULL);
    ck_assert_int_eq(ne.nest.errors, 0);
    /* Not the one sent before the loop: handlers inside its requests. */
    ck_assert_int_ge(atomic_load(&ne.nest.nested), 3);
    xbt_run(e.sim, e.b, close_fn, &snd.s.local);
    xbt_run(e.sim, e.a, close_fn, &ne.irq.port);
    xbt_sim_free(e.sim);
}
END_TEST

/* A callback that unwatches itself and sets another watch. */
struct self_rec {
    struct xensim_xenbus_watch w, other;
    _Atomic int first, second;
    int rc1, rc2;
};

static void other_cb(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct self_rec *r = w->data;

    (void)path;
    (void)token;
    atomic_fetch_add(&r->second, 1);
}

static void self_cb(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct self_rec *r = w->data;

    (void)path;
    (void)token;
    if (atomic_fetch_add(&r->first, 1) == 0) {
        r->rc1 = xensim_xenbus_unwatch(&r->w);
        r->other.node = "data/other";
        r->other.callback = other_cb;
        r->other.data = r;
        r->rc2 = xensim_xenbus_watch(&r->other);
    }
}

static void self_set_fn(void *p)
{
    struct self_rec *r = p;

    r->w.node = "data/self";
    r->w.callback = self_cb;
    r->w.data = r;
    ck_assert_int_eq(xensim_xenbus_watch(&r->w), 0);
}

static void self_unset_fn(void *p)
{
    struct self_rec *r = p;

    ck_assert_int_eq(xensim_xenbus_unwatch(&r->other), 0);
}

/* What a debugger sees of the daemon: nodes with values and owners, and
 * watches with who set them. */
struct seen {
    char value[64];
    domid_t owner;
    bool node, watch;
    domid_t watcher;
    char token[64];
    const char *path, *watched;
    unsigned int nodes;
};

static void seen_node(const char *path, const char *value, unsigned int len, domid_t owner,
                      void *arg)
{
    struct seen *s = arg;
    s->nodes++;
    if (strcmp(path, s->path))
        return;
    s->node = true;
    snprintf(s->value, sizeof(s->value), "%.*s", (int)len, value);
    s->owner = owner;
}

static void seen_watch(domid_t domid, const char *path, const char *token, void *arg)
{
    struct seen *s = arg;
    if (strcmp(path, s->watched))
        return;
    s->watch = true;
    s->watcher = domid;
    snprintf(s->token, sizeof(s->token), "%s", token);
}

START_TEST(visit_nodes_and_watches)
{
    struct env e = env_new();
    static const struct xensim_xenstore_visitor v = { seen_node, seen_watch };
    char path[64], watched[64];
    struct seen s = { .path = path, .watched = watched };
    struct watch_rec r = { .w.node = "data/watched" };

    snprintf(path, sizeof(path), "/local/domain/%u/data/x", e.a);
    snprintf(watched, sizeof(watched), "/local/domain/%u/data/watched", e.a);
    ck_assert_int_eq(xensim_xenstore_write(e.sim, path, "hello"), 0);
    xbt_run(e.sim, e.a, watch_set_fn, &r);
    ck_assert_int_eq(xensim_xenstore_visit(e.sim, &v, &s), 0);
    ck_assert(s.node);
    ck_assert_str_eq(s.value, "hello");
    /* A new node takes its parent's owner: the guest's own home. */
    ck_assert_uint_eq(s.owner, e.a);
    ck_assert(s.watch);
    ck_assert_uint_eq(s.watcher, e.a);
    ck_assert_uint_gt(s.nodes, 4);
    xbt_run(e.sim, e.a, watch_unset_fn, &r);
    s.watch = false;
    static const struct xensim_xenstore_visitor watches_only = { NULL, seen_watch };
    ck_assert_int_eq(xensim_xenstore_visit(e.sim, &watches_only, &s), 0);
    ck_assert(!s.watch);
    xbt_sim_free(e.sim);

    struct xensim *bare = xensim_create(NULL);
    ck_assert_int_eq(xensim_xenstore_visit(bare, &v, &s), -ENODEV);
    xensim_destroy(bare);
}
END_TEST

START_TEST(watch_callback_rewatches)
{
    struct env e = env_new();
    struct self_rec r = { 0 };

    xbt_run(e.sim, e.a, self_set_fn, &r);
    ck_assert(xbt_wait_atomic(&r.second, 1, 5000));
    ck_assert_int_eq(r.rc1, 0);
    ck_assert_int_eq(r.rc2, 0);
    xbt_run(e.sim, e.a, write_fn, "data/self");
    xbt_run(e.sim, e.a, write_fn, "data/other");
    ck_assert(xbt_wait_atomic(&r.second, 2, 5000));
    ck_assert_int_eq(atomic_load(&r.first), 1);
    xbt_run(e.sim, e.a, self_unset_fn, &r);
    ck_assert_uint_eq(xbt_stats(e.sim, e.a).watches, 0);
    xbt_sim_free(e.sim);
}
END_TEST

/* The domain is destroyed while one of its watch callbacks runs (in a
 * request, as a driver's state change is): the vCPU leaves from inside
 * the callback, and the event being dispatched must go with the domain's
 * client. The sanitizer build's leak check is what fails otherwise. */
struct stuck_rec {
    struct xensim_xenbus_watch w;
    _Atomic int fired;
};

static void stuck_cb(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct stuck_rec *r = w->data;
    char buf[16];

    (void)path;
    (void)token;
    if (atomic_fetch_add(&r->fired, 1) == 0)
        return;               /* the firing on registration */
    for (;;)                  /* until the domain's death takes the vCPU */
        xensim_xenbus_read_buf(0, "domid", buf, sizeof(buf));
}

static void stuck_set_fn(void *p)
{
    struct stuck_rec *r = p;

    r->w.node = "data/stuck";
    r->w.callback = stuck_cb;
    r->w.data = r;
    ck_assert_int_eq(xensim_xenbus_watch(&r->w), 0);
}

START_TEST(domain_dies_in_watch_callback)
{
    struct env e = env_new();
    struct stuck_rec r = { 0 };
    char path[64];

    snprintf(path, sizeof(path), "/local/domain/%u/data/stuck", e.a);
    xbt_run(e.sim, e.a, stuck_set_fn, &r);
    ck_assert(xbt_wait_atomic(&r.fired, 1, 5000));
    ck_assert_int_eq(xensim_xenstore_write(e.sim, path, "1"), 0);
    ck_assert(xbt_wait_atomic(&r.fired, 2, 5000));
    /* Another event, queued behind the callback that never returns. */
    ck_assert_int_eq(xensim_xenstore_write(e.sim, path, "2"), 0);
    ck_assert_int_eq(xensim_domain_destroy(e.sim, e.a), 0);
    ck_assert_int_eq(atomic_load(&r.fired), 2);
    /* b is still served. */
    struct table_arg t = { .dom = e.b };
    xbt_run(e.sim, e.b, table_fn, &t);
    ck_assert_msg(t.failures == 0, "%s", t.msg);
    xbt_sim_free(e.sim);
}
END_TEST

static Suite *xenbus_suite(void)
{
    Suite *s = suite_create("xenbus_client");
    TCase *tc = tcase_create("client");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ops_table);
    tcase_add_test(tc, permissions);
    tcase_add_test(tc, transaction_eagain_retry);
    tcase_add_test(tc, transaction_concurrent_writers);
    tcase_add_test(tc, watches);
    tcase_add_test(tc, request_from_irq_handler);
    tcase_add_test(tc, two_vcpus_concurrent);
    tcase_add_test(tc, nested_requests);
    tcase_add_test(tc, visit_nodes_and_watches);
    tcase_add_test(tc, watch_callback_rewatches);
    tcase_add_test(tc, domain_dies_in_watch_callback);
    tcase_add_loop_test(tc, hostile_ring, 0, 3);
    tcase_add_test(tc, no_ring);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(xenbus_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
