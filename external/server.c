/*
 * The server as an embedder sees it (<xensim/external.h>): a domain
 * listener that gives each domain its server (dom.c) when it is built
 * and stops it when it is destroyed, sync and stats for tests, and the
 * toolstack thread that builds and destroys the domains processes ask
 * for. That thread exists because a domain's own thread must never wait
 * inside xensim_domain_create() or _destroy(): those run the domain
 * listeners, and the listener that stops a domain's server waits for
 * that domain's thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ext.h"

struct ext_job {
    bool destroy;
    domid_t domid;
    struct xensim_domain_config cfg;
    char name[64];
    int rc;
    bool done, abandoned;
    struct ext_job *next;
};

struct xensim_external {
    struct ext_server srv;
};

static struct ext_dom *dom_find(struct ext_server *srv, domid_t domid)
{
    for (struct ext_dom *d = srv->doms; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

/* Under srv->lock, so that the listener and start never both serve one. */
static void dom_add(struct ext_server *srv, domid_t domid)
{
    if (srv->stopping || dom_find(srv, domid))
        return;
    struct ext_dom *d = ext_dom_start(srv, domid);
    if (!d)
        return;
    d->next = srv->doms;
    srv->doms = d;
}

static void on_built(struct xensim *sim, domid_t domid, void *arg)
{
    struct ext_server *srv = arg;
    (void)sim;
    xensim_mutex_lock(&srv->lock);
    dom_add(srv, domid);
    xensim_mutex_unlock(&srv->lock);
}

/*
 * Stops d's server once, whoever asks (the listener as d is destroyed,
 * or xensim_external_stop()): the others wait until it is done, so that
 * no domain goes while its server may still touch it. Caller holds
 * srv->lock; it is dropped meanwhile.
 */
