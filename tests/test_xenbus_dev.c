/*
 * The split-driver framework end to end with the "echo" device: the
 * toolstack's entries, the XenbusState handshake in order on both ends,
 * I/O, either side closing, a back end restart, and a domain dying
 * mid-I/O, each ending with a leak check.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xensim/xenstored.h>
#include "test_xenbus_helpers.h"
#include "echo/echo.h"

/* The echo drivers with a hook that logs each state written. */
static struct xensim_xenbus_driver rec_front, rec_back;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char front_log[64], back_log[64];

static void rec_state(struct xensim_xenbus_device *dev, enum xenbus_state s)
{
    char *log = dev->frontend ? front_log : back_log;

    pthread_mutex_lock(&log_lock);
    size_t n = strlen(log);
    if (n + 1 < sizeof(front_log)) {
        log[n] = (char)('0' + s);
        log[n + 1] = '\0';
    }
    pthread_mutex_unlock(&log_lock);
}

static void logs(char *f, char *b)
{
    pthread_mutex_lock(&log_lock);
    strcpy(f, front_log);
    strcpy(b, back_log);
    pthread_mutex_unlock(&log_lock);
}

static bool wait_logs(const char *f, const char *b, unsigned int ms)
{
    char lf[64], lb[64];

    for (unsigned int i = 0; i <= ms; i++) {
        logs(lf, lb);
        if (!strcmp(lf, f) && !strcmp(lb, b))
            return true;
        xbt_sleep_ms(1);
    }
    return false;
}

#define ck_logs(f, b)                                                          \
    do {                                                                       \
        char lf_[64], lb_[64];                                                 \
        bool ok_ = wait_logs(f, b, 5000);                                      \
        logs(lf_, lb_);                                                        \
        ck_assert_msg(ok_, "front %s (want %s), back %s (want %s)", lf_, f,    \
                      lb_, b);                                                 \
    } while (0)

struct dev_env {
    struct xensim *sim;
    domid_t be, fe;
};

static void reg_back_fn(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_backend_register(&rec_back), 0);
    ck_assert_int_eq(xensim_xenbus_backend_register(&rec_back), -EEXIST);
}

static void reg_front_fn(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_frontend_register(&rec_front), 0);
}

static void unreg_back_fn(void *p)
{
    xensim_xenbus_backend_unregister(&rec_back, *(bool *)p);
}

static void unreg_front_fn(void *p)
{
    xensim_xenbus_frontend_unregister(&rec_front, *(bool *)p);
}

static void add_device(struct dev_env *e)
{
    struct xensim_device_config cfg = {
        .type = "echo", .frontend = e->fe, .backend = e->be, .devid = 0,
    };

    ck_assert_int_eq(xensim_device_add(e->sim, &cfg), 0);
    ck_assert_int_eq(xensim_device_add(e->sim, &cfg), -EEXIST);
}

static struct dev_env dev_env_new(bool drivers_first)
{
    struct dev_env e = { .sim = xbt_sim_new() };

    rec_front = xenbus_echo_front;
    rec_front.state_changed = rec_state;
    rec_back = xenbus_echo_back;
    rec_back.state_changed = rec_state;
    front_log[0] = back_log[0] = '\0';
    e.be = xbt_guest(e.sim, "driver-domain");
    e.fe = xbt_guest(e.sim, "guest");
    if (!drivers_first)
        add_device(&e);
    xbt_run(e.sim, e.be, reg_back_fn, NULL);
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    if (drivers_first)
        add_device(&e);
    return e;
}

struct io_arg {
    int rounds;
    unsigned int timeout_ms;
    int rc;
    uint32_t last;
};

static void io_fn(void *p)
{
    struct io_arg *a = p;

    a->rc = 0;
    for (int i = 0; i < a->rounds && !a->rc; i++)
        a->rc = xenbus_echo_call(0, (uint32_t)i * 7, &a->last, a->timeout_ms);
    if (!a->rc && a->last != (uint32_t)(a->rounds - 1) * 7 + 1)
        a->rc = -1000;
}

static int io(struct dev_env *e, int rounds, unsigned int timeout_ms)
{
    struct io_arg a = { .rounds = rounds, .timeout_ms = timeout_ms };

    xbt_run(e->sim, e->fe, io_fn, &a);
    return a.rc;
}

