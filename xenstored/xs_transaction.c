/*
 * Transactions: a private view of the nodes a transaction touched, the
 * changes it made, and their commit into the store with C xenstored's
 * per-node generation check. Relies on xs_tree.c, xs_perms.c, xs_watch.c.
 *
 * Every node a transaction touches is checked at commit, whatever it did
 * with it: C xenstored 4.17 reads a node before any use (get_node() in
 * do_write(), do_rm(), do_mkdir(); construct_node() and ask_parents() for
 * the ancestors), read_node() ends with access_node(NODE_ACCESS_READ),
 * whose first call for a node in a transaction sets check_gen, and
 * finalize_transaction() fails with EAGAIN if "i->generation != gen" for
 * any of them, a node now missing counting as NO_GENERATION.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "xs_internal.h"

static unsigned int hash_str(const char *s)
{
    unsigned int h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

struct xs_tx *xs_tx_new(struct xs_conn *c, uint32_t id, bool implicit)
{
    struct xs_tx *tx = xs_alloc(sizeof(*tx));

    tx->conn = c;
    tx->id = id;
    tx->implicit = implicit;
    tx->nbuckets = implicit ? 8 : 64;
    tx->hash = xs_alloc(tx->nbuckets * sizeof(*tx->hash));
    tx->events_tail = &tx->events;
    CDS_INIT_LIST_HEAD(&tx->link);
    return tx;
}

static void tnode_free(struct xs_tnode *t)
{
    for (unsigned int i = 0; i < t->nkids; i++)
        free(t->kids[i]);
    free(t->kids);
    free(t->perms);
    free(t->seen_perms);
    free(t->value);
    free(t);
}

void xs_tx_free(struct xs_tx *tx)
{
    for (unsigned int b = 0; b < tx->nbuckets; b++) {
        while (tx->hash[b]) {
            struct xs_tnode *t = tx->hash[b];

            tx->hash[b] = t->hnext;
            tnode_free(t);
        }
    }
    while (tx->events) {
        struct xs_event *e = tx->events;

        tx->events = e->next;
        free(e->perms);
        free(e);
    }
    for (unsigned int i = 0; i < tx->nr_rm_roots; i++)
        free(tx->rm_roots[i]);
    free(tx->rm_roots);
    free(tx->hash);
    free(tx);
}

static struct xs_tnode *find(struct xs_tx *tx, const char *path)
{
    struct xs_tnode *t = tx->hash[hash_str(path) % tx->nbuckets];

    while (t && strcmp(t->path, path))
        t = t->hnext;
    return t;
}

static void grow(struct xs_tx *tx)
{
    unsigned int nb = tx->nbuckets * 4;
    struct xs_tnode **h = xs_alloc(nb * sizeof(*h));

    for (unsigned int b = 0; b < tx->nbuckets; b++) {
        while (tx->hash[b]) {
            struct xs_tnode *t = tx->hash[b];
            unsigned int i = hash_str(t->path) % nb;

            tx->hash[b] = t->hnext;
            t->hnext = h[i];
            h[i] = t;
        }
    }
    free(tx->hash);
    tx->hash = h;
    tx->nbuckets = nb;
}

static void set_value(struct xs_tnode *t, const void *val, unsigned int vlen)
{
    free(t->value);
    t->value = xs_alloc(vlen + 1);
    if (vlen)
        memcpy(t->value, val, vlen);
    t->vlen = vlen;
}

static void set_perms(struct xs_tnode *t, const struct xs_permissions *p, unsigned int np)
{
    free(t->perms);
    t->perms = xs_alloc(np * sizeof(*p));
    memcpy(t->perms, p, np * sizeof(*p));
    t->nperms = np;
}

static bool under_removed(struct xs_tx *tx, const char *path)
{
    for (unsigned int i = 0; i < tx->nr_rm_roots; i++)
        if (xs_path_is_below(path, tx->rm_roots[i]) && strcmp(path, tx->rm_roots[i]))
            return true;
    return false;
}

/* Copies the node from the store into the transaction. */
static struct xs_tnode *fetch(struct xs_tx *tx, const char *path, int *err)
{
    struct xs_daemon *xs = tx->conn->xs;
    size_t len = strlen(path);
    struct xs_tnode *t;
    struct xs_node *n;

