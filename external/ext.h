/*
 * The simulator's end of the hypervisor sockets (<xensim/hvsock.h>),
 * private to external/: one struct ext_dom per domain, served by a thread
 * of its own with one epoll loop over its listening sockets, its
 * connections and its XenStore bridge. Everything a domain's thread
 * touches is its own, so none of it is locked; srv->lock guards only the
 * list of domains, stop and sync requests, and the stats snapshot.
 * Relies on the public headers only.
 */
#ifndef XENSIM_EXT_H
#define XENSIM_EXT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xensim/external.h>
#include <xensim/hvsock.h>
#include <xensim/xensim.h>
#include "util.h"

struct ext_dom;
struct ext_conn;

/* Something a domain's epoll loop waits on: its handler runs on the
 * domain's thread with the events that came. */
struct ext_ep {
    void (*fn)(struct ext_dom *d, struct ext_ep *ep, uint32_t events);
};

/* One kind of hypervisor connection (hvsock.h's enum xensim_hv_kind). */
struct ext_kind_ops {
    const char *name;
    /* Sets up c->priv after HELLO; may give the reply one descriptor
     * (*fd, closed once sent). 0 or a negative errno. */
    int (*open)(struct ext_conn *c, int *fd);
    /*
     * One request of len bytes (at least the op). Fills the reply (at most
     * EXT_REPLY_MAX bytes) and sets *rep_len, 0 for no reply; descriptors
     * go in fds[] (*nfds of them, at most EXT_MAX_FDS), closed once sent.
     * Returns 0, or -1 for a malformed request, which ends the connection.
     */
    int (*request)(struct ext_conn *c, const void *msg, size_t len, void *rep,
                   size_t *rep_len, int *fds, unsigned int *nfds);
    /* The connection's end: undo everything it holds, as a file's close.
     * c->priv is the kind's to free (or to keep, see evtchn.c). */
    void (*close)(struct ext_conn *c);
};
extern const struct ext_kind_ops ext_evtchn_ops, ext_gntdev_ops, ext_gntalloc_ops,
    ext_privcmd_ops;

#define EXT_REQUEST_MAX (sizeof(struct xensim_hv_map) + \
                         XENSIM_HV_MAX_PAGES * sizeof(struct xensim_hv_gref))
#define EXT_REPLY_MAX (sizeof(struct xensim_hv_map_rep) + \
                       XENSIM_HV_MAX_PAGES * sizeof(struct xensim_hv_page))
#define EXT_MAX_FDS 64u
/* A process may hold this many connections to one domain at once. */
#define EXT_MAX_CONNS 1024u

struct ext_conn {
    struct ext_ep ep;
    struct ext_dom *d;
    int fd;
    const struct ext_kind_ops *ops;    /* NULL until HELLO */
    void *priv;
    struct ext_conn *prev, *next;
};

/* The server: every domain it serves, and the thread that builds and
 * destroys the domains processes ask for (see server.c for why). */
struct ext_server {
    struct xensim *sim;
    char *dir;
    unsigned int retry_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;            /* a sync done, a job done */
    struct ext_dom *doms;
    bool stopping;
    /* The toolstack thread's queue (server.c). */
    pthread_t ts_thread;
    struct ext_job *jobs;
    bool ts_stop, ts_busy;
    unsigned int domains_asked;
};

struct ext_dom {
    struct ext_server *srv;
    domid_t domid;
    bool privileged;
    char path[4096];                /* dir/dom/N */
    int epfd;
    struct ext_ep wake_ep, hv_ep, xs_ep;
    int wake_fd, hv_listen, xs_listen;
    pthread_t thread;
    /* Under srv->lock. */
    bool stop;                      /* for the thread */
    bool stopping;                  /* someone is stopping it (server.c) */
    unsigned long sync_req, sync_done;
    struct xensim_external_stats stats;
    /* The thread's own. */
    struct ext_conn *conns;
    unsigned int nr_conns;
    struct ext_evtchn *evtchns;     /* evtchn.c: open and closing ones */
    struct ext_share *deferred;     /* gntalloc.c: ended, still mapped */
    struct ext_xenbus *xb;          /* xenbus.c; NULL until first used */
    unsigned int nr_maps, nr_shares;
    uint8_t *rbuf, *wbuf;           /* one request, one reply */
    struct ext_dom *next;
};

/* dom.c */
struct ext_dom *ext_dom_start(struct ext_server *srv, domid_t domid);
/* Stops the thread, which closes everything; then free removes the
 * sockets. */
void ext_dom_stop(struct ext_dom *d);
void ext_dom_free(struct ext_dom *d);
int ext_ep_add(struct ext_dom *d, int fd, uint32_t events, struct ext_ep *ep);
void ext_ep_mod(struct ext_dom *d, int fd, uint32_t events, struct ext_ep *ep);
void ext_ep_del(struct ext_dom *d, int fd);

/* evtchn.c: unmap notifications name a port some EVTCHN connection of
 * the domain bound; a reference keeps it bound (as Linux's evtchn_get)
 * until the notification is sent, even if that connection ends first. */
struct ext_port_ref;
struct ext_port_ref *ext_port_get(struct ext_dom *d, uint32_t port);
void ext_port_put(struct ext_port_ref *r, bool notify);
unsigned int ext_evtchn_ports(struct ext_dom *d);

/* gntalloc.c: retries the ends of grants a peer still mapped. */
void ext_gntalloc_retry(struct ext_dom *d);
void ext_gntalloc_drop_deferred(struct ext_dom *d);
unsigned int ext_gntalloc_deferred(struct ext_dom *d);

/* privcmd.c -> server.c: the domains processes asked for. */
int ext_domain_new(struct ext_server *srv, struct ext_dom *asker,
                   const struct xensim_hv_domain_new *req);
void ext_domain_release(struct ext_server *srv, domid_t domid);

/* xenbus.c: dir/dom/N/xenstore for a domU. */
void ext_xenbus_accept(struct ext_dom *d, int fd);
void ext_xenbus_stop(struct ext_dom *d);
/* Requests sent on the ring and not yet answered, and clients. */
bool ext_xenbus_busy(struct ext_dom *d);
unsigned int ext_xenbus_clients(struct ext_dom *d);

/* Writes one zero byte at offset off of a domain's memory (an unmap
 * notification's byte): 0 or a negative errno. */
int ext_clear_byte(struct xensim *sim, domid_t domid, uint64_t off);

#endif
