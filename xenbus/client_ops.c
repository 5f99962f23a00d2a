/*
 * The guest xenbus client's operations: each builds Xen's wire payload
 * (xs_wire.h), sends it with xb_request() and parses the reply. Also the
 * transaction helper and the XenbusState read/format helpers.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_client.h"

/* The reply body of a path-only request. */
static int path_op(uint32_t type, xensim_xenbus_transaction_t t, const char *path, char *reply)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);

    if (!xb)
        return err;
    if (!path)
        return -EINVAL;
    struct xb_part part = { path, strlen(path) + 1 };
    return xb_request(xb, type, t, &part, 1, reply);
}

int xensim_xenbus_read(xensim_xenbus_transaction_t t, const char *path, char **value, unsigned int *len)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_READ, t, path, reply);

    if (n < 0)
        return n;
    *value = malloc(n + 1);
    if (!*value)
        return -ENOMEM;
    memcpy(*value, reply, n + 1);
    if (len)
        *len = n;
    return 0;
}

int xensim_xenbus_read_buf(xensim_xenbus_transaction_t t, const char *path, char *buf, size_t size)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_READ, t, path, reply);

    if (n < 0)
        return n;
    if ((size_t)n >= size)
        return -ERANGE;
    memcpy(buf, reply, n + 1);
    return n;
}

static int join(char *buf, size_t size, const char *dir, const char *node)
{
    int n;

    if (!dir || !*dir)
        n = snprintf(buf, size, "%s", node);
    else if (!node || !*node)
        n = snprintf(buf, size, "%s", dir);
    else
        n = snprintf(buf, size, "%s/%s", dir, node);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xensim_xenbus_scanf(xensim_xenbus_transaction_t t, const char *dir, const char *node,
                 const char *fmt, ...)
{
    char path[XENSTORE_ABS_PATH_MAX + 1], val[XENSTORE_PAYLOAD_MAX + 1];
    va_list ap;
    int n;

    if ((n = join(path, sizeof(path), dir, node)) < 0)
        return n;
    if ((n = xensim_xenbus_read_buf(t, path, val, sizeof(val))) < 0)
        return n;
    va_start(ap, fmt);
    n = vsscanf(val, fmt, ap);
    va_end(ap);
    return n <= 0 ? -ERANGE : n;
}

int xensim_xenbus_write_raw(xensim_xenbus_transaction_t t, const char *path, const void *value,
                     unsigned int len)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char reply[XENSTORE_PAYLOAD_MAX + 1];

    if (!xb)
        return err;
    if (!path || (!value && len))
        return -EINVAL;
    struct xb_part parts[] = { { path, strlen(path) + 1 }, { value, len } };
    err = xb_request(xb, XS_WRITE, t, parts, 2, reply);
    return err < 0 ? err : 0;
}

int xensim_xenbus_write(xensim_xenbus_transaction_t t, const char *path, const char *value)
{
    return xensim_xenbus_write_raw(t, path, value, value ? strlen(value) : 0);
}

int xensim_xenbus_printf(xensim_xenbus_transaction_t t, const char *dir, const char *node,
                  const char *fmt, ...)
{
    char path[XENSTORE_ABS_PATH_MAX + 1], val[XENSTORE_PAYLOAD_MAX + 1];
    va_list ap;
    int n;

    if ((n = join(path, sizeof(path), dir, node)) < 0)
        return n;
    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    return xensim_xenbus_write_raw(t, path, val, n);
}

int xensim_xenbus_mkdir(xensim_xenbus_transaction_t t, const char *path)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_MKDIR, t, path, reply);

    return n < 0 ? n : 0;
}

int xensim_xenbus_rm(xensim_xenbus_transaction_t t, const char *path)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_RM, t, path, reply);

    return n < 0 ? n : 0;
}

int xensim_xenbus_exists(xensim_xenbus_transaction_t t, const char *path)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_READ, t, path, reply);

    if (n == -ENOENT)
        return 0;
    return n < 0 ? n : 1;
}

int xensim_xenbus_directory(xensim_xenbus_transaction_t t, const char *path, char ***names)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_DIRECTORY, t, path, reply), count = 0;
    char **v, *s;

    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        count += reply[i] == '\0';
    /* One block: the pointers, then the strings they point into. */
    v = malloc((count + 1) * sizeof(char *) + n + 1);
    if (!v)
        return -ENOMEM;
    s = (char *)(v + count + 1);
    memcpy(s, reply, n + 1);
    for (int i = 0; i < count; i++) {
        v[i] = s;
        s += strlen(s) + 1;
    }
    v[count] = NULL;
    *names = v;
    return count;
}

static int perm_bits(char c)
{
    switch (c) {
    case 'n': return XS_PERM_NONE;
    case 'r': return XS_PERM_READ;
    case 'w': return XS_PERM_WRITE;
    case 'b': return XS_PERM_READ | XS_PERM_WRITE;
    default: return -1;
    }
}

