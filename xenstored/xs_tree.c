/*
 * The store itself: a tree of nodes whose contents and child arrays are
 * replaced copy-on-write and freed after an RCU grace period, so lookups
 * take no lock. Changes are made under the store lock by xs_transaction.c.
 */
#include "config.h"

#include <string.h>
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

static struct xs_node *node_new(const char *name, size_t len, struct xs_data *d)
{
    struct xs_node *n = xs_alloc(sizeof(*n) + len + 1);

    memcpy(n->name, name, len);
    n->name[len] = '\0';
    n->data = d;
    return n;
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

void xs_tree_init(struct xs_tree *t)
{
    struct xs_permissions p = { .id = 0, .perms = XS_PERM_NONE };

    t->owned = xs_alloc(XS_NR_DOMIDS * sizeof(*t->owned));
    t->gen = 1;
    t->root = node_new("", 0, xs_data_new(t->gen, &p, 1, "", 0));
    t->nr_nodes = 1;
    t->owned[0] = 1;
}

void xs_tree_fini(struct xs_tree *t)
{
    node_free_now(t->root);
    t->root = NULL;
    free(t->owned);
}

/* Binary search in a child array; returns the index or the insertion
 * point encoded as -(pos + 1). */
static long kid_search(const struct xs_kids *k, const char *name, size_t len)
{
    long lo = 0, hi = k ? (long)k->n - 1 : -1;

    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const char *kn = k->kid[mid]->name;
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
        n = i >= 0 ? k->kid[i] : NULL;
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

static void owned_add(struct xs_tree *t, const struct xs_data *d, int delta)
{
    if (d->perms[0].id < XS_NR_DOMIDS)
        t->owned[d->perms[0].id] += delta;
}

void xs_tree_set_data(struct xs_tree *t, struct xs_node *n, struct xs_data *d)
{
    struct xs_data *old = n->data;

    owned_add(t, old, -1);
    owned_add(t, d, 1);
    rcu_assign_pointer(n->data, d);
    urcu_bp_call_rcu(&old->rcu, free_rcu_plain);
}

/* A child was added or removed: the parent's generation moves too. */
static void touch(struct xs_tree *t, struct xs_node *n)
{
    struct xs_data *d = n->data;

    xs_tree_set_data(t, n, xs_data_new(++t->gen, d->perms, d->nperms, d->value, d->vlen));
}

int xs_tree_create(struct xs_tree *t, const char *path, struct xs_data *d)
{
    char parent_path[XS_PATH_BUF];
    const char *leaf = xs_path_leaf(path);
    struct xs_node *parent;
    struct xs_kids *old, *k;
    long pos;

    xs_path_parent(path, parent_path);
    parent = lookup(t, parent_path, NULL);
    if (!parent)
        return -ENOENT;
    old = parent->kids;
    pos = kid_search(old, leaf, strlen(leaf));
    if (pos >= 0)
        return -EEXIST;
    pos = -pos - 1;
    k = xs_alloc(sizeof(*k) + ((old ? old->n : 0) + 1) * sizeof(k->kid[0]));
    k->n = (old ? old->n : 0) + 1;
    if (old) {
        memcpy(k->kid, old->kid, pos * sizeof(k->kid[0]));
        memcpy(k->kid + pos + 1, old->kid + pos, (old->n - pos) * sizeof(k->kid[0]));
    }
    k->kid[pos] = node_new(leaf, strlen(leaf), d);
    rcu_assign_pointer(parent->kids, k);
    if (old)
        urcu_bp_call_rcu(&old->rcu, free_rcu_plain);
    t->nr_nodes++;
    owned_add(t, d, 1);
    touch(t, parent);
    return 0;
}

static void account_removed(struct xs_tree *t, struct xs_node *n, char *path, size_t len,
                            void (*fn)(void *, const char *, const struct xs_data *), void *arg)
{
    struct xs_kids *k = n->kids;

    for (unsigned int i = 0; k && i < k->n; i++) {
        size_t l = strlen(k->kid[i]->name);

        if (len + 1 + l < XS_PATH_BUF) {
            path[len] = '/';
            memcpy(path + len + 1, k->kid[i]->name, l + 1);
            account_removed(t, k->kid[i], path, len + 1 + l, fn, arg);
            path[len] = '\0';
        }
    }
    t->nr_nodes--;
    owned_add(t, n->data, -1);
    if (fn)
        fn(arg, path, n->data);
}

int xs_tree_remove(struct xs_tree *t, const char *path,
                   void (*fn)(void *arg, const char *path, const struct xs_data *d),
                   void *arg)
{
    char buf[XS_PATH_BUF];
    struct xs_node *parent, *n = lookup(t, path, &parent);
    struct xs_kids *old, *k;
    long pos;

    if (!n)
        return -ENOENT;
    if (!parent)
        return -EINVAL;
    old = parent->kids;
    pos = kid_search(old, n->name, strlen(n->name));
    k = xs_alloc(sizeof(*k) + (old->n - 1) * sizeof(k->kid[0]));
    k->n = old->n - 1;
    memcpy(k->kid, old->kid, pos * sizeof(k->kid[0]));
    memcpy(k->kid + pos, old->kid + pos + 1, (old->n - pos - 1) * sizeof(k->kid[0]));
    rcu_assign_pointer(parent->kids, k->n ? k : NULL);
    if (!k->n)
        free(k);
    urcu_bp_call_rcu(&old->rcu, free_rcu_plain);
    strcpy(buf, path);
    account_removed(t, n, buf, strlen(buf), fn, arg);
    urcu_bp_call_rcu(&n->rcu, node_free_rcu);
    touch(t, parent);
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
