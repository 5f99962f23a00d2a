/*
 * xenstored in a simulator, run as a toolstack runs it: started in dom0
 * (its rings reach guests through dom0's hostdev handles), told of each
 * new domain by a domain listener that makes the domain's home and
 * introduces it over a socket, removes the home when the domain is
 * destroyed, and stops xenstored when dom0 is, for it is a dom0 process.
 * Deaths xenstored learns of itself, from VIRQ_DOM_EXC. Owns
 * the table of running daemons, one per simulator; relies on the public
 * xensim.h and xenstored.h, xs_client.c, and xenbus/ for dom0's ring.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <xensim/xenbus.h>
#include <xensim/xenstored.h>
#include "ts_xenstored.h"
#include "util.h"
#include "xb_client.h"

struct ts_host {
    struct ts_host *next;
    struct xensim *sim;
    struct xensim_xenstored *xsd;
};

/* Simulators with a xenstored; few, so a list. hosts_lock is held while
 * a daemon is used from the table (connected to, or sent a domain), so
 * it cannot be stopped meanwhile; that also makes "is it introduced?
 * then introduce it" one step for the listener and the start-up scan.
 * Lock order: the simulator's listener lock, then hosts_lock. */
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ts_host *hosts;

static struct ts_host **host_slot(struct xensim *sim)
{
    struct ts_host **pp = &hosts;

    while (*pp && (*pp)->sim != sim)
        pp = &(*pp)->next;
    return pp;
}

int ts_connect(struct xensim *sim, struct ts_xs *x)
{
    struct ts_host *h;
    int fd;

    xensim_mutex_lock(&hosts_lock);
    h = *host_slot(sim);
    fd = h ? xensim_xenstored_connect(h->xsd) : -ENODEV;
    xensim_mutex_unlock(&hosts_lock);
    if (fd < 0)
        return fd;
    ts_xs_open_fd(x, fd);
    return 0;
}

/* The domain's home as libxl makes it: /local/domain/<id>, dom0's and
 * readable by the domain, with its domid and name, in one transaction. */
static int make_home(struct ts_xs *x, const struct xensim_domain_info *info)
{
    struct xs_permissions p[2] = { { 0, XS_PERM_NONE }, { info->domid, XS_PERM_READ } };
    char home[32], path[48], id[8];
    int err = 0;

    snprintf(home, sizeof(home), "/local/domain/%u", info->domid);
    snprintf(id, sizeof(id), "%u", info->domid);
    for (int tries = 0; tries < 100; tries++) {
        if ((err = ts_xs_start(x)))
            return err;
        err = ts_xs_mkdir(x, home);
        if (!err)
            err = ts_xs_set_perms(x, home, p, info->domid ? 2 : 1);
        snprintf(path, sizeof(path), "%s/domid", home);
        if (!err)
            err = ts_xs_write(x, path, id);
        snprintf(path, sizeof(path), "%s/name", home);
        if (!err)
            err = ts_xs_write(x, path, info->name);
        if (err) {
            ts_xs_end(x, true);
            return err;
        }
        err = ts_xs_end(x, false);
        if (err != -EAGAIN)
            break;
    }
    return err;
}

/* Under hosts_lock. A domain with a store ring is introduced once: the
 * daemon itself says whether it already serves it. dom0 gets its ring
 * later, from xensim_xenbus_dom0_init(). Failures leave the domain
 * without a store, as a failed libxl build would. */
static void adopt(struct ts_host *h, const struct xensim_domain_info *info)
{
    bool ring = info->domid != 0 && info->store_port;
    int fd = xensim_xenstored_connect(h->xsd);
    struct ts_xs x;

    if (fd < 0)
        return;
    ts_xs_open_fd(&x, fd);
    if (!ring || ts_xs_is_introduced(&x, info->domid) == 0) {
        make_home(&x, info);
        if (ring)
            ts_xs_introduce(&x, info->domid, info->store_pfn, info->store_port);
    }
    ts_xs_close(&x);
}

static void ts_built(struct xensim *sim, domid_t domid, void *arg)
{
    struct xensim_domain_info info;
    struct ts_host *h;

    (void)arg;
    if (xensim_domain_info(sim, domid, &info))
        return;
    xensim_mutex_lock(&hosts_lock);
    h = *host_slot(sim);
    if (h)
        adopt(h, &info);
    xensim_mutex_unlock(&hosts_lock);
}

/* libxl removes the home it made before it destroys the domain; the
 * rest (the connection, the domain's own nodes) is xenstored's to do once
 * it sees the domain die. xenstored is a dom0 process: it stops with
 * dom0. */
static void ts_destroying(struct xensim *sim, domid_t domid, void *arg)
{
    struct ts_host *h;
    char home[32];
    struct ts_xs x;
    int fd;

    (void)arg;
    if (domid == 0) {
        xensim_xenstore_stop(sim);
        return;
    }
    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    xensim_mutex_lock(&hosts_lock);
    h = *host_slot(sim);
    fd = h ? xensim_xenstored_connect(h->xsd) : -ENODEV;
    if (fd >= 0) {
        ts_xs_open_fd(&x, fd);
        ts_xs_rm(&x, home);
        ts_xs_close(&x);
    }
    xensim_mutex_unlock(&hosts_lock);
}

