/*
 * Permission lists: parsing and printing "r5"-style entries, and deciding
 * what a connection may do with a node (C xenstored's perm_for_conn()),
 * including the entries it ignores for domains that are gone. Relies on
 * the daemon's SET_TARGET table and per-domain records.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "xs_internal.h"

static int letter_perm(char ch)
{
    switch (ch) {
    case 'n': return XS_PERM_NONE;
    case 'r': return XS_PERM_READ;
    case 'w': return XS_PERM_WRITE;
    case 'b': return XS_PERM_READ | XS_PERM_WRITE;
    default: return -1;
    }
}

/*
 * xs_lib.c:xs_strings_to_perms(): a letter, then "perms[i].id =
 * strtol(p, &end, 0)", refused if "*end || !*p". So "n0x1" is domain 1,
 * "r010" domain 8 and "r-1" domain 4294967295. s holds n NUL-terminated
 * strings.
 */
int xs_perms_parse(const char *s, unsigned int n, struct xs_permissions *out)
{
    for (unsigned int i = 0; i < n; i++) {
        int perm = letter_perm(s[0]);
        char *end;
        long id;

        if (perm < 0 || !s[1])
            return -EINVAL;
        id = strtol(s + 1, &end, 0);
        if (*end)
            return -EINVAL;
        out[i].id = (unsigned int)id;
        out[i].perms = perm;
        s = end + 1;
    }
    return 0;
}

/* xs_perm_to_string(): the id printed "%i", so 4294967295 shows as -1. */
int xs_perms_format(const struct xs_permissions *p, unsigned int n, char *out, size_t size)
{
    static const char letters[] = "nrwb";
    size_t off = 0;

    for (unsigned int i = 0; i < n; i++) {
        int k = snprintf(out + off, size - off, "%c%d",
                         letters[p[i].perms & (XS_PERM_READ | XS_PERM_WRITE)], (int)p[i].id);
        if (k < 0 || (size_t)k + 1 > size - off)
            return -E2BIG;
        off += k + 1;
    }
    return off;
}

bool xs_domid_gone(struct xs_daemon *xs, unsigned int domid)
{
    return domid >= XS_NR_DOMIDS || CMM_LOAD_SHARED(xs->acct[domid].gone);
}

/* domain_alloc_permrefs() -> find_or_alloc_existing_domain(): a domid
 * with no domain struct is looked up with xc_domain_getinfo(), and one
 * the hypervisor does not have is no domain. A released one whose
 * domain lives on is, as RELEASE only dropped its struct. Without a
 * hypervisor to ask, released ones are not. */
bool xs_domid_unknown(struct xs_daemon *xs, unsigned int domid)
{
    enum xensim_domain_state st;

    if (domid >= XS_NR_DOMIDS)
        return true;
    if (domid == 0)
        return false;
    if (!xs->ring_ops || !xs->ring_ops->domain_state)
        return xs_domid_gone(xs, domid);
    return xs->ring_ops->domain_state(xs->ring_ctx, (domid_t)domid, &st) < 0;
}

/* find_or_alloc_existing_domain() for a released domid the hypervisor
 * still has: a struct anew, born now (alloc_domain(): "domain->
 * generation = generation"), so entries naming it in nodes written
 * before stay ignored, and an INTRODUCE later keeps this birth. Under
 * xs->lock. */
void xs_domid_revive(struct xs_daemon *xs, unsigned int domid)
{
    if (domid >= XS_NR_DOMIDS || !xs->acct[domid].gone)
        return;
    xs->acct[domid].gone = false;
    CMM_STORE_SHARED(xs->acct[domid].born, CMM_LOAD_SHARED(xs->tree.gen));
}

/* domain_adjust_node_perms()/chk_domain_generation(): an entry (not the
 * owner) is ignored when its domain is gone or was made after the node
 * was last written, so a new domain does not inherit an old one's
 * rights. */
static bool entry_gone(struct xs_daemon *xs, unsigned int domid, uint64_t gen)
{
    return xs_domid_gone(xs, domid) || CMM_LOAD_SHARED(xs->acct[domid].born) > gen;
}

void xs_perms_adjust(struct xs_daemon *xs, struct xs_permissions *p, unsigned int n,
                     uint64_t gen)
{
    for (unsigned int i = 1; i < n; i++)
        if (!(p[i].perms & XS_PERM_IGNORE) && entry_gone(xs, p[i].id, gen))
            p[i].perms |= XS_PERM_IGNORE;
}

static unsigned int perm_for(const struct xs_conn *c, const struct xs_permissions *p,
                             unsigned int n, const uint64_t *gen)
{
    const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
    domid_t target = c->xs->target[c->domid];

    if (c->privileged)
        return all;
    if (p[0].id == c->domid || (target != DOMID_INVALID && p[0].id == target))
        return all;
    for (unsigned int i = 1; i < n; i++) {
        if (p[i].perms & XS_PERM_IGNORE || (gen && entry_gone(c->xs, p[i].id, *gen)))
            continue;
        if (p[i].id == c->domid || (target != DOMID_INVALID && p[i].id == target))
            return p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
    }
    return p[0].perms & (XS_PERM_READ | XS_PERM_WRITE);
}

unsigned int xs_perm_for(const struct xs_conn *c, const struct xs_permissions *p,
                         unsigned int n)
{
    return perm_for(c, p, n, NULL);
}

unsigned int xs_perm_for_at(const struct xs_conn *c, const struct xs_permissions *p,
                            unsigned int n, const uint64_t *gen)
{
    return perm_for(c, p, n, gen);
}

unsigned int xs_perm_for_data(const struct xs_conn *c, const struct xs_data *d)
{
    return perm_for(c, d->perms, d->nperms, &d->gen);
}

/* remove_domid_from_perm(), for the special nodes at a domain's death:
 * an owner that is the domain becomes dom0, its other entries go. */
void xs_perms_drop_domain(struct xs_permissions *p, unsigned int *n, domid_t domid)
{
    unsigned int keep = 1;

    if (p[0].id == domid)
        p[0].id = 0;
    for (unsigned int i = 1; i < *n; i++)
        if (p[i].id != domid)
            p[keep++] = p[i];
    *n = keep;
}
