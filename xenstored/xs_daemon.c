/*
 * The daemon's life: creation with its initial tree, the loop thread
 * that serves the sockets and the rings (epoll), the domain table with
 * introduce and release, domains dying as VIRQ_DOM_EXC reports them,
 * statistics and teardown. Relies on every module.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "unix_socket.h"
#include "xs_internal.h"

enum { TAG_WAKE = 1, TAG_RING };

/* What an epoll tag points at, when it is not one of the TAG_ values. */
enum obj_kind { OBJ_LISTENER, OBJ_SOCK };

struct xs_listener {
    enum obj_kind kind;
    struct cds_list_head link;
    int fd;
    domid_t domid;                       /* whom its connections speak for */
    char path[];
};

void *xs_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);

    XENSIM_DIE_IF(!p);
    return p;
}

char *xs_strdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xs_alloc(n), s, n);
}

void xs_log(struct xs_daemon *xs, const char *fmt, ...)
{
    va_list ap;

    if (xs->quiet)
        return;
    va_start(ap, fmt);
    fputs("xenstored: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

struct xs_domain *xs_domain_find(struct xs_daemon *xs, domid_t domid)
{
    struct xs_domain *d;

    cds_list_for_each_entry(d, &xs->domains, link)
        if (d->domid == domid)
            return d;
    return NULL;
}

/* Work handed to the loop thread by others (ring setup and teardown must
 * happen there). */
struct loop_call {
    struct loop_call *next;
    void (*fn)(struct xs_daemon *xs, void *arg);
    void *arg;
    bool done;
};

static __thread struct xs_daemon *loop_self;

bool xs_on_loop_thread(struct xs_daemon *xs)
{
    return loop_self == xs;
}

void xs_daemon_wake(struct xs_daemon *xs)
{
    uint64_t one = 1;

    if (xs->wakefd >= 0 && write(xs->wakefd, &one, sizeof(one)) < 0)
        XENSIM_DIE_IF(errno != EAGAIN);
}

/* A daemon outside any simulation: the kernel schedules its thread. */
static void *plain_task_new(struct xensim *sim, const char *name)
{
    (void)sim;
    (void)name;
    return NULL;
}

static void plain_cancel(struct xensim *sim, void *task)
{
    (void)sim;
    (void)task;
}

static void plain_begin(struct xensim *sim, void *task)
{
    (void)sim;
    (void)task;
}

static void plain_end(struct xensim *sim)
{
    (void)sim;
}

static void plain_wait_fd(struct xensim *sim, int fd, short events)
{
    (void)sim;
    (void)fd;
    (void)events;
}

static void plain_cond_wait(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                            bool (*done)(void *arg), void *arg)
{
    (void)sim;
    (void)done;
    (void)arg;
    XENSIM_CHECK(pthread_cond_wait(cond, m));
}

static void plain_join(struct xensim *sim, void *task, pthread_t thread)
{
    (void)sim;
    (void)task;
    XENSIM_CHECK(pthread_join(thread, NULL));
}

/* Without a simulation there is no trace to tell. */
static void plain_trace_msg(struct xensim *sim, domid_t domid, const struct xsd_sockmsg *msg,
                            const void *payload, bool reply)
{
    (void)sim, (void)domid, (void)msg, (void)payload, (void)reply;
}

static const struct xs_task_ops plain_task_ops = {
    .task_new = plain_task_new, .cancel = plain_cancel, .begin = plain_begin, .end = plain_end,
    .wait_fd = plain_wait_fd, .cond_wait = plain_cond_wait, .join = plain_join,
    .trace_msg = plain_trace_msg,
};

static bool call_done(void *p)
{
    return ((struct loop_call *)p)->done;
}

static void run_on_loop(struct xs_daemon *xs, void (*fn)(struct xs_daemon *, void *), void *arg)
{
    struct loop_call call = { .fn = fn, .arg = arg };

    if (!__atomic_load_n(&xs->running, __ATOMIC_ACQUIRE) || xs_on_loop_thread(xs)) {
        fn(xs, arg);
        return;
    }
    xensim_mutex_lock(&xs->call_lock);
    call.next = xs->calls;
    xs->calls = &call;
    xs_daemon_wake(xs);
    while (!call.done)
        xs->task_ops->cond_wait(xs->sim, &xs->call_cond, &xs->call_lock, call_done, &call);
    xensim_mutex_unlock(&xs->call_lock);
}

static void run_calls(struct xs_daemon *xs)
{
    xensim_mutex_lock(&xs->call_lock);
    while (xs->calls) {
        struct loop_call *c = xs->calls;

        bool servicing = xs->servicing;

        xs->calls = c->next;
        xensim_mutex_unlock(&xs->call_lock);
        /* No ring is being served here: what a call releases can go now. */
        xs->servicing = false;
        c->fn(xs, c->arg);
        xs->servicing = servicing;
        xensim_mutex_lock(&xs->call_lock);
        c->done = true;
    }
    XENSIM_CHECK(pthread_cond_broadcast(&xs->call_cond));
    xensim_mutex_unlock(&xs->call_lock);
}

struct xs_daemon *xs_daemon_create(const struct xs_daemon_config *cfg)
{
    static const struct xs_daemon_config none;
    struct xs_daemon *xs = xs_alloc(sizeof(*xs));
    struct xs_permissions p = { 0, XS_PERM_NONE };

    if (!cfg)
        cfg = &none;
    XENSIM_CHECK(pthread_mutex_init(&xs->lock, NULL));
    XENSIM_CHECK(pthread_mutex_init(&xs->call_lock, NULL));
    XENSIM_CHECK(pthread_cond_init(&xs->call_cond, NULL));
    xs->quota = cfg->quota;
    xs_quota_defaults(&xs->quota);
    xs->ring_ops = cfg->ring_ops;
    xs->ring_ctx = cfg->ring_ctx;
    xs->quiet = cfg->quiet;
    xs->task_ops = cfg->task_ops ? cfg->task_ops : &plain_task_ops;
    xs->sim = cfg->sim;
    xs->epfd = xs->wakefd = -1;
    xs->virq_port = -1;
    CDS_INIT_LIST_HEAD(&xs->listeners);
    CDS_INIT_LIST_HEAD(&xs->watches);
    CDS_INIT_LIST_HEAD(&xs->domains);
    CDS_INIT_LIST_HEAD(&xs->socks);
    for (unsigned int i = 0; i < XS_NR_DOMIDS; i++)
        xs->target[i] = DOMID_INVALID;
    xs->acct = xs_alloc(XS_NR_DOMIDS * sizeof(*xs->acct));
    for (int i = 0; i < 2; i++) {
        xs->special_perms[i][0] = p;
        xs->special_nperms[i] = 1;
    }
    xs_tree_init(&xs->tree);
    /* C xenstored's initial tree. */
    xensim_mutex_lock(&xs->lock);
    xs_tree_create(&xs->tree, "/tool", xs_data_new(++xs->tree.gen, &p, 1, "", 0));
    xs_tree_create(&xs->tree, "/tool/xenstored", xs_data_new(++xs->tree.gen, &p, 1, "", 0));
    xensim_mutex_unlock(&xs->lock);
    return xs;
}

int xs_daemon_listen_as(struct xs_daemon *xs, const char *path, domid_t domid)
{
    int fd;
    struct xs_listener *l;

    if (domid >= XS_NR_DOMIDS || __atomic_load_n(&xs->running, __ATOMIC_ACQUIRE))
        return -EINVAL;
    fd = xensim_unix_listen(path, SOCK_NONBLOCK);
    if (fd < 0)
        return fd;
    l = xs_alloc(sizeof(*l) + strlen(path) + 1);
    l->kind = OBJ_LISTENER;
    l->fd = fd;
    l->domid = domid;
    strcpy(l->path, path);
    cds_list_add_tail(&l->link, &xs->listeners);
    return 0;
}

int xs_daemon_listen(struct xs_daemon *xs, const char *path)
{
    return xs_daemon_listen_as(xs, path, 0);
}

static void epoll_add(struct xs_daemon *xs, int fd, uint64_t tag, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.u64 = tag };

    XENSIM_DIE_IF(epoll_ctl(xs->epfd, EPOLL_CTL_ADD, fd, &ev));
}

struct xs_sock_entry {
    enum obj_kind kind;
    struct cds_list_head link;
    struct xs_sock *s;
    uint32_t events;
};

/* On the loop thread, or before it starts (then start polls it). */
static void sock_add(struct xs_daemon *xs, int fd, domid_t domid)
{
    struct xs_sock_entry *e = xs_alloc(sizeof(*e));

    e->kind = OBJ_SOCK;
    e->s = xs_sock_new(xs, fd, domid);
    e->events = EPOLLIN;
    cds_list_add_tail(&e->link, &xs->socks);
    if (xs->epfd >= 0)
        epoll_add(xs, fd, (uint64_t)(uintptr_t)e, e->events);
}

static void accept_all(struct xs_daemon *xs, struct xs_listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        sock_add(xs, fd, l->domid);
    }
}

