/*
 * Per-domain limits: their defaults, who is exempt, the per-domain
 * counts (memory above all) and the "quota" CONTROL command that reads
 * and changes them at run time.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/uatomic.h>
#include "xs_internal.h"

/* In the order, and with the names and words, of C xenstored 4.17's
 * "quota" listing (xenstored_control.c: hard_quotas[]). path-max is
 * the protocol's, not settable here. */
static const struct {
    const char *name;
    size_t off;
    unsigned int def;
    const char *descr;
} quotas[] = {
    { "nodes", offsetof(struct xs_quota, nodes), 1000, "Nodes per domain" },
    { "watches", offsetof(struct xs_quota, watches), 128, "Watches per domain" },
    { "transactions", offsetof(struct xs_quota, transactions), 10, "Transactions per domain" },
    { "outstanding", offsetof(struct xs_quota, outstanding), 20,
      "Outstanding requests per domain" },
    { "transaction-nodes", offsetof(struct xs_quota, tx_nodes), 1024,
      "Max. number of accessed nodes per transaction" },
    /* quota_memory_per_domain_hard: "2 * 1024 * 1024 + 512 * 1024" */
    { "memory", offsetof(struct xs_quota, memory), 2621440,
      "Total Xenstore memory per domain (error level)" },
    { "node-size", offsetof(struct xs_quota, entry_size), 2048, "Max. size of a node" },
    { "path-max", 0, XENSTORE_REL_PATH_MAX, "Max. length of a node path" },
    { "permissions", offsetof(struct xs_quota, perms), 5, "Max. number of permissions per node" },
};
#define NR_QUOTAS (sizeof(quotas) / sizeof(quotas[0]))

/* NULL for path-max, which is fixed. */
static unsigned int *field(struct xs_quota *q, unsigned int i)
{
    if (!strcmp(quotas[i].name, "path-max"))
        return NULL;
    return (unsigned int *)((char *)q + quotas[i].off);
}

static unsigned int value(struct xs_quota *q, unsigned int i)
{
    unsigned int *f = field(q, i);

    return f ? *f : quotas[i].def;
}

void xs_quota_defaults(struct xs_quota *q)
{
    for (unsigned int i = 0; i < NR_QUOTAS; i++)
        if (field(q, i) && !*field(q, i))
            *field(q, i) = quotas[i].def;
}

bool xs_quota_exempt(const struct xs_conn *c)
{
    return c->privileged;
}

struct xs_dom_acct *xs_acct(struct xs_daemon *xs, unsigned int domid)
{
    return domid < XS_NR_DOMIDS ? &xs->acct[domid] : NULL;
}

long xs_mem_of(struct xs_daemon *xs, unsigned int domid)
{
    if (domid >= XS_NR_DOMIDS)
        return 0;
    return uatomic_read(&xs->acct[domid].memory) + uatomic_read(&xs->tree.bytes[domid]);
}

void xs_mem_add(struct xs_daemon *xs, unsigned int domid, long bytes)
{
    if (domid < XS_NR_DOMIDS)
        uatomic_add(&xs->acct[domid].memory, bytes);
}

/* domain_chk_quota(): only unprivileged domains are limited, "mem >=
 * quota_memory_per_domain_hard" with mem the count after the change. */
bool xs_mem_fits(struct xs_daemon *xs, unsigned int domid, long bytes)
{
    return domid == 0 || domid >= XS_NR_DOMIDS ||
           xs_mem_of(xs, domid) + bytes < (long)CMM_LOAD_SHARED(xs->quota.memory);
}

bool xs_mem_add_chk(struct xs_daemon *xs, unsigned int domid, long bytes)
{
    if (!xs_mem_fits(xs, domid, bytes))
        return false;
    xs_mem_add(xs, domid, bytes);
    return true;
}

bool xs_mem_over(struct xs_daemon *xs, unsigned int domid)
{
    return domid != 0 && domid < XS_NR_DOMIDS &&
           xs_mem_of(xs, domid) >= (long)CMM_LOAD_SHARED(xs->quota.memory);
}

/*
 * do_control_quota(), in its formats: "quota" lists the limits ("%-17s:
 * %8d %s"), "quota set NAME VALUE" sets one, "quota DOMID" shows an
 * introduced domain's counts ("%-16s: %8d"), ENOENT for another. Each
 * reply ends with a NUL.
 */
static int put(char *out, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int put(char *out, size_t size, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(out + *off, size - *off, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= size - *off)
        return -E2BIG;
    *off += (size_t)k;
    return 0;
}

int xs_quota_control(struct xs_daemon *xs, char **argv, int argc, char *out, size_t size)
{
    size_t off = 0;
    char *end;
    int err = 0;

    if (argc == 0) {
        err = put(out, size, &off, "Quota settings:\n");
        for (unsigned int i = 0; i < NR_QUOTAS && !err; i++)
            err = put(out, size, &off, "%-17s: %8u %s\n", quotas[i].name,
                      value(&xs->quota, i), quotas[i].descr);
        return err ? err : (int)off + 1;
    }
    if (!strcmp(argv[0], "set")) {
        unsigned long v;

        if (argc != 3)
            return -EINVAL;
        v = strtoul(argv[2], &end, 10);
        if (*end || !*argv[2] || v == 0 || v > 0x7fffffff)
            return -EINVAL;
        for (unsigned int i = 0; i < NR_QUOTAS; i++) {
            if (field(&xs->quota, i) && !strcmp(argv[1], quotas[i].name)) {
                xensim_mutex_lock(&xs->lock);
                *field(&xs->quota, i) = v;
                xensim_mutex_unlock(&xs->lock);
                return snprintf(out, size, "OK") + 1;
            }
        }
        return -EINVAL;
    }
    if (argc == 1) {
        /* "domid = atoi(vec[0])": "abc" is dom0. */
        unsigned long d = (unsigned int)atoi(argv[0]);
        struct xs_domain *dom;
        bool known = d == 0;                 /* C's dom0 is always there */

        xensim_mutex_lock(&xs->lock);
        cds_list_for_each_entry(dom, &xs->domains, link)
            known |= dom->domid == d;
        if (known) {
            struct xs_dom_acct *a = &xs->acct[d];

            err = put(out, size, &off, "Domain %lu:\n", d);
            if (!err)
                err = put(out, size, &off, "%-16s: %8u\n%-16s: %8u\n%-16s: %8u\n", "nodes",
                          xs->tree.owned[d], "watches", a->watches, "transactions", a->txs);
            if (!err)
                err = put(out, size, &off, "%-16s: %8d\n%-16s: %8ld\n", "outstanding",
                          uatomic_read(&a->outstanding), "memory", xs_mem_of(xs, d));
        }
        xensim_mutex_unlock(&xs->lock);
        if (!known)
            return -ENOENT;
        return err ? err : (int)off + 1;
    }
    return -EINVAL;
}
