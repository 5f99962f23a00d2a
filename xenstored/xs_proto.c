/*
 * Message dispatch: checks a request's arguments and permissions, runs it
 * on the store (directly for reads, through a transaction for changes)
 * and queues exactly one reply. Relies on every other xs_ module.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "xs_internal.h"

#define MAX_ARGS 8

const char *xs_errname(int err)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == -err)
            return xsd_errors[i].errstring;
    return "EINVAL";
}

struct req {
    struct xs_conn *c;
    const struct xsd_sockmsg *hdr;
    char *body;
    struct xs_tx *tx;
    int argc;
    char *argv[MAX_ARGS];
};

/* Splits the body into NUL-terminated strings; -1 if the last lacks its
 * NUL. Strings past MAX_ARGS are counted but not kept. */
static int split(struct req *r)
{
    uint32_t len = r->hdr->len;
    int n = 0;

    if (len && r->body[len - 1] != '\0')
        return -1;
    for (uint32_t i = 0; i < len; i += strlen(r->body + i) + 1) {
        if (n < MAX_ARGS)
            r->argv[n] = r->body + i;
        n++;
    }
    return n;
}

static int parse_domid(const char *s, domid_t *out)
{
    unsigned long v = 0;

    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (*s - '0');
        if (v >= XS_NR_DOMIDS)
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static void ok(struct req *r)
{
    xs_conn_reply(r->c, r->hdr, r->hdr->type, "OK", 3);
}

static int one_path(struct req *r, char *path)
{
    if (r->argc != 1)
        return -EINVAL;
    return xs_path_canon(r->c, r->argv[0], path, false);
}

/* Why a node the store lacks cannot be had: ENOENT only if the nearest
 * ancestor grants the access asked for. Under the RCU read lock. */
static int missing(struct xs_conn *c, const char *path, unsigned int perm)
{
    char up[XS_PATH_BUF];
    struct xs_node *n = NULL;

    strcpy(up, path);
    while (!n) {
        xs_path_parent(up, up);
        n = xs_tree_lookup(&c->xs->tree, up);
    }
    struct xs_data *d = rcu_dereference(n->data);
    return xs_perm_for(c, d->perms, d->nperms) & perm ? -ENOENT : -EACCES;
}

/* The node's view for a read, in or out of a transaction. */
struct view {
    uint64_t gen;
    const struct xs_permissions *perms;
    unsigned int nperms, vlen, nkids;
    const char *value;
    struct xs_kids *kids;                /* store view */
    char **tkids;                        /* transaction view */
};

static const char *kid_name(const struct view *v, unsigned int i)
{
    return v->kids ? v->kids->kid[i]->name : v->tkids[i];
}

/* Under the RCU read lock. */
static int get_view(struct req *r, const char *path, unsigned int perm, struct view *v)
{
    memset(v, 0, sizeof(*v));
    if (r->tx) {
        int err;
        struct xs_tnode *t = xs_tx_get(r->tx, path, &err);

        if (!t)
            return err ? err : xs_tx_missing(r->tx, path, perm);
        v->gen = t->check_gen;
        v->perms = t->perms;
        v->nperms = t->nperms;
        v->value = t->value;
        v->vlen = t->vlen;
        v->nkids = t->nkids;
        v->tkids = t->kids;
    } else {
        struct xs_node *n = xs_tree_lookup(&r->c->xs->tree, path);
        struct xs_data *d;

        if (!n)
            return missing(r->c, path, perm);
        d = rcu_dereference(n->data);
        v->gen = d->gen;
        v->perms = d->perms;
        v->nperms = d->nperms;
        v->value = d->value;
        v->vlen = d->vlen;
        v->kids = rcu_dereference(n->kids);
        v->nkids = v->kids ? v->kids->n : 0;
    }
    if (!(xs_perm_for(r->c, v->perms, v->nperms) & perm))
        return -EACCES;
    return 0;
}

static int do_read(struct req *r)
{
    char path[XS_PATH_BUF];
    struct view v;
    int err = one_path(r, path);

    if (err)
        return err;
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    if (!err)
        xs_conn_reply(r->c, r->hdr, XS_READ, v.value, v.vlen);
    urcu_bp_read_unlock();
    return err;
}

static int do_get_perms(struct req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX + 64];
    struct view v;
    int err;

    if (r->argc != 1)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, true);
    if (err)
        return err;
    if (path[0] == '@') {
        struct xs_daemon *xs = r->c->xs;
        int i = xs_special_index(path);

        XS_CHECK(pthread_mutex_lock(&xs->lock));
        err = xs_perms_format(xs->special_perms[i], xs->special_nperms[i], out, sizeof(out));
        XS_CHECK(pthread_mutex_unlock(&xs->lock));
        xs_conn_reply(r->c, r->hdr, XS_GET_PERMS, out, err);
        return 0;
    }
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    if (!err)
        err = xs_perms_format(v.perms, v.nperms, out, sizeof(out));
    urcu_bp_read_unlock();
    if (err < 0)
        return err;
    xs_conn_reply(r->c, r->hdr, XS_GET_PERMS, out, err);
    return 0;
}