static void sock_gone(struct xs_daemon *xs, struct xs_sock_entry *e)
{
    epoll_ctl(xs->epfd, EPOLL_CTL_DEL, xs_sock_fd(e->s), NULL);
    cds_list_del(&e->link);
    xs_sock_free(e->s);
    free(e);
}

static void check_domains(struct xs_daemon *xs);

static void service_rings(struct xs_daemon *xs, bool events)
{
    struct xs_domain *d;
    long port;

    if (events) {
        while ((port = xs->ring_ops->pending(xs->ring_ctx)) >= 0) {
            xensim_mutex_lock(&xs->lock);
            cds_list_for_each_entry(d, &xs->domains, link)
                if (d->ring && xs_ring_local_port(d->ring) == (uint32_t)port)
                    break;
            xensim_mutex_unlock(&xs->lock);
            if (&d->link != &xs->domains)
                xs_ring_service(d->ring);
            xs->ring_ops->unmask(xs->ring_ctx, port);
            /* Unmasked first: a change from here on fires again. */
            if (port == xs->virq_port)
                check_domains(xs);
        }
    }
    /* Output queued by other connections, and input stalled on a full
     * reply queue, need another look. A request may release a domain
     * meanwhile: its ring is then only stopped (see retire()). */
    struct xs_ring **rings;
    unsigned int n = 0;

    xensim_mutex_lock(&xs->lock);
    rings = xs_alloc((xs->nr_domains + 1) * sizeof(*rings));
    cds_list_for_each_entry(d, &xs->domains, link)
        if (d->ring)
            rings[n++] = d->ring;
    xensim_mutex_unlock(&xs->lock);
    for (unsigned int i = 0; i < n; i++)
        xs_ring_service(rings[i]);
    free(rings);
}

