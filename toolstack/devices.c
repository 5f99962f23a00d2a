/*
 * The toolstack's part of a split device, as libxl does it: both halves'
 * XenStore directories with their cross-links and permissions in one
 * transaction, and the Closing/Closed dance to remove them. Host side; it
 * speaks to xenstored as dom0 over a socket (xs_client.c): the
 * simulator's, or one at a path.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/task.h>
#include <xensim/xenbus.h>
#include "ts_xenstored.h"

/* Owner `owner` with no access for others, read for `reader`. */
static int ts_perms(struct ts_xs *ts, const char *path, domid_t owner, domid_t reader)
{
    struct xs_permissions p[2] = { { owner, XS_PERM_NONE }, { reader, XS_PERM_READ } };

    return ts_xs_set_perms(ts, path, p, 2);
}

/* A directory with perms and its keys: the fixed ones, then extra pairs. */
static int ts_dir(struct ts_xs *ts, const char *dir, domid_t owner, domid_t reader,
                  const char *const *fixed, const char *const *extra)
{
    char path[XENSIM_XENBUS_PATH_MAX * 2];
    int err = ts_xs_write(ts, dir, "");

    if (!err)
        err = ts_perms(ts, dir, owner, reader);
    for (int pass = 0; pass < 2 && !err; pass++) {
        const char *const *kv = pass ? extra : fixed;

        for (; kv && kv[0] && kv[1] && !err; kv += 2) {
            snprintf(path, sizeof(path), "%s/%s", dir, kv[0]);
            err = ts_xs_write(ts, path, kv[1]);
        }
    }
    return err;
}

static void dev_paths(const struct xensim_device_config *cfg, char *fpath, char *bpath)
{
    const char *btype = cfg->backend_type ? cfg->backend_type : cfg->type;

    snprintf(fpath, XENSIM_XENBUS_PATH_MAX, "/local/domain/%u/device/%s/%u", cfg->frontend,
             cfg->type, cfg->devid);
    snprintf(bpath, XENSIM_XENBUS_PATH_MAX, "/local/domain/%u/backend/%s/%u/%u", cfg->backend,
             btype, cfg->frontend, cfg->devid);
}

int ts_device_add(struct ts_xs *ts, const struct ts_device_halves *h)
{
    int err = 0;

    for (int tries = 0; tries < 100; tries++) {
        if ((err = ts_xs_start(ts)))
            break;
        err = ts_xs_read(ts, h->fpath) >= 0 && h->fpath_new ? -EEXIST : 0;
        if (!err)
            err = ts_dir(ts, h->fpath, h->frontend, h->backend, h->front_fixed, h->front_extra);
        if (!err)
            err = ts_dir(ts, h->bpath, h->backend, h->frontend, h->back_fixed, h->back_extra);
        if (err) {
            ts_xs_end(ts, true);
            break;
        }
        err = ts_xs_end(ts, false);
        if (err != -EAGAIN)
            break;
    }
    return err;
}

static int device_add(struct ts_xs *ts, const struct xensim_device_config *cfg)
{
    char fpath[XENSIM_XENBUS_PATH_MAX], bpath[XENSIM_XENBUS_PATH_MAX], feid[8], beid[8], st[4];

    dev_paths(cfg, fpath, bpath);
    snprintf(feid, sizeof(feid), "%u", cfg->frontend);
    snprintf(beid, sizeof(beid), "%u", cfg->backend);
    snprintf(st, sizeof(st), "%d", XenbusStateInitialising);
    const char *const fkeys[] = { "backend", bpath, "backend-id", beid, "state", st, NULL };
    const char *const bkeys[] = { "frontend", fpath, "frontend-id", feid, "online", "1",
                                  "state", st, NULL };
    struct ts_device_halves h = {
        .fpath = fpath, .bpath = bpath, .fpath_new = true,
        .frontend = cfg->frontend, .backend = cfg->backend,
        .front_fixed = fkeys, .front_extra = cfg->front_keys,
        .back_fixed = bkeys, .back_extra = cfg->back_keys,
    };
    return ts_device_add(ts, &h);
}

static bool type_ok(const char *type)
{
    return type && *type && !strchr(type, '/') && strlen(type) <= 40;
}