static char be_path[128], fe_path[128];

static void paths(struct dev_env *e)
{
    snprintf(fe_path, sizeof(fe_path), "/local/domain/%u/device/echo/0", e->fe);
    snprintf(be_path, sizeof(be_path), "/local/domain/%u/backend/echo/%u/0", e->be, e->fe);
}

static bool wait_state(struct xensim *sim, const char *dir, const char *want)
{
    char p[160];

    snprintf(p, sizeof(p), "%s/state", dir);
    return xbt_wait_value(sim, p, want, 5000);
}

static bool wait_stats(struct xensim *sim, domid_t d, unsigned int devices)
{
    for (int i = 0; i < 5000; i++) {
        struct xensim_xenbus_stats st = xbt_stats(sim, d);

        if (st.devices == devices && st.deferred_grants == 0)
            return true;
        xbt_sleep_ms(1);
    }
    return false;
}

/* No port, mapping, device, watch or transaction left in either domain. */
static void dev_env_free(struct dev_env *e)
{
    bool graceful = true;
    struct xensim_domain_info info;

    if (xensim_domain_info(e->sim, e->fe, &info) == 0 && info.state == XENSIM_DOMAIN_RUNNING) {
        xbt_run(e->sim, e->fe, unreg_front_fn, &graceful);
        ck_assert(wait_stats(e->sim, e->fe, 0));
        struct xensim_xenbus_stats st = xbt_stats(e->sim, e->fe);
        ck_assert_uint_eq(st.watches, 0);
        ck_assert_uint_eq(st.transactions, 0);
        ck_assert_uint_eq(th_ports_in_use(e->sim, e->fe), 0);
    }
    if (xensim_domain_info(e->sim, e->be, &info) == 0 && info.state == XENSIM_DOMAIN_RUNNING) {
        xbt_run(e->sim, e->be, unreg_back_fn, &graceful);
        ck_assert(wait_stats(e->sim, e->be, 0));
        struct xensim_xenbus_stats st = xbt_stats(e->sim, e->be);
        ck_assert_uint_eq(st.watches, 0);
        ck_assert_uint_eq(st.transactions, 0);
        ck_assert_uint_eq(th_ports_in_use(e->sim, e->be), 0);
        ck_assert_int_eq(xensim_domain_info(e->sim, e->be, &info), 0);
        ck_assert_uint_eq(info.maptrack_in_use, 0);
    }
    xbt_sim_free(e->sim);
}

START_TEST(handshake_io_and_unplug)
{
    struct dev_env e = dev_env_new(_i);

    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, be_path, "4"));
    /* Each end wrote its states in <xen/io/xenbus.h>'s order. */
    ck_logs("34", "24");
    /* The toolstack's cross-links and the front end's keys. */
    ck_assert_str_eq(xbt_read(e.sim, "%s/backend", fe_path), be_path);
    ck_assert_int_eq(atoi(xbt_read(e.sim, "%s/backend-id", fe_path)), e.be);
    ck_assert_str_eq(xbt_read(e.sim, "%s/frontend", be_path), fe_path);
    ck_assert_int_eq(atoi(xbt_read(e.sim, "%s/frontend-id", be_path)), e.fe);
    ck_assert_str_eq(xbt_read(e.sim, "%s/online", be_path), "1");
    ck_assert_str_eq(xbt_read(e.sim, "%s/feature-echo", be_path), "1");
    ck_assert_int_ge(atoi(xbt_read(e.sim, "%s/ring-ref", fe_path)), GNTTAB_NR_RESERVED_ENTRIES);
    ck_assert_int_gt(atoi(xbt_read(e.sim, "%s/event-channel", fe_path)), 0);
    ck_assert_str_eq(xbt_read(e.sim, "%s/protocol", fe_path), "x86_64-abi");

    ck_assert_int_eq(io(&e, 100, 2000), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 1);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.fe), 1);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 1);

    /* Unplug as libxl does: back end Closing, front Closed, back Closed. */
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    ck_logs("346", "246");
    ck_assert_ptr_null(xbt_read(e.sim, "%s", fe_path));
    ck_assert_ptr_null(xbt_read(e.sim, "%s", be_path));
    ck_assert(wait_stats(e.sim, e.fe, 0));
    ck_assert(wait_stats(e.sim, e.be, 0));
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.fe), 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 10), -ENOENT);
    dev_env_free(&e);
}
END_TEST

