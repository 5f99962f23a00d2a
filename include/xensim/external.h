/*
 * External domains: processes outside the simulator that are its domains,
 * running Xen's own userspace (libxenvchan, vchan-socket-proxy,
 * xenconsole, ...) through the drop-in libraries xensim builds.
 *
 * Under dir, for every domain N (those that exist at start and those built
 * later; removed when the domain is destroyed):
 *   dir/dom/N/hypervisor   the hypervisor socket (<xensim/hvsock.h>):
 *                          /dev/xen/evtchn, gntdev, gntalloc and domain
 *                          control for processes of domain N;
 *   dir/dom/N/xenstore     for N > 0, /dev/xen/xenbus: XenStore as domain
 *                          N, through its own store ring, so the daemon's
 *                          permissions apply (point XENSTORED_PATH here).
 *                          Dom0's processes use the daemon's socket.
 * The store ring belongs to this bridge from its first connection on, as
 * it would to a domU's kernel driver: a domain whose own guest code also
 * speaks XenStore on it (xenbus_*) must not be given external processes.
 *
 * Each domain is served by a thread of its own; a process's death is
 * seen at once (its connections' end) and cleaned up as Xen and Linux
 * would: see hvsock.h.
 */
#ifndef XENSIM_EXTERNAL_H
#define XENSIM_EXTERNAL_H

#include <stdbool.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim_external;

struct xensim_external_config {
    const char *dir;                /* made if missing */
    /* Grants a process shared and then let go, still mapped by a peer, are
     * ended when the peer lets go; this bounds how long that can take
     * when the peer is a domain of the simulator (ms; 0: 100). */
    unsigned int retry_ms;
};

/* Serves every domain of sim, now and as they are built. The simulator's
 * XenStore should run first (xensim_xenstore_start), for the guests'
 * rings. NULL with errno set. */
struct xensim_external *xensim_external_start(struct xensim *sim,
                                              const struct xensim_external_config *cfg);
/* Closes every connection (cleaning up after each as at a process's
 * death), destroys the domains processes asked for, removes the sockets.
 * Call before xensim_destroy(), not from a domain listener. */
void xensim_external_stop(struct xensim_external *ext);

/* What the servers hold now, over every domain. */
struct xensim_external_stats {
    unsigned int connections;       /* hypervisor sockets, all kinds */
    unsigned int ports;             /* bound through them */
    unsigned int maps;              /* live MAPs */
    unsigned int shares;            /* live SHAREs */
    unsigned int deferred;          /* grants ended but still mapped by a peer */
    unsigned int xenstore_clients;  /* dir/dom/N/xenstore connections */
    unsigned int domains_asked;     /* made by DOMAIN_NEW, still alive */
};
/* Waits until every domain's server has handled what its sockets already
 * hold (connections, requests, ends) and retried its deferred grant ends,
 * then fills st (may be NULL). For tests: "the process is gone; is
 * everything it held gone too?" */
void xensim_external_sync(struct xensim_external *ext, struct xensim_external_stats *st);

/*
 * Consoles as xenconsoled gives them to `xenconsole`: runs a console back
 * end (<xensim/console.h>) with a pty per guest, whose slave's path is
 * written at /local/domain/N/console/tty (XenStore must run). Output the
 * guest writes goes to the pty (dropped while nobody reads and it is
 * full); what is typed into it goes to the guest. NULL with errno set.
 */
struct xensim_console_ptys;
struct xensim_console_ptys *xensim_console_ptys_start(struct xensim *sim);
void xensim_console_ptys_stop(struct xensim_console_ptys *cp);

#ifdef __cplusplus
}
#endif
#endif