/* A released domain's ring goes at the end of the loop's round, since
 * the request that released it may be running on it. */
static void retire(struct xs_daemon *xs, struct xs_ring *r)
{
    if (!xs->servicing) {
        xs_ring_free(r);
        return;
    }
    xs_ring_stop(r);
    xs->graveyard = realloc(xs->graveyard, (xs->nr_graveyard + 1) * sizeof(*xs->graveyard));
    XENSIM_DIE_IF(!xs->graveyard);
    xs->graveyard[xs->nr_graveyard++] = r;
}

static void bury(struct xs_daemon *xs)
{
    for (unsigned int i = 0; i < xs->nr_graveyard; i++)
        xs_ring_free(xs->graveyard[i]);
    free(xs->graveyard);
    xs->graveyard = NULL;
    xs->nr_graveyard = 0;
}

static void *loop(void *arg)
{
    struct xs_daemon *xs = arg;
    struct epoll_event evs[64];

    xs->task_ops->begin(xs->sim, xs->task);
    loop_self = xs;
    while (__atomic_load_n(&xs->running, __ATOMIC_ACQUIRE)) {
        /* A deterministic run waits here, so that the wait below does not. */
        xs->task_ops->wait_fd(xs->sim, xs->epfd, POLLIN);
        int n = epoll_wait(xs->epfd, evs, 64, -1);
        bool ring_events = false;
        struct xs_sock_entry *e, *tmp;

        xs->servicing = true;
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;

            if (tag == TAG_WAKE) {
                uint64_t v;

                if (read(xs->wakefd, &v, sizeof(v)) < 0)
                    XENSIM_DIE_IF(errno != EAGAIN);
                run_calls(xs);
            } else if (tag == TAG_RING) {
                ring_events = true;
            } else if (*(enum obj_kind *)(uintptr_t)tag == OBJ_LISTENER) {
                accept_all(xs, (struct xs_listener *)(uintptr_t)tag);
            } else {
                e = (struct xs_sock_entry *)(uintptr_t)tag;
                if (!xs_sock_service(e->s, evs[i].events))
                    sock_gone(xs, e);
            }
        }
        if (xs->ring_ops)
            service_rings(xs, ring_events);
        cds_list_for_each_entry_safe(e, tmp, &xs->socks, link) {
            uint32_t want;

            if (!xs_sock_service(e->s, 0)) {
                sock_gone(xs, e);
                continue;
            }
            want = xs_sock_wanted(e->s);
            if (want != e->events) {
                struct epoll_event ev = { .events = want, .data.u64 = (uintptr_t)e };

                e->events = want;
                XENSIM_DIE_IF(epoll_ctl(xs->epfd, EPOLL_CTL_MOD, xs_sock_fd(e->s), &ev));
            }
        }
        xs->servicing = false;
        bury(xs);
    }
    run_calls(xs);
    xs->task_ops->end(xs->sim);
    return NULL;
}

