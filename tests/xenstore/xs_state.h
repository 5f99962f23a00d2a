/*
 * The daemon's whole state as text, for tests that check a refused
 * request changed nothing: every node with its value and permissions,
 * the per-domain node counts, the limits, the special watch permissions,
 * the domain table, and for each of the test's connections its watches,
 * queued messages and what its transactions changed. Reads the daemon's
 * private structures (xs_internal.h) under the store lock.
 */
#ifndef XS_STATE_H
#define XS_STATE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xs_internal.h"

static inline void xst_perms(FILE *f, const struct xs_permissions *p, unsigned int n)
{
    char buf[XS_MAX_PERMS * 16];
    int len = xs_perms_format(p, n, buf, sizeof(buf));

    for (int i = 0; i < len - 1; i++)
        fputc(buf[i] ? buf[i] : ',', f);
}

static inline void xst_value(FILE *f, const char *v, unsigned int len)
{
    fputc('"', f);
    for (unsigned int i = 0; i < len; i++) {
        unsigned char ch = v[i];

        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
            fputc(ch, f);
        else
            fprintf(f, "\\x%02x", ch);
    }
    fputc('"', f);
}

static inline bool xst_node(void *arg, const char *path, const struct xs_data *d)
{
    FILE *f = arg;

    fprintf(f, "node %s perms ", path);
    xst_perms(f, d->perms, d->nperms);
    fputs(" value ", f);
    xst_value(f, d->value, d->vlen);
    fputc('\n', f);
    return true;
}

static inline int xst_cmp_tnode(const void *a, const void *b)
{
    return strcmp((*(struct xs_tnode *const *)a)->path, (*(struct xs_tnode *const *)b)->path);
}

/* What a transaction changed; the copies it only read (and which nodes
 * it has looked at: a refused request still counts as an access, as in
 * C xenstored) are left out, and so is its failed mark, which a refused
 * write sets (C's fail_transaction(): the commit says ENOMEM). */
static inline void xst_tx(FILE *f, int who, const struct xs_tx *tx)
{
    struct xs_tnode **t = malloc((tx->nr_nodes + 1) * sizeof(*t));
    unsigned int n = 0;

    ck_assert_ptr_nonnull(t);
    for (unsigned int i = 0; i < tx->ndoms; i++)
        fprintf(f, "tx %d:%u dom %u %ld\n", who, tx->id, tx->doms[i].domid, tx->doms[i].delta);
    for (unsigned int b = 0; b < tx->nbuckets; b++)
        for (struct xs_tnode *p = tx->hash[b]; p; p = p->hnext)
            if (p->data_changed || p->kids_changed || p->removed || p->replaced || p->created)
                t[n++] = p;
    qsort(t, n, sizeof(*t), xst_cmp_tnode);
    for (unsigned int i = 0; i < n; i++) {
        fprintf(f, "tx %d:%u %s%s%s%s%s%s", who, tx->id, t[i]->path, t[i]->exists ? " exists" : "",
                t[i]->data_changed ? " data" : "", t[i]->kids_changed ? " kids" : "",
                t[i]->removed ? " removed" : "", t[i]->replaced ? " replaced" : "");
        if (t[i]->exists) {
            fputs(" perms ", f);
            xst_perms(f, t[i]->perms, t[i]->nperms);
            fputs(" value ", f);
            xst_value(f, t[i]->value, t[i]->vlen);
            fputs(" kids", f);
            for (unsigned int k = 0; k < t[i]->nkids; k++)
                fprintf(f, " %s", t[i]->kids[k]);
        }
        fputc('\n', f);
    }
    for (const struct xs_event *e = tx->events; e; e = e->next)
        fprintf(f, "tx %d:%u event %s%s\n", who, tx->id, e->path, e->exact ? " exact" : "");
    free(t);
}

/* The state as text (free() it). The transaction skip_tx of connection
 * skip_who is left out: a TRANSACTION_END ends it even when refused. */
