/*
 * fz_xs_daemon.h over the daemon's API (xenstored/xs_daemon.h) and, for
 * the per-domain quota counts the leak check compares, its accounting
 * (xs_internal.h). The only file of fuzz_xenstored_wire that knows them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include "xs_internal.h"
#include "fz.h"
#include "fz_xs_daemon.h"

#define FZXS_MAX_GUESTS 4
#define XS_NR_GUESTS_NAMES FZXS_MAX_GUESTS

/* A node of the new daemon's tree that dom0 may change but not remove
 * for good: its value and permissions as they were. */
struct fzxs_node {
    const char *path;
    char value[64];
    int vlen;
    char perms[128];
    int plen;
};

struct fzxs {
    struct xs_daemon *xs;
    struct xensim *sim;                  /* a simulator's rings, or NULL */
    struct xs_hostdev *hd;
    void *ring[FZXS_MAX_GUESTS];         /* each guest's store page */
    unsigned long gfn[FZXS_MAX_GUESTS];
    uint32_t port[FZXS_MAX_GUESTS];
    struct xs_quota quota;
    unsigned int special_nperms[2];
    struct xs_permissions special_perms[2][4];
    struct fzxs_node keep[5];
    unsigned int nr;
    domid_t guest[FZXS_MAX_GUESTS];
    char sock[FZXS_MAX_GUESTS + 1][108];
    struct xensim_xenstored_stats base;
    uint64_t gen;                        /* the tree's generation when last clean */
    struct xs_dom_acct acct[FZXS_MAX_GUESTS];
};

/* One request on an in-process dom0 connection: the reply's length (its
 * body in reply, NUL-terminated), or -1 for an error reply. b, blen: what
 * follows a's NUL (blen < 0: b is a string with its NUL). */
static int dom0_req(struct xs_conn *c, uint32_t type, const char *a, const char *b, int blen,
                    char *reply, size_t size)
{
    char payload[XENSTORE_PAYLOAD_MAX];
    size_t la = strlen(a) + 1, lb = !b ? 0 : blen < 0 ? strlen(b) + 1 : (size_t)blen;
    struct xsd_sockmsg h;

    FZ_CHECK(la + lb <= sizeof(payload), "request too long");
    memcpy(payload, a, la);
    if (b)
        memcpy(payload + la, b, lb);
    int n = xs_local_request(c, type, 0, payload, la + lb, &h, reply, size);
    FZ_CHECK(n >= 0, "dom0 request on %s: %d", a, n);
    return h.type == XS_ERROR ? -1 : n;
}

/* The same, which must not fail. */
static void dom0_request(struct xs_conn *c, uint32_t type, const char *a, const char *b)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    FZ_CHECK(dom0_req(c, type, a, b, -1, reply, sizeof(reply)) >= 0, "setting up %s: %s", a,
             reply);
}

/* The home a toolstack makes (owner dom0, readable by the domain, its
 * domid and name), and a directory "data" the domain owns. */
static void make_home(struct fzxs *x, domid_t d)
{
    char path[64], val[16], perms[32], reply[64];
    int plen;

    struct xs_conn *c = xs_local_open(x->xs, 0);
    FZ_CHECK(c, "dom0 connection");
    snprintf(path, sizeof(path), "/local/domain/%u", d);
    dom0_request(c, XS_MKDIR, path, NULL);
    plen = snprintf(perms, sizeof(perms), "n0%cr%u", 0, d) + 1;
    FZ_CHECK(dom0_req(c, XS_SET_PERMS, path, perms, plen, reply, sizeof(reply)) >= 0,
             "permissions of %s", path);
    snprintf(path, sizeof(path), "/local/domain/%u/domid", d);
    FZ_CHECK(dom0_req(c, XS_WRITE, path, val, snprintf(val, sizeof(val), "%u", d), reply,
                      sizeof(reply)) >= 0, "writing %s", path);
    snprintf(path, sizeof(path), "/local/domain/%u/name", d);
    FZ_CHECK(dom0_req(c, XS_WRITE, path, "guest", 5, reply, sizeof(reply)) >= 0, "writing %s",
             path);
    snprintf(path, sizeof(path), "/local/domain/%u/data", d);
    snprintf(val, sizeof(val), "n%u", d);
    dom0_request(c, XS_MKDIR, path, NULL);
    dom0_request(c, XS_SET_PERMS, path, val);
    xs_local_close(c);
}