int xs_daemon_start(struct xs_daemon *xs)
{
    struct xs_listener *l;
    struct xs_sock_entry *e;

    xs->epfd = epoll_create1(EPOLL_CLOEXEC);
    xs->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (xs->epfd < 0 || xs->wakefd < 0)
        return -errno;
    epoll_add(xs, xs->wakefd, TAG_WAKE, EPOLLIN);
    cds_list_for_each_entry(l, &xs->listeners, link)
        epoll_add(xs, l->fd, (uintptr_t)l, EPOLLIN);
    cds_list_for_each_entry(e, &xs->socks, link)
        epoll_add(xs, xs_sock_fd(e->s), (uintptr_t)e, e->events);
    if (xs->ring_ops && xs->ring_ops->bind_virq && xs->ring_ops->domain_state) {
        long port = xs->ring_ops->bind_virq(xs->ring_ctx, VIRQ_DOM_EXC);

        if (port < 0)
            return port;
        xs->virq_port = port;
    }
    if (xs->ring_ops)
        epoll_add(xs, xs->ring_ops->fd(xs->ring_ctx), TAG_RING, EPOLLIN);
    __atomic_store_n(&xs->running, true, __ATOMIC_RELEASE);
    xs->task = xs->task_ops->task_new(xs->sim, "xenstored");
    if (pthread_create(&xs->thread, NULL, loop, xs)) {
        xs->task_ops->cancel(xs->sim, xs->task);
        __atomic_store_n(&xs->running, false, __ATOMIC_RELEASE);
        return -EAGAIN;
    }
    return 0;
}

static void connect_on_loop(struct xs_daemon *xs, void *arg)
{
    sock_add(xs, *(int *)arg, 0);
}

