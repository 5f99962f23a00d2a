/*
 * Host-side XenStore calls as dom0 (xensim_xenstore_read() ...): one
 * request each over a connection to the simulator's xenstored.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xensim/xenbus.h>
#include "ts_xenstored.h"

int xensim_xenstore_read(struct xensim *sim, const char *path, char *buf, size_t size)
{
    struct ts_xs x;
    int n;

    if ((n = ts_connect(sim, &x)))
        return n;
    n = ts_xs_read(&x, path);
    if (n >= 0) {
        if ((size_t)n >= size)
            n = -ERANGE;
        else
            memcpy(buf, x.reply, n + 1);
    }
    ts_xs_close(&x);
    return n;
}

int xensim_xenstore_write(struct xensim *sim, const char *path, const char *value)
{
    struct ts_xs x;
    int err;

    if ((err = ts_connect(sim, &x)))
        return err;
    err = ts_xs_write(&x, path, value);
    ts_xs_close(&x);
    return err;
}

int xensim_xenstore_rm(struct xensim *sim, const char *path)
{
    struct ts_xs x;
    int err;

    if ((err = ts_connect(sim, &x)))
        return err;
    err = ts_xs_rm(&x, path);
    ts_xs_close(&x);
    return err;
}

int xensim_xenstore_set_perms(struct xensim *sim, const char *path,
                              const struct xs_permissions *perms, unsigned int num)
{
    struct ts_xs x;
    int err;

    if (!num)
        return -EINVAL;
    if ((err = ts_connect(sim, &x)))
        return err;
    err = ts_xs_set_perms(&x, path, perms, num);
    ts_xs_close(&x);
    return err;
}