static int do_directory(struct req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX + XS_PATH_BUF];
    size_t off = 0;
    struct view v;
    int err = one_path(r, path);

    if (err)
        return err;
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    for (unsigned int i = 0; !err && i < v.nkids; i++) {
        const char *name = kid_name(&v, i);
        size_t l = strlen(name) + 1;

        if (off + l > XENSTORE_PAYLOAD_MAX)
            err = -E2BIG;
        else
            memcpy(out + off, name, l);
        off += l;
    }
    urcu_bp_read_unlock();
    if (!err)
        xs_conn_reply(r->c, r->hdr, XS_DIRECTORY, out, off);
    return err;
}

static int do_directory_part(struct req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX + XS_PATH_BUF], *end;
    unsigned long want;
    size_t off, pos = 0;
    struct view v;
    int err;

    if (r->argc != 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, false);
    want = strtoul(r->argv[1], &end, 10);
    if (err || !*r->argv[1] || *end)
        return -EINVAL;
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    if (!err) {
        unsigned int i = 0;

        off = snprintf(out, sizeof(out), "%llu", (unsigned long long)v.gen) + 1;
        for (; i < v.nkids; i++) {
            size_t l = strlen(kid_name(&v, i)) + 1;

            if (pos >= want)
                break;
            pos += l;
        }
        if (pos != want && !(i == v.nkids && pos == want))
            err = -EINVAL;
        for (; !err && i < v.nkids; i++) {
            const char *name = kid_name(&v, i);
            size_t l = strlen(name) + 1;

            if (off + l + 1 > XENSTORE_PAYLOAD_MAX)
                break;
            memcpy(out + off, name, l);
            off += l;
        }
        if (!err && i == v.nkids)
            out[off++] = '\0';
    }
    urcu_bp_read_unlock();
    if (!err)
        xs_conn_reply(r->c, r->hdr, XS_DIRECTORY_PART, out, off);
    return err;
}

/* Runs a change in the request's transaction, or in one of its own
 * committed at once. */
static int change(struct req *r, int (*fn)(struct xs_tx *, void *), void *arg)
{
    struct xs_daemon *xs = r->c->xs;
    struct xs_tx *tx;
    int err;

    if (r->tx)
        return fn(r->tx, arg);
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    tx = xs_tx_new(r->c, 0, true);
    err = fn(tx, arg);
    if (!err)
        err = xs_tx_commit(tx);
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    xs_tx_free(tx);
    return err;
}

struct write_args {
    const char *path, *val;
    unsigned int vlen;
    bool mkdir;
    const struct xs_permissions *perms;
    unsigned int nperms;
};

