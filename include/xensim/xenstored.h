/*
 * xenstored, the XenStore daemon, as a program an embedder runs in dom0
 * (Xen's tools/xenstored): it serves unix sockets and guests' store rings.
 * Domains come to it with XS_INTRODUCE and go with XS_RELEASE, or when the
 * hypervisor reports them dying or gone after VIRQ_DOM_EXC, as on Xen.
 * The toolstack runs one per simulator (xensim_xenstore_start() in
 * xensim.h); tests and tools may run their own.
 */
#ifndef XENSIM_XENSTORED_H
#define XENSIM_XENSTORED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim_xenstored;
struct xensim_xenstored_conn;

/*
 * How the daemon reaches guests: what libxengnttab, libxenevtchn and
 * libxenctrl are to C xenstored. Every call but fd() is made on the
 * daemon's loop thread. map() maps the page a domain granted at
 * GNTTAB_RESERVED_XENSTORE (NULL on failure); bind() returns the local
 * port or a negative errno; pending() returns the next local port that
 * fired (masked until unmask()) or -EAGAIN, and fd() is readable while
 * one waits. bind_virq() and domain_state() may both be NULL: domains
 * then leave only by XS_RELEASE. Otherwise the daemon binds VIRQ_DOM_EXC
 * at start and, each time it fires, asks domain_state() about every
 * domain it serves (0 and its state, or -ESRCH for a domain gone).
 */
struct xensim_xenstored_ring_ops {
    void *(*map)(void *ctx, domid_t domid, unsigned long gfn);
    void (*unmap)(void *ctx, domid_t domid, void *page);
    long (*bind)(void *ctx, domid_t domid, uint32_t remote_port);
    void (*unbind)(void *ctx, uint32_t local_port);
    void (*notify)(void *ctx, uint32_t local_port);
    int (*fd)(void *ctx);
    long (*pending)(void *ctx);
    void (*unmask)(void *ctx, uint32_t local_port);
    long (*bind_virq)(void *ctx, uint32_t virq);
    int (*domain_state)(void *ctx, domid_t domid, enum xensim_domain_state *state);
};

struct xensim_xenstored_config {
    /* The rings: with ring_ops NULL and sim set, dom0's evtchn and gntdev
     * handles of that simulator (<xensim/hostdev.h>), opened at create
     * and closed at destroy; with neither, domains have no ring. */
    struct xensim *sim;
    const struct xensim_xenstored_ring_ops *ring_ops;
    void *ring_ctx;
    bool quiet;                       /* no log lines on stderr */
};

/* What the daemon holds, over all its connections. */
struct xensim_xenstored_stats {
    unsigned long nodes, watches, transactions, conns, domains;
};

/* NULL with errno set (ESRCH: the simulator has no dom0 to run in). */
struct xensim_xenstored *xensim_xenstored_create(const struct xensim_xenstored_config *cfg);
/* Stops the loop thread, drops every connection, ring and node. */
void xensim_xenstored_destroy(struct xensim_xenstored *xsd);
/* Listens on a unix socket (replacing one left there), before start; its
 * connections speak for dom0, or for domid with listen_as (unprivileged
 * unless 0). 0 or a negative errno. */
int xensim_xenstored_listen(struct xensim_xenstored *xsd, const char *path);
int xensim_xenstored_listen_as(struct xensim_xenstored *xsd, const char *path, domid_t domid);
/* Starts the loop thread that serves the sockets and the rings. */
int xensim_xenstored_start(struct xensim_xenstored *xsd);
/* A socket connection as dom0, with no path: one end of a socket pair the
 * daemon serves like an accepted socket. Returns the descriptor (blocking,
 * close-on-exec; close it to disconnect) or a negative errno. */
int xensim_xenstored_connect(struct xensim_xenstored *xsd);
void xensim_xenstored_stats(struct xensim_xenstored *xsd, struct xensim_xenstored_stats *st);

/*
 * In-process connections, as if the domain had sent each message on its
 * ring, served on the calling thread: for tests and benchmarks. dom0's is
 * privileged. One thread at a time per connection.
 */
struct xensim_xenstored_conn *xensim_xenstored_local_open(struct xensim_xenstored *xsd,
                                                          domid_t domid);
void xensim_xenstored_local_close(struct xensim_xenstored_conn *c);
/* Sends one request and returns its reply (type XS_ERROR on error) with
 * its body NUL-terminated in buf; returns the body length, -E2BIG if buf
 * is too small or -EPROTO for a payload over XENSTORE_PAYLOAD_MAX. Watch
 * events received meanwhile stay queued. */
int xensim_xenstored_local_request(struct xensim_xenstored_conn *c, uint32_t type,
                                   uint32_t tx_id, const void *payload, size_t len,
                                   struct xsd_sockmsg *reply, char *buf, size_t size);
/* The next queued watch event (path, NUL, token, NUL); returns its body
 * length or -EAGAIN. */
int xensim_xenstored_local_event(struct xensim_xenstored_conn *c, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
