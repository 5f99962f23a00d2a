/*
 * xenconsoled: a host thread acting as a dom0 process that serves every
 * domU's static console ring. It maps grant 0 of each domain (as the real
 * daemon prefers), binds the console port, gathers output into a per-domain
 * log (memory, optionally a file and the terminal), and feeds input.
 * Calls the embedding API (domain list) and hostdev.h only.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/console.h>
#include <xensim/console.h>
#include <xensim/hostdev.h>
#include <xensim/io/ring.h>
#include "util.h"

/* One domain the daemon has seen. Everything here is under cd->lock. */
struct cons_dom {
    domid_t domid;
    char name[64];
    bool attached;          /* intf mapped and port bound */
    bool failed;            /* attach failed: do not retry this domain */
    struct xencons_interface *intf;   /* the guest writes out[] and out_prod,
                                       * we write in[] and in_prod */
    evtchn_port_t port;     /* our end of the console channel */
    char *log;              /* the tail of the output, NUL-terminated */
    size_t log_len;
    char *input;            /* bytes queued for in[] */
    size_t input_len;
    unsigned int bad_indices;
    FILE *file;
    char line[256];         /* the terminal's partial line */
    size_t line_len;
    struct cons_dom *next;
};

struct xensim_consoled {
    struct xensim *sim;
    char *log_dir;
    FILE *terminal;
    size_t log_limit;
    void (*output)(domid_t domid, const char *buf, size_t len, void *arg);
    void *output_arg;
    struct xensim_evtchn_dev *evd;
    struct xensim_gnttab_dev *gtd;
    int wake_fd;            /* eventfd: stop, sync or input */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* signalled after each pass and each new output */
    bool stop;
    unsigned long sync_req, sync_done;
    struct cons_dom *doms;
};

static void cd_wake(struct xensim_consoled *cd)
{
    uint64_t one = 1;
    if (write(cd->wake_fd, &one, sizeof(one)) != sizeof(one))
        XENSIM_DIE("eventfd write", errno);
}

static struct cons_dom *cd_find(struct xensim_consoled *cd, domid_t domid)
{
    for (struct cons_dom *c = cd->doms; c; c = c->next)
        if (c->domid == domid)
            return c;
    return NULL;
}

static void terminal_put(struct xensim_consoled *cd, struct cons_dom *c, char ch)
{
    if (ch != '\n' && c->line_len < sizeof(c->line) - 1) {
        c->line[c->line_len++] = ch;
        return;
    }
    fprintf(cd->terminal, "[%s] %.*s\n", c->name, (int)c->line_len, c->line);
    c->line_len = 0;
    if (ch != '\n')
        c->line[c->line_len++] = ch;
}

static void log_append(struct xensim_consoled *cd, struct cons_dom *c,
                       const char *p, size_t n)
{
    if (n > cd->log_limit) {
        p += n - cd->log_limit;
        n = cd->log_limit;
    }
    if (c->log_len + n > cd->log_limit) {
        /* Keep the tail: drop the oldest bytes. */
        size_t drop = c->log_len + n - cd->log_limit;
        memmove(c->log, c->log + drop, c->log_len - drop);
        c->log_len -= drop;
    }
    memcpy(c->log + c->log_len, p, n);
    c->log_len += n;
    c->log[c->log_len] = '\0';
    if (c->file) {
        fwrite(p, 1, n, c->file);
        fflush(c->file);
    }
    if (cd->terminal) {
        for (size_t i = 0; i < n; i++)
            terminal_put(cd, c, p[i]);
        fflush(cd->terminal);
    }
    if (cd->output)
        cd->output(c->domid, p, n, cd->output_arg);
    pthread_cond_broadcast(&cd->cond);
}