/* The permissions libxl gives each half, seen from the domains. */
struct perm_arg {
    const char *path;
    int n;
    struct xs_permissions p[4];
};

static void get_perms_fn(void *p)
{
    struct perm_arg *a = p;
    struct xs_permissions *got = NULL;

    a->n = xensim_xenbus_get_perms(0, a->path, &got);
    if (a->n > 0)
        memcpy(a->p, got, sizeof(*got) * (a->n < 4 ? a->n : 4));
    free(got);
}

START_TEST(toolstack_permissions)
{
    struct dev_env e = dev_env_new(true);
    struct perm_arg a = { 0 };
    domid_t other = xbt_guest(e.sim, "bystander");

    paths(&e);
    ck_assert(wait_state(e.sim, be_path, "4"));
    a.path = fe_path;
    xbt_run(e.sim, e.be, get_perms_fn, &a);
    ck_assert_int_eq(a.n, 2);
    ck_assert_uint_eq(a.p[0].id, e.fe);
    ck_assert_uint_eq(a.p[0].perms, XS_PERM_NONE);
    ck_assert_uint_eq(a.p[1].id, e.be);
    ck_assert_uint_eq(a.p[1].perms, XS_PERM_READ);
    a.path = be_path;
    xbt_run(e.sim, e.fe, get_perms_fn, &a);
    ck_assert_int_eq(a.n, 2);
    ck_assert_uint_eq(a.p[0].id, e.be);
    ck_assert_uint_eq(a.p[1].id, e.fe);
    ck_assert_uint_eq(a.p[1].perms, XS_PERM_READ);
    /* Nobody else sees either half. */
    a.path = be_path;
    xbt_run(e.sim, other, get_perms_fn, &a);
    ck_assert_int_eq(a.n, -EACCES);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    dev_env_free(&e);
}
END_TEST

/* The back end's driver restarts: crashed (_i = 0) or unloaded (_i = 1). */
START_TEST(backend_restart_reconnects)
{
    struct dev_env e = dev_env_new(true);
    bool graceful = _i;
    struct xensim_domain_info info;

    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert_int_eq(io(&e, 10, 2000), 0);
    xbt_run(e.sim, e.be, unreg_back_fn, &graceful);
    ck_assert(wait_stats(e.sim, e.be, 0));
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    if (graceful) {
        ck_logs("346", "246");
        ck_assert(wait_state(e.sim, fe_path, "6"));
        ck_assert_int_eq(io(&e, 1, 100), -ENOTCONN);
    } else {
        /* Nobody answers: the front end cannot tell yet. */
        ck_assert_int_eq(io(&e, 1, 100), -ETIMEDOUT);
    }
    xbt_run(e.sim, e.be, reg_back_fn, NULL);
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_assert(wait_state(e.sim, fe_path, "4"));
    /* Crashed or not, the new back end goes by way of Closed over its
     * predecessor's Connected, and the front end starts over by way of
     * Closed: neither end jumps from Connected into setup. */
    ck_logs("346134", "24624");
    ck_assert_int_eq(io(&e, 50, 2000), 0);
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 1);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.fe), 1);
    ck_assert(wait_stats(e.sim, e.fe, 1));
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    dev_env_free(&e);
}
END_TEST

/* The front end closes first (its driver unloads), then comes back. */
START_TEST(frontend_closes_and_returns)
{
    struct dev_env e = dev_env_new(true);
    bool graceful = true;

    paths(&e);
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_assert(wait_state(e.sim, fe_path, "4"));
    xbt_run(e.sim, e.fe, unreg_front_fn, &graceful);
    ck_assert(wait_state(e.sim, be_path, "6"));
    ck_logs("346", "246");
    ck_assert(wait_stats(e.sim, e.fe, 0));
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.fe), 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    /* online is still 1: the back end keeps the device, ready again. */
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_logs("346134", "24624");
    ck_assert_int_eq(io(&e, 20, 2000), 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    dev_env_free(&e);
}
END_TEST

