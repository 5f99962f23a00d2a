/*
 * Helpers for the XenStore suites: a daemon with a few introduced
 * domains and in-process connections, request/reply shorthands, and the
 * teardown leak check.
 */
#ifndef XS_TEST_H
#define XS_TEST_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "xs_internal.h"

#define XT_NCONN 4

struct xt {
    struct xs_daemon *xs;
    struct xs_conn *c[XT_NCONN];         /* dom0, dom1, dom2, dom3 */
    unsigned long base_nodes;
};

/* /local/domain/<domid> (dom0's, readable by the domain) with its domid
 * and name, as the toolstack makes it, here in one implicit transaction
 * inside the daemon: these suites run it without a toolstack. */
static inline int xt_home(struct xs_daemon *xs, domid_t domid, const char *name)
{
    struct xs_permissions p[2] = { { 0, XS_PERM_NONE }, { domid, XS_PERM_READ } };
    struct xs_conn *self = xs_conn_new(xs, XS_CONN_LOCAL, 0, NULL, NULL);
    char path[64], val[16];
    struct xs_tx *tx;
    int err;

    XS_CHECK(pthread_mutex_lock(&xs->lock));
    tx = xs_tx_new(self, 0, true);
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    err = xs_tx_write(tx, path, "", 0, true);
    if (!err)
        err = xs_tx_set_perms(tx, path, p, domid ? 2 : 1);
    snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
    if (!err)
        err = xs_tx_write(tx, path, val, snprintf(val, sizeof(val), "%u", domid), false);
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    if (!err)
        err = xs_tx_write(tx, path, name, strlen(name), false);
    if (!err)
        err = xs_tx_commit(tx);
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    xs_tx_free(tx);
    xs_conn_free(self);
    return err;
}

/* Daemon (no rings) with domains 1..3 introduced and their homes made. */
static inline void xt_setup(struct xt *t, const struct xs_daemon_config *cfg)
{
    struct xs_daemon_config def = { .quiet = true };
    struct xensim_xenstored_stats st;

    t->xs = xs_daemon_create(cfg ? cfg : &def);
    ck_assert_ptr_nonnull(t->xs);
    ck_assert_int_eq(xt_home(t->xs, 0, "Domain-0"), 0);
    xs_daemon_stats(t->xs, &st);
    t->base_nodes = st.nodes;
    for (int i = 1; i < XT_NCONN; i++) {
        char name[8];

        snprintf(name, sizeof(name), "dom%d", i);
        ck_assert_int_eq(xs_daemon_introduce(t->xs, i, 100 + i, 10 + i), 0);
        ck_assert_int_eq(xt_home(t->xs, i, name), 0);
    }
    for (int i = 0; i < XT_NCONN; i++)
        t->c[i] = xs_local_open(t->xs, i);
}

/* Closes everything and checks nothing was left behind. */
static inline void xt_teardown(struct xt *t)
{
    struct xensim_xenstored_stats st;

    for (int i = 0; i < XT_NCONN; i++)
        if (t->c[i])
            xs_local_close(t->c[i]);
    for (int i = 0; i < XT_NCONN; i++)
        xs_daemon_release(t->xs, i);
    xs_daemon_stats(t->xs, &st);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.transactions, 0);
    ck_assert_uint_eq(st.conns, 0);
    ck_assert_uint_eq(st.domains, 0);
    xs_daemon_destroy(t->xs);
}

/* One request; returns the reply type and copies the body into buf. */
static inline uint32_t xt_req(struct xs_conn *c, uint32_t type, uint32_t tx,
                              const void *p, size_t len, char *buf, size_t size, int *rlen)
{
    struct xsd_sockmsg h;
    int n = xs_local_request(c, type, tx, p, len, &h, buf, size);

    ck_assert_int_ge(n, 0);
    if (rlen)
        *rlen = n;
    return h.type;
}

/* Shorthands with string payloads (the NUL of the literal is not sent
 * unless written in it). */
#define XT_P(s) s, sizeof(s) - 1

static inline void xt_expect(struct xs_conn *c, uint32_t type, uint32_t tx, const char *p,
                             size_t len, uint32_t rtype, const char *r, size_t rlen,
                             const char *where)
{
    char buf[8192];
    int n;
    uint32_t got = xt_req(c, type, tx, p, len, buf, sizeof(buf), &n);

    ck_assert_msg(got == rtype, "%s: reply type %u, wanted %u (body \"%s\")", where, got, rtype, buf);
    if (r) {
        ck_assert_msg((size_t)n == rlen && !memcmp(buf, r, rlen),
                      "%s: reply \"%.*s\" (%d bytes), wanted \"%.*s\" (%zu bytes)", where,
                      n, buf, n, (int)rlen, r, rlen);
    }
}

static inline void xt_write(struct xs_conn *c, const char *path, const char *val)
{
    char p[4096];
    size_t pl = strlen(path) + 1, vl = strlen(val);

    memcpy(p, path, pl);
    memcpy(p + pl, val, vl);
    xt_expect(c, XS_WRITE, 0, p, pl + vl, XS_WRITE, "OK", 3, path);
}

static inline int xt_read(struct xs_conn *c, uint32_t tx, const char *path, char *buf, size_t size)
{
    int n;
    uint32_t t = xt_req(c, XS_READ, tx, path, strlen(path) + 1, buf, size, &n);

    return t == XS_READ ? n : -1;
}

static inline void xt_drain_events(struct xs_conn *c)
{
    char buf[4096];

    while (xs_local_event(c, buf, sizeof(buf)) >= 0)
        ;
}

#endif