static inline char *xst_dump(struct xs_daemon *xs, struct xs_conn *const *conns, int nconns,
                             int skip_who, uint32_t skip_tx)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    struct xs_domain *d;
    unsigned int skipped = 0;

    ck_assert_ptr_nonnull(f);
    if (skip_who >= 0 && skip_who < nconns && conns[skip_who] && skip_tx)
        skipped = xs_conn_tx(conns[skip_who], skip_tx) != NULL;
    xensim_mutex_lock(&xs->lock);
    xs_tree_walk(&xs->tree, xst_node, f);
    fprintf(f, "nodes %lu watches %lu txs %lu conns %lu domains %lu\n", xs->tree.nr_nodes,
            xs->nr_watches, xs->nr_txs - skipped, xs->nr_conns, xs->nr_domains);
    for (unsigned int i = 0; i < XS_NR_DOMIDS; i++) {
        const struct xs_dom_acct *a = &xs->acct[i];
        unsigned int txs = a->txs - (skipped && conns[skip_who]->domid == i ? skipped : 0);
        long memory = a->memory;

        if (xs->tree.owned[i])
            fprintf(f, "owned %u %u bytes %ld\n", i, xs->tree.owned[i], xs->tree.bytes[i]);
        /* Less the transactions' copies, which follow what they looked
         * at (see xst_tx()). */
        for (int k = 0; k < nconns; k++) {
            struct xs_tx *tx;

            if (conns[k] && conns[k]->domid == i)
                cds_list_for_each_entry(tx, &conns[k]->txs, link)
                    memory -= tx->mem;
        }
        if (a->watches || txs || a->outstanding || memory || a->gone || a->born)
            fprintf(f, "acct %u watches %u txs %u outstanding %d memory %ld gone %d born %llu\n",
                    i, a->watches, txs, a->outstanding, memory, a->gone,
                    (unsigned long long)a->born);
    }
    fprintf(f, "quota nodes %u entry-size %u watches %u transactions %u outstanding %u "
            "permissions %u transaction-nodes %u memory %u\n", xs->quota.nodes,
            xs->quota.entry_size, xs->quota.watches, xs->quota.transactions,
            xs->quota.outstanding, xs->quota.perms, xs->quota.tx_nodes, xs->quota.memory);
    for (int i = 0; i < 2; i++) {
        fprintf(f, "special %d ", i);
        xst_perms(f, xs->special_perms[i], xs->special_nperms[i]);
        fputc('\n', f);
    }
    cds_list_for_each_entry(d, &xs->domains, link)
        fprintf(f, "domain %u target %u shutdown %d\n", d->domid, xs->target[d->domid],
                d->shutdown_seen);
    for (int i = 0; i < nconns; i++) {
        struct xs_conn *c = conns[i];
        struct xs_watch *w;
        struct xs_tx *tx;

        if (!c)
            continue;
        xensim_mutex_lock(&c->out_lock);
        fprintf(f, "conn %d dom %u watches %u txs %u replies %u events %u\n", i, c->domid,
                c->nr_watches, c->nr_txs - (i == skip_who ? skipped : 0), c->out_replies,
                c->out_events);
        xensim_mutex_unlock(&c->out_lock);
        cds_list_for_each_entry(w, &c->watches, conn_link)
            fprintf(f, "watch %d %s %s%s\n", i, w->path, w->token, w->relative ? " rel" : "");
        cds_list_for_each_entry(tx, &c->txs, link)
            if (!(i == skip_who && tx->id == skip_tx))
                xst_tx(f, i, tx);
    }
    xensim_mutex_unlock(&xs->lock);
    ck_assert_int_eq(fclose(f), 0);
    return text;
}

/* Fails on the first line that differs, showing both. */
static inline void xst_same(const char *before, const char *after, const char *where)
{
    const char *a = before, *b = after;

    while (*a && *a == *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);

        if (la != lb || memcmp(a, b, la))
            break;
        a += la + (ea ? 1 : 0);
        b += lb + (eb ? 1 : 0);
    }
    ck_assert_msg(!*a && !*b, "%s: a refused request changed the state: before \"%.*s\", after \"%.*s\"",
                  where, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

#endif