int xs_daemon_connect(struct xs_daemon *xs)
{
    int sv[2];

    /* Our end does not block; the caller's does, as a client's would. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return -errno;
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
        int err = -errno;

        close(sv[0]);
        close(sv[1]);
        return err;
    }
    run_on_loop(xs, connect_on_loop, &sv[0]);
    return sv[1];
}

struct intro_args {
    domid_t domid;
    unsigned long gfn;
    uint32_t port;
    int err;
};

static void introduce_on_loop(struct xs_daemon *xs, void *arg)
{
    struct intro_args *a = arg;
    struct xs_domain *d;
    struct xs_ring *ring = NULL;

    xensim_mutex_lock(&xs->lock);
    d = xs_domain_find(xs, a->domid);
    xensim_mutex_unlock(&xs->lock);
    /* do_introduce(): an introduced domain is bound again and, like a new
     * one, its connection reset (domain_conn_reset()). */
    if (d) {
        if (d->ring)
            a->err = xs_ring_reintroduce(d->ring, a->port);
        return;
    }
    if (xs->ring_ops) {
        ring = xs_ring_new(xs, a->domid, a->gfn, a->port, &a->err);
        if (!ring)
            return;
    }
    d = xs_alloc(sizeof(*d));
    d->domid = a->domid;
    d->target = DOMID_INVALID;
    d->owner = DOMID_INVALID;
    d->gfn = a->gfn;
    d->port = a->port;
    d->ring = ring;
    xensim_mutex_lock(&xs->lock);
    cds_list_add_tail(&d->link, &xs->domains);
    xs->nr_domains++;
    /* A domid back after its release is a new domain: ACL entries for
     * the old one stay ignored (alloc_domain() "domain->generation =
     * generation"). */
    if (xs->acct[a->domid].gone) {
        xs->acct[a->domid].gone = false;
        xs->acct[a->domid].born = CMM_LOAD_SHARED(xs->tree.gen);
    }
    /* introduce_domain(): "if (!is_master_domain && !restore)". */
    if (a->domid != 0)
        xs_watch_fire_special(xs, "@introduceDomain", a->domid);
    xensim_mutex_unlock(&xs->lock);
    if (ring)
        xs_ring_service(ring);
}

int xs_daemon_introduce(struct xs_daemon *xs, domid_t domid, unsigned long gfn, uint32_t port)
{
    struct intro_args a = { domid, gfn, port, 0 };

    if (domid >= XS_NR_DOMIDS)
        return -EINVAL;
    run_on_loop(xs, introduce_on_loop, &a);
    return a.err;
}

/* What a dead domain leaves: the nodes it owns go (domain_tree_remove());
 * ACL entries naming it stay, ignored from now on. */
static void cleanup_nodes(struct xs_daemon *xs, domid_t domid)
{
    struct xs_conn *self = xs_conn_new(xs, XS_CONN_LOCAL, 0, NULL, NULL);
    struct xs_tx *tx;

    xensim_mutex_lock(&xs->lock);
    tx = xs_tx_new(self, 0, true);
    xs_tx_rm_owned(tx, domid);
    xs_tx_commit(tx);
    for (int i = 0; i < 2; i++)
        xs_perms_drop_domain(xs->special_perms[i], &xs->special_nperms[i], domid);
    xs->acct[domid].gone = domid != 0;
    xensim_mutex_unlock(&xs->lock);
    xs_tx_free(tx);
    xs_conn_free(self);
}

/* What the toolstack does at a domain's death: libxl removes the home it
 * made. */
static void remove_home(struct xs_daemon *xs, domid_t domid)
{
    struct xs_conn *self = xs_conn_new(xs, XS_CONN_LOCAL, 0, NULL, NULL);
    struct xs_tx *tx;
    char home[32];

    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    xensim_mutex_lock(&xs->lock);
    tx = xs_tx_new(self, 0, true);
    if (!xs_tx_rm(tx, home))
        xs_tx_commit(tx);
    xensim_mutex_unlock(&xs->lock);
    xs_tx_free(tx);
    xs_conn_free(self);
}

/* Under the store lock. Takes one of holder's references off d, the
 * newest, as talloc_unreference() finds it; false if it holds none. */
static bool unref(struct xs_domain *d, domid_t holder)
{
    for (unsigned int i = d->nrefs; i-- > 0;) {
        if (d->refs[i] != holder)
            continue;
        memmove(&d->refs[i], &d->refs[i + 1], (d->nrefs - i - 1) * sizeof(*d->refs));
        d->nrefs--;
        return true;
    }
    return false;
}

/* Under the store lock: talloc_free() of a referenced pointer drops its
 * newest reference and frees nothing. Returns the holder. */
static domid_t pop_ref(struct xs_domain *d)
{
    return d->refs[--d->nrefs];
}

static void free_domain(struct xs_daemon *xs, struct xs_domain *d);

