/*
 * Xenbus for guest code and the toolstack: a XenStore client over the
 * domain's own store ring (xenbus_*), the split-driver framework that front
 * and back ends plug into (struct xensim_xenbus_driver) with its transport and
 * grant helpers, and the toolstack calls that add and remove devices as
 * libxl does (xensim_device_*).
 */
#ifndef XENSIM_XENBUS_H
#define XENSIM_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>
#include <xenstore_lib.h>      /* struct xs_permissions, XS_PERM_* */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Guest side client. Every call runs on a vCPU of the calling domain and
 * returns 0 (or a length/count) or a negative errno: the daemon's error
 * names (xsd_errors) map to the same errno values, -EIO means the store
 * ring is unusable (bad indices, protocol error, the daemon gave up).
 *
 * Calls may be made from normal guest code, from irq handlers (upcall
 * context) and from watch callbacks: one request at a time per domain,
 * replies are awaited with SCHEDOP_poll on the store port, and a call
 * nested on the same vCPU (an upcall or a callback arriving while a
 * request waits) is sent behind the outer one rather than deadlocking.
 *
 * The first call in a domain connects: it binds the store port to the
 * calling vCPU and installs its irq handler there (which enables event
 * delivery on that vCPU). The state goes with the domain's vCPU threads.
 * Requests time out after 20 s (-ETIMEDOUT) if the daemon never answers.
 */
typedef uint32_t xensim_xenbus_transaction_t;
#define XENSIM_XENBUS_TRANSACTION_NIL 0u

int xensim_xenbus_init(void);

/* value: malloc'd, NUL-terminated (the daemon sends none); len excludes it. */
int xensim_xenbus_read(xensim_xenbus_transaction_t t, const char *path, char **value, unsigned int *len);
/* Into a caller buffer, NUL-terminated; returns the length or -ERANGE. */
int xensim_xenbus_read_buf(xensim_xenbus_transaction_t t, const char *path, char *buf, size_t size);
/* Reads <dir>/<node> and parses it; returns items parsed, -ERANGE if none. */
int xensim_xenbus_scanf(xensim_xenbus_transaction_t t, const char *dir, const char *node,
                 const char *fmt, ...) __attribute__((format(scanf, 4, 5)));
int xensim_xenbus_write(xensim_xenbus_transaction_t t, const char *path, const char *value);
int xensim_xenbus_write_raw(xensim_xenbus_transaction_t t, const char *path, const void *value,
                     unsigned int len);