static void take_baseline(struct fzxs *x);

struct fzxs *fzxs_new(const char *dir, const domid_t *guests, unsigned int nr_guests)
{
    struct fzxs *x = calloc(1, sizeof(*x));
    FZ_CHECK(x && nr_guests <= FZXS_MAX_GUESTS, "fzxs_new");
    struct xs_daemon_config cfg = { .quiet = true };
    x->xs = xs_daemon_create(&cfg);
    FZ_CHECK(x->xs, "xs_daemon_create");
    x->nr = nr_guests;
    snprintf(x->sock[0], sizeof(x->sock[0]), "%s/dom0", dir);
    FZ_CHECK(xs_daemon_listen(x->xs, x->sock[0]) == 0, "listen on %s", x->sock[0]);
    for (unsigned int i = 0; i < nr_guests; i++) {
        x->guest[i] = guests[i];
        snprintf(x->sock[i + 1], sizeof(x->sock[i + 1]), "%s/dom%u", dir, guests[i]);
        FZ_CHECK(xs_daemon_listen_as(x->xs, x->sock[i + 1], guests[i]) == 0, "listen on %s",
                 x->sock[i + 1]);
    }
    FZ_CHECK(xs_daemon_start(x->xs) == 0, "xs_daemon_start");
    for (unsigned int i = 0; i < nr_guests; i++) {
        FZ_CHECK(xs_daemon_introduce(x->xs, guests[i], 0, 0) == 0, "introduce dom%u", guests[i]);
        make_home(x, guests[i]);
    }
    take_baseline(x);
    return x;
}

static void take_baseline(struct fzxs *x)
{
    xs_daemon_stats(x->xs, &x->base);
    for (unsigned int i = 0; i < x->nr; i++)
        x->acct[i] = *xs_acct(x->xs, x->guest[i]);
    /* What dom0 may change without making nodes or domains. */
    x->quota = x->xs->quota;
    for (unsigned int i = 0; i < 2; i++) {
        FZ_CHECK(x->xs->special_nperms[i] <= 4, "special perms");
        x->special_nperms[i] = x->xs->special_nperms[i];
        memcpy(x->special_perms[i], x->xs->special_perms[i],
               x->special_nperms[i] * sizeof(x->special_perms[i][0]));
    }
    static const char *const keep[5] = { "/", "/tool", "/tool/xenstored", "/local",
                                         "/local/domain" };
    struct xs_conn *c = xs_local_open(x->xs, 0);
    FZ_CHECK(c, "dom0 connection");
    for (unsigned int i = 0; i < 5; i++) {
        struct fzxs_node *k = &x->keep[i];
        k->path = keep[i];
        k->vlen = dom0_req(c, XS_READ, k->path, NULL, 0, k->value, sizeof(k->value));
        k->plen = dom0_req(c, XS_GET_PERMS, k->path, NULL, 0, k->perms, sizeof(k->perms));
        FZ_CHECK(k->vlen >= 0 && k->plen >= 0, "baseline of %s", k->path);
    }
    xs_local_close(c);
    x->gen = uatomic_read(&x->xs->tree.gen);
}

struct fzxs *fzxs_new_sim(struct xensim *sim)
{
    struct fzxs *x = calloc(1, sizeof(*x));
    FZ_CHECK(x, "fzxs_new_sim");
    x->sim = sim;
    x->hd = xs_hostdev_open(sim);
    FZ_CHECK(x->hd, "xs_hostdev_open");
    struct xs_daemon_config cfg = { .ring_ops = &xs_hostdev_ops, .ring_ctx = x->hd, .quiet = true };
    x->xs = xs_daemon_create(&cfg);
    FZ_CHECK(x->xs, "xs_daemon_create");
    FZ_CHECK(xs_daemon_start(x->xs) == 0, "xs_daemon_start");
    /* The baseline is taken when a guest is adopted: until then there
     * is no /local. */
    return x;
}

