/*
 * Permission lists: parsing and printing "r5"-style entries, and deciding
 * what a connection may do with a node (C xenstored's perm_for_conn).
 * Relies on the daemon's SET_TARGET table.
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

int xs_perms_parse(const char *s, size_t len, struct xs_permissions *out,
                   unsigned int max, unsigned int *n)
{
    const char *end = s + len;

    *n = 0;
    while (s < end) {
        const char *nul = memchr(s, '\0', end - s);
        int perm = letter_perm(s[0]);
        unsigned long id = 0;

        if (!nul || perm < 0 || nul == s + 1)
            return -EINVAL;
        for (const char *d = s + 1; d < nul; d++) {
            if (*d < '0' || *d > '9')
                return -EINVAL;
            id = id * 10 + (*d - '0');
            if (id >= XS_NR_DOMIDS)
                return -EINVAL;
        }
        if (*n == max)
            return -ENOSPC;
        out[*n].id = id;
        out[*n].perms = perm;
        (*n)++;
        s = nul + 1;
    }
    return *n ? 0 : -EINVAL;
}

int xs_perms_format(const struct xs_permissions *p, unsigned int n, char *out, size_t size)
{
    static const char letters[] = "nrwb";
    size_t off = 0;

    for (unsigned int i = 0; i < n; i++) {
        int k = snprintf(out + off, size - off, "%c%u",
                         letters[p[i].perms & (XS_PERM_READ | XS_PERM_WRITE)], p[i].id);
        if (k < 0 || (size_t)k + 1 > size - off)
            return -E2BIG;
        off += k + 1;
    }
    return off;
}

unsigned int xs_perm_for(const struct xs_conn *c, const struct xs_permissions *p,
                         unsigned int n)
{
    const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
    domid_t target = c->xs->target[c->domid];

    if (c->privileged)
        return all;
    if (p[0].id == c->domid || (target != DOMID_INVALID && p[0].id == target))
        return all;
    for (unsigned int i = 1; i < n; i++)
        if (p[i].id == c->domid || (target != DOMID_INVALID && p[i].id == target))
            return p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
    return p[0].perms & (XS_PERM_READ | XS_PERM_WRITE);
}
