/*
 * The daemon as its own tests and its public face (xs_public.c) see it:
 * create it with limits and a way to reach guest rings, introduce and
 * release domains, serve unix sockets, open in-process connections.
 * Programs use <xensim/xenstored.h> instead.
 */
#ifndef XS_DAEMON_H
#define XS_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xensim/xenstored.h>

struct xs_daemon;
struct xs_conn;

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

struct xs_task_ops {
    void *(*task_new)(struct xensim *sim, const char *name);
    void (*cancel)(struct xensim *sim, void *task);
    void (*begin)(struct xensim *sim, void *task);
    void (*end)(struct xensim *sim);
    void (*wait_fd)(struct xensim *sim, int fd, short events);
    void (*cond_wait)(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                      bool (*done)(void *arg), void *arg);
    void (*join)(struct xensim *sim, void *task, pthread_t thread);
    /* Each message as it passes, a request as it is read, a reply or an
     * event as it is queued: the simulation's trace point. */
    void (*trace_msg)(struct xensim *sim, domid_t domid, const struct xsd_sockmsg *msg,
                      const void *payload, bool reply);
    /* What a domain's end did that broke a protocol (xs_state_check.c);
     * NULL: nobody to tell. */
    void (*violation)(struct xensim *sim, domid_t domid, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
};

struct xs_daemon_config {
    const struct xensim_xenstored_ring_ops *ring_ops;   /* NULL: domains have no ring */
    void *ring_ctx;
    struct xs_quota quota;
    bool quiet;                           /* no log lines on stderr */
    /* How the loop thread meets a simulation's scheduler: the daemon
     * links without the simulator, so xs_public.c passes <xensim/task.h>
     * here for a daemon in dom0. NULL: plain pthreads. */
    const struct xs_task_ops *task_ops;
    struct xensim *sim;                   /* their first argument */
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
/* A socket pair's end served as dom0; returns the other end or -errno. */
int xs_daemon_connect(struct xs_daemon *xs);

/* What XS_INTRODUCE and XS_RELEASE do. Return 0 or a negative errno. */
int xs_daemon_introduce(struct xs_daemon *xs, domid_t domid, unsigned long gfn,
                        uint32_t port);
int xs_daemon_release(struct xs_daemon *xs, domid_t domid);
/* The domain shut down: @releaseDomain fires once until XS_RESUME. */
void xs_daemon_domain_shutdown(struct xs_daemon *xs, domid_t domid);

/* The hypervisor binding over <xensim/hostdev.h> (xs_hostdev.c): dom0's
 * evtchn and gntdev handles of a simulator, and its domain list. */
struct xs_hostdev;
extern const struct xensim_xenstored_ring_ops xs_hostdev_ops;
/* NULL with errno set (ESRCH: no dom0). */
struct xs_hostdev *xs_hostdev_open(struct xensim *sim);
void xs_hostdev_close(struct xs_hostdev *hd);

void xs_daemon_stats(struct xs_daemon *xs, struct xensim_xenstored_stats *st);

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