void fzxs_adopt(struct fzxs *x, domid_t domid, void *ring_page)
{
    struct xensim_domain_info info;

    FZ_CHECK(x->nr < FZXS_MAX_GUESTS, "too many guests");
    FZ_CHECK(xensim_domain_info(x->sim, domid, &info) == 0, "dom%u", domid);
    unsigned int i = x->nr++;
    x->guest[i] = domid;
    x->ring[i] = ring_page;
    x->gfn[i] = info.store_pfn;
    x->port[i] = info.store_port;
    FZ_CHECK(xs_daemon_introduce(x->xs, domid, x->gfn[i], x->port[i]) == 0, "introduce dom%u",
             domid);
    make_home(x, domid);
    take_baseline(x);
}

void fzxs_free(struct fzxs *x)
{
    xs_daemon_destroy(x->xs);
    if (x->hd)
        xs_hostdev_close(x->hd);
    free(x);
}

const char *fzxs_socket(const struct fzxs *x, unsigned int which)
{
    return x->sock[which];
}

/* Waits, a loop round at a time (a call the loop runs between rounds:
 * introducing an introduced domain without a ring changes nothing), until
 * the daemon holds no more connections than when new. A closed socket is
 * seen in the next round, or later if its domain was stalled on its
 * quota of outstanding replies, so the wait is bounded, not exact. */
void fzxs_sync(struct fzxs *x)
{
    struct xensim_xenstored_stats st;
    for (int round = 0;; round++) {
        FZ_CHECK(xs_daemon_introduce(x->xs, x->guest[0], 0, 0) == 0, "sync");
        xs_daemon_stats(x->xs, &st);
        if (st.conns <= x->base.conns)
            return;
        FZ_CHECK(round < 1000, "xenstored keeps %lu connections whose sockets were closed",
                 st.conns - x->base.conns);
    }
}

/* A call runs on the loop between rounds: the first may come before the
 * rings that round serves (calls are taken as their events come, rings
 * after), the second comes after. Releasing a domain that was never
 * introduced changes nothing. */
void fzxs_barrier(struct fzxs *x)
{
    for (int i = 0; i < 2; i++)
        FZ_CHECK(xs_daemon_release(x->xs, DOMID_FIRST_RESERVED - 1) == -ENOENT, "barrier");
}

bool fzxs_changed(struct fzxs *x)
{
    struct xensim_xenstored_stats st;
    xs_daemon_stats(x->xs, &st);
    return uatomic_read(&x->xs->tree.gen) != x->gen || st.nodes != x->base.nodes ||
           st.watches != x->base.watches || st.transactions != x->base.transactions ||
           st.domains != x->base.domains;
}

void fzxs_reset_guests(struct fzxs *x)
{
    for (unsigned int i = 0; i < x->nr; i++)
        FZ_CHECK(xs_daemon_release(x->xs, x->guest[i]) == 0, "release dom%u", x->guest[i]);
    for (unsigned int i = 0; i < x->nr; i++) {
        /* A builder hands a domain a clean store page. */
        if (x->ring[i])
            memset(x->ring[i], 0, 4096);
        FZ_CHECK(xs_daemon_introduce(x->xs, x->guest[i], x->gfn[i], x->port[i]) == 0,
                 "introduce dom%u", x->guest[i]);
        make_home(x, x->guest[i]);
    }
    x->gen = uatomic_read(&x->xs->tree.gen);
}

static bool fzxs_is_guest(const struct fzxs *x, unsigned int d)
{
    for (unsigned int i = 0; i < x->nr; i++)
        if (x->guest[i] == d)
            return true;
    return false;
}

