/*
 * The toolstack's part of a split device, as libxl does it: both halves'
 * XenStore directories with their cross-links and permissions in one
 * transaction, and the Closing/Closed dance to remove them. Host side; it
 * speaks to xenstored as dom0, in process (sim/xenstore/xs_daemon.h) or
 * over its unix socket with Xen's wire protocol.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xensim/xenbus.h>
#include "sim.h"
#include "unix_socket.h"
#include "xs_daemon.h"
#include "xb_client.h"

/* One dom0 connection: in process (c) or a socket (fd). */
struct ts {
    struct xs_conn *c;
    int fd;
    uint32_t tx, req_id;
    char reply[XENSTORE_PAYLOAD_MAX + 1];
};

static int ts_open(struct xensim *sim, struct ts *ts)
{
    ts->tx = 0;
    ts->fd = -1;
    if (!sim || !sim->xs)
        return -ENODEV;       /* xensim_xenstore_start() was not called */
    ts->c = xs_local_open(sim->xs, 0);
    return ts->c ? 0 : -ENOMEM;
}

static int ts_open_socket(const char *path, struct ts *ts)
{
    ts->tx = 0;
    ts->c = NULL;
    ts->fd = xensim_unix_connect(path);
    return ts->fd < 0 ? ts->fd : 0;
}

static void ts_close(struct ts *ts)
{
    if (ts->c)
        xs_local_close(ts->c);
    if (ts->fd >= 0)
        close(ts->fd);
}

static int io_all(int fd, void *buf, size_t len, bool wr)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = wr ? write(fd, (char *)buf + done, len - done)
                       : read(fd, (char *)buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        done += n;
    }
    return 0;
}

/* One request over the socket; watch events (we set none) are skipped. */
static int ts_sock_request(struct ts *ts, uint32_t type, const void *payload, size_t len,
                           struct xsd_sockmsg *hdr)
{
    struct xsd_sockmsg h = { .type = type, .req_id = ++ts->req_id, .tx_id = ts->tx,
                             .len = (uint32_t)len };
    int err;

    if ((err = io_all(ts->fd, &h, sizeof(h), true)) ||
        (err = io_all(ts->fd, (void *)payload, len, true)))
        return err;
    for (;;) {
        if ((err = io_all(ts->fd, hdr, sizeof(*hdr), false)))
            return err;
        if (hdr->len > XENSTORE_PAYLOAD_MAX)
            return -EIO;
        if ((err = io_all(ts->fd, ts->reply, hdr->len, false)))
            return err;
        ts->reply[hdr->len] = '\0';
        if (hdr->type != XS_WATCH_EVENT && hdr->req_id == h.req_id)
            return (int)hdr->len;
    }
}

/* One request; payload is parts joined. Returns the reply length or -errno. */
static int ts_req(struct ts *ts, uint32_t type, const char *a, size_t alen,
                  const char *b, size_t blen)
{
    char payload[XENSTORE_PAYLOAD_MAX];
    struct xsd_sockmsg hdr;
    int n;

    if (alen + blen > sizeof(payload))
        return -E2BIG;
    memcpy(payload, a, alen);
    if (blen)
        memcpy(payload + alen, b, blen);
    if (ts->c)
        n = xs_local_request(ts->c, type, ts->tx, payload, alen + blen, &hdr,
                             ts->reply, sizeof(ts->reply));
    else
        n = ts_sock_request(ts, type, payload, alen + blen, &hdr);
    if (n < 0)
        return n;
    if (hdr.type == XS_ERROR) {
        for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
            if (!strcmp(ts->reply, xsd_errors[i].errstring))
                return -xsd_errors[i].errnum;
        return -EINVAL;
    }
    return n;
}

static int ts_write(struct ts *ts, const char *path, const char *value)
{
    int n = ts_req(ts, XS_WRITE, path, strlen(path) + 1, value, strlen(value));

    return n < 0 ? n : 0;
}

static int ts_rm(struct ts *ts, const char *path)
{
    int n = ts_req(ts, XS_RM, path, strlen(path) + 1, NULL, 0);

    return n < 0 ? n : 0;
}

/* Owner `owner` with no access for others, read for `reader`. */
static int ts_perms(struct ts *ts, const char *path, domid_t owner, domid_t reader)
{
    char p[64];
    int a = snprintf(p, sizeof(p), "n%u", owner) + 1;
    int b = snprintf(p + a, sizeof(p) - a, "r%u", reader) + 1;
    int n = ts_req(ts, XS_SET_PERMS, path, strlen(path) + 1, p, a + b);

    return n < 0 ? n : 0;
}