static bool config_ok(const struct xensim_device_config *cfg)
{
    return cfg && type_ok(cfg->type) && (!cfg->backend_type || type_ok(cfg->backend_type)) &&
           cfg->frontend != cfg->backend;
}

int xensim_device_add(struct xensim *sim, const struct xensim_device_config *cfg)
{
    struct ts_xs ts;
    int err;

    if (!config_ok(cfg))
        return -EINVAL;
    if ((err = ts_connect(sim, &ts)))
        return err;
    err = device_add(&ts, cfg);
    ts_xs_close(&ts);
    return err;
}

int xensim_device_add_at(const char *socket_path, const struct xensim_device_config *cfg)
{
    struct ts_xs ts;
    int err;

    if (!config_ok(cfg))
        return -EINVAL;
    if ((err = ts_xs_open_path(&ts, socket_path)))
        return err;
    err = device_add(&ts, cfg);
    ts_xs_close(&ts);
    return err;
}

/* The simulation's time: a deterministic run's toolstack task waits on
 * the virtual clock, which moves once the back end it waits for waits
 * too, instead of holding every task still for a host millisecond. */
static void nap_ms(unsigned int ms)
{
    xensim_sleep_ns((uint64_t)ms * 1000000u);
}

static int device_remove(struct ts_xs *ts, const char *type, domid_t frontend,
                         unsigned int devid, unsigned int timeout_ms)
{
    char fpath[XENSIM_XENBUS_PATH_MAX], bpath[XENSIM_XENBUS_PATH_MAX], path[XENSIM_XENBUS_PATH_MAX + 16];
    int err, n;

    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/%s/%u", frontend, type, devid);
    snprintf(path, sizeof(path), "%s/backend", fpath);
    n = ts_xs_read(ts, path);
    if (n < 0 || (size_t)n >= sizeof(bpath))
        return n < 0 ? n : -EINVAL;
    memcpy(bpath, ts->reply, n + 1);
    /* Ask the back end to close; the front end follows it to Closed. */
    if (!(err = ts_xs_start(ts))) {
        /* A back end whose domain died took its directory with it. */
        snprintf(path, sizeof(path), "%s/online", bpath);
        err = ts_xs_read(ts, bpath) >= 0 ? ts_xs_write(ts, path, "0") : 0;
        snprintf(path, sizeof(path), "%s/state", bpath);
        /* As libxl: a back end already Closed is left so (nobody would
         * write Closed again, and the wait below would time out). */
        if (!err && ts_xs_read(ts, path) >= 0 && atoi(ts->reply) != XenbusStateClosed)
            err = ts_xs_write(ts, path, "5");
        ts_xs_end(ts, err != 0);
    }
    err = -ETIMEDOUT;
    for (unsigned int waited = 0; waited <= timeout_ms; waited++) {
        snprintf(path, sizeof(path), "%s/state", bpath);
        n = ts_xs_read(ts, path);
        if (n < 0 || atoi(ts->reply) == XenbusStateClosed) {
            err = 0;
            break;
        }
        nap_ms(1);
    }
    ts_xs_rm(ts, fpath);
    ts_xs_rm(ts, bpath);
    return err;
}

int xensim_device_remove(struct xensim *sim, const char *type, domid_t frontend,
                         unsigned int devid, unsigned int timeout_ms)
{
    struct ts_xs ts;
    int err;

    if (!type || !*type || strchr(type, '/'))
        return -EINVAL;
    if ((err = ts_connect(sim, &ts)))
        return err;
    err = device_remove(&ts, type, frontend, devid, timeout_ms);
    ts_xs_close(&ts);
    return err;
}

int xensim_device_remove_at(const char *socket_path, const char *type, domid_t frontend,
                            unsigned int devid, unsigned int timeout_ms)
{
    struct ts_xs ts;
    int err;

    if (!type || !*type || strchr(type, '/'))
        return -EINVAL;
    if ((err = ts_xs_open_path(&ts, socket_path)))
        return err;
    err = device_remove(&ts, type, frontend, devid, timeout_ms);
    ts_xs_close(&ts);
    return err;
}