static void cons_detach(struct xensim_consoled *cd, struct cons_dom *c)
{
    if (!c->attached)
        return;
    xensim_evtchn_dev_unbind(cd->evd, c->port);
    xensim_gnttab_dev_unmap(cd->gtd, c->intf);
    c->attached = false;
    c->intf = NULL;
    c->port = 0;
    if (c->file) {
        fclose(c->file);
        c->file = NULL;
    }
    if (cd->terminal && c->line_len)
        terminal_put(cd, c, '\n');
}

static void cons_attach(struct xensim_consoled *cd, const struct xensim_domain_info *info)
{
    struct cons_dom *c = cd_find(cd, info->domid);
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c)
            c->log = malloc(cd->log_limit + 1);
        if (!c || !c->log) {
            if (c)
                free(c);
            return;
        }
        c->log[0] = '\0';
        c->domid = info->domid;
        c->next = cd->doms;
        cd->doms = c;
    }
    if (c->attached || c->failed)
        return;
    snprintf(c->name, sizeof(c->name), "%s", info->name);
    int16_t st;
    c->intf = xensim_gnttab_dev_map(cd->gtd, info->domid, GNTTAB_RESERVED_CONSOLE,
                                    false, &st);
    if (!c->intf) {
        c->failed = true;
        return;
    }
    long port = xensim_evtchn_dev_bind_interdomain(cd->evd, info->domid,
                                                   info->console_port);
    if (port < 0) {
        xensim_gnttab_dev_unmap(cd->gtd, c->intf);
        c->intf = NULL;
        c->failed = true;
        return;
    }
    c->port = (evtchn_port_t)port;
    c->attached = true;
    if (cd->log_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/guest-%s.log", cd->log_dir, c->name);
        c->file = fopen(path, "a");
    }
}

/* Output, then input; both ends' indices are checked before use because the
 * guest may write anything into the page. */
static void cons_service(struct xensim_consoled *cd, struct cons_dom *c)
{
    struct xencons_interface *intf = c->intf;
    bool notify = false;

    XENCONS_RING_IDX cons = READ_ONCE(intf->out_cons);
    XENCONS_RING_IDX prod = READ_ONCE(intf->out_prod);
    xen_mb();
    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->out)) {
        /* Impossible: resync to the producer, losing what it claims. */
        c->bad_indices++;
        WRITE_ONCE(intf->out_cons, prod);
        notify = true;
    } else if (prod != cons) {
        char buf[sizeof(intf->out)];
        size_t n = 0;
        while (cons != prod)
            buf[n++] = intf->out[MASK_XENCONS_IDX(cons++, intf->out)];
        xen_mb();    /* copied out before the guest may reuse the space */
        WRITE_ONCE(intf->out_cons, cons);
        log_append(cd, c, buf, n);
        notify = true;
    }

    if (c->input_len) {
        cons = READ_ONCE(intf->in_cons);
        prod = READ_ONCE(intf->in_prod);
        xen_mb();
        if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->in)) {
            c->bad_indices++;
            prod = cons;
        }
        size_t n = 0;
        while (n < c->input_len && (XENCONS_RING_IDX)(prod - cons) < sizeof(intf->in))
            intf->in[MASK_XENCONS_IDX(prod++, intf->in)] = c->input[n++];
        xen_wmb();   /* the bytes before the index */
        WRITE_ONCE(intf->in_prod, prod);
        memmove(c->input, c->input + n, c->input_len - n);
        c->input_len -= n;
        notify = true;
    }
    if (notify)
        xensim_evtchn_dev_notify(cd->evd, c->port);
}

/* The domain list, however long; NULL (with *n = 0) without memory. */
static struct xensim_domain_info *cd_domains(struct xensim_consoled *cd, int *n)
{
    struct xensim_domain_info *infos = NULL;
    int want = xensim_domain_list(cd->sim, NULL, 0);

    /* Domains come and go meanwhile: ask again until the list fits. */
    for (;;) {
        struct xensim_domain_info *p = realloc(infos, (size_t)(want + 1) * sizeof(*p));
        if (!p) {
            free(infos);
            *n = 0;
            return NULL;
        }
        infos = p;
        *n = xensim_domain_list(cd->sim, infos, want + 1);
        if (*n <= want + 1)
            return infos;
        want = *n;
    }
}