static void submit_fn(void *p)
{
    *(int *)p = xenbus_echo_submit(0, 5);
}

/* The front end's domain is destroyed with requests in flight. */
START_TEST(frontend_dies_mid_io)
{
    struct dev_env e = dev_env_new(true);
    struct xensim_domain_info info;
    int queued = 0;

    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert_int_eq(io(&e, 3, 2000), 0);
    xenbus_echo_back_hold(true);
    xbt_run(e.sim, e.fe, submit_fn, &queued);
    ck_assert_int_eq(queued, 5);
    ck_assert_int_eq(xensim_domain_destroy(e.sim, e.fe), 0);
    xenbus_echo_back_hold(false);
    /* The back end saw the front end's directory go: it unmapped, closed
     * and forgot the device. */
    ck_assert(wait_stats(e.sim, e.be, 0));
    ck_assert(wait_state(e.sim, be_path, "6"));
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    /* Nothing of the dead domain is pinned: it is gone for good. */
    for (int i = 0; i < 5000 && xensim_domain_info(e.sim, e.fe, &info) != -ESRCH; i++)
        xbt_sleep_ms(1);
    ck_assert_int_eq(xensim_domain_info(e.sim, e.fe, &info), -ESRCH);
    ck_assert_int_eq(xensim_xenstore_rm(e.sim, be_path), 0);
    dev_env_free(&e);
}
END_TEST

/* The back end's domain is destroyed while connected. */
START_TEST(backend_dies)
{
    struct dev_env e = dev_env_new(true);

    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert_int_eq(io(&e, 3, 2000), 0);
    ck_assert_int_eq(xensim_domain_destroy(e.sim, e.be), 0);
    ck_assert(wait_state(e.sim, fe_path, "6"));
    /* Its pages came back (the dead back end's mappings went with it). */
    ck_assert(wait_stats(e.sim, e.fe, 1));
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.fe), 0);
    ck_assert_int_eq(io(&e, 1, 100), -ENOTCONN);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 100), 0);
    ck_assert(wait_stats(e.sim, e.fe, 0));
    dev_env_free(&e);
}
END_TEST

/* A hostile front end overruns its ring's producer index: the back end
 * closes that device only, and the front end follows it to Closed. */
struct io1_arg {
    unsigned int devid;
    int rc;
    uint32_t out;
};

static void io1_fn(void *p)
{
    struct io1_arg *a = p;

    a->rc = xenbus_echo_call(a->devid, 5, &a->out, 300);
}

static void corrupt_fn(void *p)
{
    echo_sring_t *ring;
    evtchn_port_t port;

    (void)p;
    ck_assert_int_eq(xenbus_echo_front_ring(0, &ring, &port), 0);
    __atomic_fetch_add(&ring->req_prod, 1000, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(xensim_evtchn_send(port), 0);
}

START_TEST(hostile_frontend_ring)
{
    struct dev_env e = dev_env_new(true);
    struct xensim_device_config cfg = {
        .type = "echo", .frontend = e.fe, .backend = e.be, .devid = 1,
    };
    struct io1_arg a = { .devid = 1 };
    char p1[128];

    paths(&e);
    ck_assert_int_eq(xensim_device_add(e.sim, &cfg), 0);
    snprintf(p1, sizeof(p1), "/local/domain/%u/device/echo/1", e.fe);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, p1, "4"));
    xbt_run(e.sim, e.fe, corrupt_fn, NULL);
    /* The back end saw the overflow and closed; the front end followed. */
    ck_assert(wait_state(e.sim, be_path, "6"));
    ck_assert(wait_state(e.sim, fe_path, "6"));
    a.devid = 0;
    xbt_run(e.sim, e.fe, io1_fn, &a);
    ck_assert_int_eq(a.rc, -ENOTCONN);
    ck_assert_str_eq(xbt_read(e.sim, "%s/state", p1), "4");
    a.devid = 1;
    xbt_run(e.sim, e.fe, io1_fn, &a);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_uint_eq(a.out, 6);
    /* Both ends of device 0 are Closed: the remove does not wait. */
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 1, 5000), 0);
    dev_env_free(&e);
}
END_TEST