static const struct xensim_domain_listener ts_listener = {
    .built = ts_built, .destroying = ts_destroying,
};

/* Every domain's info, however many there are (NULL and 0 if memory
 * runs out). */
static struct xensim_domain_info *list_domains(struct xensim *sim, int *n)
{
    struct xensim_domain_info *infos = NULL, *more;
    int max = 0;

    for (;;) {
        *n = xensim_domain_list(sim, infos, max);
        if (*n <= max)
            return infos;
        max = *n + 16;
        more = realloc(infos, (size_t)max * sizeof(*infos));
        if (!more) {
            free(infos);
            *n = 0;
            return NULL;
        }
        infos = more;
    }
}

int xensim_xenstore_attach(struct xensim *sim, struct xensim_xenstored *xsd)
{
    struct xensim_domain_info *infos;
    struct ts_host *h, **pp;
    int n, err;

    if (!sim || !xsd)
        return -EINVAL;
    if (!(h = calloc(1, sizeof(*h))))
        return -ENOMEM;
    h->sim = sim;
    h->xsd = xsd;
    xensim_mutex_lock(&hosts_lock);
    pp = host_slot(sim);
    if (*pp) {
        xensim_mutex_unlock(&hosts_lock);
        free(h);
        return -EEXIST;
    }
    *pp = h;
    xensim_mutex_unlock(&hosts_lock);
    /* Outside hosts_lock (lock order). Once per simulator, though
     * xenstored may be started again after a stop; a domain built in
     * between is found by the scan below. */
    xensim_listener_remove(sim, &ts_listener, NULL);
    err = xensim_listener_add(sim, &ts_listener, NULL);
    infos = list_domains(sim, &n);
    xensim_mutex_lock(&hosts_lock);
    pp = host_slot(sim);
    if (err && *pp == h)
        *pp = h->next;
    else if (*pp == h)
        for (int i = 0; i < n; i++)
            if (infos[i].state != XENSIM_DOMAIN_DYING)
                adopt(h, &infos[i]);
    xensim_mutex_unlock(&hosts_lock);
    free(infos);
    if (err)
        free(h);
    return err;
}

int xensim_xenstore_start(struct xensim *sim, const char *socket_path)
{
    struct xensim_xenstored_config cfg = { .sim = sim, .quiet = true };
    struct xensim_xenstored *xsd;
    bool running;
    int err;

    if (!sim)
        return -EINVAL;
    xensim_mutex_lock(&hosts_lock);
    running = *host_slot(sim) != NULL;
    xensim_mutex_unlock(&hosts_lock);
    if (running)
        return -EEXIST;
    if (!(xsd = xensim_xenstored_create(&cfg)))
        return -errno;
    err = socket_path ? xensim_xenstored_listen(xsd, socket_path) : 0;
    if (!err)
        err = xensim_xenstored_start(xsd);
    if (!err)
        err = xensim_xenstore_attach(sim, xsd);
    if (err)
        xensim_xenstored_destroy(xsd);
    return err;
}

void xensim_xenstore_stop(struct xensim *sim)
{
    struct ts_host *h, **pp;

    xensim_mutex_lock(&hosts_lock);
    pp = host_slot(sim);
    h = *pp;
    if (h)
        *pp = h->next;
    xensim_mutex_unlock(&hosts_lock);
    if (!h)
        return;
    xensim_xenstored_destroy(h->xsd);
    free(h);
}

int xensim_xenstore_usage(struct xensim *sim, struct xensim_xenstore_usage *u)
{
    struct xensim_xenstored_stats st;
    struct ts_host *h;

    xensim_mutex_lock(&hosts_lock);
    h = *host_slot(sim);
    if (h)
        xensim_xenstored_stats(h->xsd, &st);
    xensim_mutex_unlock(&hosts_lock);
    if (!h)
        return -ENODEV;
    u->nodes = st.nodes;
    u->watches = st.watches;
    u->transactions = st.transactions;
    u->connections = st.conns;
    u->domains = st.domains;
    return 0;
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

/* dom0's kernel makes its own ring (xenbus/), then the toolstack
 * introduces it like any domain's. */
int xensim_xenbus_dom0_init(struct xensim *sim)
{
    struct dom0_ring a = { .err = -ESRCH };
    struct ts_xs x;
    int err;

    if ((err = ts_connect(sim, &x)))
        return err;
    err = xensim_domain_call(sim, 0, 0, dom0_ring_fn, &a);
    if (!err)
        err = a.err;
    if (!err)
        err = ts_xs_introduce(&x, 0, a.pfn, a.port);
    ts_xs_close(&x);
    return err;
}