static int ts_read(struct ts *ts, const char *path)
{
    return ts_req(ts, XS_READ, path, strlen(path) + 1, NULL, 0);
}

static int ts_start(struct ts *ts)
{
    int n = ts_req(ts, XS_TRANSACTION_START, "", 1, NULL, 0);

    if (n < 0)
        return n;
    ts->tx = (uint32_t)strtoul(ts->reply, NULL, 10);
    return 0;
}

static int ts_end(struct ts *ts, bool abort)
{
    int n = ts_req(ts, XS_TRANSACTION_END, abort ? "F" : "T", 2, NULL, 0);

    ts->tx = 0;
    return n < 0 ? n : 0;
}

/* A directory with perms and its keys: the fixed ones, then extra pairs. */
static int ts_dir(struct ts *ts, const char *dir, domid_t owner, domid_t reader,
                  const char *const *fixed, const char *const *extra)
{
    char path[XENBUS_PATH_MAX * 2];
    int err = ts_write(ts, dir, "");

    if (!err)
        err = ts_perms(ts, dir, owner, reader);
    for (int pass = 0; pass < 2 && !err; pass++) {
        const char *const *kv = pass ? extra : fixed;

        for (; kv && kv[0] && kv[1] && !err; kv += 2) {
            snprintf(path, sizeof(path), "%s/%s", dir, kv[0]);
            err = ts_write(ts, path, kv[1]);
        }
    }
    return err;
}

static void dev_paths(const char *type, domid_t fe, domid_t be, unsigned int devid,
                      char *fpath, char *bpath)
{
    snprintf(fpath, XENBUS_PATH_MAX, "/local/domain/%u/device/%s/%u", fe, type, devid);
    snprintf(bpath, XENBUS_PATH_MAX, "/local/domain/%u/backend/%s/%u/%u", be, type, fe, devid);
}

static int device_add(struct ts *ts, const struct xensim_device_config *cfg)
{
    char fpath[XENBUS_PATH_MAX], bpath[XENBUS_PATH_MAX], feid[8], beid[8], st[4];
    int err = 0;

    dev_paths(cfg->type, cfg->frontend, cfg->backend, cfg->devid, fpath, bpath);
    snprintf(feid, sizeof(feid), "%u", cfg->frontend);
    snprintf(beid, sizeof(beid), "%u", cfg->backend);
    snprintf(st, sizeof(st), "%d", XenbusStateInitialising);
    const char *const fkeys[] = { "backend", bpath, "backend-id", beid, "state", st, NULL };
    const char *const bkeys[] = { "frontend", fpath, "frontend-id", feid, "online", "1",
                                  "state", st, NULL };
    for (int tries = 0; tries < 100; tries++) {
        if ((err = ts_start(ts)))
            break;
        err = ts_read(ts, fpath) >= 0 ? -EEXIST : 0;
        if (!err)
            err = ts_dir(ts, fpath, cfg->frontend, cfg->backend, fkeys, cfg->front_keys);
        if (!err)
            err = ts_dir(ts, bpath, cfg->backend, cfg->frontend, bkeys, cfg->back_keys);
        if (err) {
            ts_end(ts, true);
            break;
        }
        err = ts_end(ts, false);
        if (err != -EAGAIN)
            break;
    }
    return err;
}

static bool config_ok(const struct xensim_device_config *cfg)
{
    return cfg && cfg->type && *cfg->type && !strchr(cfg->type, '/') &&
           strlen(cfg->type) <= 40 && cfg->frontend != cfg->backend;
}

int xensim_device_add(struct xensim *sim, const struct xensim_device_config *cfg)
{
    struct ts ts;
    int err;

    if (!config_ok(cfg))
        return -EINVAL;
    if ((err = ts_open(sim, &ts)))
        return err;
    err = device_add(&ts, cfg);
    ts_close(&ts);
    return err;
}

int xensim_device_add_at(const char *socket_path, const struct xensim_device_config *cfg)
{
    struct ts ts;
    int err;

    if (!config_ok(cfg))
        return -EINVAL;
    if ((err = ts_open_socket(socket_path, &ts)))
        return err;
    err = device_add(&ts, cfg);
    ts_close(&ts);
    return err;
}

static void nap_ms(unsigned int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };

    nanosleep(&ts, NULL);
}

