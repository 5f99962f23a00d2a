/*
 * The hostile block front end (<xensim/hostile.h>) against the real
 * blkback, every kind: a hostile guest and an honest one share dom0's
 * blkback through XenStore; the hostile one attacks, and blkback must
 * answer as the kind says (errors in their own slots, a closed device),
 * keep serving the honest guest's disk, and, once both devices are
 * removed, leave no port, mapping or grant behind.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/blkif.h>
#include <xensim/hostile.h>
#include <xensim/netif.h>
#include "test_xenbus_helpers.h"

#define WAIT_MS 10000
#define DEVID 51712
#define DISK (1u << 20)

struct env {
    struct xensim *sim;
    domid_t be, honest, hostile;
    struct xensim_blkback_config bcfg;
    enum xensim_hostile_kind kind;
    struct xensim_hostile_report rep;
    int rc;
    uint8_t w[4096], r[4096];
};

static void back_up(void *p)
{
    struct env *e = p;
    ck_assert_int_eq(xensim_vbd_back_config(&e->bcfg), 0);
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_vbd_back), 0);
}

static void back_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_vbd_back, true);
    ck_assert_int_eq(xensim_vbd_back_config(NULL), 0);
}

static void honest_up(void *p)
{
    (void)p;
    struct xensim_blkfront_config c = { .max_queues = 1, .persistent = true };
    ck_assert_int_eq(xensim_vbd_front_config(&c), 0);
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_vbd_front), 0);
}

static void honest_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vbd_front, true);
    ck_assert_int_eq(xensim_vbd_front_config(NULL), 0);
}

static void hostile_up(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_hostile_vbd_front), 0);
}

static void hostile_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_hostile_vbd_front, true);
}

static void attack_fn(void *p)
{
    struct env *e = p;
    e->rc = xensim_hostile_vbd_attack(DEVID, e->kind, &e->rep);
}

/* The honest guest writes a pattern and reads it back. */
static void io_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(DEVID);
    if (!fe) {
        e->rc = -ENODEV;
        return;
    }
    memset(e->r, 0, sizeof(e->r));
    e->rc = xensim_blkfront_write(fe, 8, e->w, sizeof(e->w) / 512);
    if (!e->rc)
        e->rc = xensim_blkfront_read(fe, 8, e->r, sizeof(e->r) / 512);
    if (!e->rc && memcmp(e->w, e->r, sizeof(e->w)))
        e->rc = -EILSEQ;
}

/* The honest guest's own XenStore writes are not the hostile one's quota. */
static void store_fn(void *p)
{
    struct env *e = p;
    e->rc = xensim_xenbus_printf(0, "data", "after-the-attack", "%d", 1);
}

static bool wants_persistent(enum xensim_hostile_kind kind)
{
    return kind == XENSIM_HOSTILE_GRANT_FLOOD || kind == XENSIM_HOSTILE_REVOKE_MAPPED;
}

static void add_vbd(struct env *e, domid_t fe)
{
    /* The hostile front end asks for persistent grants when its kind
     * needs them. */
    const char *fk[] = { "virtual-device", "51712", "device-type", "disk",
                         fe == e->hostile && wants_persistent(e->kind) ? "hostile-persistent"
                                                                       : NULL,
                         "1", NULL };
    struct xensim_device_config dc = { .type = "vbd", .frontend = fe, .backend = e->be,
                                       .devid = DEVID, .front_keys = fk };
    ck_assert_int_eq(xensim_device_add(e->sim, &dc), 0);
}

static bool connected(struct env *e, domid_t fe)
{
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/device/vbd/%u/state", fe, DEVID);
    bool ok = xbt_wait_value(e->sim, p, "4", WAIT_MS);
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%u/%u/state", e->be, fe, DEVID);
    return ok && xbt_wait_value(e->sim, p, "4", WAIT_MS);
}

/* The honest guest's disk, until its driver calls it connected. */
static void honest_io(struct env *e)
{
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e->sim, e->honest, io_fn, e);
        if (e->rc != -ENODEV)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_int_eq(e->rc, 0);
}