static void dom_stop_locked(struct ext_server *srv, struct ext_dom *d)
{
    if (d->stopping) {
        while (dom_find(srv, d->domid) == d)
            pthread_cond_wait(&srv->cond, &srv->lock);
        return;
    }
    d->stopping = true;
    xensim_mutex_unlock(&srv->lock);
    ext_dom_stop(d);
    xensim_mutex_lock(&srv->lock);
    for (struct ext_dom **pp = &srv->doms; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    pthread_cond_broadcast(&srv->cond);
    xensim_mutex_unlock(&srv->lock);
    ext_dom_free(d);
    xensim_mutex_lock(&srv->lock);
}

/* The domain still runs: its server closes every connection (undoing
 * what they hold while it can) before the domain goes. */
static void on_destroying(struct xensim *sim, domid_t domid, void *arg)
{
    struct ext_server *srv = arg;
    (void)sim;
    xensim_mutex_lock(&srv->lock);
    struct ext_dom *d = dom_find(srv, domid);
    if (d)
        dom_stop_locked(srv, d);
    xensim_mutex_unlock(&srv->lock);
}

static const struct xensim_domain_listener listener = {
    .built = on_built,
    .destroying = on_destroying,
};

static void *ts_main(void *arg)
{
    struct ext_server *srv = arg;

    xensim_mutex_lock(&srv->lock);
    for (;;) {
        struct ext_job *j = srv->jobs;
        if (!j) {
            if (srv->ts_stop)
                break;
            pthread_cond_wait(&srv->cond, &srv->lock);
            continue;
        }
        srv->jobs = j->next;
        srv->ts_busy = true;
        xensim_mutex_unlock(&srv->lock);
        if (j->destroy) {
            xensim_domain_destroy(srv->sim, j->domid);
        } else {
            j->rc = xensim_domain_create(srv->sim, &j->cfg);
            if (j->rc >= 0 && xensim_domain_unpause(srv->sim, (domid_t)j->rc)) {
                xensim_domain_destroy(srv->sim, (domid_t)j->rc);
                j->rc = -EINVAL;
            }
        }
        xensim_mutex_lock(&srv->lock);
        srv->ts_busy = false;
        if (j->destroy) {
            srv->domains_asked--;
            free(j);
        } else if (j->abandoned) {
            /* Its asker went away meanwhile: nobody owns the domain. */
            if (j->rc >= 0) {
                j->destroy = true;
                j->domid = (domid_t)j->rc;
                j->next = srv->jobs;
                srv->jobs = j;
            } else {
                free(j);
            }
        } else {
            j->done = true;
        }
        pthread_cond_broadcast(&srv->cond);
    }
    xensim_mutex_unlock(&srv->lock);
    return NULL;
}

static void job_push(struct ext_server *srv, struct ext_job *j)
{
    struct ext_job **pp = &srv->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    pthread_cond_broadcast(&srv->cond);
}

int ext_domain_new(struct ext_server *srv, struct ext_dom *asker,
                   const struct xensim_hv_domain_new *req)
{
    struct ext_job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    snprintf(j->name, sizeof(j->name), "%s", req->name);
    j->cfg.name = j->name[0] ? j->name : NULL;
    j->cfg.nr_pages = req->nr_pages;
    j->cfg.max_maptrack_frames = req->max_maptrack_frames;
    xensim_mutex_lock(&srv->lock);
    if (srv->stopping) {
        xensim_mutex_unlock(&srv->lock);
        free(j);
        return -ESHUTDOWN;
    }
    srv->domains_asked++;
    job_push(srv, j);
    while (!j->done && !asker->stop)
        pthread_cond_wait(&srv->cond, &srv->lock);
    int rc = -ESHUTDOWN;
    if (j->done) {
        rc = j->rc;
        if (rc < 0)
            srv->domains_asked--;
        free(j);
    } else {
        j->abandoned = true;
    }
    xensim_mutex_unlock(&srv->lock);
    return rc;
}

void ext_domain_release(struct ext_server *srv, domid_t domid)
{
    struct ext_job *j = calloc(1, sizeof(*j));
    if (!j)
        XENSIM_DIE("calloc", ENOMEM);
    j->destroy = true;
    j->domid = domid;
    xensim_mutex_lock(&srv->lock);
    job_push(srv, j);
    xensim_mutex_unlock(&srv->lock);
}

struct xensim_external *xensim_external_start(struct xensim *sim,
                                              const struct xensim_external_config *cfg)
{
    if (!cfg || !cfg->dir) {
        errno = EINVAL;
        return NULL;
    }
    struct xensim_external *ext = calloc(1, sizeof(*ext));
    char path[4096];
    if (!ext)
        return NULL;
    struct ext_server *srv = &ext->srv;
    srv->sim = sim;
    srv->retry_ms = cfg->retry_ms ? cfg->retry_ms : 100;
    srv->dir = strdup(cfg->dir);
    snprintf(path, sizeof(path), "%s/dom", cfg->dir);
    if (!srv->dir || (mkdir(cfg->dir, 0755) && errno != EEXIST) ||
        (mkdir(path, 0755) && errno != EEXIST)) {
        free(srv->dir);
        free(ext);
        return NULL;
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    int err = pthread_create(&srv->ts_thread, NULL, ts_main, srv);
    if (err || xensim_listener_add(sim, &listener, srv)) {
        if (!err) {
            xensim_mutex_lock(&srv->lock);
            srv->ts_stop = true;
            pthread_cond_broadcast(&srv->cond);
            xensim_mutex_unlock(&srv->lock);
            pthread_join(srv->ts_thread, NULL);
        }
        free(srv->dir);
        free(ext);
        errno = err ? err : ENOMEM;
        return NULL;
    }
    /* Domains already there; the listener has those built from now on. */
    int n = xensim_domain_list(sim, NULL, 0);
    struct xensim_domain_info *infos = n > 0 ? calloc((size_t)n, sizeof(*infos)) : NULL;
    if (infos)
        n = xensim_domain_list(sim, infos, n);
    xensim_mutex_lock(&srv->lock);
    for (int i = 0; infos && i < n; i++)
        if (infos[i].state != XENSIM_DOMAIN_DYING)
            dom_add(srv, infos[i].domid);
    xensim_mutex_unlock(&srv->lock);
    free(infos);
    return ext;
}

void xensim_external_stop(struct xensim_external *ext)
{
    if (!ext)
        return;
    struct ext_server *srv = &ext->srv;
    char path[4096];

    /* The listener stays until the end: the domains processes asked for
     * are destroyed below, and each must still find its server stopped
     * first. */
    xensim_mutex_lock(&srv->lock);
    srv->stopping = true;
    while (srv->doms) {
        struct ext_dom *d = srv->doms;
        while (d && d->stopping)
            d = d->next;
        if (d)
            dom_stop_locked(srv, d);
        else
            pthread_cond_wait(&srv->cond, &srv->lock);
    }
    /* Then those domains, whose askers are gone now. */
    srv->ts_stop = true;
    pthread_cond_broadcast(&srv->cond);
    xensim_mutex_unlock(&srv->lock);
    XENSIM_CHECK(pthread_join(srv->ts_thread, NULL));
    xensim_listener_remove(srv->sim, &listener, srv);
    snprintf(path, sizeof(path), "%s/dom", srv->dir);
    rmdir(path);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->lock);
    free(srv->dir);
    free(ext);
}

void xensim_external_sync(struct xensim_external *ext, struct xensim_external_stats *st)
{
    struct ext_server *srv = &ext->srv;
    uint64_t one = 1;

    xensim_mutex_lock(&srv->lock);
    for (struct ext_dom *d = srv->doms; d; d = d->next) {
        d->sync_req++;
        if (write(d->wake_fd, &one, sizeof(one)) != sizeof(one))
            XENSIM_DIE("eventfd write", errno);
    }
    /* Each domain (those still there) done, and no domain left to build
     * or destroy. */
    for (;;) {
        bool waiting = srv->jobs || srv->ts_busy;
        for (struct ext_dom *d = srv->doms; d; d = d->next)
            waiting |= d->sync_done != d->sync_req;
        if (!waiting)
            break;
        pthread_cond_wait(&srv->cond, &srv->lock);
    }
    if (st) {
        memset(st, 0, sizeof(*st));
        for (struct ext_dom *d = srv->doms; d; d = d->next) {
            st->connections += d->stats.connections;
            st->ports += d->stats.ports;
            st->maps += d->stats.maps;
            st->shares += d->stats.shares;
            st->deferred += d->stats.deferred;
            st->xenstore_clients += d->stats.xenstore_clients;
        }
        st->domains_asked = srv->domains_asked;
    }
    xensim_mutex_unlock(&srv->lock);
}