static int device_remove(struct ts *ts, const char *type, domid_t frontend,
                         unsigned int devid, unsigned int timeout_ms)
{
    char fpath[XENBUS_PATH_MAX], bpath[XENBUS_PATH_MAX], path[XENBUS_PATH_MAX + 16];
    int err, n;

    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/%s/%u", frontend, type, devid);
    snprintf(path, sizeof(path), "%s/backend", fpath);
    n = ts_read(ts, path);
    if (n < 0 || (size_t)n >= sizeof(bpath))
        return n < 0 ? n : -EINVAL;
    memcpy(bpath, ts->reply, n + 1);
    /* Ask the back end to close; the front end follows it to Closed. */
    if (!(err = ts_start(ts))) {
        /* A back end whose domain died took its directory with it. */
        snprintf(path, sizeof(path), "%s/online", bpath);
        err = ts_read(ts, bpath) >= 0 ? ts_write(ts, path, "0") : 0;
        snprintf(path, sizeof(path), "%s/state", bpath);
        if (!err && ts_read(ts, path) >= 0)
            err = ts_write(ts, path, "5");
        ts_end(ts, err != 0);
    }
    err = -ETIMEDOUT;
    for (unsigned int waited = 0; waited <= timeout_ms; waited++) {
        snprintf(path, sizeof(path), "%s/state", bpath);
        n = ts_read(ts, path);
        if (n < 0 || atoi(ts->reply) == XenbusStateClosed) {
            err = 0;
            break;
        }
        nap_ms(1);
    }
    ts_rm(ts, fpath);
    ts_rm(ts, bpath);
    return err;
}

int xensim_device_remove(struct xensim *sim, const char *type, domid_t frontend,
                         unsigned int devid, unsigned int timeout_ms)
{
    struct ts ts;
    int err;

    if (!type || !*type || strchr(type, '/'))
        return -EINVAL;
    if ((err = ts_open(sim, &ts)))
        return err;
    err = device_remove(&ts, type, frontend, devid, timeout_ms);
    ts_close(&ts);
    return err;
}

int xensim_device_remove_at(const char *socket_path, const char *type, domid_t frontend,
                            unsigned int devid, unsigned int timeout_ms)
{
    struct ts ts;
    int err;

    if (!type || !*type || strchr(type, '/'))
        return -EINVAL;
    if ((err = ts_open_socket(socket_path, &ts)))
        return err;
    err = device_remove(&ts, type, frontend, devid, timeout_ms);
    ts_close(&ts);
    return err;
}

int xensim_xenstore_read(struct xensim *sim, const char *path, char *buf, size_t size)
{
    struct ts ts;
    int n;

    if ((n = ts_open(sim, &ts)))
        return n;
    n = ts_read(&ts, path);
    if (n >= 0) {
        if ((size_t)n >= size)
            n = -ERANGE;
        else
            memcpy(buf, ts.reply, n + 1);
    }
    ts_close(&ts);
    return n;
}

int xensim_xenstore_write(struct xensim *sim, const char *path, const char *value)
{
    struct ts ts;
    int err;

    if ((err = ts_open(sim, &ts)))
        return err;
    err = ts_write(&ts, path, value);
    ts_close(&ts);
    return err;
}

int xensim_xenstore_rm(struct xensim *sim, const char *path)
{
    struct ts ts;
    int err;

    if ((err = ts_open(sim, &ts)))
        return err;
    err = ts_rm(&ts, path);
    ts_close(&ts);
    return err;
}

int xensim_xenstore_set_perms(struct xensim *sim, const char *path,
                              const struct xs_permissions *perms, unsigned int num)
{
    static const char letters[] = "nrwb";
    char p[XENSTORE_PAYLOAD_MAX];
    size_t len = 0;
    struct ts ts;
    int err;

    if (!num)
        return -EINVAL;
    for (unsigned int i = 0; i < num; i++) {
        int n = snprintf(p + len, sizeof(p) - len, "%c%u",
                         letters[perms[i].perms & (XS_PERM_READ | XS_PERM_WRITE)], perms[i].id);

        if (n < 0 || (size_t)n + 1 >= sizeof(p) - len)
            return -E2BIG;
        len += n + 1;
    }
    if ((err = ts_open(sim, &ts)))
        return err;
    err = ts_req(&ts, XS_SET_PERMS, path, strlen(path) + 1, p, len);
    ts_close(&ts);
    return err < 0 ? err : 0;
}

struct dom0_ring {
    int err;
    xen_pfn_t pfn;
    evtchn_port_t port;
};

static void dom0_ring_fn(void *p)
{
    struct dom0_ring *a = p;

    a->err = xb_local_init(&a->pfn, &a->port);
}

int xensim_xenbus_dom0_init(struct xensim *sim)
{
    struct dom0_ring a = { .err = -ESRCH };
    int err;

    if (!sim || !sim->xs)
        return -ENODEV;
    err = xensim_domain_call(sim, 0, 0, dom0_ring_fn, &a);
    if (err)
        return err;
    if (a.err)
        return a.err;
    return xs_daemon_introduce(sim->xs, 0, a.pfn, a.port);
}