static int write_fn(struct xs_tx *tx, void *arg)
{
    struct write_args *a = arg;

    return xs_tx_write(tx, a->path, a->val, a->vlen, a->mkdir);
}

static int rm_fn(struct xs_tx *tx, void *arg)
{
    return xs_tx_rm(tx, ((struct write_args *)arg)->path);
}

static int set_perms_fn(struct xs_tx *tx, void *arg)
{
    struct write_args *a = arg;

    return xs_tx_set_perms(tx, a->path, a->perms, a->nperms);
}

static int do_write(struct req *r)
{
    char path[XS_PATH_BUF];
    size_t plen = strnlen(r->body, r->hdr->len);
    struct write_args a = { .path = path };
    int err;

    if (plen == r->hdr->len)
        return -EINVAL;
    err = xs_path_canon(r->c, r->body, path, false);
    if (err)
        return err;
    a.val = r->body + plen + 1;
    a.vlen = r->hdr->len - plen - 1;
    err = change(r, write_fn, &a);
    if (!err)
        ok(r);
    return err;
}

static int do_mkdir(struct req *r)
{
    char path[XS_PATH_BUF];
    struct write_args a = { .path = path, .val = "", .mkdir = true };
    int err = one_path(r, path);

    if (!err)
        err = change(r, write_fn, &a);
    if (!err)
        ok(r);
    return err;
}

static int do_rm(struct req *r)
{
    char path[XS_PATH_BUF];
    struct write_args a = { .path = path };
    int err = one_path(r, path);

    if (!err)
        err = change(r, rm_fn, &a);
    if (!err)
        ok(r);
    return err;
}

static int do_set_perms(struct req *r)
{
    char path[XS_PATH_BUF];
    struct xs_permissions p[XS_MAX_PERMS];
    struct write_args a = { .path = path, .perms = p };
    size_t plen;
    int err;

    if (r->argc < 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, true);
    if (err)
        return err;
    plen = strlen(r->argv[0]) + 1;
    err = xs_perms_parse(r->body + plen, r->hdr->len - plen, p, XS_MAX_PERMS, &a.nperms);
    if (err)
        return err == -ENOSPC && !xs_quota_exempt(r->c) ? -ENOSPC : -EINVAL;
    if (path[0] == '@') {
        struct xs_daemon *xs = r->c->xs;
        int i = xs_special_index(path);

        if (!r->c->privileged)
            return -EACCES;
        XS_CHECK(pthread_mutex_lock(&xs->lock));
        memcpy(xs->special_perms[i], p, a.nperms * sizeof(p[0]));
        xs->special_nperms[i] = a.nperms;
        XS_CHECK(pthread_mutex_unlock(&xs->lock));
    } else {
        err = change(r, set_perms_fn, &a);
    }
    if (!err)
        ok(r);
    return err;
}

static int do_watch(struct req *r)
{
    char path[XS_PATH_BUF];
    int err;

    if (r->argc != 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, true);
    if (err)
        return err;
    err = xs_watch_add(r->c, path, r->argv[1], path[0] != '@' && r->argv[0][0] != '/');
    if (err)
        return err;
    ok(r);
    xs_conn_event(r->c, r->argv[0], r->argv[1]);
    return 0;
}

static int do_unwatch(struct req *r)
{
    char path[XS_PATH_BUF];
    int err;

    if (r->argc != 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, true);
    if (!err)
        err = xs_watch_del(r->c, path, r->argv[1]);
    if (!err)
        ok(r);
    return err;
}

static int do_transaction_start(struct req *r)
{
    struct xs_conn *c = r->c;
    struct xs_daemon *xs = c->xs;
    struct xs_tx *tx;
    char out[16];

    if (r->hdr->tx_id)
        return xs_conn_tx(c, r->hdr->tx_id) ? -EBUSY : -ENOENT;
    if (!xs_quota_exempt(c) && c->nr_txs >= xs->quota.transactions)
        return -ENOSPC;
    while (c->next_txid == 0 || xs_conn_tx(c, c->next_txid))
        c->next_txid++;
    tx = xs_tx_new(c, c->next_txid++, false);
    cds_list_add_tail(&tx->link, &c->txs);
    c->nr_txs++;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    xs->nr_txs++;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    xs_conn_reply(c, r->hdr, XS_TRANSACTION_START, out,
                  snprintf(out, sizeof(out), "%u", tx->id) + 1);
    return 0;
}

