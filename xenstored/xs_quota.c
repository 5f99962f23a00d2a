/*
 * Per-domain limits: their defaults, who is exempt, the per-domain
 * counts (memory above all) and the "quota" CONTROL command that reads
 * and changes them at run time.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <urcu/uatomic.h>
#include "xs_internal.h"

static const struct {
    const char *name;
    size_t off;
    unsigned int def;
} quotas[] = {
    { "nodes", offsetof(struct xs_quota, nodes), 1000 },
    { "entry-size", offsetof(struct xs_quota, entry_size), 2048 },
    { "watches", offsetof(struct xs_quota, watches), 128 },
    { "transactions", offsetof(struct xs_quota, transactions), 10 },
    { "outstanding", offsetof(struct xs_quota, outstanding), 20 },
    { "permissions", offsetof(struct xs_quota, perms), 5 },
    { "transaction-nodes", offsetof(struct xs_quota, tx_nodes), 1024 },
    /* quota_memory_per_domain_hard: "2 * 1024 * 1024 + 512 * 1024" */
    { "memory", offsetof(struct xs_quota, memory), 2621440 },
};
#define NR_QUOTAS (sizeof(quotas) / sizeof(quotas[0]))

static unsigned int *field(struct xs_quota *q, unsigned int i)
{
    return (unsigned int *)((char *)q + quotas[i].off);
}

void xs_quota_defaults(struct xs_quota *q)
{
    for (unsigned int i = 0; i < NR_QUOTAS; i++)
        if (!*field(q, i))
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

/* "quota" lists the limits; "quota NAME VALUE" sets one; "quota DOMID"
 * shows a domain's counts. */
int xs_quota_control(struct xs_daemon *xs, char **argv, int argc, char *out, size_t size)
{
    size_t off = 0;
    char *end;

    if (argc == 0) {
        for (unsigned int i = 0; i < NR_QUOTAS; i++) {
            int k = snprintf(out + off, size - off, "%-18s %u\n", quotas[i].name,
                             *field(&xs->quota, i));
            if (k < 0 || (size_t)k >= size - off)
                return -E2BIG;
            off += k;
        }
        return off + 1;
    }
    if (argc == 1) {
        unsigned long d = strtoul(argv[0], &end, 10);

        if (*end || !*argv[0] || d >= XS_NR_DOMIDS)
            return -EINVAL;
        xensim_mutex_lock(&xs->lock);
        off = snprintf(out, size, "nodes %u\n", xs->tree.owned[d]);
        xensim_mutex_unlock(&xs->lock);
        return off + 1;
    }
    if (argc == 2) {
        unsigned long v = strtoul(argv[1], &end, 10);

        if (*end || !*argv[1] || v == 0 || v > 0x7fffffff)
            return -EINVAL;
        for (unsigned int i = 0; i < NR_QUOTAS; i++) {
            if (!strcmp(argv[0], quotas[i].name)) {
                xensim_mutex_lock(&xs->lock);
                *field(&xs->quota, i) = v;
                xensim_mutex_unlock(&xs->lock);
                return snprintf(out, size, "OK") + 1;
            }
        }
    }
    return -EINVAL;
}