/* Removes every child of path but those named in keep. */
static void prune(struct xs_conn *c, const char *path, const char *const *keep, unsigned int nk)
{
    char names[XENSTORE_PAYLOAD_MAX + 1], child[XS_PATH_BUF];
    int n = dom0_req(c, XS_DIRECTORY, path, NULL, 0, names, sizeof(names));
    for (int at = 0; n > 0 && at < n; at += (int)strlen(names + at) + 1) {
        const char *name = names + at;
        bool kept = false;
        for (unsigned int i = 0; i < nk; i++)
            kept |= !strcmp(keep[i], name);
        if (kept)
            continue;
        char reply[64];
        snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "", name);
        dom0_req(c, XS_RM, child, NULL, 0, reply, sizeof(reply));
    }
}

void fzxs_reset_all(struct fzxs *x)
{
    struct xs_daemon *xs = x->xs;
    domid_t extra[64];
    unsigned int nextra = 0;
    struct xs_domain *d;

    /* Domains dom0 introduced go; the guests are made again below. */
    xensim_mutex_lock(&xs->lock);
    cds_list_for_each_entry(d, &xs->domains, link)
        if (!fzxs_is_guest(x, d->domid) && nextra < 64)
            extra[nextra++] = d->domid;
    xs->quota = x->quota;
    xs->log = false;
    for (unsigned int i = 0; i < 2; i++) {
        xs->special_nperms[i] = x->special_nperms[i];
        memcpy(xs->special_perms[i], x->special_perms[i],
               x->special_nperms[i] * sizeof(x->special_perms[i][0]));
    }
    xensim_mutex_unlock(&xs->lock);
    for (unsigned int i = 0; i < nextra; i++)
        xs_daemon_release(xs, extra[i]);
    /* Every node the new daemon did not have, and the ones it had as
     * they were. */
    struct xs_conn *c = xs_local_open(xs, 0);
    FZ_CHECK(c, "dom0 connection");
    static const char *const top[] = { "tool", "local" }, *const tool[] = { "xenstored" },
                             *const local[] = { "domain" };
    prune(c, "/", top, 2);
    prune(c, "/tool", tool, 1);
    prune(c, "/tool/xenstored", NULL, 0);
    prune(c, "/local", local, 1);
    char ids[XS_NR_GUESTS_NAMES][8];
    const char *guests[XS_NR_GUESTS_NAMES];
    for (unsigned int i = 0; i < x->nr; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%u", x->guest[i]);
        guests[i] = ids[i];
    }
    prune(c, "/local/domain", guests, x->nr);
    for (unsigned int i = 0; i < 5; i++) {
        const struct fzxs_node *k = &x->keep[i];
        char reply[64];
        dom0_req(c, XS_WRITE, k->path, k->value, k->vlen, reply, sizeof(reply));
        dom0_req(c, XS_SET_PERMS, k->path, k->perms, k->plen, reply, sizeof(reply));
    }
    xs_local_close(c);
    fzxs_reset_guests(x);
}

void fzxs_expect_clean(struct fzxs *x, const char *when)
{
    struct xensim_xenstored_stats st;

    xs_daemon_stats(x->xs, &st);
#define FZXS_SAME(f)                                                          \
    FZ_CHECK(st.f == x->base.f, "%s: xenstored holds %lu " #f ", %lu when new", when, st.f,    \
             x->base.f)
    FZXS_SAME(nodes);
    FZXS_SAME(watches);
    FZXS_SAME(transactions);
    FZXS_SAME(conns);
    FZXS_SAME(domains);
#undef FZXS_SAME
    for (unsigned int i = 0; i < x->nr; i++) {
        const struct xs_dom_acct *a = xs_acct(x->xs, x->guest[i]), *b = &x->acct[i];
        FZ_CHECK(a->conns == b->conns && a->watches == b->watches && a->txs == b->txs &&
                 uatomic_read(&a->outstanding) == b->outstanding &&
                 uatomic_read(&a->memory) == b->memory,
                 "%s: dom%u counts %u connections, %u watches, %u transactions, %d "
                 "outstanding, %ld bytes; %u, %u, %u, %d, %ld when new", when, x->guest[i],
                 a->conns, a->watches, a->txs, uatomic_read(&a->outstanding),
                 uatomic_read(&a->memory), b->conns, b->watches, b->txs, b->outstanding,
                 b->memory);
    }
}