static void env_up(struct env *e)
{
    e->sim = xbt_sim_new();
    e->be = xbt_guest(e->sim, "blkdd");
    e->bcfg = (struct xensim_blkback_config){ .mem_bytes = DISK, .feature_persistent = true };
    e->honest = xbt_guest(e->sim, "honest");
    e->hostile = xbt_guest(e->sim, "hostile");
    for (unsigned int i = 0; i < sizeof(e->w); i++)
        e->w[i] = (uint8_t)(i * 7 + 1);
    xbt_run(e->sim, e->be, back_up, e);
    xbt_run(e->sim, e->honest, honest_up, e);
    xbt_run(e->sim, e->hostile, hostile_up, e);
    add_vbd(e, e->honest);
    add_vbd(e, e->hostile);
    ck_assert(connected(e, e->honest));
    ck_assert(connected(e, e->hostile));
    honest_io(e);
}

static void env_down(struct env *e)
{
    /* A front end that jumped states may never answer the back end's
     * Closing: the toolstack then removes the device anyway (-ETIMEDOUT),
     * as libxl does, and the back end lets go of it all the same. */
    int rc = xensim_device_remove(e->sim, "vbd", e->hostile, DEVID, WAIT_MS);
    if (e->kind == XENSIM_HOSTILE_STATE_JUMPS && rc == -ETIMEDOUT)
        rc = 0;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(xensim_device_remove(e->sim, "vbd", e->honest, DEVID, WAIT_MS), 0);
    xbt_run(e->sim, e->hostile, hostile_down, e);
    xbt_run(e->sim, e->honest, honest_down, e);
    xbt_run(e->sim, e->be, back_down, e);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->hostile), 0);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->honest), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e->sim, e->be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(e->sim);
}

START_TEST(names_round_trip)
{
    for (unsigned int k = 0; k < XENSIM_HOSTILE_KINDS; k++) {
        enum xensim_hostile_kind got;
        ck_assert_int_eq(xensim_hostile_parse(xensim_hostile_name(k), &got), 0);
        ck_assert_int_eq(got, k);
    }
    enum xensim_hostile_kind got = XENSIM_HOSTILE_KINDS;
    ck_assert_int_eq(xensim_hostile_parse("polite", &got), -EINVAL);
    ck_assert_int_eq(xensim_hostile_parse(NULL, &got), -EINVAL);
    ck_assert_int_eq(got, XENSIM_HOSTILE_KINDS);
    ck_assert_str_eq(xensim_hostile_name(XENSIM_HOSTILE_KINDS), "unknown");
}
END_TEST