static void cd_rescan(struct xensim_consoled *cd)
{
    int n;
    struct xensim_domain_info *infos = cd_domains(cd, &n);
    if (!infos)
        return;   /* no memory: look again at the next pass */
    for (struct cons_dom *c = cd->doms; c; c = c->next) {
        bool alive = false;
        for (int i = 0; i < n; i++)
            if (infos[i].domid == c->domid &&
                (infos[i].state == XENSIM_DOMAIN_RUNNING ||
                 infos[i].state == XENSIM_DOMAIN_PAUSED))
                alive = true;
        if (!alive && c->attached) {
            cons_service(cd, c);   /* its last words */
            cons_detach(cd, c);
        }
        if (!alive)
            c->failed = false;     /* the domid may come back as a new domain */
    }
    for (int i = 0; i < n; i++)
        if (infos[i].domid != 0 && infos[i].console_port &&
            (infos[i].state == XENSIM_DOMAIN_RUNNING ||
             infos[i].state == XENSIM_DOMAIN_PAUSED))
            cons_attach(cd, &infos[i]);
    free(infos);
}

static void *cd_main(void *arg)
{
    struct xensim_consoled *cd = arg;
    struct pollfd pfd[2] = {
        { .fd = xensim_evtchn_dev_fd(cd->evd), .events = POLLIN },
        { .fd = cd->wake_fd, .events = POLLIN },
    };
    xensim_mutex_lock(&cd->lock);
    while (!cd->stop) {
        unsigned long sync = cd->sync_req;
        cd_rescan(cd);
        long port;
        while ((port = xensim_evtchn_dev_pending(cd->evd)) > 0)
            xensim_evtchn_dev_unmask(cd->evd, (evtchn_port_t)port);
        for (struct cons_dom *c = cd->doms; c; c = c->next)
            if (c->attached)
                cons_service(cd, c);
        cd->sync_done = sync;
        pthread_cond_broadcast(&cd->cond);
        xensim_mutex_unlock(&cd->lock);
        /* The timeout is only how soon new domains are noticed. */
        if (poll(pfd, 2, 20) > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            if (read(cd->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                XENSIM_DIE("eventfd read", errno);
        }
        xensim_mutex_lock(&cd->lock);
    }
    for (struct cons_dom *c = cd->doms; c; c = c->next) {
        if (c->attached)
            cons_service(cd, c);
        cons_detach(cd, c);
    }
    xensim_mutex_unlock(&cd->lock);
    return NULL;
}

struct xensim_consoled *xensim_consoled_start(struct xensim *sim,
                                              const struct xensim_consoled_config *cfg)
{
    struct xensim_consoled *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return NULL;
    cd->sim = sim;
    cd->log_limit = cfg && cfg->log_limit ? cfg->log_limit : 1u << 20;
    cd->terminal = cfg ? cfg->terminal : NULL;
    cd->output = cfg ? cfg->output : NULL;
    cd->output_arg = cfg ? cfg->output_arg : NULL;
    if (cfg && cfg->log_dir && !(cd->log_dir = strdup(cfg->log_dir)))
        goto fail;
    cd->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cd->wake_fd < 0)
        goto fail;
    cd->evd = xensim_evtchn_dev_open(sim, 0);
    if (!cd->evd)
        goto fail_fd;
    cd->gtd = xensim_gnttab_dev_open(sim, 0);
    if (!cd->gtd)
        goto fail_evd;
    pthread_mutex_init(&cd->lock, NULL);
    pthread_cond_init(&cd->cond, NULL);
    int err = pthread_create(&cd->thread, NULL, cd_main, cd);
    if (err) {
        errno = err;
        goto fail_all;
    }
    return cd;
fail_all:
    pthread_cond_destroy(&cd->cond);
    pthread_mutex_destroy(&cd->lock);
    xensim_gnttab_dev_close(cd->gtd);
fail_evd:
    xensim_evtchn_dev_close(cd->evd);
fail_fd:
    close(cd->wake_fd);
fail:
    free(cd->log_dir);
    free(cd);
    return NULL;
}

void xensim_consoled_stop(struct xensim_consoled *cd)
{
    if (!cd)
        return;
    xensim_mutex_lock(&cd->lock);
    cd->stop = true;
    xensim_mutex_unlock(&cd->lock);
    cd_wake(cd);
    XENSIM_CHECK(pthread_join(cd->thread, NULL));
    xensim_gnttab_dev_close(cd->gtd);
    xensim_evtchn_dev_close(cd->evd);
    close(cd->wake_fd);
    for (struct cons_dom *c = cd->doms, *next; c; c = next) {
        next = c->next;
        free(c->log);
        free(c->input);
        free(c);
    }
    pthread_cond_destroy(&cd->cond);
    pthread_mutex_destroy(&cd->lock);
    free(cd->log_dir);
    free(cd);
}

void xensim_consoled_sync(struct xensim_consoled *cd)
{
    xensim_mutex_lock(&cd->lock);
    unsigned long want = ++cd->sync_req;
    cd_wake(cd);
    while (cd->sync_done < want && !cd->stop)
        pthread_cond_wait(&cd->cond, &cd->lock);
    xensim_mutex_unlock(&cd->lock);
}

ssize_t xensim_consoled_log(struct xensim_consoled *cd, domid_t domid,
                            char *buf, size_t size)
{
    xensim_mutex_lock(&cd->lock);
    struct cons_dom *c = cd_find(cd, domid);
    ssize_t ret = -ENOENT;
    if (c) {
        ret = (ssize_t)c->log_len;
        if (size) {
            size_t n = c->log_len < size - 1 ? c->log_len : size - 1;
            memcpy(buf, c->log + c->log_len - n, n);
            buf[n] = '\0';
        }
    }
    xensim_mutex_unlock(&cd->lock);
    return ret;
}

int xensim_consoled_wait_for(struct xensim_consoled *cd, domid_t domid,
                             const char *needle, unsigned int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    xensim_mutex_lock(&cd->lock);
    for (;;) {
        struct cons_dom *c = cd_find(cd, domid);
        if (c && memmem(c->log, c->log_len, needle, strlen(needle)))
            break;
        if (pthread_cond_timedwait(&cd->cond, &cd->lock, &dl) == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    xensim_mutex_unlock(&cd->lock);
    return rc;
}

int xensim_consoled_input(struct xensim_consoled *cd, domid_t domid,
                          const void *buf, size_t len)
{
    int rc = 0;
    xensim_mutex_lock(&cd->lock);
    struct cons_dom *c = cd_find(cd, domid);
    if (!c || !c->attached) {
        rc = -ENOENT;
    } else {
        char *p = realloc(c->input, c->input_len + len);
        if (!p) {
            rc = -ENOMEM;
        } else {
            memcpy(p + c->input_len, buf, len);
            c->input = p;
            c->input_len += len;
        }
    }
    xensim_mutex_unlock(&cd->lock);
    cd_wake(cd);
    return rc;
}

unsigned int xensim_consoled_bad_indices(struct xensim_consoled *cd, domid_t domid)
{
    xensim_mutex_lock(&cd->lock);
    struct cons_dom *c = cd_find(cd, domid);
    unsigned int n = c ? c->bad_indices : 0;
    xensim_mutex_unlock(&cd->lock);
    return n;
}

unsigned int xensim_consoled_attached(struct xensim_consoled *cd)
{
    unsigned int n = 0;
    xensim_mutex_lock(&cd->lock);
    for (struct cons_dom *c = cd->doms; c; c = c->next)
        n += c->attached;
    xensim_mutex_unlock(&cd->lock);
    return n;
}
