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
    for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (xsd_errors[i].errnum == -err)
            return xsd_errors[i].errstring;
    return "EINVAL";
}

struct req {
    struct xs_conn *c;
    const struct xsd_sockmsg *hdr;
    char *body;
    struct xs_tx *tx;
    int argc;                            /* NUL-terminated strings: C's get_strings() */
    char *argv[MAX_ARGS];
};

/* Counts the NUL-terminated strings, as get_strings() and
 * xs_count_strings() do (bytes after the last NUL are not one); only the
 * first MAX_ARGS are kept. */
static int split(struct req *r)
{
    uint32_t len = r->hdr->len;
    int n = 0;

    for (uint32_t i = 0; i < len; i++) {
        if (n < MAX_ARGS && (i == 0 || r->body[i - 1] == '\0'))
            r->argv[n] = r->body + i;
        if (r->body[i] == '\0')
            n++;
    }
    return n;
}

/* onearg(): "The payload must contain exactly one nul, at the end." */
static const char *onearg(struct req *r)
{
    uint32_t len = r->hdr->len;

    return len && strlen(r->body) + 1 == len ? r->body : NULL;
}

/* Domain ids are read with atoi(): "abc" is 0, "-1" 4294967295, "5x" 5. */
static unsigned int atoi_id(const char *s)
{
    return (unsigned int)(int)strtol(s, NULL, 10);
}

/* dom0 is introduced from the start (dom0_init()). */
static bool introduced(struct xs_daemon *xs, unsigned int domid)
{
    bool in;

    if (domid == 0)
        return true;
    if (domid >= XS_NR_DOMIDS)
        return false;
    xensim_mutex_lock(&xs->lock);
    in = xs_domain_find(xs, domid) != NULL;
    xensim_mutex_unlock(&xs->lock);
    return in;
}

static void ok(struct req *r)
{
    xs_conn_reply(r->c, r->hdr, r->hdr->type, "OK", 3);
}

/*
 * READ, DIRECTORY, GET_PERMS, MKDIR and RM take onearg(). When it fails,
 * C xenstored 4.17 hands NULL to get_node_canonicalized(), which returns
 * without setting errno, so the reply is whatever error the daemon last
 * hit, on any connection (ENOMEM for MKDIR and RM after an ENOENT). That
 * is not a rule a client can rely on: it is answered EINVAL here.
 */
static int one_path(struct req *r, char *path)
{
    const char *arg = onearg(r);

    if (!arg)
        return -EINVAL;
    return xs_path_canon(r->c, arg, path, false);
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
    return xs_perm_for_data(c, rcu_dereference(n->data)) & perm ? -ENOENT : -EACCES;
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
        if (!(xs_perm_for(r->c, t->perms, t->nperms) & perm))
            return xs_tx_refused(r->tx, path);
        v->gen = t->gen;
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
        if (!(xs_perm_for_data(r->c, d) & perm))
            return -EACCES;
        v->gen = d->gen;
        v->perms = d->perms;
        v->nperms = d->nperms;
        v->value = d->value;
        v->vlen = d->vlen;
        v->kids = rcu_dereference(n->kids);
        v->nkids = v->kids ? v->kids->n : 0;
    }
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

/* "@introduceDomain" and "@releaseDomain" are not node names
 * (is_valid_nodename()): GET_PERMS on them is EINVAL. */
static int do_get_perms(struct req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX + 64];
    struct view v;
    int err = one_path(r, path);

    if (err)
        return err;
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

/* The children as C xenstored stores them: names with their NULs, in
 * the node's order. Returns the length, or more than size if it does
 * not fit. */
static size_t children(const struct view *v, char *out, size_t size)
{
    size_t off = 0;

    for (unsigned int i = 0; i < v->nkids; i++) {
        const char *name = kid_name(v, i);
        size_t l = strlen(name) + 1;

        if (off + l <= size)
            memcpy(out + off, name, l);
        off += l;
    }
    return off;
}

static int do_directory(struct req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX];
    size_t len = 0;
    struct view v;
    int err = one_path(r, path);

    if (err)
        return err;
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    if (!err)
        len = children(&v, out, sizeof(out));
    urcu_bp_read_unlock();
    if (err)
        return err;
    /* send_reply(): more than XENSTORE_PAYLOAD_MAX is E2BIG. */
    if (len > sizeof(out))
        return -E2BIG;
    xs_conn_reply(r->c, r->hdr, XS_DIRECTORY, out, len);
    return 0;
}

