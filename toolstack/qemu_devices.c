/*
 * The devices QEMU serves, written as libxl writes them, host side:
 *  - a disk for the qdisk back end (libxl_disk.c): the front end's vbd
 *    directory and the back end's qdisk directory, with the image as
 *    params=aio:PATH (QEMU's name for a raw file), through devices.c;
 *  - console 0 for QEMU's console back end (libxl_console.c with
 *    consback QEMU): the domain's console directory with type=ioemu,
 *    output, limit, and the ring's frame and port as the domain builder
 *    made them; the back end's console/N/0 directory.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xenbus.h>
#include "ts_xenstored.h"

/* Linux's xvd numbering, as libxl turns a vdev into a device id: xvdX is
 * major 202, minor 16 per disk; a number is taken as it is. */
static int vdev_devid(const char *vdev, unsigned int *devid)
{
    char *end;
    unsigned long n = strtoul(vdev, &end, 10);

    if (*vdev >= '0' && *vdev <= '9' && !*end && n <= 0xFFFFFFu) {
        *devid = (unsigned int)n;
        return 0;
    }
    if (strncmp(vdev, "xvd", 3) || vdev[3] < 'a' || vdev[3] > 'p' || vdev[4])
        return -EINVAL;
    *devid = (202u << 8) | (unsigned int)(vdev[3] - 'a') << 4;
    return 0;
}

/* The keys of both halves into cfg; the strings live in bufs. */
struct qdisk_keys {
    char params[4096 + 8], devid[16];
    const char *front[8], *back[24];
};

static int qdisk_config(const struct xensim_qdisk *q, struct qdisk_keys *k,
                        struct xensim_device_config *cfg)
{
    unsigned int devid;
    const char *vdev = q->vdev ? q->vdev : "xvda";
    unsigned int n = 0;

    if (!q->path || !*q->path || strlen(q->path) > 4096 || vdev_devid(vdev, &devid))
        return -EINVAL;
    snprintf(k->params, sizeof(k->params), "aio:%s", q->path);
    snprintf(k->devid, sizeof(k->devid), "%u", devid);
    const char *const back[] = { "params", k->params, "mode", q->readonly ? "r" : "w",
                                 "dev", vdev, "type", "qdisk", "device-type", "disk",
                                 "removable", "0", "bootable", "1",
                                 "discard-enable", q->discard ? "1" : "0" };
    memcpy(k->back, back, sizeof(back));
    n = sizeof(back) / sizeof(back[0]);
    if (q->direct_io_safe) {
        k->back[n++] = "direct-io-safe";
        k->back[n++] = "1";
    }
    k->back[n] = NULL;
    const char *const front[] = { "virtual-device", k->devid, "device-type", "disk",
                                  "protocol", "x86_64-abi", NULL };
    memcpy(k->front, front, sizeof(front));
    *cfg = (struct xensim_device_config){
        .type = "vbd", .backend_type = "qdisk", .frontend = q->frontend,
        .backend = q->backend, .devid = devid, .front_keys = k->front, .back_keys = k->back,
    };
    return 0;
}

int xensim_qdisk_add(struct xensim *sim, const struct xensim_qdisk *q)
{
    struct qdisk_keys k;
    struct xensim_device_config cfg;
    int err = qdisk_config(q, &k, &cfg);

    return err ? err : xensim_device_add(sim, &cfg);
}

int xensim_qdisk_add_at(const char *socket_path, const struct xensim_qdisk *q)
{
    struct qdisk_keys k;
    struct xensim_device_config cfg;
    int err = qdisk_config(q, &k, &cfg);

    return err ? err : xensim_device_add_at(socket_path, &cfg);
}

int xensim_qdisk_devid(const char *vdev, unsigned int *devid)
{
    return vdev_devid(vdev ? vdev : "xvda", devid);
}

/* libxl's LIBXL_XENCONSOLE_LIMIT: what the back end buffers. */
#define CONSOLE_LIMIT "1048576"

int xensim_qemu_console_add(struct xensim *sim, domid_t domid, domid_t backend,
                            const char *output)
{
    struct xensim_domain_info info;
    char fpath[64], bpath[96], feid[8], beid[8], ring[24], port[16];
    struct ts_xs ts;
    int err;

    if (!output || !*output || strlen(output) > 2048 || domid == backend)
        return -EINVAL;
    if ((err = xensim_domain_info(sim, domid, &info)))
        return err;
    if (!info.console_port)
        return -ENOENT;
    snprintf(fpath, sizeof(fpath), "/local/domain/%u/console", domid);
    snprintf(bpath, sizeof(bpath), "/local/domain/%u/backend/console/%u/0", backend, domid);
    snprintf(feid, sizeof(feid), "%u", domid);
    snprintf(beid, sizeof(beid), "%u", backend);
    snprintf(ring, sizeof(ring), "%lu", (unsigned long)info.console_pfn);
    snprintf(port, sizeof(port), "%u", info.console_port);
    const char *const front[] = { "backend", bpath, "backend-id", beid, "limit", CONSOLE_LIMIT,
                                  "type", "ioemu", "output", output, "tty", "",
                                  "ring-ref", ring, "port", port, NULL };
    const char *const back[] = { "frontend", fpath, "frontend-id", feid, "online", "1",
                                 "state", "1", "protocol", "vt100", NULL };
    struct ts_device_halves h = {
        .fpath = fpath, .bpath = bpath, .frontend = domid, .backend = backend,
        .front_fixed = front, .back_fixed = back,
    };
    if ((err = ts_connect(sim, &ts)))
        return err;
    err = ts_device_add(&ts, &h);
    ts_xs_close(&ts);
    return err;
}