START_TEST(hostile_front_every_kind)
{
    struct env e = { .kind = (enum xensim_hostile_kind)_i };
    env_up(&e);
    xbt_run(e.sim, e.hostile, attack_fn, &e);
    ck_assert_int_eq(e.rc, 0);
    const struct xensim_hostile_report *r = &e.rep;
    ck_assert_int_eq(r->kind, e.kind);
    ck_assert_uint_eq(r->bad_responses, 0);
    switch (e.kind) {
    case XENSIM_HOSTILE_EVENT_STORM:
        /* 100,000 notifications, then the real request is still served. */
        ck_assert_uint_gt(r->notifications, 100000);
        ck_assert_uint_eq(r->requests, 1);
        ck_assert_uint_eq(r->responses, 1);
        ck_assert_uint_eq(r->errors, 0);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        break;
    case XENSIM_HOSTILE_RING_INDICES:
        /* Nothing read off the ring; the device is closed. */
        ck_assert_uint_eq(r->responses, 0);
        ck_assert(r->backend_closed);
        break;
    case XENSIM_HOSTILE_BAD_REQUESTS:
        /* Each answered with an error, by its id; the device serves on. */
        ck_assert_uint_eq(r->requests, 6);
        ck_assert_uint_eq(r->responses, 6);
        ck_assert_uint_eq(r->errors, 6);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        break;
    case XENSIM_HOSTILE_STORE_QUOTA:
        /* The per-domain node quota (1000, with what the guest already
         * owns) stops it with ENOSPC; the device serves on. */
        ck_assert_int_eq(r->store_error, -ENOSPC);
        ck_assert_uint_gt(r->store_writes, 900);
        ck_assert_uint_lt(r->store_writes, 1000);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        xbt_run(e.sim, e.honest, store_fn, &e);
        ck_assert_int_eq(e.rc, 0);
        break;
    case XENSIM_HOSTILE_GRANT_REWRITE:
        /* Both reads answered: the first well, the second (its grant now
         * names another domain) with an error. The device serves on. */
        ck_assert_uint_eq(r->requests, 2);
        ck_assert_uint_eq(r->responses, 2);
        ck_assert_uint_eq(r->errors, 1);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        break;
    case XENSIM_HOSTILE_REWRITE_AFTER_PUSH:
        /* The rewritten read answered once, by its id (well or not, by
         * which copy the back end took), and the next one well. */
        ck_assert_uint_eq(r->requests, 2);
        ck_assert_uint_eq(r->responses, 2);
        ck_assert_uint_le(r->errors, 1);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        break;
    case XENSIM_HOSTILE_GRANT_FLOOD: {
        /* Every read of the 2048 refs served; blkback keeps at most its
         * cap of persistent grants (a ring's worth of segments, 352),
         * not one per ref. */
        ck_assert_uint_eq(r->requests, (2048 + 10) / 11);
        ck_assert_uint_eq(r->responses, r->requests);
        ck_assert_uint_eq(r->errors, 0);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        struct xensim_domain_info info;
        ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
        ck_assert_uint_gt(info.maptrack_in_use, 0);
        ck_assert_uint_le(info.maptrack_in_use, 352 + 64);
        break;
    }
    case XENSIM_HOSTILE_REVOKE_MAPPED:
        /* The second read goes through the mapping the revoked entry
         * left: both served, and the teardown below finds nothing. */
        ck_assert_uint_eq(r->requests, 2);
        ck_assert_uint_eq(r->responses, 2);
        ck_assert_uint_eq(r->errors, 0);
        ck_assert_int_eq(r->backend_state, XenbusStateConnected);
        break;
    case XENSIM_HOSTILE_STATE_JUMPS: {
        /* Ends in a state it can leave; which one depends on when it saw
         * each jump. */
        ck_assert(r->backend_state == XenbusStateClosing ||
                  r->backend_state == XenbusStateClosed ||
                  r->backend_state == XenbusStateInitWait ||
                  r->backend_state == XenbusStateConnected);
        /* xenstored saw the first jump back (Connected to Initialising,
         * no Closing between) and said who made it, and where. */
        struct xensim_protocol_violation pv;
        ck_assert_uint_ge(xensim_protocol_violations(e.sim, NULL), 1);
        char want[160];
        snprintf(want, sizeof(want), "dom%u wrote /local/domain/%u/device/vbd/%u/state: ",
                 e.hostile, e.hostile, DEVID);
        xensim_protocol_violations(e.sim, &pv);
        ck_assert_msg(!strncmp(pv.what, want, strlen(want)) &&
                      strstr(pv.what, ", a move no honest end makes"), "%s", pv.what);
        ck_assert_uint_eq(pv.domid, e.hostile);
        break;
    }
    default:
        ck_abort_msg("kind %d has no expectation", (int)e.kind);
    }
    /* The honest guest's disk is untouched by all of it. */
    memset(e.w, 0xa5 ^ _i, sizeof(e.w));
    honest_io(&e);
    env_down(&e);
}
END_TEST

static void hostile_back_up(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_hostile_vbd_back), 0);
}

static void hostile_back_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_hostile_vbd_back, true);
}

/* The honest guest's read, to its end: 0, or what blkfront said. */
static void read_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(DEVID);
    e->rc = fe ? xensim_blkfront_read(fe, 0, e->r, 1) : -ENODEV;
}

static void found_fn(void *p)
{
    struct env *e = p;
    e->rc = xensim_vbd_front_find(DEVID) ? 0 : -ENODEV;
}

/* blkfront against a hostile back end of each back end kind: its read
 * ends with an error (never hangs), the device is failed, the guest
 * lives, and nothing is left once the device goes. */
static const enum xensim_hostile_kind back_kinds[] = { XENSIM_HOSTILE_MADE_UP_IDS,
                                                       XENSIM_HOSTILE_RSP_INDICES };