/* Writes <dir>/<node>; dir may be NULL or "" for a plain path. */
int xensim_xenbus_printf(xensim_xenbus_transaction_t t, const char *dir, const char *node,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int xensim_xenbus_mkdir(xensim_xenbus_transaction_t t, const char *path);
int xensim_xenbus_rm(xensim_xenbus_transaction_t t, const char *path);
/* 1 if the node exists, 0 if not, or a negative errno. */
int xensim_xenbus_exists(xensim_xenbus_transaction_t t, const char *path);
/* names: one malloc'd block (free(*names) frees all); returns the count. */
int xensim_xenbus_directory(xensim_xenbus_transaction_t t, const char *path, char ***names);
/* perms: malloc'd; returns the count. Entry 0 is the owner. */
int xensim_xenbus_get_perms(xensim_xenbus_transaction_t t, const char *path, struct xs_permissions **perms);
int xensim_xenbus_set_perms(xensim_xenbus_transaction_t t, const char *path,
                     const struct xs_permissions *perms, unsigned int num);
int xensim_xenbus_get_domain_path(domid_t domid, char *buf, size_t size);

int xensim_xenbus_transaction_start(xensim_xenbus_transaction_t *t);
int xensim_xenbus_transaction_end(xensim_xenbus_transaction_t t, bool abort);
/* start, body, commit; the whole body runs again while commit says
 * -EAGAIN (at most `tries` times, 0 = 100). A body error aborts. */
int xensim_xenbus_transaction_run(int (*body)(xensim_xenbus_transaction_t t, void *arg), void *arg,
                           unsigned int tries);

/*
 * Watches. The caller owns the struct until xensim_xenbus_unwatch() returns.
 * Callbacks run one at a time per domain, never nested in one another:
 * in upcall context from the store port's irq handler, or, for events the
 * ring delivered while a request was waiting, on the requesting vCPU when
 * its outermost xenbus call returns. Every event means "re-read"; the
 * daemon fires each watch once when it is set. path is what the daemon
 * sent (relative for a relative watch). A callback may make xenbus calls
 * and (un)register watches, but must not wait for another watch event.
 */
struct xensim_xenbus_watch;
typedef void (*xensim_xenbus_watch_cb)(struct xensim_xenbus_watch *w, const char *path, const char *token);
struct xensim_xenbus_watch {
    const char *node;             /* path watched; the caller's string */
    xensim_xenbus_watch_cb callback;
    void *data;
    /* Client private: list link and registration flag. */
    struct xensim_xenbus_watch *next_;
    bool registered_;
};
int xensim_xenbus_watch(struct xensim_xenbus_watch *w);
/* After return the callback is not running (unless the caller is it) and
 * will not run again for this watch. */
int xensim_xenbus_unwatch(struct xensim_xenbus_watch *w);

/* What this domain's client holds: for leak checks. */
struct xensim_xenbus_stats {
    unsigned int watches;         /* registered */
    unsigned int transactions;    /* started, not ended */
    unsigned int events_queued;   /* received, not yet dispatched */
    bool broken;                  /* the ring gave -EIO */
    unsigned int devices;         /* framework devices, both ends */
    unsigned int deferred_grants; /* ended but still mapped by a peer (xensim_xenbus_end_access) */
};
int xensim_xenbus_get_stats(struct xensim_xenbus_stats *st);

/* <path>/state as a XenbusState; Unknown (0) when missing or unreadable. */
enum xenbus_state xensim_xenbus_read_state(const char *dir);
const char *xensim_xenbus_strstate(enum xenbus_state s);

/*
 * Split-driver framework. A driver type is a struct xensim_xenbus_driver; the
 * framework walks XenbusState on both ends, as Xen's xenbus.h describes,
 * and calls its ops in watch-callback context, one device event at a time
 * per domain. Drivers own their transport, as in Linux: the front end
 * makes its rings and ports in setup_rings() (xensim_xenbus_grant_ring,
 * xensim_xenbus_alloc_evtchn) and writes their keys in publish(); the back end
 * reads them, maps the rings (xensim_xenbus_map_ring) and binds the ports in
 * connect(); disconnect() undoes either.
 */
#define XENSIM_XENBUS_MAX_RING_ORDER 4   /* 2^4 pages a ring at most (Linux's limit) */
#define XENSIM_XENBUS_PATH_MAX 128

struct xensim_xenbus_device;

struct xensim_xenbus_driver {
    const char *type;             /* directory name: "vbd", "vif", "echo" */

    /* A new device. Back end: write features before InitWait. */
    int (*probe)(struct xensim_xenbus_device *dev);
    /* Front end: the back end is ready (InitWait): make the rings and
     * ports. Non-zero closes the device. */
    int (*setup_rings)(struct xensim_xenbus_device *dev);
    /* Front end: the transport's keys, inside the transaction that also
     * writes Initialised; it may run more than once (EAGAIN), so it must
     * only write. */
    int (*publish)(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t);
    /* Back end: map and bind what the front end published, before it
     * writes Connected; front end: the back end is Connected. Non-zero
     * closes. */
    int (*connect)(struct xensim_xenbus_device *dev);
    /* After setup_rings or connect, before the device closes, restarts or
     * goes: no ring access after this returns. */
    void (*disconnect)(struct xensim_xenbus_device *dev);
    /* The device is going away: free dev->priv. Also called when the
     * domain itself dies, with no vCPU (hypercalls then fail). */
    void (*remove)(struct xensim_xenbus_device *dev);
    /* Optional: this end just wrote state s (tracing, tests). */
    void (*state_changed)(struct xensim_xenbus_device *dev, enum xenbus_state s);
};

struct xensim_xenbus_device {
    const struct xensim_xenbus_driver *drv;
    bool frontend;                /* which end this is */
    domid_t otherend_id;
    unsigned int devid;
    char nodename[XENSIM_XENBUS_PATH_MAX];  /* our directory, absolute */
    char otherend[XENSIM_XENBUS_PATH_MAX];  /* the other end's, absolute */
    /* Written only by the device's own vCPU, with atomic stores: another
     * vCPU (a *_find() lookup) reads it with __atomic_load_n. */
    enum xenbus_state state;      /* ours, as last written */
    void *priv;                   /* the driver's */
    /* Framework private. */
    bool connected_;              /* setup_rings or connect ran: disconnect owed */
    struct xensim_xenbus_watch otherend_watch_;
    char otherend_state_path_[XENSIM_XENBUS_PATH_MAX + 8];
    struct xensim_xenbus_device *next_;
};

/* Call on a vCPU of the front end's (back end's) domain. Devices that
 * already exist are probed at once. */
int xensim_xenbus_frontend_register(const struct xensim_xenbus_driver *drv);
int xensim_xenbus_backend_register(const struct xensim_xenbus_driver *drv);
/* Disconnects and forgets every device of the driver. graceful: write
 * Closed first (an orderly unload); false models a crashed driver. */
void xensim_xenbus_frontend_unregister(const struct xensim_xenbus_driver *drv, bool graceful);
void xensim_xenbus_backend_unregister(const struct xensim_xenbus_driver *drv, bool graceful);
/* Writes <nodename>/state (skipped when unchanged). */
int xensim_xenbus_switch_state(struct xensim_xenbus_device *dev, enum xenbus_state s);
/* The device of this domain, or NULL; looked up by drv's type. Back end:
 * frontid names the front end's domain; front end: pass DOMID_SELF. The
 * pointer stays valid until the next framework callback of this domain
 * (a callback may remove the device). */
struct xensim_xenbus_device *xensim_xenbus_device_find(const struct xensim_xenbus_driver *drv, domid_t frontid,
                                         unsigned int devid);

/* Transport helpers, as Linux's. Each returns 0 or a negative errno. */
/* Grants nr pages of this domain (read-write) to otherend; refs[i] for
 * pages[i]. On failure nothing stays granted. */
int xensim_xenbus_grant_ring(domid_t otherend, void *const *pages, unsigned int nr, grant_ref_t *refs);
/* Maps nr (at most 2^XENSIM_XENBUS_MAX_RING_ORDER) pages otherend granted, in
 * one hypercall; addrs[i] is where page i landed (not always next to page
 * i - 1). On failure nothing stays mapped. */
int xensim_xenbus_map_ring(domid_t otherend, const grant_ref_t *refs, unsigned int nr,
                    grant_handle_t *handles, void **addrs);
int xensim_xenbus_unmap_ring(const grant_handle_t *handles, void *const *addrs, unsigned int nr);
/* A port unbound for otherend to bind; the caller binds its handler
 * (xensim_irq_bind) and closes it. */
int xensim_xenbus_alloc_evtchn(domid_t otherend, evtchn_port_t *port);

/*
 * Ends a grant of this domain's, as Linux's gnttab_end_foreign_access:
 * revokes ref and frees it, then frees page pfn (XENSIM_INVALID_PFN for none). While the
 * peer still maps the grant neither may be reused: both wait on this
 * domain's deferred list until a retry finds the peer gone (retries come
 * with every later xensim_xenbus_end_access() and xensim_xenbus_grant_ring(), with the
 * xenbus client's events, and from xensim_xenbus_deferred_retry()). Returns 0
 * when done now, -EBUSY when deferred, -EPERM off a vCPU (nothing done:
 * a dead domain's pages went with it), -ENOMEM when the grant could not
 * be recorded (ref and page are then leaked rather than reused).
 */
int xensim_xenbus_end_access(grant_ref_t ref, xen_pfn_t pfn);
/* Retries this domain's deferred grants; returns how many still wait. */
unsigned int xensim_xenbus_deferred_retry(void);

/*
 * The toolstack's part (host side, not guest code): writes both halves of
 * a device in one transaction, as libxl does, through dom0's connection to
 * the simulator's XenStore (xensim_xenstore_start()).
 * Frontend /local/domain/<fe>/device/<type>/<id>: backend, backend-id,
 * state = 1, owned by fe, read for the back end. Backend
 * /local/domain/<be>/backend/<type>/<fe>/<id>: frontend, frontend-id,
 * online = 1, state = 1, owned by be, read for the front end.
 */
struct xensim;
struct xensim_device_config {
    const char *type;
    domid_t frontend, backend;
    unsigned int devid;
    const char *const *front_keys;   /* NULL-terminated key, value pairs */
    const char *const *back_keys;
    const char *backend_type;
};
int xensim_device_add(struct xensim *sim, const struct xensim_device_config *cfg);
/* online = 0, backend state = Closing, wait up to timeout_ms for Closed,
 * then remove both directories. -ETIMEDOUT if the back end never closed
 * (the directories are removed anyway), -ENOENT if there is no device. */
int xensim_device_remove(struct xensim *sim, const char *type, domid_t frontend,
                         unsigned int devid, unsigned int timeout_ms);
/* The same through a XenStore unix socket (a running `xensim serve`). */
int xensim_device_add_at(const char *socket_path, const struct xensim_device_config *cfg);
int xensim_device_remove_at(const char *socket_path, const char *type, domid_t frontend,
                            unsigned int devid, unsigned int timeout_ms);
/*
 * A disk QEMU's xen-block serves (the "qdisk" back end), written as
 * libxl_disk.c writes one: front end device/vbd/<devid> (virtual-device,
 * device-type disk, protocol x86_64-abi), back end
 * backend/qdisk/<fe>/<devid> with params=aio:<path> (a raw image), mode,
 * dev, type, device-type, discard-enable and, if asked, direct-io-safe.
 * vdev is "xvdX" (NULL: xvda) or a device number. -EINVAL for a bad
 * vdev or path; otherwise as xensim_device_add. The device is removed
 * with xensim_device_remove(sim, "vbd", fe, devid, ...).
 */
struct xensim_qdisk {
    domid_t frontend, backend;
    const char *vdev;
    const char *path;
    bool readonly, discard, direct_io_safe;
};
int xensim_qdisk_add(struct xensim *sim, const struct xensim_qdisk *q);
int xensim_qdisk_add_at(const char *socket_path, const struct xensim_qdisk *q);
/* The device id of a vdev: 0 or -EINVAL. */
int xensim_qdisk_devid(const char *vdev, unsigned int *devid);
/*
 * Console 0 of domid for QEMU's console back end in domain backend, as
 * libxl writes it with consback QEMU: /local/domain/<domid>/console gets
 * type=ioemu, output (a QEMU chardev: "file:PATH", "unix:PATH,server=on,
 * wait=off", "pty" ...), limit, and the ring's frame (ring-ref) and port
 * from the domain's build; backend/console/<domid>/0 the usual keys with
 * protocol vt100. QEMU maps the ring by frame (libxenforeignmemory), so
 * no other console back end may serve the domain. -EINVAL, -ESRCH,
 * -ENOENT (no console), or as xensim_device_add.
 */
int xensim_qemu_console_add(struct xensim *sim, domid_t domid, domid_t backend,
                            const char *output);

/* Gives dom0 a store ring as a Linux dom0 kernel does when xenstored
 * runs in dom0 (xenstored_local_init), and introduces it: dom0 guest code
 * can then use xenbus_* and host back ends. Call after
 * xensim_xenstore_start(); before it, xenbus calls in dom0 give -ENODEV. */
int xensim_xenbus_dom0_init(struct xensim *sim);
/* Host-side reads and writes as dom0. read returns the length or -errno. */
int xensim_xenstore_read(struct xensim *sim, const char *path, char *buf, size_t size);
int xensim_xenstore_write(struct xensim *sim, const char *path, const char *value);
int xensim_xenstore_rm(struct xensim *sim, const char *path);
int xensim_xenstore_set_perms(struct xensim *sim, const char *path,
                              const struct xs_permissions *perms, unsigned int num);

#ifdef __cplusplus
}
#endif
#endif