/* The toolstack's calls over xenstored's unix socket (what the command
 * line uses). */
START_TEST(toolstack_over_socket)
{
    struct dev_env e = { .sim = th_sim_new() };
    char dir[] = "/tmp/xbtest.XXXXXX", sock[64];
    struct xensim_device_config cfg = { .type = "echo", .devid = 0 };
    const char *const fk[] = { "extra", "f-val", NULL }, *const bk[] = { "extra", "b-val", NULL };

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/socket", dir);
    ck_assert_int_eq(xensim_xenstore_start(e.sim, sock), 0);
    rec_front = xenbus_echo_front;
    rec_back = xenbus_echo_back;
    e.be = xbt_guest(e.sim, "driver-domain");
    e.fe = xbt_guest(e.sim, "guest");
    xbt_run(e.sim, e.be, reg_back_fn, NULL);
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    cfg.frontend = e.fe;
    cfg.backend = e.be;
    cfg.front_keys = fk;
    cfg.back_keys = bk;
    ck_assert_int_eq(xensim_device_add_at(sock, &cfg), 0);
    ck_assert_int_eq(xensim_device_add_at(sock, &cfg), -EEXIST);
    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_assert_str_eq(xbt_read(e.sim, "%s/extra", fe_path), "f-val");
    ck_assert_str_eq(xbt_read(e.sim, "%s/extra", be_path), "b-val");
    ck_assert_int_eq(io(&e, 5, 2000), 0);
    ck_assert_int_eq(xensim_device_remove_at(sock, "echo", e.fe, 0, 5000), 0);
    ck_assert_ptr_null(xbt_read(e.sim, "%s", be_path));
    ck_assert_int_eq(xensim_device_remove_at(sock, "echo", e.fe, 0, 10), -ENOENT);
    ck_assert_int_eq(xensim_device_add_at("/nonexistent/socket", &cfg), -ENOENT);
    dev_env_free(&e);
    rmdir(dir);
}
END_TEST

/* The toolstack's xenstored: none until started, domains built before it
 * introduced at start, stopped and started again, or a daemon of the
 * caller's handed over; new domains introduced once by the listener. */
START_TEST(toolstack_xenstored_life)
{
    struct xensim *sim = th_sim_new();
    struct xensim_xenstored_config cfg = { .sim = sim, .quiet = true };
    struct xensim_xenstore_usage u;
    struct xensim_xenstored *xsd;
    domid_t early, late;
    char id[8];

    ck_assert_int_eq(xensim_xenstore_usage(sim, &u), -ENODEV);
    ck_assert_int_eq(xensim_xenstore_write(sim, "/x", ""), -ENODEV);
    early = th_domain(sim, "early", false, XENSIM_GNTTAB_STRICT);
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), 0);
    ck_assert_int_eq(xensim_xenstore_usage(sim, &u), 0);
    ck_assert_uint_eq(u.domains, 1);
    ck_assert_str_eq(xbt_read(sim, "/local/domain/%u/name", early), "early");
    xensim_xenstore_stop(sim);
    ck_assert_int_eq(xensim_xenstore_usage(sim, &u), -ENODEV);
    xsd = xensim_xenstored_create(&cfg);
    ck_assert_ptr_nonnull(xsd);
    ck_assert_int_eq(xensim_xenstored_start(xsd), 0);
    ck_assert_int_eq(xensim_xenstore_attach(sim, xsd), 0);
    ck_assert_int_eq(xensim_xenstore_attach(sim, xsd), -EEXIST);
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), -EEXIST);
    snprintf(id, sizeof(id), "%u", early);
    ck_assert_str_eq(xbt_read(sim, "/local/domain/%u/domid", early), id);
    late = th_domain(sim, "late", false, XENSIM_GNTTAB_STRICT);
    ck_assert_str_eq(xbt_read(sim, "/local/domain/%u/name", late), "late");
    ck_assert_int_eq(xensim_xenstore_usage(sim, &u), 0);
    ck_assert_uint_eq(u.domains, 2);
    xbt_sim_free(sim);
}
END_TEST