    if (!tx->implicit && !xs_quota_exempt(tx->conn) && tx->nr_nodes >= xs->quota.tx_nodes) {
        *err = -ENOSPC;
        return NULL;
    }
    t = xs_alloc(sizeof(*t) + len + 1);
    memcpy(t->path, path, len + 1);
    /* What the store has is noted even below a subtree this transaction
     * removed: it is checked at commit like the rest. */
    t->removed = under_removed(tx, path);
    urcu_bp_read_lock();
    n = xs_tree_lookup(&xs->tree, path);
    if (n) {
        struct xs_data *d = rcu_dereference(n->data);
        struct xs_kids *k = rcu_dereference(n->kids);

        t->check_gen = d->gen;
        t->seen_perms = xs_alloc(d->nperms * sizeof(*d->perms));
        memcpy(t->seen_perms, d->perms, d->nperms * sizeof(*d->perms));
        t->seen_nperms = d->nperms;
        if (!t->removed) {
            t->exists = true;
            set_perms(t, d->perms, d->nperms);
            set_value(t, d->value, d->vlen);
            t->nkids = k ? k->n : 0;
            t->kids = xs_alloc((t->nkids + 1) * sizeof(char *));
            for (unsigned int i = 0; i < t->nkids; i++)
                t->kids[i] = xs_strdup(k->kid[i]->name);
        }
    }
    urcu_bp_read_unlock();
    if (tx->nr_nodes >= tx->nbuckets * 2)
        grow(tx);
    t->hnext = tx->hash[hash_str(path) % tx->nbuckets];
    tx->hash[hash_str(path) % tx->nbuckets] = t;
    tx->nr_nodes++;
    return t;
}

static struct xs_tnode *get_any(struct xs_tx *tx, const char *path, int *err)
{
    struct xs_tnode *t = find(tx, path);

    *err = 0;
    return t ? t : fetch(tx, path, err);
}

struct xs_tnode *xs_tx_get(struct xs_tx *tx, const char *path, int *err)
{
    struct xs_tnode *t = get_any(tx, path, err);

    return t && t->exists ? t : NULL;
}

static struct xs_tnode *nearest(struct xs_tx *tx, const char *path, int *err)
{
    char up[XS_PATH_BUF];

    strcpy(up, path);
    for (;;) {
        struct xs_tnode *t;

        xs_path_parent(up, up);
        t = get_any(tx, up, err);
        if (!t || t->exists)
            return t;
    }
}

int xs_tx_missing(struct xs_tx *tx, const char *path, unsigned int perm)
{
    const struct xs_conn *c = tx->conn;
    int err;
    struct xs_tnode *a = nearest(tx, path, &err);

    if (!a)
        return err;
    return xs_perm_for(c, a->perms, a->nperms) & perm ? -ENOENT : -EACCES;
}

/*
 * Queues the event for a change to t. An implicit transaction keeps the
 * permissions that decide who hears of it: t's, old (if given), and the
 * parent's (up, or as the transaction or the store has it, without
 * counting as an access). A real one queues one event per node, exact
 * only if every change to it was, as C xenstored does, and decides at
 * commit.
 */
static void event(struct xs_tx *tx, const char *path, bool exact, struct xs_tnode *t,
                  const struct xs_tnode *up, const struct xs_permissions *old, unsigned int nold)
{
    size_t len = strlen(path);
    struct xs_event *e;

    if (!tx->implicit && t->fire) {
        t->fire_exact = t->fire_exact && exact;
        return;
    }
    e = xs_alloc(sizeof(*e) + len + 1);
    e->exact = exact;
    memcpy(e->path, path, len + 1);
    *tx->events_tail = e;
    tx->events_tail = &e->next;
    if (!tx->implicit) {
        t->fire = true;
        t->fire_exact = exact;
        return;
    }
    /* The parent: given, as the transaction has it, or the store's (the
     * store lock is held, so its data stays put). */
    const struct xs_permissions *pp = NULL;
    unsigned int npp = 0;

    if (!up && strcmp(path, "/")) {
        char pp_path[XS_PATH_BUF];

        xs_path_parent(path, pp_path);
        up = find(tx, pp_path);
        if (!up) {
            struct xs_node *n = xs_tree_lookup(&tx->conn->xs->tree, pp_path);

            if (n) {
                pp = n->data->perms;
                npp = n->data->nperms;
            }
        }
    }
    if (up && up->exists) {
        pp = up->perms;
        npp = up->nperms;
    }
    e->n[0] = t->nperms;
    e->n[1] = nold;
    e->n[2] = npp;
    e->perms = xs_alloc((t->nperms + nold + npp) * sizeof(*e->perms));
    memcpy(e->perms, t->perms, t->nperms * sizeof(*t->perms));
    if (nold)
        memcpy(e->perms + t->nperms, old, nold * sizeof(*old));
    if (npp)
        memcpy(e->perms + t->nperms + nold, pp, npp * sizeof(*pp));
}