START_TEST(hostile_back_every_kind)
{
    struct env e = { .kind = back_kinds[_i] };
    e.sim = xbt_sim_new();
    e.be = xbt_guest(e.sim, "evil-dd");
    e.honest = xbt_guest(e.sim, "honest");
    xbt_run(e.sim, e.be, hostile_back_up, &e);
    xbt_run(e.sim, e.honest, honest_up, &e);
    const char *fk[] = { "virtual-device", "51712", "device-type", "disk", NULL };
    const char *bk[] = { "hostile-kind", xensim_hostile_name(e.kind), NULL };
    struct xensim_device_config dc = { .type = "vbd", .frontend = e.honest, .backend = e.be,
                                       .devid = DEVID, .front_keys = fk, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(e.sim, &dc), 0);
    ck_assert(connected(&e, e.honest));
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e.sim, e.honest, read_fn, &e);
        if (e.rc != -ENODEV)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_int_lt(e.rc, 0);
    ck_assert_int_ne(e.rc, -ENODEV);
    xbt_run(e.sim, e.honest, found_fn, &e);
    ck_assert_int_eq(e.rc, -ENODEV);
    ck_assert_int_eq(xensim_device_remove(e.sim, "vbd", e.honest, DEVID, WAIT_MS), 0);
    xbt_run(e.sim, e.honest, honest_down, &e);
    xbt_run(e.sim, e.be, hostile_back_down, &e);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.honest), 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(e.sim);
}
END_TEST

static void inflight_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(DEVID);
    e->rc = fe ? (int)xensim_blkfront_inflight(fe) : -ENODEV;
}

struct stuck_read {
    struct env *e;
    int rc;
};

static void stuck_read_fn(void *p)
{
    struct stuck_read *s = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(DEVID);
    s->rc = fe ? xensim_blkfront_read(fe, 0, s->e->r, 1) : -ENODEV;
}

static void *stuck_read_thread(void *p)
{
    struct stuck_read *s = p;
    xensim_domain_call(s->e->sim, s->e->honest, 1, stuck_read_fn, s);
    return NULL;
}

/* A back end that takes requests and never answers: blkfront's read
 * waits (as Linux's does) until the toolstack removes the device, then
 * ends with an error; the guest lives and nothing is left. */
START_TEST(hostile_back_never_answers)
{
    struct env e = { .kind = XENSIM_HOSTILE_NEVER_ANSWERS };
    e.sim = xbt_sim_new();
    e.be = xbt_guest(e.sim, "evil-dd");
    struct xensim_domain_config gc = { .name = "honest", .nr_vcpus = 2 };
    e.honest = th_domain_cfg(e.sim, &gc);
    xbt_run(e.sim, e.be, hostile_back_up, &e);
    xbt_run(e.sim, e.honest, honest_up, &e);
    const char *fk[] = { "virtual-device", "51712", "device-type", "disk", NULL };
    const char *bk[] = { "hostile-kind", "never-answers", NULL };
    struct xensim_device_config dc = { .type = "vbd", .frontend = e.honest, .backend = e.be,
                                       .devid = DEVID, .front_keys = fk, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(e.sim, &dc), 0);
    ck_assert(connected(&e, e.honest));
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e.sim, e.honest, found_fn, &e);
        if (!e.rc)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_int_eq(e.rc, 0);
    struct stuck_read s = { .e = &e, .rc = 1 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, stuck_read_thread, &s), 0);
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e.sim, e.honest, inflight_fn, &e);
        if (e.rc > 0)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_int_eq(e.rc, 1);
    ck_assert_int_eq(__atomic_load_n(&s.rc, __ATOMIC_ACQUIRE), 1);   /* still waiting */
    ck_assert_int_eq(xensim_device_remove(e.sim, "vbd", e.honest, DEVID, WAIT_MS), 0);
    pthread_join(t, NULL);
    ck_assert_int_lt(s.rc, 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e.sim, e.honest, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    xbt_run(e.sim, e.honest, honest_down, &e);
    xbt_run(e.sim, e.be, hostile_back_down, &e);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.honest), 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(e.sim);
}
END_TEST