static int do_transaction_end(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    int err = 0;

    if (!r->tx)
        return -ENOENT;
    if (r->argc != 1 || (strcmp(r->argv[0], "T") && strcmp(r->argv[0], "F")))
        return -EINVAL;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    if (r->argv[0][0] == 'T')
        err = xs_tx_commit(r->tx);
    xs->nr_txs--;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    cds_list_del(&r->tx->link);
    r->c->nr_txs--;
    xs_tx_free(r->tx);
    r->tx = NULL;
    if (!err)
        ok(r);
    return err;
}

static int do_introduce(struct req *r)
{
    domid_t domid;
    char *end;
    unsigned long gfn, port;
    int err;

    if (r->argc < 3 || parse_domid(r->argv[0], &domid))
        return -EINVAL;
    gfn = strtoul(r->argv[1], &end, 10);
    if (!*r->argv[1] || *end)
        return -EINVAL;
    port = strtoul(r->argv[2], &end, 10);
    if (!*r->argv[2] || *end || port == 0 || port > UINT32_MAX)
        return -EINVAL;
    err = xs_daemon_introduce(r->c->xs, domid, gfn, port);
    if (!err)
        ok(r);
    return err;
}

static int domid_arg(struct req *r, domid_t *d)
{
    if (r->argc != 1)
        return -EINVAL;
    return parse_domid(r->argv[0], d);
}

static int do_release(struct req *r)
{
    domid_t d;
    int err = domid_arg(r, &d);

    if (!err)
        err = xs_daemon_release(r->c->xs, d);
    if (!err)
        ok(r);
    return err;
}

static int do_is_domain_introduced(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    domid_t d;
    bool in;
    int err = domid_arg(r, &d);

    if (err)
        return err;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    in = xs_domain_find(xs, d) != NULL;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    xs_conn_reply(r->c, r->hdr, r->hdr->type, in ? "T" : "F", 2);
    return 0;
}

static int do_get_domain_path(struct req *r)
{
    char out[32];
    domid_t d;
    int err = domid_arg(r, &d);

    if (err)
        return err;
    xs_conn_reply(r->c, r->hdr, r->hdr->type, out,
                  snprintf(out, sizeof(out), "/local/domain/%u", d) + 1);
    return 0;
}

static int do_resume(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    struct xs_domain *dom;
    domid_t d;
    int err = domid_arg(r, &d);

    if (err)
        return err;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    dom = xs_domain_find(xs, d);
    if (dom)
        dom->shutdown_seen = false;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    if (!dom)
        return -ENOENT;
    ok(r);
    return 0;
}

static int do_set_target(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    domid_t d, t;
    bool found;

    if (r->argc != 2 || parse_domid(r->argv[0], &d) || parse_domid(r->argv[1], &t))
        return -EINVAL;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    found = xs_domain_find(xs, d) && xs_domain_find(xs, t);
    if (found)
        xs->target[d] = t;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    if (!found)
        return -ENOENT;
    ok(r);
    return 0;
}

static int do_reset_watches(struct req *r)
{
    struct xs_conn *c = r->c;
    struct xs_tx *tx, *tmp;

    XS_CHECK(pthread_mutex_lock(&c->xs->lock));
    xs_watch_drop_conn(c);
    c->xs->nr_txs -= c->nr_txs;
    XS_CHECK(pthread_mutex_unlock(&c->xs->lock));
    cds_list_for_each_entry_safe(tx, tmp, &c->txs, link) {
        cds_list_del(&tx->link);
        xs_tx_free(tx);
    }
    c->nr_txs = 0;
    ok(r);
    return 0;
}

