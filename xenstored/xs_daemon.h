/*
 * The XenStore daemon as the rest of xensim sees it: create it, give it a
 * way to reach guest rings (struct xs_ring_ops), introduce and release
 * domains, serve a unix socket, and open in-process connections.
 */
#ifndef XS_DAEMON_H
#define XS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

struct xs_daemon;
struct xs_conn;

/*
 * How the ring transport reaches a guest: the equivalent of gntdev and
 * evtchn for the daemon. Every call but fd() is made on the daemon's loop
 * thread. pending() returns the next local port that fired (masked until
 * unmask()) or -EAGAIN; fd() is readable while one is waiting.
 */
struct xs_ring_ops {
    void *(*map)(void *ctx, domid_t domid, unsigned long gfn);
    void (*unmap)(void *ctx, domid_t domid, void *page);
    long (*bind)(void *ctx, domid_t domid, uint32_t remote_port);
    void (*unbind)(void *ctx, uint32_t local_port);
    void (*notify)(void *ctx, uint32_t local_port);
    int (*fd)(void *ctx);
    long (*pending)(void *ctx);
    void (*unmask)(void *ctx, uint32_t local_port);
};

/* Per-domain limits; privileged connections are exempt from all but
 * outstanding requests. Zero fields take C xenstored's defaults. */
struct xs_quota {
    unsigned int nodes;         /* nodes owned: 1000 */
    unsigned int entry_size;    /* a node as C xenstored stores it: 2048 */
    unsigned int watches;       /* 128 */
    unsigned int transactions;  /* 10 */
    unsigned int outstanding;   /* replies queued before input stalls: 20 */
    unsigned int perms;         /* permission entries per node: 5 */
    unsigned int tx_nodes;      /* nodes touched per transaction: 1024 */
    unsigned int memory;        /* bytes per domain (hard quota): 2621440 */
};

struct xs_daemon_config {
    const struct xs_ring_ops *ring_ops;   /* NULL: domains have no ring */
    void *ring_ctx;
    struct xs_quota quota;
    bool quiet;                           /* no log lines on stderr */
};

struct xs_stats {
    unsigned long nodes, watches, transactions, conns, domains;
};

struct xs_daemon *xs_daemon_create(const struct xs_daemon_config *cfg);
/* Stops the loop thread, drops every connection and node. */
void xs_daemon_destroy(struct xs_daemon *xs);
/* Listen on a unix socket (removed first if it exists); before start. */
int xs_daemon_listen(struct xs_daemon *xs, const char *path);
/* Another socket whose connections speak for domid (unprivileged unless 0). */
int xs_daemon_listen_as(struct xs_daemon *xs, const char *path, domid_t domid);
/* Starts the loop thread serving the socket and the rings. */
int xs_daemon_start(struct xs_daemon *xs);

/* What the simulator calls at domain build and death (and what
 * XS_INTRODUCE / XS_RELEASE do). Return 0 or a negative errno. */
int xs_daemon_introduce(struct xs_daemon *xs, domid_t domid, unsigned long gfn,
                        uint32_t port);
int xs_daemon_release(struct xs_daemon *xs, domid_t domid);
/* The domain shut down: @releaseDomain fires once until XS_RESUME. */
void xs_daemon_domain_shutdown(struct xs_daemon *xs, domid_t domid);

/* Makes /local/domain/<domid> (owner dom0, readable by the domain) with
 * its domid and name, as the toolstack would. */
int xs_daemon_domain_home(struct xs_daemon *xs, domid_t domid, const char *name);

/* The hypervisor binding over <xensim/hostdev.h> (xs_hostdev.c): dom0's
 * evtchn and gntdev handles, and the simulator hooks that introduce each
 * domain at build (making its home) and release it at death. */
struct xensim;
struct xs_hostdev;
extern const struct xs_ring_ops xs_hostdev_ops;
struct xs_hostdev *xs_hostdev_open(struct xensim *sim);
void xs_hostdev_close(struct xs_hostdev *hd);
int xs_sim_attach(struct xensim *sim, struct xs_daemon *xs);
void xs_sim_detach(struct xensim *sim);

void xs_daemon_stats(struct xs_daemon *xs, struct xs_stats *st);

/* Every node (pre-order) and every watch, under the store lock: the
 * callbacks must not call into the daemon. Either may be NULL. */
struct xs_inspect_ops {
    void (*node)(const char *path, const char *value, unsigned int len, domid_t owner,
                 void *arg);
    void (*watch)(domid_t domid, const char *path, const char *token, void *arg);
};
void xs_daemon_inspect(struct xs_daemon *xs, const struct xs_inspect_ops *ops, void *arg);

/*
 * In-process connections, as if the domain had sent the message on its
 * ring: used by tests and benchmarks. Dom0 is privileged. One thread at
 * a time per connection.
 */
struct xs_conn *xs_local_open(struct xs_daemon *xs, domid_t domid);
void xs_local_close(struct xs_conn *c);
/* Sends one request and returns its reply (type XS_ERROR on error) with
 * its body NUL-terminated in buf; returns the body length or -E2BIG if
 * buf is too small, or -EAGAIN if the domain is at its memory quota (C
 * xenstored would not read the request). Watch events received
 * meanwhile stay queued. */
int xs_local_request(struct xs_conn *c, uint32_t type, uint32_t tx_id,
                     const void *payload, size_t len,
                     struct xsd_sockmsg *reply, char *buf, size_t size);
/* The next queued watch event; returns its body length or -EAGAIN. */
int xs_local_event(struct xs_conn *c, char *buf, size_t size);

#endif