/* dom0 as the back end: its own store ring first (xenstored_local_init). */
START_TEST(dom0_backend)
{
    struct dev_env e = { .sim = xbt_sim_new() };
    struct xensim_domain_info info;
    bool graceful = true;

    rec_front = xenbus_echo_front;
    rec_front.state_changed = rec_state;
    rec_back = xenbus_echo_back;
    rec_back.state_changed = rec_state;
    ck_assert_int_eq(xensim_xenbus_dom0_init(e.sim), 0);
    th_allow_own_store_ring(0);
    ck_assert_int_eq(xensim_xenbus_dom0_init(e.sim), -EEXIST);
    e.be = 0;
    e.fe = xbt_guest(e.sim, "guest");
    xbt_run(e.sim, 0, reg_back_fn, NULL);
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    add_device(&e);
    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_logs("34", "24");
    ck_assert_int_eq(io(&e, 20, 2000), 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    ck_logs("346", "246");
    xbt_run(e.sim, 0, unreg_back_fn, &graceful);
    ck_assert(wait_stats(e.sim, 0, 0));
    ck_assert_uint_eq(xbt_stats(e.sim, 0).watches, 0);
    ck_assert_int_eq(xensim_domain_info(e.sim, 0, &info), 0);
    /* Only xenstored's maps of the two store rings (dom0's and the guest's). */
    ck_assert_uint_eq(info.maptrack_in_use, 2);
    e.be = 0xffff;
    dev_env_free(&e);
}
END_TEST

/* A two-page ring: ring-ref0/1 and ring-page-order, mapped page by page. */
START_TEST(multi_page_ring)
{
    struct dev_env e = { .sim = xbt_sim_new() };

    rec_front = xenbus_echo_front;
    rec_back = xenbus_echo_back;
    xenbus_echo_ring_order(1);
    front_log[0] = back_log[0] = '\0';
    e.be = th_domain(e.sim, "driver-domain", false, (enum xensim_gnttab_mode)_i);
    e.fe = xbt_guest(e.sim, "guest");
    xbt_run(e.sim, e.be, reg_back_fn, NULL);
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    add_device(&e);
    paths(&e);
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert_str_eq(xbt_read(e.sim, "%s/ring-page-order", fe_path), "1");
    ck_assert_ptr_nonnull(xbt_read(e.sim, "%s/ring-ref1", fe_path));
    ck_assert_ptr_null(xbt_read(e.sim, "%s/ring-ref", fe_path));
    ck_assert_int_eq(io(&e, 100, 2000), 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "echo", e.fe, 0, 5000), 0);
    dev_env_free(&e);
    xenbus_echo_ring_order(0);
}
END_TEST

/* The command line's verb (tools/cmd_device.c), run in process. */
int xensim_cmd_device(int argc, char **argv);