static void sync_fn(void *p)
{
    struct env *e = p;
    char path[96];
    snprintf(path, sizeof(path), "backend/vbd/%u/%u", e->honest, DEVID);
    e->rc = xensim_xenbus_exists(0, path);
}

/* A device whose hostile-kind is no back end's never leaves the probe. */
START_TEST(hostile_back_refuses_a_front_kind)
{
    struct env e = { 0 };
    e.sim = xbt_sim_new();
    e.be = xbt_guest(e.sim, "evil-dd");
    e.honest = xbt_guest(e.sim, "honest");
    xbt_run(e.sim, e.be, hostile_back_up, &e);
    const char *bk[] = { "hostile-kind", "event-storm", NULL };
    struct xensim_device_config dc = { .type = "vbd", .frontend = e.honest, .backend = e.be,
                                       .devid = DEVID, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(e.sim, &dc), 0);
    /* The watch event for the new device is queued on the back end's
     * ring before the toolstack's write returns; a request of the back
     * end's takes it in, and its callback runs as the request leaves. */
    xbt_run(e.sim, e.be, sync_fn, &e);
    ck_assert_int_eq(e.rc, 1);
    struct xensim_xenbus_stats st = xbt_stats(e.sim, e.be);
    ck_assert_uint_eq(st.devices, 0);
    ck_assert_int_eq(xensim_device_remove(e.sim, "vbd", e.honest, DEVID, 100), -ETIMEDOUT);
    xbt_run(e.sim, e.be, hostile_back_down, &e);
    xbt_sim_free(e.sim);
}
END_TEST

/* The hostile network front end against netback, beside an honest
 * netfront whose frames still flow to dom0's switch. */
struct venv {
    struct xensim *sim;
    domid_t be, hostile;
    struct xensim_netback *nb;
    enum xensim_hostile_kind kind;
    struct xensim_hostile_report rep;
    int rc;
};

static void net_back_up(void *p)
{
    struct venv *v = p;
    struct xensim_netback_config cfg = { 0 };
    ck_assert_int_eq(xensim_netback_create(&cfg, &v->nb), 0);
    ck_assert_int_eq(xensim_vif_back_attach(v->nb), 0);
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_vif_back), 0);
}

static void net_back_down(void *p)
{
    struct venv *v = p;
    xensim_xenbus_backend_unregister(&xensim_vif_back, true);
    ck_assert_int_eq(xensim_netback_nr_vifs(v->nb), 0);
    ck_assert_int_eq(xensim_vif_back_attach(NULL), 0);
    ck_assert_int_eq(xensim_netback_destroy(v->nb), 0);
}

static void vif_hostile_up(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_hostile_vif_front), 0);
}

static void vif_hostile_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_hostile_vif_front, true);
}

static void vif_attack_fn(void *p)
{
    struct venv *v = p;
    v->rc = xensim_hostile_vif_attack(0, v->kind, &v->rep);
}

static const enum xensim_hostile_kind vif_kinds[] = {
    XENSIM_HOSTILE_EVENT_STORM, XENSIM_HOSTILE_RING_INDICES, XENSIM_HOSTILE_BAD_REQUESTS };

