/*
 * The store itself: a tree of nodes whose contents and child arrays are
 * replaced copy-on-write and freed after an RCU grace period, so lookups
 * take no lock. Changes are made under the store lock by xs_transaction.c,
 * which also decides every generation; the tree keeps the per-owner node
 * counts and record sizes the quotas need.
 */
#include "config.h"

#include <string.h>
#include <urcu/uatomic.h>
#include "xs_internal.h"

struct xs_data *xs_data_new(uint64_t gen, const struct xs_permissions *p, unsigned int np,
                            const void *val, unsigned int vlen)
{
    struct xs_data *d = xs_alloc(sizeof(*d) + np * sizeof(*p) + vlen + 1);

    d->gen = gen;
    d->nperms = np;
    d->vlen = vlen;
    d->perms = (struct xs_permissions *)(d + 1);
    memcpy(d->perms, p, np * sizeof(*p));
    d->value = (char *)(d->perms + np);
    if (vlen)
        memcpy(d->value, val, vlen);
    d->value[vlen] = '\0';
    return d;
}

uint64_t xs_gen_next(struct xs_tree *t)
{
    return uatomic_add_return(&t->gen, 1);
}

static struct xs_node *node_new(const char *name, size_t len, unsigned int plen,
                                struct xs_data *d)
{
    struct xs_node *n = xs_alloc(sizeof(*n) + len + 1);

    memcpy(n->name, name, len);
    n->name[len] = '\0';
    n->plen = plen;
    n->data = d;
    return n;
}

static struct xs_kids *kids_alloc(unsigned int n, unsigned int bytes)
{
    struct xs_kids *k = xs_alloc(sizeof(*k) + 2 * n * sizeof(k->kid[0]));

    k->n = n;
    k->bytes = bytes;
    k->sorted = k->kid + n;
    return k;
}

static void free_rcu_plain(struct rcu_head *h)
{
    /* rcu is the first member of xs_data and xs_kids */
    free(h);
}

static void node_free_now(struct xs_node *n)
{
    struct xs_kids *k = n->kids;

    if (k) {
        for (unsigned int i = 0; i < k->n; i++)
            node_free_now(k->kid[i]);
        free(k);
    }
    free(n->data);
    free(n);
}

static void node_free_rcu(struct rcu_head *h)
{
    node_free_now(caa_container_of(h, struct xs_node, rcu));
}

/* The node's record and key as do_tdb_write() counts them. */
static long record_bytes(const struct xs_data *d, unsigned int kid_bytes, unsigned int plen)
{
    return XS_RECORD_HDR + d->nperms * sizeof(*d->perms) + d->vlen + kid_bytes + plen;
}

static unsigned int kid_bytes(const struct xs_node *n)
{
    return n->kids ? n->kids->bytes : 0;
}

/* One node in or out of its owner's counts (sign 1 or -1). */
static void account(struct xs_tree *t, const struct xs_data *d, unsigned int kids,
                    unsigned int plen, int sign)
{
    unsigned int owner = d->perms[0].id;

    if (owner >= XS_NR_DOMIDS)
        return;
    t->owned[owner] += sign;
    uatomic_add(&t->bytes[owner], sign * record_bytes(d, kids, plen));
}

static void account_kids(struct xs_tree *t, const struct xs_node *n, long delta)
{
    unsigned int owner = n->data->perms[0].id;

    if (owner < XS_NR_DOMIDS)
        uatomic_add(&t->bytes[owner], delta);
}

void xs_tree_init(struct xs_tree *t)
{
    struct xs_permissions p = { .id = 0, .perms = XS_PERM_NONE };

    t->owned = xs_alloc(XS_NR_DOMIDS * sizeof(*t->owned));
    t->bytes = xs_alloc(XS_NR_DOMIDS * sizeof(*t->bytes));
    /* setup_structure() writes "/" first: generation 1. */
    t->gen = 1;
    t->root = node_new("", 0, 1, xs_data_new(t->gen, &p, 1, "", 0));
    t->nr_nodes = 1;
    account(t, t->root->data, 0, 1, 1);
}

void xs_tree_fini(struct xs_tree *t)
{
    node_free_now(t->root);
    t->root = NULL;
    free(t->owned);
    free(t->bytes);
}

/* Binary search in the sorted children; returns the index there or the
 * insertion point encoded as -(pos + 1). */
static long kid_search(const struct xs_kids *k, const char *name, size_t len)
{
    long lo = 0, hi = k ? (long)k->n - 1 : -1;

    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const char *kn = k->sorted[mid]->name;
        int cmp = strncmp(kn, name, len);

        if (cmp == 0)
            cmp = kn[len] ? 1 : 0;
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -(lo + 1);
}

/* Walks to the node for path; *parent gets its parent when asked. */
static struct xs_node *lookup(struct xs_tree *t, const char *path, struct xs_node **parent)
{
    struct xs_node *n = rcu_dereference(t->root), *up = NULL;
    const char *p = path + 1;

    while (n && *p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        struct xs_kids *k = rcu_dereference(n->kids);
        long i = kid_search(k, p, len);

        up = n;
        n = i >= 0 ? k->sorted[i] : NULL;
        p += len + (slash ? 1 : 0);
    }
    if (parent)
        *parent = up;
    return n;
}

struct xs_node *xs_tree_lookup(struct xs_tree *t, const char *path)
{
    return lookup(t, path, NULL);
}