/*
 * send_directory_part(): "<path>\0<offset>\0"; the offset (atoi()) is a
 * byte offset into the child list, which may fall inside a name. The
 * reply is the node's generation, then the whole names from there that
 * fit ("len + strlen(child) < maxlen"), then one more NUL if the list
 * ended.
 */
static int do_directory_part(struct req *r)
{
    char path[XS_PATH_BUF], gen[24], *kids = NULL, *out;
    size_t childlen = 0, genlen, len = 0, maxlen;
    unsigned int off;
    struct view v;
    int err;

    if (r->argc != 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, false);
    if (err)
        return err;
    urcu_bp_read_lock();
    err = get_view(r, path, XS_PERM_READ, &v);
    if (!err) {
        childlen = children(&v, NULL, 0);
        kids = xs_alloc(childlen + 1);
        children(&v, kids, childlen);
    }
    urcu_bp_read_unlock();
    if (err)
        return err;
    off = (unsigned int)(int)strtol(r->argv[1], NULL, 10);
    genlen = snprintf(gen, sizeof(gen), "%llu", (unsigned long long)v.gen) + 1;
    out = xs_alloc(XENSTORE_PAYLOAD_MAX + 1);
    memcpy(out, gen, genlen);
    if (off >= childlen) {
        /* "Offset behind list: just return a list with an empty string." */
        len = 1;
    } else {
        maxlen = XENSTORE_PAYLOAD_MAX - genlen - 1;
        for (const char *child = kids + off; len + strlen(child) < maxlen;) {
            len += strlen(child) + 1;
            child += strlen(child) + 1;
            if (off + len == childlen)
                break;
        }
        memcpy(out + genlen, kids + off, len);
        if (off + len == childlen)
            out[genlen + len++] = '\0';
    }
    xs_conn_reply(r->c, r->hdr, XS_DIRECTORY_PART, out, genlen + len);
    free(out);
    free(kids);
    return 0;
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
    xensim_mutex_lock(&xs->lock);
    tx = xs_tx_new(r->c, 0, true);
    err = fn(tx, arg);
    if (!err)
        err = xs_tx_commit(tx);
    xensim_mutex_unlock(&xs->lock);
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

    int from = a->mkdir ? XS_STATE_UNCHECKED : xs_state_before(tx, a->path);
    int err = xs_tx_write(tx, a->path, a->val, a->vlen, a->mkdir);

    if (!err)
        xs_state_check(tx->conn, a->path, from, a->val, a->vlen);
    return err;
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

/* do_write(): "Extra "strings" can be created by binary data": the path
 * ends at the first NUL and every byte after it is the value. */
static int do_write(struct req *r)
{
    char path[XS_PATH_BUF];
    size_t plen;
    struct write_args a = { .path = path };
    int err;

    if (r->argc < 1)
        return -EINVAL;
    plen = strlen(r->body);
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

/*
 * do_set_perms(), in its order: at least a path and one entry; the
 * permission quota for unprivileged callers, before parsing; the
 * entries; entries naming no domain are ignored (domain_alloc_permrefs())
 * and an owner that is no domain is ENOENT, while a released domain the
 * hypervisor still has is one again, whatever the answer; then the special nodes,
 * which need write and owner rights on their own list; then the node.
 */
static int do_set_perms(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    struct xs_permissions *p;
    char path[XS_PATH_BUF];
    struct write_args a = { .path = path };
    unsigned int num;
    int err;

    if (r->argc < 2)
        return -EINVAL;
    num = r->argc - 1;
    if (!xs_quota_exempt(r->c) && num > xs->quota.perms)
        return -ENOSPC;
    if (num > XS_MAX_PERMS)
        return -EINVAL;                  /* some entry would be empty */
    p = xs_alloc(num * sizeof(*p));
    a.perms = p;
    err = xs_perms_parse(r->body + strlen(r->body) + 1, num, p);
    if (err)
        goto out;
    xensim_mutex_lock(&xs->lock);
    for (unsigned int i = 0; i < num; i++) {
        if (xs_domid_unknown(xs, p[i].id))
            p[i].perms |= XS_PERM_IGNORE;
        else
            xs_domid_revive(xs, p[i].id);
    }
    xensim_mutex_unlock(&xs->lock);
    err = -ENOENT;
    if (p[0].perms & XS_PERM_IGNORE)
        goto out;
    a.nperms = num;
    err = 0;
    if (r->body[0] == '@') {
        /* set_perms_special(). (4.17 answers a refusal here with the
         * last errno it set, as in one_path(); the error meant is given.) */
        int i = xs_special_index(r->body);
        const unsigned int need = XS_PERM_WRITE | XS_PERM_OWNER;

        err = -EINVAL;
        if (i < 0)
            goto out;
        err = 0;
        xensim_mutex_lock(&xs->lock);
        if ((xs_perm_for(r->c, xs->special_perms[i], xs->special_nperms[i]) & need) != need) {
            err = -EACCES;
        } else {
            memcpy(xs->special_perms[i], p, num * sizeof(p[0]));
            xs->special_nperms[i] = num;
        }
        xensim_mutex_unlock(&xs->lock);
    } else {
        err = xs_path_canon(r->c, r->body, path, false);
        if (!err)
            err = change(r, set_perms_fn, &a);
    }
    if (!err)
        ok(r);
out:
    free(p);
    return err;
}

/* do_watch(): exactly two strings; any "@name" or a valid node name. */
static int do_watch(struct req *r)
{
    char path[XS_PATH_BUF];
    int err;

    if (r->argc != 2)
        return -EINVAL;
    err = xs_path_canon(r->c, r->argv[0], path, true);
    if (err)
        return err;
    err = xs_watch_add(r->c, path, r->argv[1], r->argv[0][0] != '@' && r->argv[0][0] != '/');
    if (err)
        return err;
    ok(r);
    /* "We fire once up front", as the client wrote the path. */
    xs_conn_event(r->c, r->argv[0], r->argv[1], false);
    return 0;
}

/* do_unwatch(): the path is only canonicalize()d, never checked, so a
 * watch that does not exist is ENOENT whatever the path looks like. */
static int do_unwatch(struct req *r)
{
    char path[XENSTORE_PAYLOAD_MAX + 64];
    int err;

    if (r->argc != 2)
        return -EINVAL;
    if (xs_path_join(r->c, r->argv[0], path, sizeof(path)) >= sizeof(path))
        return -ENOENT;
    err = xs_watch_del(r->c, path, r->argv[1]);
    if (!err)
        ok(r);
    return err;
}

/* do_transaction_start(): its payload is not looked at. Unprivileged,
 * "conn->transaction_started > quota_max_transaction" is ENOSPC, so 11
 * fit; counted here for the whole domain (a guest has one connection in
 * C). */
static int do_transaction_start(struct req *r)
{
    struct xs_conn *c = r->c;
    struct xs_daemon *xs = c->xs;
    struct xs_dom_acct *acct = xs_acct(xs, c->domid);
    struct xs_tx *tx;
    char out[16];

    if (r->tx)
        return -EBUSY;
    xensim_mutex_lock(&xs->lock);
    if (!xs_quota_exempt(c) && acct->txs > xs->quota.transactions) {
        xensim_mutex_unlock(&xs->lock);
        return -ENOSPC;
    }
    acct->txs++;
    xs->nr_txs++;
    xensim_mutex_unlock(&xs->lock);
    while (c->next_txid == 0 || xs_conn_tx(c, c->next_txid))
        c->next_txid++;
    tx = xs_tx_new(c, c->next_txid++, false);
    cds_list_add_tail(&tx->link, &c->txs);
    c->nr_txs++;
    xs_conn_reply(c, r->hdr, XS_TRANSACTION_START, out,
                  snprintf(out, sizeof(out), "%u", tx->id) + 1);
    return 0;
}

/* do_transaction_end(): the argument is checked before the transaction
 * ("T" or "F", else EINVAL), and whatever the commit answers, the
 * transaction is over. */
static int do_transaction_end(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    const char *arg = onearg(r);
    int err = 0;

    if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
        return -EINVAL;
    if (!r->tx)
        return -ENOENT;
    xensim_mutex_lock(&xs->lock);
    if (arg[0] == 'T')
        err = xs_tx_commit(r->tx);
    xs->nr_txs--;
    xs_acct(xs, r->c->domid)->txs--;
    xensim_mutex_unlock(&xs->lock);
    cds_list_del(&r->tx->link);
    r->c->nr_txs--;
    xs_tx_free(r->tx);
    r->tx = NULL;
    if (!err)
        ok(r);
    return err;
}

/* do_introduce(): three strings at least; the gfn is not looked at and
 * a port of 0 (atoi) is EINVAL. */
static int do_introduce(struct req *r)
{
    unsigned int domid, port;
    int err;

    if (r->argc < 3)
        return -EINVAL;
    domid = atoi_id(r->argv[0]);
    port = atoi_id(r->argv[2]);
    if (port == 0)
        return -EINVAL;
    if (domid >= XS_NR_DOMIDS)
        return -EINVAL;                  /* no grant to map */
    err = xs_daemon_introduce(r->c->xs, domid, strtoul(r->argv[1], NULL, 10), port);
    if (!err)
        ok(r);
    return err;
}

/* onearg_domain(): one argument, "if (!domid) return ERR_PTR(-EINVAL);",
 * then find_connected_domain(). */
static int onearg_domain(struct req *r, unsigned int *d)
{
    const char *arg = onearg(r);

    if (!arg)
        return -EINVAL;
    *d = atoi_id(arg);
    if (!*d)
        return -EINVAL;
    return xs_domain_connected(r->c->xs, *d);
}

static int do_release(struct req *r)
{
    unsigned int d;
    int err = onearg_domain(r, &d);

    if (!err)
        err = xs_domain_release(r->c->xs, d);
    if (!err)
        ok(r);
    return err;
}

/* do_is_domain_introduced(): DOMID_SELF is always "T". */
static int do_is_domain_introduced(struct req *r)
{
    const char *arg = onearg(r);
    unsigned int d;
    bool in;

    if (!arg)
        return -EINVAL;
    d = atoi_id(arg);
    in = d == DOMID_SELF || introduced(r->c->xs, d);
    xs_conn_reply(r->c, r->hdr, r->hdr->type, in ? "T" : "F", 2);
    return 0;
}

/* do_get_domain_path(): any atoi() value, with no check it exists. */
static int do_get_domain_path(struct req *r)
{
    const char *arg = onearg(r);
    char out[32];

    if (!arg)
        return -EINVAL;
    xs_conn_reply(r->c, r->hdr, r->hdr->type, out,
                  snprintf(out, sizeof(out), "/local/domain/%u", atoi_id(arg)) + 1);
    return 0;
}

static int do_resume(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    struct xs_domain *dom;
    unsigned int d;
    int err = onearg_domain(r, &d);

    if (err)
        return err;
    xensim_mutex_lock(&xs->lock);
    dom = xs_domain_find(xs, d);
    if (dom)
        dom->shutdown_seen = false;
    xensim_mutex_unlock(&xs->lock);
    ok(r);
    return 0;
}

/* do_set_target(): two strings at least; each domain must be
 * connected (find_connected_domain()), the first checked first. */
static int do_set_target(struct req *r)
{
    struct xs_daemon *xs = r->c->xs;
    unsigned int d, t;
    int err;

    if (r->argc < 2)
        return -EINVAL;
    d = atoi_id(r->argv[0]);
    t = atoi_id(r->argv[1]);
    if ((err = xs_domain_connected(xs, d)) || (err = xs_domain_connected(xs, t)))
        return err;
    xs_domain_set_target(xs, (domid_t)d, (domid_t)t);
    ok(r);
    return 0;
}

/* do_reset_watches(): payload not looked at; every watch and every
 * transaction of the connection go. */
static int do_reset_watches(struct req *r)
{
    xs_conn_drop_state(r->c);
    r->tx = NULL;
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
        /* do_control_log(): "on" or "off", nothing else. */
        if (r->argc != 2 || (strcmp(r->argv[1], "on") && strcmp(r->argv[1], "off")))
            return -EINVAL;
        xs->log = r->argv[1][1] == 'n';
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
    if (!strcmp(r->argv[0], "check") && r->argc == 1) {
        ok(r);                           /* the tree is checked as it changes */
        return 0;
    }
    if (!strcmp(r->argv[0], "quota-soft") && r->argc == 1) {
        /* Only listed: the soft level only logs, which this daemon
         * does not. */
        static const char soft[] = "Quota settings:\n"
                                   "memory           :  2097152 Total Xenstore memory per "
                                   "domain (warning level)\n";

        xs_conn_reply(r->c, r->hdr, r->hdr->type, soft, sizeof(soft));
        return 0;
    }
    if (!strcmp(r->argv[0], "help")) {
        /* 4.17's list (xenstored_control.c: cmds[]), as "cmd\tpars\n"
         * lines and a NUL; logfile, memreport and live-update are
         * refused here (EINVAL), as C refuses them without a log file
         * or a binary. */
        static const char help[] =
            "check\t\nlog\ton|off\n"
            "live-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n"
            "    Default timeout is 60 seconds.\n"
            "logfile\t<file>\nmemreport\t[<file>]\nprint\t<string>\n"
            "quota\t[set <name> <val>|<domid>]\nquota-soft\t[set <name> <val>]\nhelp\t\n";

        xs_conn_reply(r->c, r->hdr, r->hdr->type, help, sizeof(help));
        return 0;
    }
    return -EINVAL;
}

/* C's wire_funcs[] flags: XS_FLAG_PRIV, and XS_FLAG_NOTID for the two
 * that never look up a transaction. */
static const struct {
    int (*fn)(struct req *r);
    bool privileged;
    bool notid;
} ops[XS_TYPE_COUNT] = {
    [XS_CONTROL] = { do_control, true, false },
    [XS_DIRECTORY] = { do_directory, false, false },
    [XS_READ] = { do_read, false, false },
    [XS_GET_PERMS] = { do_get_perms, false, false },
    [XS_WATCH] = { do_watch, false, true },
    [XS_UNWATCH] = { do_unwatch, false, true },
    [XS_TRANSACTION_START] = { do_transaction_start, false, false },
    [XS_TRANSACTION_END] = { do_transaction_end, false, false },
    [XS_INTRODUCE] = { do_introduce, true, false },
    [XS_RELEASE] = { do_release, true, false },
    [XS_GET_DOMAIN_PATH] = { do_get_domain_path, false, false },
    [XS_WRITE] = { do_write, false, false },
    [XS_MKDIR] = { do_mkdir, false, false },
    [XS_RM] = { do_rm, false, false },
    [XS_SET_PERMS] = { do_set_perms, false, false },
    [XS_IS_DOMAIN_INTRODUCED] = { do_is_domain_introduced, true, false },
    [XS_RESUME] = { do_resume, true, false },
    [XS_SET_TARGET] = { do_set_target, true, false },
    [XS_RESET_WATCHES] = { do_reset_watches, false, false },
    [XS_DIRECTORY_PART] = { do_directory_part, false, false },
};

/*
 * process_message()'s order: an unknown type is ENOSYS, a privileged one
 * from a guest EACCES, then the transaction is looked up for every type
 * but WATCH and UNWATCH (an unknown id is ENOENT, whatever the payload),
 * then the handler parses the payload.
 */
void xs_proto_dispatch(struct xs_conn *c, const struct xsd_sockmsg *hdr, char *body)
{
    struct req r = { .c = c, .hdr = hdr, .body = body };
    int err;

    if (c->xs->log)
        xs_log(c->xs, "dom%u IN type %u tx %u len %u", c->domid, hdr->type, hdr->tx_id, hdr->len);
    c->xs->task_ops->trace_msg(c->xs->sim, c->domid, hdr, body, false);
    if (hdr->type >= XS_TYPE_COUNT || !ops[hdr->type].fn) {
        err = -ENOSYS;
    } else if (ops[hdr->type].privileged && !c->privileged) {
        err = -EACCES;
    } else if (!ops[hdr->type].notid && hdr->tx_id && !(r.tx = xs_conn_tx(c, hdr->tx_id))) {
        err = -ENOENT;
    } else {
        r.argc = split(&r);
        if (!c->privileged)
            xs_conn_req_begin(c);
        err = ops[hdr->type].fn(&r);
    }
    if (err)
        xs_conn_error(c, hdr, err);
    xs_conn_req_end();
}