static int cmd(const char *line)
{
    char buf[512], *argv[32];
    int argc = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    for (char *tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return xensim_cmd_device(argc, argv);
}

START_TEST(command_line)
{
    struct dev_env e = { .sim = th_sim_new() };
    char dir[] = "/tmp/xbcmd.XXXXXX", sock[64], line[256];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/socket", dir);
    ck_assert_int_eq(xensim_xenstore_start(e.sim, sock), 0);
    rec_front = xenbus_echo_front;
    rec_back = xenbus_echo_back;
    e.be = xbt_guest(e.sim, "driver-domain");
    e.fe = xbt_guest(e.sim, "guest");
    xbt_run(e.sim, e.be, reg_back_fn, NULL);
    xbt_run(e.sim, e.fe, reg_front_fn, NULL);
    ck_assert_int_eq(cmd("device"), 2);
    ck_assert_int_eq(cmd("device add --dir x"), 2);
    ck_assert_int_eq(cmd("device add --dir x --type echo --frontend 1 --backend 99999"), 2);
    snprintf(line, sizeof(line), "device add --dir %s --type echo --frontend %u --backend %u "
             "--front-key mac=00:16:3e:00:00:01 --back-key script=none", dir, e.fe, e.be);
    ck_assert_int_eq(cmd(line), 0);
    ck_assert_int_eq(cmd(line), 1);             /* -EEXIST */
    paths(&e);
    ck_assert(wait_state(e.sim, fe_path, "4"));
    ck_assert(wait_state(e.sim, be_path, "4"));
    ck_assert_str_eq(xbt_read(e.sim, "%s/mac", fe_path), "00:16:3e:00:00:01");
    ck_assert_str_eq(xbt_read(e.sim, "%s/script", be_path), "none");
    snprintf(line, sizeof(line), "device remove --dir %s --type echo --frontend %u --timeout 5000",
             dir, e.fe);
    ck_assert_int_eq(cmd(line), 0);
    ck_assert_ptr_null(xbt_read(e.sim, "%s", fe_path));
    ck_assert_int_eq(cmd(line), 1);             /* -ENOENT */
    dev_env_free(&e);
    rmdir(dir);
}
END_TEST

/* The devices QEMU serves, as libxl writes them, and what the toolstack
 * refuses. */
START_TEST(qemu_devices_as_libxl_writes)
{
    struct xensim *sim = xbt_sim_new();
    domid_t g = xbt_guest(sim, "guest");
    unsigned int devid = 0;

    ck_assert_int_eq(xensim_qdisk_devid(NULL, &devid), 0);
    ck_assert_uint_eq(devid, 51712);
    ck_assert_int_eq(xensim_qdisk_devid("xvdb", &devid), 0);
    ck_assert_uint_eq(devid, 51728);
    ck_assert_int_eq(xensim_qdisk_devid("768", &devid), 0);
    ck_assert_uint_eq(devid, 768);
    static const char *const bad_vdevs[] = { "sda", "xvd", "xvdaa", "xvdz", "", "-1" };
    for (size_t i = 0; i < sizeof(bad_vdevs) / sizeof(bad_vdevs[0]); i++)
        ck_assert_int_eq(xensim_qdisk_devid(bad_vdevs[i], &devid), -EINVAL);
    struct xensim_qdisk q = { .frontend = g, .backend = 0, .vdev = "sda", .path = "/x.img" };
    ck_assert_int_eq(xensim_qdisk_add(sim, &q), -EINVAL);
    q.vdev = NULL;
    q.path = "";
    ck_assert_int_eq(xensim_qdisk_add(sim, &q), -EINVAL);
    q.path = "/x.img";
    q.readonly = true;
    ck_assert_int_eq(xensim_qdisk_add(sim, &q), 0);
    ck_assert_int_eq(xensim_qdisk_add(sim, &q), -EEXIST);
    const char *b = "/local/domain/0/backend/qdisk/%u/51712/%s";
    ck_assert_str_eq(xbt_read(sim, b, g, "params"), "aio:/x.img");
    ck_assert_str_eq(xbt_read(sim, b, g, "mode"), "r");
    ck_assert_str_eq(xbt_read(sim, b, g, "type"), "qdisk");
    ck_assert_str_eq(xbt_read(sim, b, g, "dev"), "xvda");
    ck_assert_str_eq(xbt_read(sim, b, g, "frontend-id"), "1");
    const char *f = "/local/domain/%u/device/vbd/51712/%s";
    ck_assert_str_eq(xbt_read(sim, f, g, "protocol"), "x86_64-abi");
    ck_assert_str_eq(xbt_read(sim, f, g, "backend"), "/local/domain/0/backend/qdisk/1/51712");
    /* A back-end type is checked as the type is. */
    struct xensim_device_config dc = { .type = "vbd", .backend_type = "q/disk", .frontend = g,
                                       .backend = 0, .devid = 1 };
    ck_assert_int_eq(xensim_device_add(sim, &dc), -EINVAL);
    /* Nobody serves it: the removal times out and removes anyway. */
    ck_assert_int_eq(xensim_device_remove(sim, "vbd", g, 51712, 50), -ETIMEDOUT);
    ck_assert_ptr_null(xbt_read(sim, b, g, "params"));

    ck_assert_int_eq(xensim_qemu_console_add(sim, g, 0, NULL), -EINVAL);
    ck_assert_int_eq(xensim_qemu_console_add(sim, g, g, "pty"), -EINVAL);
    ck_assert_int_eq(xensim_qemu_console_add(sim, 999, 0, "pty"), -ESRCH);
    ck_assert_int_eq(xensim_qemu_console_add(sim, g, 0, "file:/c.log"), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, g, &info), 0);
    char want[24];
    const char *c = "/local/domain/%u/console/%s";
    ck_assert_str_eq(xbt_read(sim, c, g, "type"), "ioemu");
    ck_assert_str_eq(xbt_read(sim, c, g, "output"), "file:/c.log");
    snprintf(want, sizeof(want), "%lu", (unsigned long)info.console_pfn);
    ck_assert_str_eq(xbt_read(sim, c, g, "ring-ref"), want);
    snprintf(want, sizeof(want), "%u", info.console_port);
    ck_assert_str_eq(xbt_read(sim, c, g, "port"), want);
    ck_assert_str_eq(xbt_read(sim, "/local/domain/0/backend/console/%u/0/%s", g, "protocol"),
                     "vt100");
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/0/backend/console/%u", g);
    ck_assert_int_eq(xensim_xenstore_rm(sim, path), 0);
    xbt_sim_free(sim);
}
END_TEST