/* Each node below a removed one, with its own permissions, deepest
 * first as C xenstored's removal walk fires them. */
static void event_removed_kids(struct xs_tx *tx, const char *path, struct xs_tnode *t)
{
    for (unsigned int k = 0; k < t->nkids; k++) {
        char child[XS_PATH_BUF];
        int err;

        if (snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "",
                     t->kids[k]) >= (int)sizeof(child))
            continue;
        struct xs_tnode *c = get_any(tx, child, &err);
        if (!c || !c->exists)
            continue;
        event_removed_kids(tx, child, c);
        event(tx, child, true, c, t, NULL, 0);
    }
}

/*
 * The entry-size quota measures a node as C xenstored stores it: a record
 * header (generation, permission count, value and child-list lengths: 24
 * bytes with padding), the permissions, the value and the children's
 * names, each with its NUL. An unprivileged change is refused when that
 * reaches the quota: write_node_raw() sets "data.dsize = sizeof(*hdr) +
 * node->perms.num * sizeof(node->perms.p[0]) + node->datalen +
 * node->childlen;" and fails "data.dsize >= quota_max_entry_size" with
 * ENOSPC, for the node written and for a parent given a new child.
 */
#define XS_RECORD_HDR 24

static size_t kids_len(const struct xs_tnode *t)
{
    size_t n = 0;

    for (unsigned int i = 0; i < t->nkids; i++)
        n += strlen(t->kids[i]) + 1;
    return n;
}

static bool too_big(const struct xs_conn *c, unsigned int np, size_t vlen, size_t kids)
{
    size_t size = XS_RECORD_HDR + np * sizeof(struct xs_permissions) + vlen + kids;

    return !xs_quota_exempt(c) && size >= c->xs->quota.entry_size;
}

static void kid_add(struct xs_tnode *p, const char *leaf)
{
    unsigned int pos = 0;

    while (pos < p->nkids && strcmp(p->kids[pos], leaf) < 0)
        pos++;
    if (pos < p->nkids && !strcmp(p->kids[pos], leaf))
        return;
    p->kids = realloc(p->kids, (p->nkids + 2) * sizeof(char *));
    XS_CHECK(!p->kids);
    memmove(p->kids + pos + 1, p->kids + pos, (p->nkids - pos) * sizeof(char *));
    p->kids[pos] = xs_strdup(leaf);
    p->nkids++;
    p->kids_changed = true;
}

static void kid_del(struct xs_tnode *p, const char *leaf)
{
    for (unsigned int i = 0; i < p->nkids; i++) {
        if (!strcmp(p->kids[i], leaf)) {
            free(p->kids[i]);
            memmove(p->kids + i, p->kids + i + 1, (p->nkids - i - 1) * sizeof(char *));
            p->nkids--;
            p->kids_changed = true;
            return;
        }
    }
}