int xensim_xenbus_get_perms(xensim_xenbus_transaction_t t, const char *path, struct xs_permissions **perms)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    int n = path_op(XS_GET_PERMS, t, path, reply), count = 0;
    struct xs_permissions *p;
    const char *s = reply;

    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        count += reply[i] == '\0';
    p = calloc(count ? count : 1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    for (int i = 0; i < count; i++) {
        char *end;
        int bits = perm_bits(s[0]);
        unsigned long id = strtoul(s + 1, &end, 10);

        if (bits < 0 || end == s + 1 || *end) {
            free(p);
            return -EIO;      /* the daemon sent something that is no perm */
        }
        p[i].id = id;
        p[i].perms = bits;
        s += strlen(s) + 1;
    }
    *perms = p;
    return count;
}

int xensim_xenbus_set_perms(xensim_xenbus_transaction_t t, const char *path,
                     const struct xs_permissions *perms, unsigned int num)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char buf[XENSTORE_PAYLOAD_MAX], reply[XENSTORE_PAYLOAD_MAX + 1];
    size_t len = 0;

    if (!xb)
        return err;
    if (!path || !num)
        return -EINVAL;
    for (unsigned int i = 0; i < num; i++) {
        static const char letters[] = "nrwb";
        unsigned int bits = perms[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
        int n = snprintf(buf + len, sizeof(buf) - len, "%c%u", letters[bits], perms[i].id);

        if (n < 0 || (size_t)n + 1 >= sizeof(buf) - len)
            return -E2BIG;
        len += n + 1;
    }
    struct xb_part parts[] = { { path, strlen(path) + 1 }, { buf, len } };
    err = xb_request(xb, XS_SET_PERMS, t, parts, 2, reply);
    return err < 0 ? err : 0;
}

int xensim_xenbus_get_domain_path(domid_t domid, char *buf, size_t size)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char id[16], reply[XENSTORE_PAYLOAD_MAX + 1];

    if (!xb)
        return err;
    snprintf(id, sizeof(id), "%u", domid);
    struct xb_part part = { id, strlen(id) + 1 };
    int n = xb_request(xb, XS_GET_DOMAIN_PATH, 0, &part, 1, reply);
    if (n < 0)
        return n;
    if ((size_t)strlen(reply) >= size)
        return -ERANGE;
    strcpy(buf, reply);
    return (int)strlen(reply);
}

int xensim_xenbus_transaction_start(xensim_xenbus_transaction_t *t)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char reply[XENSTORE_PAYLOAD_MAX + 1], *end;
    unsigned long id;

    if (!xb)
        return err;
    struct xb_part part = { "", 1 };
    err = xb_request(xb, XS_TRANSACTION_START, 0, &part, 1, reply);
    if (err < 0)
        return err;
    id = strtoul(reply, &end, 10);
    if (end == reply || *end || !id || id > UINT32_MAX)
        return -EIO;
    *t = (xensim_xenbus_transaction_t)id;
    atomic_fetch_add(&xb->nr_tx, 1);
    return 0;
}

int xensim_xenbus_transaction_end(xensim_xenbus_transaction_t t, bool abort)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char reply[XENSTORE_PAYLOAD_MAX + 1];

    if (!xb)
        return err;
    if (t == XENSIM_XENBUS_TRANSACTION_NIL)
        return -EINVAL;
    struct xb_part part = { abort ? "F" : "T", 2 };
    err = xb_request(xb, XS_TRANSACTION_END, t, &part, 1, reply);
    /* Whatever the answer (EAGAIN too), the id is gone, except when the
     * daemon never heard of it. */
    if (err != -ENOENT && atomic_load(&xb->nr_tx))
        atomic_fetch_sub(&xb->nr_tx, 1);
    return err < 0 ? err : 0;
}

int xensim_xenbus_transaction_run(int (*body)(xensim_xenbus_transaction_t t, void *arg), void *arg,
                           unsigned int tries)
{
    if (!tries)
        tries = 100;
    for (unsigned int i = 0; i < tries; i++) {
        xensim_xenbus_transaction_t t;
        int err = xensim_xenbus_transaction_start(&t);

        if (err)
            return err;
        err = body(t, arg);
        if (err) {
            xensim_xenbus_transaction_end(t, true);
            return err;
        }
        err = xensim_xenbus_transaction_end(t, false);
        if (err != -EAGAIN)
            return err;
    }
    return -EAGAIN;
}

void xb_stats(struct xb_dom *xb, struct xensim_xenbus_stats *st)
{
    memset(st, 0, sizeof(*st));
    xensim_mutex_lock(&xb->wlock);
    for (struct xensim_xenbus_watch *w = xb->watches; w; w = w->next_)
        st->watches++;
    st->events_queued = xb->nr_events;
    xensim_mutex_unlock(&xb->wlock);
    st->transactions = atomic_load(&xb->nr_tx);
    st->broken = atomic_load(&xb->broken);
}

enum xenbus_state xensim_xenbus_read_state(const char *dir)
{
    int s;

    if (xensim_xenbus_scanf(XENSIM_XENBUS_TRANSACTION_NIL, dir, "state", "%d", &s) != 1)
        return XenbusStateUnknown;
    if (s < XenbusStateUnknown || s > XenbusStateReconfigured)
        return XenbusStateUnknown;
    return (enum xenbus_state)s;
}

const char *xensim_xenbus_strstate(enum xenbus_state s)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
        "Closing", "Closed", "Reconfiguring", "Reconfigured",
    };

    return (unsigned int)s < ARRAY_SIZE(names) ? names[s] : "Invalid";
}