/* The newest domain detached into owner's hands, or NULL. */
static struct xs_domain *newest_detached(struct xs_daemon *xs, domid_t owner)
{
    struct xs_domain *d, *best = NULL;

    xensim_mutex_lock(&xs->lock);
    cds_list_for_each_entry(d, &xs->domains, link)
        if (d->detached && d->owner == owner && (!best || d->detach_seq > best->detach_seq))
            best = d;
    xensim_mutex_unlock(&xs->lock);
    return best;
}

/*
 * A detached domain t whose owner x is being freed, as
 * talloc_free_children() treats a child: talloc_free(t) frees it if
 * nothing references it, else drops its newest reference and t goes to
 * that reference's holder, which if x itself means another round.
 */
static void orphan(struct xs_daemon *xs, struct xs_domain *t, domid_t x)
{
    for (;;) {
        domid_t h;

        xensim_mutex_lock(&xs->lock);
        if (!t->nrefs) {
            xensim_mutex_unlock(&xs->lock);
            free_domain(xs, t);
            return;
        }
        h = pop_ref(t);
        if (h != x) {
            t->owner = h;
            xensim_mutex_unlock(&xs->lock);
            return;
        }
        xensim_mutex_unlock(&xs->lock);
    }
}

/*
 * The end of a domain's connection, nothing referencing it, in C's
 * order: destroy_conn() deletes its watches and unlinks its current
 * target; talloc_free_children() then frees what the connection holds,
 * the newest first (the domains detached into its hands, then its
 * references); last the domain itself (destroy_domain()): the nodes it
 * owns go, with their watch events, then @releaseDomain.
 */
static void free_domain(struct xs_daemon *xs, struct xs_domain *d)
{
    domid_t x = d->domid, t;
    struct xs_domain *o, *td = NULL;

    if (d->ring)
        xs_ring_drop_watches(d->ring);
    xensim_mutex_lock(&xs->lock);
    cds_list_del(&d->link);
    xs->nr_domains--;
    t = xs->target[x];
    xs->target[x] = DOMID_INVALID;
    /* talloc_unlink(conn, conn->target): the newest reference it holds,
     * or the target itself if it is in its hands. */
    if (t != DOMID_INVALID && t != x && (td = xs_domain_find(xs, t)) && unref(td, x))
        td = NULL;
    xensim_mutex_unlock(&xs->lock);
    if (td && td->detached && td->owner == x) {
        xensim_mutex_lock(&xs->lock);
        if (td->nrefs) {
            /* Not freed: it goes to its newest holder, that reference
             * dropped; to itself is a steal that changes nothing. */
            td->owner = pop_ref(td);
            if (td->owner == x)
                td->owner = DOMID_INVALID;
            td = NULL;
        }
        xensim_mutex_unlock(&xs->lock);
        if (td)
            free_domain(xs, td);
    }
    while ((o = newest_detached(xs, x)))
        orphan(xs, o, x);
    xensim_mutex_lock(&xs->lock);
    cds_list_for_each_entry(o, &xs->domains, link)
        while (unref(o, x))
            ;
    xensim_mutex_unlock(&xs->lock);
    /* The dead domain's own connection hears none of it. */
    if (d->ring)
        retire(xs, d->ring);
    free(d->refs);
    free(d);
    cleanup_nodes(xs, x);
    xensim_mutex_lock(&xs->lock);
    xs_watch_fire_special(xs, "@releaseDomain", x);
    xensim_mutex_unlock(&xs->lock);
}

enum release_how {
    RELEASE_REQUEST,                     /* XS_RELEASE */
    RELEASE_DEATH,                       /* the hypervisor says it is dying */
    RELEASE_TOOLSTACK,                   /* its death, the toolstack's part first */
};

struct release_args {
    domid_t domid;
    enum release_how how;
    int err;
};