/* xenstored's state check, fed every kind of bad move: each reported
 * with the writer and the path, the write still taken; honest moves and
 * state nodes of no device are not. */
START_TEST(state_moves_checked)
{
    struct xensim *sim = xbt_sim_new();
    static const char fe[] = "/local/domain/7/device/vbd/51712/state";
    static const char be[] = "/local/domain/0/backend/vif/7/0/state";
    static const struct { const char *path, *value, *report; } steps[] = {
        { fe, "1", NULL }, { fe, "3", NULL }, { fe, "4", NULL },
        { fe, "1", "Connected -> Initialising" },
        { fe, "5", NULL }, { fe, "2", "Closing -> InitWait" },
        { fe, "6", NULL }, { fe, "1", NULL }, { fe, "x", "\"x\" is no XenbusState" },
        { fe, "9", "\"9\" is no XenbusState" },
        { be, "2", NULL }, { be, "4", NULL }, { be, "7", NULL }, { be, "8", NULL },
        { be, "4", NULL }, { be, "3", "Connected -> Initialised" },
        { "/local/domain/7/data/state", "4", NULL },
        { "/local/domain/7/data/state", "1", NULL },
        { "/local/domain/7/device/vbd/state", "1", NULL },
    };
    uint64_t told = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        ck_assert_int_eq(xensim_xenstore_write(sim, steps[i].path, steps[i].value), 0);
        struct xensim_protocol_violation pv;
        uint64_t n = xensim_protocol_violations(sim, &pv);
        if (!steps[i].report) {
            ck_assert_msg(n == told, "step %zu: %s", i, pv.what);
            continue;
        }
        ck_assert_uint_eq(n, ++told);
        char want[160];
        snprintf(want, sizeof(want), "dom0 wrote %s: %s", steps[i].path, steps[i].report);
        ck_assert_msg(!strncmp(pv.what, want, strlen(want)), "step %zu: %s", i, pv.what);
        ck_assert_uint_eq(pv.domid, 0);
        char back[8];
        int len = xensim_xenstore_read(sim, steps[i].path, back, sizeof(back));
        ck_assert_int_eq(len, (int)strlen(steps[i].value));
    }
    xbt_sim_free(sim);
}
END_TEST

static Suite *dev_suite(void)
{
    Suite *s = suite_create("xenbus_dev");
    TCase *tc = tcase_create("framework");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, handshake_io_and_unplug, 0, 2);
    tcase_add_test(tc, toolstack_permissions);
    tcase_add_loop_test(tc, backend_restart_reconnects, 0, 2);
    tcase_add_test(tc, frontend_closes_and_returns);
    tcase_add_test(tc, frontend_dies_mid_io);
    tcase_add_test(tc, backend_dies);
    tcase_add_test(tc, hostile_frontend_ring);
    tcase_add_test(tc, toolstack_over_socket);
    tcase_add_test(tc, toolstack_xenstored_life);
    tcase_add_test(tc, dom0_backend);
    tcase_add_loop_test(tc, multi_page_ring, 0, 2);
    tcase_add_test(tc, command_line);
    tcase_add_test(tc, qemu_devices_as_libxl_writes);
    tcase_add_test(tc, state_moves_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dev_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