/* Makes path and its missing ancestors below the existing one a. */
static int create_chain(struct xs_tx *tx, struct xs_tnode *a, const char *path,
                        const void *val, unsigned int vlen)
{
    struct xs_conn *c = tx->conn;
    struct xs_daemon *xs = c->xs;
    size_t alen = strlen(a->path), plen = strlen(path);
    struct xs_tnode *parent = a, *up = a;
    unsigned int levels = 0;
    int err;

    /* Every limit is checked, and every level fetched, before anything
     * changes, so a refused request leaves the transaction as it was.
     * Each new node has a's permissions; all but the last have one
     * child, the next level. */
    for (size_t i = alen == 1 ? 1 : alen + 1, leaf = i; i <= plen; i++) {
        char sub[XS_PATH_BUF];

        if (path[i] != '/' && path[i] != '\0')
            continue;
        if (levels == 0 ? too_big(c, a->nperms, a->vlen, kids_len(a) + i - leaf + 1)
                        : too_big(c, a->nperms, 0, i - leaf + 1))
            return -ENOSPC;
        memcpy(sub, path, i);
        sub[i] = '\0';
        if (!get_any(tx, sub, &err))
            return err;
        levels++;
        leaf = i + 1;
    }
    if (too_big(c, a->nperms, vlen, 0))
        return -ENOSPC;
    if (!xs_quota_exempt(c) &&
        CMM_LOAD_SHARED(xs->tree.owned[c->domid]) + tx->created + levels > xs->quota.nodes)
        return -ENOSPC;
    for (size_t i = alen == 1 ? 1 : alen + 1; i <= plen; i++) {
        char sub[XS_PATH_BUF];
        struct xs_tnode *t;

        if (path[i] != '/' && path[i] != '\0')
            continue;
        memcpy(sub, path, i);
        sub[i] = '\0';
        t = get_any(tx, sub, &err);
        if (!t)
            return err;
        t->exists = true;
        t->data_changed = true;
        if (t->removed)
            t->replaced = true;
        t->removed = false;
        set_perms(t, parent->perms, parent->nperms);
        if (!xs_quota_exempt(c))
            t->perms[0].id = c->domid;
        if (i == plen)
            set_value(t, val, vlen);
        else
            set_value(t, "", 0);
        for (unsigned int k = 0; k < t->nkids; k++)
            free(t->kids[k]);
        t->nkids = 0;
        kid_add(parent, xs_path_leaf(sub));
        tx->created++;
        up = parent;
        parent = t;
    }
    event(tx, path, false, parent, up, NULL, 0);
    return 0;
}

int xs_tx_write(struct xs_tx *tx, const char *path, const void *val, unsigned int vlen,
                bool mkdir_only)
{
    struct xs_conn *c = tx->conn;
    int err;
    struct xs_tnode *t = get_any(tx, path, &err), *a;

    if (!t)
        return err;
    if (t->exists) {
        if (!(xs_perm_for(c, t->perms, t->nperms) & XS_PERM_WRITE))
            return -EACCES;
        if (mkdir_only)
            return 0;
        if (too_big(c, t->nperms, vlen, kids_len(t)))
            return -ENOSPC;
        set_value(t, val, vlen);
        t->data_changed = true;
        event(tx, path, false, t, NULL, NULL, 0);
        return 0;
    }
    a = nearest(tx, path, &err);
    if (!a)
        return err;
    if (!(xs_perm_for(c, a->perms, a->nperms) & XS_PERM_WRITE))
        return -EACCES;
    return create_chain(tx, a, path, val, vlen);
}

int xs_tx_rm(struct xs_tx *tx, const char *path)
{
    struct xs_conn *c = tx->conn;
    char up[XS_PATH_BUF];
    int err;
    struct xs_tnode *t, *p;

    if (!strcmp(path, "/"))
        return -EINVAL;
    t = get_any(tx, path, &err);
    if (!t)
        return err;
    xs_path_parent(path, up);
    if (!t->exists) {
        p = get_any(tx, up, &err);
        if (!p)
            return err;
        return p->exists ? 0 : xs_tx_missing(tx, path, XS_PERM_WRITE);
    }
    if (!(xs_perm_for(c, t->perms, t->nperms) & XS_PERM_WRITE))
        return -EACCES;
    p = get_any(tx, up, &err);
    if (!p)
        return err;
    event_removed_kids(tx, path, t);
    event(tx, path, false, t, p, NULL, 0);
    kid_del(p, xs_path_leaf(path));
    t->exists = false;
    t->removed = true;
    for (unsigned int k = 0; k < t->nkids; k++)
        free(t->kids[k]);
    t->nkids = 0;
    for (unsigned int b = 0; b < tx->nbuckets; b++) {
        for (struct xs_tnode *d = tx->hash[b]; d; d = d->hnext) {
            if (d != t && xs_path_is_below(d->path, path)) {
                d->exists = false;
                d->removed = true;
            }
        }
    }
    tx->rm_roots = realloc(tx->rm_roots, (tx->nr_rm_roots + 1) * sizeof(char *));
    XS_CHECK(!tx->rm_roots);
    tx->rm_roots[tx->nr_rm_roots++] = xs_strdup(path);
    return 0;
}