static void release_on_loop(struct xs_daemon *xs, void *arg)
{
    struct release_args *a = arg;
    struct xs_domain *d;
    bool referenced;

    xensim_mutex_lock(&xs->lock);
    d = xs_domain_find(xs, a->domid);
    xensim_mutex_unlock(&xs->lock);
    if (!d) {
        a->err = -ENOENT;
        return;
    }
    /* The toolstack's removals come first, and the dying domain's own
     * connection is told nothing of them. */
    if (a->how == RELEASE_TOOLSTACK) {
        if (d->ring && !d->detached)
            xs_ring_drop_watches(d->ring);
        remove_home(xs, a->domid);
    }
    /* find_connected_domain(); a dying domain detached is dead already. */
    if (d->detached) {
        a->err = a->how == RELEASE_REQUEST ? -EINVAL : -ENOENT;
        return;
    }
    /* 4.17's do_release() is talloc_free(domain->conn) alone: a
     * referenced domain keeps its watches and transactions too (deleting
     * the watches first came after 4.17.0). */
    xensim_mutex_lock(&xs->lock);
    referenced = d->nrefs > 0;
    if (referenced && a->how == RELEASE_REQUEST) {
        pop_ref(d);
    } else if (referenced) {
        /* check_domain(): domain->conn = NULL, then talloc_unlink()
         * hands the connection to its newest holder. */
        d->detached = true;
        d->detach_seq = ++xs->detach_seq;
        d->owner = pop_ref(d);
        if (d->owner == d->domid)
            d->owner = DOMID_INVALID;
    }
    xensim_mutex_unlock(&xs->lock);
    if (!referenced)
        free_domain(xs, d);
}

static int release(struct xs_daemon *xs, domid_t domid, enum release_how how)
{
    struct release_args a = { domid, how, 0 };

    if (domid >= XS_NR_DOMIDS)
        return -EINVAL;
    run_on_loop(xs, release_on_loop, &a);
    return a.err;
}

int xs_domain_release(struct xs_daemon *xs, domid_t domid)
{
    return release(xs, domid, RELEASE_REQUEST);
}

/* The simulator's death of a domain: the toolstack's part (before the
 * daemon's own removals, as libxl does it before the domain is gone),
 * then C xenstored's. */
int xs_daemon_release(struct xs_daemon *xs, domid_t domid)
{
    return release(xs, domid, RELEASE_TOOLSTACK);
}

int xs_domain_connected(struct xs_daemon *xs, unsigned int domid)
{
    struct xs_domain *d;
    int err = 0;

    if (domid == 0)
        return 0;
    if (domid >= XS_NR_DOMIDS)
        return -ENOENT;
    xensim_mutex_lock(&xs->lock);
    d = xs_domain_find(xs, (domid_t)domid);
    if (!d)
        err = -ENOENT;
    else if (d->detached)
        err = -EINVAL;
    xensim_mutex_unlock(&xs->lock);
    return err;
}

struct target_args {
    domid_t domid, target;
};

/* do_set_target(): talloc_reference(domain->conn, tdomain->conn), and
 * no earlier reference given back. dom0's connection is never freed, so
 * references on it need no count. */
static void set_target_on_loop(struct xs_daemon *xs, void *arg)
{
    struct target_args *a = arg;
    struct xs_domain *t;

    xensim_mutex_lock(&xs->lock);
    t = xs_domain_find(xs, a->target);
    if (t) {
        t->refs = realloc(t->refs, (t->nrefs + 1) * sizeof(*t->refs));
        XENSIM_DIE_IF(!t->refs);
        t->refs[t->nrefs++] = a->domid;
    }
    xs->target[a->domid] = a->target;
    xensim_mutex_unlock(&xs->lock);
}

void xs_domain_set_target(struct xs_daemon *xs, domid_t domid, domid_t target)
{
    struct target_args a = { domid, target };

    run_on_loop(xs, set_target_on_loop, &a);
}

/* True the first time the domain is seen shut down since XS_RESUME. */
static bool mark_shutdown(struct xs_daemon *xs, domid_t domid)
{
    struct xs_domain *d;
    bool first = false;

    xensim_mutex_lock(&xs->lock);
    d = xs_domain_find(xs, domid);
    if (d && !d->shutdown_seen)
        d->shutdown_seen = first = true;
    xensim_mutex_unlock(&xs->lock);
    return first;
}