void xs_tree_set_data(struct xs_tree *t, struct xs_node *n, struct xs_data *d)
{
    struct xs_data *old = n->data;

    account(t, old, kid_bytes(n), n->plen, -1);
    account(t, d, kid_bytes(n), n->plen, 1);
    rcu_assign_pointer(n->data, d);
    urcu_bp_call_rcu(&old->rcu, free_rcu_plain);
}

static void set_kids(struct xs_node *n, struct xs_kids *k)
{
    struct xs_kids *old = n->kids;

    rcu_assign_pointer(n->kids, k);
    if (old)
        urcu_bp_call_rcu(&old->rcu, free_rcu_plain);
}

int xs_tree_create(struct xs_tree *t, const char *path, struct xs_data *d)
{
    char parent_path[XS_PATH_BUF];
    const char *leaf = xs_path_leaf(path);
    size_t len = strlen(leaf);
    struct xs_node *parent;
    struct xs_kids *old, *k;
    unsigned int n;
    long pos;

    xs_path_parent(path, parent_path);
    parent = lookup(t, parent_path, NULL);
    if (!parent)
        return -ENOENT;
    old = parent->kids;
    pos = kid_search(old, leaf, len);
    if (pos >= 0)
        return -EEXIST;
    pos = -pos - 1;
    n = old ? old->n : 0;
    k = kids_alloc(n + 1, (old ? old->bytes : 0) + len + 1);
    if (old) {
        memcpy(k->kid, old->kid, n * sizeof(k->kid[0]));
        memcpy(k->sorted, old->sorted, pos * sizeof(k->kid[0]));
        memcpy(k->sorted + pos + 1, old->sorted + pos, (n - pos) * sizeof(k->kid[0]));
    }
    /* add_child(): the new name goes at the end of the list. */
    k->kid[n] = node_new(leaf, len, strlen(path), d);
    k->sorted[pos] = k->kid[n];
    set_kids(parent, k);
    account_kids(t, parent, len + 1);
    t->nr_nodes++;
    account(t, d, 0, k->kid[n]->plen, 1);
    return 0;
}

void xs_tree_order_kids(struct xs_tree *t, struct xs_node *n, char *const *names,
                        unsigned int nnames)
{
    struct xs_kids *old = n->kids, *k;
    unsigned int j = 0;

    (void)t;
    if (!old)
        return;
    k = kids_alloc(old->n, old->bytes);
    memcpy(k->sorted, old->sorted, old->n * sizeof(k->kid[0]));
    /* The names given first, in their order; any other child after them,
     * in its old place (there should be none). */
    for (unsigned int i = 0; i < nnames; i++) {
        long pos = kid_search(old, names[i], strlen(names[i]));

        if (pos >= 0)
            k->kid[j++] = old->sorted[pos];
    }
    for (unsigned int i = 0; j < old->n && i < old->n; i++) {
        bool listed = false;

        for (unsigned int m = 0; m < nnames && !listed; m++)
            listed = !strcmp(old->kid[i]->name, names[m]);
        if (!listed)
            k->kid[j++] = old->kid[i];
    }
    set_kids(n, k);
}

static void account_removed(struct xs_tree *t, struct xs_node *n)
{
    struct xs_kids *k = n->kids;

    for (unsigned int i = 0; k && i < k->n; i++)
        account_removed(t, k->kid[i]);
    t->nr_nodes--;
    account(t, n->data, kid_bytes(n), n->plen, -1);
}

int xs_tree_remove(struct xs_tree *t, const char *path)
{
    struct xs_node *parent, *n = lookup(t, path, &parent);
    struct xs_kids *old, *k;
    unsigned int len;
    long pos;

    if (!n)
        return -ENOENT;
    if (!parent)
        return -EINVAL;
    old = parent->kids;
    len = strlen(n->name);
    pos = kid_search(old, n->name, len);
    k = old->n > 1 ? kids_alloc(old->n - 1, old->bytes - len - 1) : NULL;
    if (k) {
        unsigned int j = 0;

        /* remove_child_entry(): the rest keep their order. */
        for (unsigned int i = 0; i < old->n; i++)
            if (old->kid[i] != n)
                k->kid[j++] = old->kid[i];
        memcpy(k->sorted, old->sorted, pos * sizeof(k->kid[0]));
        memcpy(k->sorted + pos, old->sorted + pos + 1, (old->n - pos - 1) * sizeof(k->kid[0]));
    }
    set_kids(parent, k);
    account_kids(t, parent, -(long)(len + 1));
    account_removed(t, n);
    urcu_bp_call_rcu(&n->rcu, node_free_rcu);
    return 0;
}

static void walk(struct xs_node *n, char *path, size_t len,
                 bool (*fn)(void *, const char *, const struct xs_data *), void *arg)
{
    struct xs_kids *k;

    if (!fn(arg, len ? path : "/", n->data))
        return;
    k = n->kids;
    for (unsigned int i = 0; k && i < k->n; i++) {
        size_t l = strlen(k->kid[i]->name);

        if (len + 1 + l >= XS_PATH_BUF)
            continue;
        path[len] = '/';
        memcpy(path + len + 1, k->kid[i]->name, l + 1);
        walk(k->kid[i], path, len + 1 + l, fn, arg);
        path[len] = '\0';
    }
}

void xs_tree_walk(struct xs_tree *t,
                  bool (*fn)(void *arg, const char *path, const struct xs_data *d),
                  void *arg)
{
    char buf[XS_PATH_BUF] = "";

    walk(t->root, buf, 0, fn, arg);
}
