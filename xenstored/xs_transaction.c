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
 *
 * Each request's generations are taken as C's access_node() takes them
 * ("node->generation = ++generation" for every write or delete), in or
 * out of a transaction, so that a refused write still uses one up.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <urcu/uatomic.h>
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
    tx->access_tail = &tx->access;
    tx->events_tail = &tx->events;
    CDS_INIT_LIST_HEAD(&tx->link);
    /* do_transaction_start(): "trans->generation = ++generation". */
    if (!implicit)
        tx->gen = xs_gen_next(&c->xs->tree);
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
    xs_mem_add(tx->conn->xs, tx->conn->domid, -tx->mem);
    while (tx->access) {
        struct xs_tnode *t = tx->access;

        tx->access = t->anext;
        tnode_free(t);
    }
    while (tx->events) {
        struct xs_event *e = tx->events;

        tx->events = e->next;
        free(e->perms);
        free(e);
    }
    free(tx->doms);
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

static void drop_kids(struct xs_tnode *t)
{
    for (unsigned int k = 0; k < t->nkids; k++)
        free(t->kids[k]);
    t->nkids = 0;
}

/* A node's record as C xenstored stores it (write_node_raw()). */
static long record(unsigned int np, size_t vlen, size_t kids)
{
    return XS_RECORD_HDR + np * sizeof(struct xs_permissions) + vlen + kids;
}

/*
 * The memory a transaction's copy of a node costs its connection's
 * domain: the record and its key, "<generation>/<path>"
 * (transaction_get_node_name(), get_acc_domid()). Sets the copy's count
 * to bytes; only asks with check.
 */
static bool copy_cost(struct xs_tx *tx, struct xs_tnode *t, long bytes, bool check)
{
    struct xs_conn *c = tx->conn;
    long want = 0;

    if (tx->implicit)
        return true;
    if (bytes)
        want = bytes + snprintf(NULL, 0, "%llu/", (unsigned long long)tx->gen) + strlen(t->path);
    if (check && !xs_mem_fits(c->xs, c->domid, want - t->copy))
        return false;
    if (!check) {
        xs_mem_add(c->xs, c->domid, want - t->copy);
        tx->mem += want - t->copy;
        t->copy = want;
    }
    return true;
}

/* What a store write of this record costs its owner beyond the record
 * it replaces (do_tdb_write(): the old one given back, the new one
 * checked). Under the store lock (implicit transactions only). */
static long store_delta(struct xs_tx *tx, const char *path, unsigned int owner, long bytes)
{
    struct xs_node *n = xs_tree_lookup(&tx->conn->xs->tree, path);
    long old = 0;

    if (n && n->data->perms[0].id == owner)
        old = record(n->data->nperms, n->data->vlen, n->kids ? n->kids->bytes : 0);
    return bytes - old;
}

/*
 * do_tdb_write()'s memory check, which write_node_raw() answers with EIO:
 * a store write counts for the node's owner, a transaction's for the
 * transaction's domain (get_acc_domid()). mem_domain() is whose; what it
 * asks beyond what it gives back is mem_delta().
 */
static unsigned int mem_domain(struct xs_tx *tx, unsigned int owner)
{
    return tx->implicit ? owner : tx->conn->domid;
}

static long mem_delta(struct xs_tx *tx, struct xs_tnode *t, unsigned int owner, long bytes)
{
    if (tx->implicit)
        return store_delta(tx, t->path, owner, bytes);
    return bytes + snprintf(NULL, 0, "%llu/", (unsigned long long)tx->gen) + strlen(t->path) -
           t->copy;
}

/* One record written, checked against its domain's memory. */
static bool mem_fits(struct xs_tx *tx, struct xs_tnode *t, unsigned int owner, long bytes)
{
    return xs_mem_fits(tx->conn->xs, mem_domain(tx, owner), mem_delta(tx, t, owner, bytes));
}

/* Copies the node from the store into the transaction: C's read_node()
 * with its access_node(). */
static struct xs_tnode *fetch(struct xs_tx *tx, const char *path, int *err)
{
    struct xs_daemon *xs = tx->conn->xs;
    size_t len = strlen(path);
    struct xs_tnode *t;
    struct xs_node *n;