static void fire_release(struct xs_daemon *xs, domid_t domid)
{
    xensim_mutex_lock(&xs->lock);
    xs_watch_fire_special(xs, "@releaseDomain", domid);
    xensim_mutex_unlock(&xs->lock);
}

void xs_daemon_domain_shutdown(struct xs_daemon *xs, domid_t domid)
{
    if (mark_shutdown(xs, domid))
        fire_release(xs, domid);
}

/*
 * VIRQ_DOM_EXC: some domain shut down or died. As C xenstored's
 * domain_cleanup, ask the hypervisor about every domain served. One dying
 * or gone is released: its connection dropped, its nodes removed, its
 * ring unmapped (which lets the hypervisor finish it), @releaseDomain
 * fired. One newly shut down is marked, and @releaseDomain fires once
 * after the scan, unless a release after it fired one already. On the
 * loop thread, which alone changes the domain table.
 */
static void check_domains(struct xs_daemon *xs)
{
    struct xs_domain *d;
    domid_t *ids, shut = 0;
    unsigned int n = 0;
    bool notify = false;

    xensim_mutex_lock(&xs->lock);
    ids = xs_alloc((xs->nr_domains + 1) * sizeof(*ids));
    cds_list_for_each_entry(d, &xs->domains, link)
        ids[n++] = d->domid;
    xensim_mutex_unlock(&xs->lock);
    for (unsigned int i = 0; i < n; i++) {
        enum xensim_domain_state st;

        if (!xs->ring_ops->domain_state(xs->ring_ctx, ids[i], &st) &&
            st != XENSIM_DOMAIN_DYING) {
            if (st == XENSIM_DOMAIN_SHUTDOWN && mark_shutdown(xs, ids[i])) {
                notify = true;
                shut = ids[i];
            }
            continue;
        }
        /* check_domain(): "*notify = false" once a connection is let go
         * (freed or handed to a holder); a detached one is passed over. */
        if (!release(xs, ids[i], RELEASE_DEATH))
            notify = false;
    }
    free(ids);
    if (notify)
        fire_release(xs, shut);
}

void xs_daemon_stats(struct xs_daemon *xs, struct xensim_xenstored_stats *st)
{
    xensim_mutex_lock(&xs->lock);
    st->nodes = xs->tree.nr_nodes;
    st->watches = xs->nr_watches;
    st->transactions = xs->nr_txs;
    st->conns = xs->nr_conns;
    st->domains = xs->nr_domains;
    xensim_mutex_unlock(&xs->lock);
}

void xs_daemon_destroy(struct xs_daemon *xs)
{
    struct xs_sock_entry *e, *tmp;
    struct xs_domain *d, *dtmp;
    struct xs_listener *l, *ltmp;

    if (!xs)
        return;
    if (__atomic_load_n(&xs->running, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&xs->running, false, __ATOMIC_RELEASE);
        xs_daemon_wake(xs);
        xs->task_ops->join(xs->sim, xs->task, xs->thread);
    }
    cds_list_for_each_entry_safe(e, tmp, &xs->socks, link)
        sock_gone(xs, e);
    cds_list_for_each_entry_safe(d, dtmp, &xs->domains, link) {
        cds_list_del(&d->link);
        if (d->ring)
            xs_ring_free(d->ring);
        free(d->refs);
        free(d);
    }
    if (xs->virq_port >= 0)
        xs->ring_ops->unbind(xs->ring_ctx, xs->virq_port);
    cds_list_for_each_entry_safe(l, ltmp, &xs->listeners, link) {
        close(l->fd);
        unlink(l->path);
        free(l);
    }
    if (xs->epfd >= 0)
        close(xs->epfd);
    if (xs->wakefd >= 0)
        close(xs->wakefd);
    urcu_bp_barrier();
    xs_tree_fini(&xs->tree);
    free(xs->acct);
    pthread_mutex_destroy(&xs->lock);
    pthread_mutex_destroy(&xs->call_lock);
    pthread_cond_destroy(&xs->call_cond);
    free(xs);
}