START_TEST(hostile_vif_front)
{
    struct venv v = { .kind = vif_kinds[_i] };
    v.sim = xbt_sim_new();
    v.be = xbt_guest(v.sim, "netdd");
    v.hostile = xbt_guest(v.sim, "hostile");
    xbt_run(v.sim, v.be, net_back_up, &v);
    xbt_run(v.sim, v.hostile, vif_hostile_up, &v);
    const char *keys[] = { "mac", "00:16:3e:00:00:42", NULL };
    struct xensim_device_config dc = { .type = "vif", .frontend = v.hostile, .backend = v.be,
                                       .devid = 0, .front_keys = keys, .back_keys = keys };
    ck_assert_int_eq(xensim_device_add(v.sim, &dc), 0);
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", v.hostile);
    ck_assert(xbt_wait_value(v.sim, p, "4", WAIT_MS));
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vif/%u/0/state", v.be, v.hostile);
    ck_assert(xbt_wait_value(v.sim, p, "4", WAIT_MS));
    xbt_run(v.sim, v.hostile, vif_attack_fn, &v);
    ck_assert_int_eq(v.rc, 0);
    const struct xensim_hostile_report *r = &v.rep;
    struct xensim_vif_stats st;
    ck_assert_uint_eq(r->bad_responses, 0);
    switch (v.kind) {
    case XENSIM_HOSTILE_EVENT_STORM:
        ck_assert_uint_gt(r->notifications, 100000);
        ck_assert_uint_eq(r->responses, 1);
        ck_assert_uint_eq(r->errors, 0);
        ck_assert_int_eq(xensim_netback_vif_stats(v.nb, v.hostile, 0, &st), 0);
        ck_assert(st.connected);
        ck_assert_uint_eq(st.tx_packets, 1);
        break;
    case XENSIM_HOSTILE_RING_INDICES:
        /* netback gives up on the vif (its end of the port goes) and
         * says why. */
        ck_assert_uint_eq(r->responses, 0);
        ck_assert(r->backend_closed);
        ck_assert_int_eq(xensim_netback_vif_stats(v.nb, v.hostile, 0, &st), 0);
        ck_assert(!st.connected);
        ck_assert_ptr_nonnull(st.disconnect_reason);
        ck_assert_ptr_nonnull(strstr(st.disconnect_reason, "overflow"));
        break;
    case XENSIM_HOSTILE_BAD_REQUESTS:
        /* Each answered with NETIF_RSP_ERROR; the vif serves on. */
        ck_assert_uint_eq(r->requests, 3);
        ck_assert_uint_eq(r->responses, 3);
        ck_assert_uint_eq(r->errors, 3);
        ck_assert_int_eq(xensim_netback_vif_stats(v.nb, v.hostile, 0, &st), 0);
        ck_assert(st.connected);
        ck_assert_uint_eq(st.tx_errors, 3);
        break;
    default:
        ck_abort_msg("kind %d has no expectation", (int)v.kind);
    }
    ck_assert_int_eq(xensim_device_remove(v.sim, "vif", v.hostile, 0, WAIT_MS), 0);
    xbt_run(v.sim, v.hostile, vif_hostile_down, &v);
    xbt_run(v.sim, v.be, net_back_down, &v);
    ck_assert_uint_eq(th_ports_in_use(v.sim, v.hostile), 0);
    ck_assert_uint_eq(th_ports_in_use(v.sim, v.be), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(v.sim, v.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(v.sim);
}
END_TEST

START_TEST(attack_needs_a_connected_device)
{
    struct env e = { 0 };
    e.sim = xbt_sim_new();
    e.hostile = xbt_guest(e.sim, "hostile");
    e.kind = XENSIM_HOSTILE_EVENT_STORM;
    xbt_run(e.sim, e.hostile, hostile_up, &e);
    xbt_run(e.sim, e.hostile, attack_fn, &e);
    ck_assert_int_eq(e.rc, -ENODEV);
    e.kind = XENSIM_HOSTILE_KINDS;
    xbt_run(e.sim, e.hostile, attack_fn, &e);
    ck_assert_int_eq(e.rc, -EINVAL);
    e.kind = XENSIM_HOSTILE_MADE_UP_IDS;       /* a back end's kind */
    xbt_run(e.sim, e.hostile, attack_fn, &e);
    ck_assert_int_eq(e.rc, -EINVAL);
    xbt_run(e.sim, e.hostile, hostile_down, &e);
    xbt_sim_free(e.sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hostile_peers");
    TCase *tc = tcase_create("vbd");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, names_round_trip);
    tcase_add_loop_test(tc, hostile_front_every_kind, 0, XENSIM_HOSTILE_MADE_UP_IDS);
    tcase_add_loop_test(tc, hostile_back_every_kind, 0,
                        (int)(sizeof(back_kinds) / sizeof(back_kinds[0])));
    tcase_add_test(tc, hostile_back_never_answers);
    tcase_add_test(tc, hostile_back_refuses_a_front_kind);
    tcase_add_loop_test(tc, hostile_vif_front, 0, (int)(sizeof(vif_kinds) / sizeof(vif_kinds[0])));
    tcase_add_test(tc, attack_needs_a_connected_device);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