static int do_control(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    char out[XENSTORE_PAYLOAD_MAX];
    int n;

    if (r->argc < 1 || r->argc > MAX_ARGS)
        return -EINVAL;
    if (!strcmp(r->argv[0], "log")) {
        if (r->argc == 2 && (!strcmp(r->argv[1], "on") || !strcmp(r->argv[1], "off")))
            xs->log = r->argv[1][1] == 'n';
        else if (r->argc != 1)
            return -EINVAL;
        ok(r);
        return 0;
    }
    if (!strcmp(r->argv[0], "print")) {
        if (r->argc != 2)
            return -EINVAL;
        xs_log(xs, "print: %s", r->argv[1]);
        ok(r);
        return 0;
    }
    if (!strcmp(r->argv[0], "quota")) {
        n = xs_quota_control(xs, r->argv + 1, r->argc - 1, out, sizeof(out));
        if (n < 0)
            return n;
        xs_conn_reply(r->c, r->hdr, r->hdr->type, out, n);
        return 0;
    }
    if (!strcmp(r->argv[0], "help")) {
        static const char help[] = "log [on|off]\nprint <string>\nquota [<name> <value>|<domid>]\n";

        xs_conn_reply(r->c, r->hdr, r->hdr->type, help, sizeof(help));
        return 0;
    }
    return -EINVAL;
}

static const struct {
    int (*fn)(struct req *r);
    bool privileged;
    bool uses_tx;
} ops[XS_TYPE_COUNT] = {
    [XS_CONTROL] = { do_control, true, false },
    [XS_DIRECTORY] = { do_directory, false, true },
    [XS_READ] = { do_read, false, true },
    [XS_GET_PERMS] = { do_get_perms, false, true },
    [XS_WATCH] = { do_watch, false, false },
    [XS_UNWATCH] = { do_unwatch, false, false },
    [XS_TRANSACTION_START] = { do_transaction_start, false, false },
    [XS_TRANSACTION_END] = { do_transaction_end, false, true },
    [XS_INTRODUCE] = { do_introduce, true, false },
    [XS_RELEASE] = { do_release, true, false },
    [XS_GET_DOMAIN_PATH] = { do_get_domain_path, false, false },
    [XS_WRITE] = { do_write, false, true },
    [XS_MKDIR] = { do_mkdir, false, true },
    [XS_RM] = { do_rm, false, true },
    [XS_SET_PERMS] = { do_set_perms, false, true },
    [XS_IS_DOMAIN_INTRODUCED] = { do_is_domain_introduced, true, false },
    [XS_RESUME] = { do_resume, true, false },
    [XS_SET_TARGET] = { do_set_target, true, false },
    [XS_RESET_WATCHES] = { do_reset_watches, false, false },
    [XS_DIRECTORY_PART] = { do_directory_part, false, true },
};

void xs_proto_dispatch(struct xs_conn *c, const struct xsd_sockmsg *hdr, char *body)
{
    struct req r = { .c = c, .hdr = hdr, .body = body };
    int err;

    if (c->xs->log)
        xs_log(c->xs, "dom%u IN type %u tx %u len %u", c->domid, hdr->type, hdr->tx_id, hdr->len);
    if (hdr->type >= XS_TYPE_COUNT || !ops[hdr->type].fn) {
        err = -ENOSYS;
    } else if (ops[hdr->type].privileged && !c->privileged) {
        err = -EACCES;
    } else if (hdr->type != XS_WRITE && (r.argc = split(&r)) < 0) {
        err = -EINVAL;
    } else if (ops[hdr->type].uses_tx && hdr->tx_id &&
               !(r.tx = xs_conn_tx(c, hdr->tx_id))) {
        err = -ENOENT;
    } else {
        err = ops[hdr->type].fn(&r);
    }
    if (err)
        xs_conn_error(c, hdr, err);
}