    if (!tx->implicit && !xs_quota_exempt(tx->conn) && tx->nr_nodes >= xs->quota.tx_nodes) {
        /* access_node(): "trans->nodes >= quota_trans_nodes" is ENOSPC
         * and "trans->fail = true": the commit will be ENOMEM. */
        tx->fail = true;
        *err = -ENOSPC;
        return NULL;
    }
    t = xs_alloc(sizeof(*t) + len + 1);
    memcpy(t->path, path, len + 1);
    /* read_node() in a transaction reads its own copy of a node it
     * accessed, else the store's: a node below a subtree the transaction
     * removed, which its walk did not see (the store gained it since),
     * is seen as the store has it, as C does. That store change also
     * dooms the commit (EAGAIN). */
    urcu_bp_read_lock();
    n = xs_tree_lookup(&xs->tree, path);
    if (n) {
        struct xs_data *d = rcu_dereference(n->data);
        struct xs_kids *k = rcu_dereference(n->kids);

        t->check_gen = d->gen;
        t->seen_perms = xs_alloc(d->nperms * sizeof(*d->perms));
        memcpy(t->seen_perms, d->perms, d->nperms * sizeof(*d->perms));
        t->seen_nperms = d->nperms;
        xs_perms_adjust(xs, t->seen_perms, t->seen_nperms, d->gen);
        t->exists = true;
        t->gen = d->gen;
        set_perms(t, t->seen_perms, t->seen_nperms);
        set_value(t, d->value, d->vlen);
        t->nkids = k ? k->n : 0;
        t->kids = xs_alloc((t->nkids + 1) * sizeof(char *));
        for (unsigned int i = 0; i < t->nkids; i++)
            t->kids[i] = xs_strdup(k->kid[i]->name);
        /* access_node(): a read copy is written "true", unchecked. */
        copy_cost(tx, t, record(d->nperms, d->vlen, k ? k->bytes : 0), false);
    }
    urcu_bp_read_unlock();
    if (tx->nr_nodes >= tx->nbuckets * 2)
        grow(tx);
    t->hnext = tx->hash[hash_str(path) % tx->nbuckets];
    tx->hash[hash_str(path) % tx->nbuckets] = t;
    *tx->access_tail = t;
    tx->access_tail = &t->anext;
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

int xs_tx_refused(struct xs_tx *tx, const char *path)
{
    char up[XS_PATH_BUF];
    int err;

    xs_path_parent(path, up);
    if (!get_any(tx, up, &err))
        return err;
    return -EACCES;
}

static struct xs_tx_dom *dom_entry(struct xs_tx *tx, unsigned int domid)
{
    for (unsigned int i = 0; i < tx->ndoms; i++)
        if (tx->doms[i].domid == domid)
            return &tx->doms[i];
    tx->doms = realloc(tx->doms, (tx->ndoms + 1) * sizeof(*tx->doms));
    XENSIM_DIE_IF(!tx->doms);
    tx->doms[tx->ndoms] = (struct xs_tx_dom){ domid, 0 };
    return &tx->doms[tx->ndoms++];
}

/* transaction_entry_inc()/_dec(): a domain once changed stays listed,
 * even if its count is back where it was. */
static void dom_delta(struct xs_tx *tx, unsigned int domid, long delta)
{
    dom_entry(tx, domid)->delta += delta;
}

long xs_tx_dom_delta(const struct xs_tx *tx, unsigned int domid)
{
    for (unsigned int i = 0; i < tx->ndoms; i++)
        if (tx->doms[i].domid == domid)
            return tx->doms[i].delta;
    return 0;
}

/*
 * Notes the event for a change to t. A real transaction only marks the
 * node, as C's queue_watches() does: one event per node, "a non-exact
 * event is replacing an exact one", decided at commit. An implicit one
 * queues it with the permissions that decide who hears of it: t's, old
 * (if given), and the parent's (up, or as the transaction or the store
 * has it, without counting as an access).
 */
static void fire_later(struct xs_tx *tx, const char *path, bool exact, struct xs_tnode *t,
                       const struct xs_tnode *up, const struct xs_permissions *old,
                       unsigned int nold)
{
    size_t len = strlen(path);
    const struct xs_permissions *pp = NULL;
    const struct xs_node *pn = NULL;
    unsigned int npp = 0;
    struct xs_event *e;

    if (!tx->implicit) {
        if (!t->fire) {
            t->fire = true;
            t->fire_exact = exact;
        } else if (!exact) {
            t->fire_exact = false;
        }
        return;
    }
    e = xs_alloc(sizeof(*e) + len + 1);
    e->exact = exact;
    memcpy(e->path, path, len + 1);
    *tx->events_tail = e;
    tx->events_tail = &e->next;
    /* The parent: given, as the transaction has it, or the store's (the
     * store lock is held, so its data stays put). */
    if (!up && strcmp(path, "/")) {
        char pp_path[XS_PATH_BUF];

        xs_path_parent(path, pp_path);
        up = find(tx, pp_path);
        if (!up) {
            pn = xs_tree_lookup(&tx->conn->xs->tree, pp_path);
            if (pn) {
                pp = pn->data->perms;
                npp = pn->data->nperms;
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
    if (pn)
        xs_perms_adjust(tx->conn->xs, e->perms + t->nperms + nold, npp, pn->data->gen);
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

/* add_child() appends; remove_child_entry() keeps the others' order.
 * add_child() does not look for the name first: a transaction that
 * copied a child list and then sees the child itself gone from the store
 * lists the child twice once it makes it again, as C's does (that store
 * change dooms the commit). */
static void kid_add(struct xs_tnode *p, const char *leaf)
{
    p->kids = realloc(p->kids, (p->nkids + 2) * sizeof(char *));
    XENSIM_DIE_IF(!p->kids);
    p->kids[p->nkids++] = xs_strdup(leaf);
    p->kids_changed = true;
}

/* false: p does not list it. */
static bool kid_del(struct xs_tnode *p, const char *leaf)
{
    for (unsigned int i = 0; i < p->nkids; i++) {
        if (!strcmp(p->kids[i], leaf)) {
            free(p->kids[i]);
            memmove(p->kids + i, p->kids + i + 1, (p->nkids - i - 1) * sizeof(char *));
            p->nkids--;
            p->kids_changed = true;
            return true;
        }
    }
    return false;
}

/* A failed write inside a transaction fails the transaction: write_node()
 * "Reverting access_node() is hard, so just fail the transaction", and
 * create_node()'s undo (destroy_node()) does the same. */
static int failed(struct xs_tx *tx, int err)
{
    if (!tx->implicit)
        tx->fail = true;
    return err;
}

/* A chain of new nodes below an existing one, top down: lv[0] is the
 * child of a, lv[levels - 1] the node; gens[k] and bytes[k] bottom up,
 * k = levels for a. */
struct chain {
    struct xs_tnode *a;
    unsigned int levels;
    struct xs_tnode **lv;
    uint64_t *gens;
    long *bytes;
};

/* Looks up (as absent nodes of tx) every level of path below a. */
static int chain_lookup(struct xs_tx *tx, struct chain *ch, const char *path)
{
    size_t alen = strlen(ch->a->path), plen = strlen(path), first = alen == 1 ? 1 : alen + 1;
    int err = 0;

    for (size_t i = first; i <= plen; i++)
        if (path[i] == '/' || path[i] == '\0')
            ch->levels++;
    ch->lv = xs_alloc(ch->levels * sizeof(*ch->lv));
    ch->gens = xs_alloc((ch->levels + 1) * sizeof(*ch->gens));
    ch->bytes = xs_alloc((ch->levels + 1) * sizeof(*ch->bytes));
    for (size_t i = first, j = 0; i <= plen; i++) {
        char sub[XS_PATH_BUF];

        if (path[i] != '/' && path[i] != '\0')
            continue;
        memcpy(sub, path, i);
        sub[i] = '\0';
        ch->lv[j] = get_any(tx, sub, &err);
        if (!ch->lv[j])
            return err;
        j++;
    }
    return 0;
}

/* Bottom up, each node's quotas and generation; the first refusal is the
 * answer. Nothing is written yet. */
static int chain_check(struct xs_tx *tx, struct chain *ch, unsigned int vlen, bool exempt,
                       unsigned int owner_new)
{
    struct xs_conn *c = tx->conn;
    struct xs_daemon *xs = c->xs;
    struct xs_tnode *a = ch->a, **lv = ch->lv;
    unsigned int levels = ch->levels, count = 0;
    long asked = 0;

    if (!exempt)
        count = CMM_LOAD_SHARED(xs->tree.owned[c->domid]) +
                (tx->implicit ? xs_tx_dom_delta(tx, c->domid) : 0);
    for (unsigned int k = 0; k <= levels; k++) {
        bool is_new = k < levels;
        size_t kids = 0, value = 0, np = a->nperms;
        struct xs_tnode *t = is_new ? lv[levels - 1 - k] : a;
        unsigned int owner = is_new ? owner_new : a->perms[0].id;
        long delta;

        if (is_new && !exempt && count >= xs->quota.nodes)
            return k ? failed(tx, -ENOSPC) : -ENOSPC;
        ch->gens[k] = xs_gen_next(&xs->tree);
        if (k == 0) {
            value = vlen;
        } else if (is_new) {
            kids = strlen(xs_path_leaf(lv[levels - k]->path)) + 1;
        } else {
            kids = kids_len(a) + strlen(xs_path_leaf(lv[0]->path)) + 1;
            value = a->vlen;
        }
        if (too_big(c, np, value, kids))
            return failed(tx, -ENOSPC);
        ch->bytes[k] = record(np, value, kids);
        delta = mem_delta(tx, t, owner, ch->bytes[k]);
        if (!xs_mem_fits(xs, mem_domain(tx, owner),
                         delta + (mem_domain(tx, owner) == mem_domain(tx, owner_new) ? asked : 0)))
            return failed(tx, -EIO);
        if (is_new)
            asked += delta;
        /* Outside a transaction each new node counts at once. */
        if (is_new && tx->implicit)
            count++;
    }
    return 0;
}

/* Writes the checked chain: each new node with a's permissions (owned by
 * the caller unless exempt), the leaf with its value, then a. */
static void chain_publish(struct xs_tx *tx, struct chain *ch, const char *path,
                          const void *val, unsigned int vlen, bool exempt)
{
    struct xs_tnode *a = ch->a, **lv = ch->lv;
    unsigned int levels = ch->levels;

    for (unsigned int j = 0; j < levels; j++) {
        struct xs_tnode *t = lv[j], *parent = j ? lv[j - 1] : a;

        t->exists = true;
        t->data_changed = true;
        if (!t->check_gen)
            t->created = true;
        else
            t->replaced = true;
        t->removed = false;
        t->gen = ch->gens[levels - 1 - j];
        set_perms(t, a->perms, a->nperms);
        if (!exempt)
            t->perms[0].id = tx->conn->domid;
        if (j == levels - 1)
            set_value(t, val, vlen);
        else
            set_value(t, "", 0);
        drop_kids(t);
        kid_add(parent, xs_path_leaf(t->path));
        dom_delta(tx, t->perms[0].id, 1);
        copy_cost(tx, t, ch->bytes[levels - 1 - j], false);
    }
    a->gen = ch->gens[levels];
    copy_cost(tx, a, ch->bytes[levels], false);
    fire_later(tx, path, false, lv[levels - 1], levels > 1 ? lv[levels - 2] : a, NULL, 0);
}

/*
 * Makes path and its missing ancestors below the existing node a, as
 * create_node() does: bottom up, the new leaf, each new ancestor, then a
 * with its new child. Each new node must pass the node quota ("domain_entry
 * (conn) >= quota_nb_entry_per_domain", the committed count inside a
 * transaction, which checks the total at commit); each write takes a
 * generation, then must pass the size quota. A refusal undoes what was
 * written, nothing here, but the generations taken stay taken.
 */
static int create_chain(struct xs_tx *tx, struct xs_tnode *a, const char *path,
                        const void *val, unsigned int vlen)
{
    struct xs_conn *c = tx->conn;
    bool exempt = xs_quota_exempt(c);
    unsigned int owner_new = exempt ? a->perms[0].id : c->domid;
    struct chain ch = { .a = a };
    int err = chain_lookup(tx, &ch, path);

    if (!err)
        err = chain_check(tx, &ch, vlen, exempt, owner_new);
    if (!err)
        chain_publish(tx, &ch, path, val, vlen, exempt);
    free(ch.lv);
    free(ch.gens);
    free(ch.bytes);
    return err;
}

int xs_tx_write(struct xs_tx *tx, const char *path, const void *val, unsigned int vlen,
                bool mkdir_only)
{
    struct xs_conn *c = tx->conn;
    int err;
    struct xs_tnode *t = get_any(tx, path, &err), *a;
    uint64_t gen;

    if (!t)
        return err;
    if (t->exists) {
        if (!(xs_perm_for(c, t->perms, t->nperms) & XS_PERM_WRITE))
            return xs_tx_refused(tx, path);
        /* do_mkdir(): "If it already exists, fine." Nothing written. */
        if (mkdir_only)
            return 0;
        gen = xs_gen_next(&c->xs->tree);
        if (too_big(c, t->nperms, vlen, kids_len(t)))
            return failed(tx, -ENOSPC);
        if (!mem_fits(tx, t, t->perms[0].id, record(t->nperms, vlen, kids_len(t))))
            return failed(tx, -EIO);
        copy_cost(tx, t, record(t->nperms, vlen, kids_len(t)), false);
        set_value(t, val, vlen);
        t->gen = gen;
        t->data_changed = true;
        fire_later(tx, path, false, t, NULL, NULL, 0);
        return 0;
    }
    a = nearest(tx, path, &err);
    if (!a)
        return err;
    if (!(xs_perm_for(c, a->perms, a->nperms) & XS_PERM_WRITE))
        return -EACCES;
    return create_chain(tx, a, path, val, vlen);
}

/*
 * delnode_sub() for d, a node the walk is done with, whose parent as the
 * transaction sees it is up: its watches (exactly on its own path but
 * for the removal's root), its deletion, then up's child list rewritten
 * without it (rm_from_parent(), or rm_node()'s delete_child() for the
 * root), each write taking a generation.
 */
static bool rm_one(struct xs_tx *tx, struct xs_tnode *d, struct xs_tnode *up, bool exact)
{
    struct xs_tree *tree = &tx->conn->xs->tree;

    fire_later(tx, d->path, exact, d, up, NULL, 0);
    xs_gen_next(tree);
    copy_cost(tx, d, 0, false);
    dom_delta(tx, d->perms[0].id, -1);
    d->exists = false;
    d->removed = true;
    drop_kids(d);
    /* delete_child(): a parent whose list lacks the node (a
     * transaction's mixed view again, see rm_below()) is corrupt(),
     * EIO, and is not written. */
    if (!kid_del(up, xs_path_leaf(d->path)))
        return false;
    up->gen = xs_gen_next(tree);
    /* remove_child_entry() writes the parent unchecked. */
    copy_cost(tx, up, record(up->nperms, up->vlen, kids_len(up)), false);
    return true;
}

/*
 * The subtree below t, removed as walk_node_tree() walks it with
 * delnode_sub() as its exit function: children before parents, each
 * child list from its front. A transaction sees its own copies over the
 * store, so a child list it copied may name a node since removed from
 * the store: C's walk cannot read it and stops there (-EIO from
 * rm_node()), and what it removed so far stays removed.
 */
static int rm_below(struct xs_tx *tx, struct xs_tnode *t)
{
    while (t->nkids) {
        char child[XS_PATH_BUF];
        struct xs_tnode *c;
        int err;

        if (snprintf(child, sizeof(child), "%s/%s", strcmp(t->path, "/") ? t->path : "",
                     t->kids[0]) >= (int)sizeof(child))
            return -EIO;
        c = get_any(tx, child, &err);
        if (!c || !c->exists)
            return -EIO;
        if ((err = rm_below(tx, c)))
            return err;
        rm_one(tx, c, t, true);
    }
    return 0;
}

int xs_tx_rm(struct xs_tx *tx, const char *path)
{
    struct xs_conn *c = tx->conn;
    struct xs_tnode *t, *p;
    char up[XS_PATH_BUF];
    int err;

    t = get_any(tx, path, &err);
    if (!t)
        return err;
    xs_path_parent(path, up);
    if (!t->exists) {
        /* do_rm(): "Didn't exist already?  Fine, if parent exists", once
         * get_node() found the nearest ancestor lets us write. */
        err = xs_tx_missing(tx, path, XS_PERM_WRITE);
        if (err != -ENOENT)
            return err;
        p = get_any(tx, up, &err);
        if (!p)
            return err;
        return p->exists ? 0 : -ENOENT;
    }
    if (!(xs_perm_for(c, t->perms, t->nperms) & XS_PERM_WRITE))
        return xs_tx_refused(tx, path);
    if (!strcmp(path, "/"))
        return -EINVAL;
    p = get_any(tx, up, &err);
    if (!p)
        return err;
    /* rm_node(): "if (!parent) return ... EINVAL": a node this
     * transaction copied whose parent it sees as gone. */
    if (!p->exists)
        return -EINVAL;
    if ((err = rm_below(tx, t)))
        return err;
    return rm_one(tx, t, p, false) ? 0 : -EIO;
}

int xs_tx_set_perms(struct xs_tx *tx, const char *path, const struct xs_permissions *p,
                    unsigned int np)
{
    const unsigned int need = XS_PERM_WRITE | XS_PERM_OWNER;
    struct xs_conn *c = tx->conn;
    int err;
    struct xs_tnode *t = get_any(tx, path, &err);
    struct xs_permissions *old;
    unsigned int nold;
    uint64_t gen;

    if (!t)
        return err;
    if (!t->exists)
        return xs_tx_missing(tx, path, need);
    if ((xs_perm_for(c, t->perms, t->nperms) & need) != need)
        return xs_tx_refused(tx, path);
    /* XSA-115: "Unprivileged domains may not change the owner." */
    if (!xs_quota_exempt(c) && p[0].id != t->perms[0].id)
        return -EPERM;
    gen = xs_gen_next(&c->xs->tree);
    if (too_big(c, np, t->vlen, kids_len(t)))
        return failed(tx, -ENOSPC);
    if (!mem_fits(tx, t, p[0].id, record(np, t->vlen, kids_len(t))))
        return failed(tx, -EIO);
    copy_cost(tx, t, record(np, t->vlen, kids_len(t)), false);
    dom_delta(tx, t->perms[0].id, -1);
    dom_delta(tx, p[0].id, 1);
    old = xs_alloc(t->nperms * sizeof(*old));
    nold = t->nperms;
    memcpy(old, t->perms, nold * sizeof(*old));
    set_perms(t, p, np);
    t->gen = gen;
    t->data_changed = true;
    fire_later(tx, path, false, t, NULL, old, nold);
    free(old);
    return 0;
}

struct owned_walk {
    domid_t domid;
    unsigned int n, max;
    char **paths;
};

static bool collect_owned(void *arg, const char *path, const struct xs_data *d)
{
    struct owned_walk *w = arg;

    if (d->perms[0].id != w->domid || !strcmp(path, "/"))
        return true;
    if (w->n == w->max) {
        w->max = w->max ? w->max * 2 : 16;
        w->paths = realloc(w->paths, w->max * sizeof(char *));
        XENSIM_DIE_IF(!w->paths);
    }
    w->paths[w->n++] = xs_strdup(path);
    /* domain_tree_remove_sub(): "Skip children in all cases". */
    return false;
}

void xs_tx_rm_owned(struct xs_tx *tx, domid_t domid)
{
    struct owned_walk w = { .domid = domid };

    xs_tree_walk(&tx->conn->xs->tree, collect_owned, &w);
    for (unsigned int i = 0; i < w.n; i++) {
        xs_tx_rm(tx, w.paths[i]);
        free(w.paths[i]);
    }
    free(w.paths);
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

    for (struct xs_tnode *t = tx->access; t; t = t->anext) {
        struct xs_node *n = xs_tree_lookup(tree, t->path);

        if ((n ? n->data->gen : 0) != t->check_gen)
            return false;
    }
    return true;
}

/* transaction_fix_domains(): "cnt >= quota_nb_entry_per_domain" for
 * every unprivileged domain the transaction changed. */
static bool counts_fit(struct xs_tx *tx)
{
    struct xs_daemon *xs = tx->conn->xs;

    for (unsigned int i = 0; i < tx->ndoms; i++) {
        unsigned int d = tx->doms[i].domid;

        if (d && d < XS_NR_DOMIDS &&
            (long)xs->tree.owned[d] + tx->doms[i].delta >= (long)xs->quota.nodes)
            return false;
    }
    return true;
}

static bool kids_in_order(const struct xs_node *n, const struct xs_tnode *t)
{
    const struct xs_kids *k = n->kids;

    if ((k ? k->n : 0) != t->nkids)
        return false;
    for (unsigned int i = 0; i < t->nkids; i++)
        if (strcmp(k->kid[i]->name, t->kids[i]))
            return false;
    return true;
}

static void apply(struct xs_tx *tx)
{
    struct xs_tree *tree = &tx->conn->xs->tree;
    struct xs_tnode **all = xs_alloc((tx->nr_nodes + 1) * sizeof(*all));
    unsigned int n = 0;

    for (struct xs_tnode *t = tx->access; t; t = t->anext)
        if (t->data_changed || t->kids_changed || t->removed)
            all[n++] = t;
    qsort(all, n, sizeof(*all), cmp_tnode);
    /* Removals first, then writes parents first, then each changed
     * child list put in the transaction's order. */
    for (unsigned int i = 0; i < n; i++)
        if ((!all[i]->exists || all[i]->replaced) && xs_tree_lookup(tree, all[i]->path))
            xs_tree_remove(tree, all[i]->path);
    for (unsigned int i = 0; i < n; i++) {
        struct xs_tnode *t = all[i];
        struct xs_node *node;

        if (!t->exists)
            continue;
        node = xs_tree_lookup(tree, t->path);
        if (!node)
            xs_tree_create(tree, t->path,
                           xs_data_new(t->gen, t->perms, t->nperms, t->value, t->vlen));
        else if (t->data_changed || t->kids_changed)
            xs_tree_set_data(tree, node,
                             xs_data_new(t->gen, t->perms, t->nperms, t->value, t->vlen));
    }
    for (unsigned int i = 0; i < n; i++) {
        struct xs_tnode *t = all[i];
        struct xs_node *node = t->exists ? xs_tree_lookup(tree, t->path) : NULL;

        if (node && !kids_in_order(node, t))
            xs_tree_order_kids(tree, node, t->kids, t->nkids);
    }
    free(all);
}

int xs_tx_commit(struct xs_tx *tx)
{
    struct xs_daemon *xs = tx->conn->xs;
    struct xs_tree *tree = &xs->tree;

    if (!tx->implicit) {
        /* do_transaction_end(): "if (trans->fail) return ENOMEM;", then
         * the node counts (ENOSPC), then the generations (EAGAIN). */
        if (tx->fail)
            return -ENOMEM;
        if (!counts_fit(tx))
            return -ENOSPC;
        if (!validate(tx))
            return -EAGAIN;
        /* finalize_transaction(): "hdr->generation = ++generation" for
         * each node written, in the order first accessed. */
        for (struct xs_tnode *t = tx->access; t; t = t->anext)
            if (t->exists && (t->data_changed || t->kids_changed))
                t->gen = xs_gen_next(tree);
    }
    apply(tx);
    if (tx->implicit) {
        for (struct xs_event *e = tx->events; e; e = e->next) {
            struct xs_perm_list l[3] = {
                { e->perms, e->n[0], NULL }, { e->perms + e->n[0], e->n[1], NULL },
                { e->perms + e->n[0] + e->n[1], e->n[2], NULL },
            };

            xs_watch_fire(xs, e->path, e->exact, l, 3);
        }
        return 0;
    }
    /* finalize_transaction() fires each marked node, in the order first
     * accessed, as fire_watches(conn, trans, i->node, NULL, exact,
     * i->perms): the committed node (none if it is gone) and its parent,
     * and the permissions the transaction first saw it with. */
    for (struct xs_tnode *t = tx->access; t; t = t->anext) {
        struct xs_node *node, *pn = NULL;
        char pp[XS_PATH_BUF];

        if (!t->fire)
            continue;
        node = xs_tree_lookup(tree, t->path);
        if (node && strcmp(t->path, "/")) {
            xs_path_parent(t->path, pp);
            pn = xs_tree_lookup(tree, pp);
        }
        struct xs_perm_list l[3] = {
            { node ? node->data->perms : NULL, node ? node->data->nperms : 0,
              node ? &node->data->gen : NULL },
            { t->seen_perms, t->seen_nperms, NULL },
            { pn ? pn->data->perms : NULL, pn ? pn->data->nperms : 0, pn ? &pn->data->gen : NULL },
        };

        xs_watch_fire(xs, t->path, t->fire_exact, l, 3);
    }
    return 0;
}
