/*
 * Finding devices, one probe for both ends: the registration watch on
 * <dir>/<type> lists the device directories (<devid>, or <frontid>/<devid>
 * for a back end), reads each new device's link to its other end, and
 * hands it to the end's table (struct xbf_end) to start; devices whose
 * directory is gone are torn down and forgotten. Relies on framework.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_framework.h"

static bool parse_id(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    if (!*s || *s < '0' || *s > '9')
        return false;
    *out = strtoul(s, &end, 10);
    return !*end && *out <= max;
}

/* A device directory under reg's: makes, probes and starts the device
 * unless it exists already or is not complete yet. */
static void probe_one(struct xbf_dom *f, struct xbf_reg *reg, domid_t fe, unsigned int devid,
                      const char *rel)
{
    const struct xbf_end *end = reg->end;
    struct xensim_xenbus_device *dev;
    char path[XENSIM_XENBUS_PATH_MAX * 2];
    int id;

    if (xbf_dev_lookup(f, reg->drv, end->frontend, fe, devid))
        return;
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return;
    dev->drv = reg->drv;
    dev->frontend = end->frontend;
    dev->devid = devid;
    dev->otherend_id = fe;
    snprintf(dev->nodename, sizeof(dev->nodename), "%s/%s/%s", f->home, reg->node, rel);
    snprintf(path, sizeof(path), "%s/%s", dev->nodename, end->otherend_key);
    if (xensim_xenbus_read_buf(0, path, dev->otherend, sizeof(dev->otherend)) <= 0 ||
        xensim_xenbus_scanf(0, dev->nodename, end->otherend_id_key, "%d", &id) != 1 ||
        !end->usable(dev, id)) {
        free(dev);            /* not complete (or not ours to drive) */
        return;
    }
    __atomic_store_n(&dev->state, xensim_xenbus_read_state(dev->nodename), __ATOMIC_RELEASE);
    if (dev->drv->probe && dev->drv->probe(dev)) {
        free(dev);
        return;
    }
    xbf_dev_add(f, dev);
    end->start(dev);
    /* Fires at once: the other end's current state drives us from here. */
    if (xbf_watch_otherend(dev))
        xbf_dev_free(f, dev);
}

/* The device ids under one directory: <dir>/<id>, probed as rel_prefix<id>. */
static void probe_dir(struct xbf_dom *f, struct xbf_reg *reg, const char *dir, domid_t fe,
                      const char *rel_prefix)
{
    char **ids = NULL, rel[32];
    int n = xensim_xenbus_directory(XENSIM_XENBUS_TRANSACTION_NIL, dir, &ids);
    unsigned long id;

    for (int i = 0; i < n; i++)
        if (parse_id(ids[i], UINT32_MAX, &id)) {
            snprintf(rel, sizeof(rel), "%s%lu", rel_prefix, id);
            probe_one(f, reg, fe, (unsigned int)id, rel);
        }
    if (n >= 0)
        free(ids);
}

static void probe_all(struct xbf_dom *f, struct xbf_reg *reg)
{
    char **fes = NULL, dir[XENSIM_XENBUS_PATH_MAX], prefix[16];
    unsigned long fe;
    int n;

    if (!reg->end->per_frontend) {
        probe_dir(f, reg, reg->node, DOMID_SELF, "");
        return;
    }
    n = xensim_xenbus_directory(XENSIM_XENBUS_TRANSACTION_NIL, reg->node, &fes);
    for (int i = 0; i < n; i++)
        if (parse_id(fes[i], DOMID_FIRST_RESERVED - 1, &fe)) {
            snprintf(dir, sizeof(dir), "%s/%s", reg->node, fes[i]);
            snprintf(prefix, sizeof(prefix), "%lu/", fe);
            probe_dir(f, reg, dir, (domid_t)fe, prefix);
        }
    if (n >= 0)
        free(fes);
}

/* Looks again at one known device: torn down when its directory is
 * gone (the toolstack removed it; for a back end, a forced remove). While
 * it is there, its other end's domain may have died: when that domain's
 * directory goes with it, the daemon tells us only through ours (its
 * permissions lose the dead domain), so the other end is looked at too. */
static void recheck(struct xbf_dom *f, struct xbf_reg *reg, struct xensim_xenbus_device *dev)
{
    if (xensim_xenbus_exists(0, dev->nodename) != 0) {
        reg->end->otherend_changed(&dev->otherend_watch_, NULL, NULL);
        return;
    }
    xbf_teardown(dev);
    xbf_dev_free(f, dev);
}

/* Every device of the type: a new one is probed, a known one rechecked. */
static void rescan(struct xbf_dom *f, struct xbf_reg *reg)
{
    struct xensim_xenbus_device *dev, *next;

    probe_all(f, reg);
    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv == reg->drv && dev->frontend == reg->end->frontend)
            recheck(f, reg, dev);
    }
}

/* The device an event names: <node>/<devid>, or <node>/<frontid>/<devid>
 * for a back end, then anything below it. False for the type's directory
 * itself or a back end's front-end directory, which may hold many. */
static bool event_device(const struct xbf_reg *reg, const char *path, domid_t *fe,
                         unsigned long *devid, char *rel, size_t rel_size)
{
    size_t n = strlen(reg->node);
    char part[2][16];
    unsigned long fid = DOMID_SELF;
    unsigned int levels = reg->end->per_frontend ? 2 : 1;

    if (strncmp(path, reg->node, n) || path[n] != '/')
        return false;
    path += n + 1;
    for (unsigned int i = 0; i < levels; i++) {
        size_t len = strcspn(path, "/");
        if (!len || len >= sizeof(part[i]))
            return false;
        memcpy(part[i], path, len);
        part[i][len] = '\0';
        path += len;
        if (i + 1 < levels && *path++ != '/')
            return false;
    }
    if (levels == 2 && !parse_id(part[0], DOMID_FIRST_RESERVED - 1, &fid))
        return false;
    if (!parse_id(part[levels - 1], UINT32_MAX, devid))
        return false;
    *fe = (domid_t)fid;
    if (levels == 2)
        snprintf(rel, rel_size, "%lu/%lu", fid, *devid);
    else
        snprintf(rel, rel_size, "%lu", *devid);
    return true;
}

/*
 * The registration watch fired: as Linux's xenbus_dev_changed, only the
 * device the path names is looked at, so that a change under one device
 * costs a few requests, not a scan of every device (with N devices, each
 * state change of each would make the handshakes cost N^2). An event on
 * the type's directory (the first, at registration) rescans all.
 */
void xbf_type_changed(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct xbf_reg *reg = w->data;
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    struct xensim_xenbus_device *dev;
    unsigned long devid;
    domid_t fe;
    char rel[32];

    (void)token;
    if (!path || !event_device(reg, path, &fe, &devid, rel, sizeof(rel))) {
        rescan(f, reg);
        return;
    }
    dev = xbf_dev_lookup(f, reg->drv, reg->end->frontend, fe, (unsigned int)devid);
    if (dev)
        recheck(f, reg, dev);
    else
        probe_one(f, reg, fe, (unsigned int)devid, rel);
}