int xs_tx_set_perms(struct xs_tx *tx, const char *path, const struct xs_permissions *p,
                    unsigned int np)
{
    struct xs_conn *c = tx->conn;
    int err;
    struct xs_tnode *t = get_any(tx, path, &err);

    if (!t)
        return err;
    if (!t->exists)
        return xs_tx_missing(tx, path, XS_PERM_WRITE);
    if (!(xs_perm_for(c, t->perms, t->nperms) & XS_PERM_OWNER))
        return -EACCES;
    if (!xs_quota_exempt(c)) {
        /* XSA-115: a guest may not give a node away. */
        if (p[0].id != t->perms[0].id)
            return -EPERM;
        if (np > c->xs->quota.perms || too_big(c, np, t->vlen, kids_len(t)))
            return -ENOSPC;
    }
    struct xs_permissions *old = xs_alloc(t->nperms * sizeof(*old));
    unsigned int nold = t->nperms;

    memcpy(old, t->perms, nold * sizeof(*old));
    set_perms(t, p, np);
    t->data_changed = true;
    event(tx, path, false, t, NULL, old, nold);
    free(old);
    return 0;
}

static int cmp_tnode(const void *a, const void *b)
{
    const struct xs_tnode *x = *(struct xs_tnode *const *)a, *y = *(struct xs_tnode *const *)b;

    return strcmp(x->path, y->path);
}

/* Every node touched is as the transaction first found it: same
 * generation, or still absent. A node created by the transaction has its
 * parent among them, so the place it goes to is checked too. */
static bool validate(struct xs_tx *tx)
{
    struct xs_tree *tree = &tx->conn->xs->tree;

    for (unsigned int b = 0; b < tx->nbuckets; b++) {
        for (struct xs_tnode *t = tx->hash[b]; t; t = t->hnext) {
            struct xs_node *n = xs_tree_lookup(tree, t->path);

            if ((n ? n->data->gen : 0) != t->check_gen)
                return false;
        }
    }
    return true;
}

int xs_tx_commit(struct xs_tx *tx)
{
    struct xs_daemon *xs = tx->conn->xs;
    struct xs_tree *tree = &xs->tree;
    struct xs_tnode **all;
    unsigned int n = 0;

    if (!tx->implicit && !validate(tx))
        return -EAGAIN;
    all = xs_alloc((tx->nr_nodes + 1) * sizeof(*all));
    for (unsigned int b = 0; b < tx->nbuckets; b++)
        for (struct xs_tnode *t = tx->hash[b]; t; t = t->hnext)
            if (t->data_changed || t->removed)
                all[n++] = t;
    qsort(all, n, sizeof(*all), cmp_tnode);
    for (unsigned int i = 0; i < n; i++) {
        struct xs_tnode *t = all[i];
        struct xs_node *node = xs_tree_lookup(tree, t->path);

        if (node && (!t->exists || t->replaced)) {
            xs_tree_remove(tree, t->path, NULL, NULL);
            node = NULL;
        }
        if (!t->exists)
            continue;
        if (!node)
            xs_tree_create(tree, t->path,
                           xs_data_new(++tree->gen, t->perms, t->nperms, t->value, t->vlen));
        else if (t->data_changed)
            xs_tree_set_data(tree, node,
                             xs_data_new(++tree->gen, t->perms, t->nperms, t->value, t->vlen));
    }
    free(all);
    for (struct xs_event *e = tx->events; e; e = e->next) {
        struct xs_perm_list l[3] = {
            { e->perms, e->n[0] }, { e->perms + e->n[0], e->n[1] },
            { e->perms + e->n[0] + e->n[1], e->n[2] },
        };

        if (!tx->implicit) {
            /* C xenstored's finalize_transaction(): the committed node and
             * its parent (none if it is gone) and the permissions the
             * transaction first saw it with. */
            struct xs_tnode *t = find(tx, e->path);
            struct xs_node *n = xs_tree_lookup(tree, e->path), *pn = NULL;
            char pp[XS_PATH_BUF];

            if (n && strcmp(e->path, "/")) {
                xs_path_parent(e->path, pp);
                pn = xs_tree_lookup(tree, pp);
            }
            e->exact = t->fire_exact;
            l[0] = (struct xs_perm_list){ n ? n->data->perms : NULL, n ? n->data->nperms : 0 };
            l[1] = (struct xs_perm_list){ t->seen_perms, t->seen_nperms };
            l[2] = (struct xs_perm_list){ pn ? pn->data->perms : NULL, pn ? pn->data->nperms : 0 };
        }
        xs_watch_fire(xs, e->path, e->exact, l, 3);
    }
    return 0;
}
