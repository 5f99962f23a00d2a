/*
 * Guest consoles as ptys, as xenconsoled gives them to `xenconsole`: a
 * console back end (<xensim/console.h>) whose output hook writes each
 * guest's output to the master of a pty made for it, and a thread that
 * makes and removes the ptys as guests come and go, writes each slave's
 * path at /local/domain/N/console/tty, and passes what is typed on the
 * pty to the guest. Relies on the public console and XenStore calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>
#include <xensim/console.h>
#include <xensim/external.h>
#include <xensim/xenbus.h>
#include "util.h"

#define PTY_MAX 256u

struct pty_dom {
    domid_t domid;
    int master, slave;              /* slave kept open: reads never see EIO */
    bool alive;                     /* seen in the last scan */
    struct pty_dom *next;
};

struct xensim_console_ptys {
    struct xensim *sim;
    struct xensim_consoled *cd;
    /* doms and their masters: the thread changes them under lock, the
     * output hook writes under it. The thread never holds it while
     * calling the back end, which calls the hook with its own lock. */
    pthread_mutex_t lock;
    struct pty_dom *doms;
    int wake_fd;
    bool stop;
    pthread_t thread;
};

static void pty_output(domid_t domid, const char *buf, size_t len, void *arg)
{
    struct xensim_console_ptys *cp = arg;

    xensim_mutex_lock(&cp->lock);
    for (struct pty_dom *p = cp->doms; p; p = p->next) {
        if (p->domid != domid)
            continue;
        /* Non-blocking: with nobody reading, a full pty drops output. */
        ssize_t n = write(p->master, buf, len);
        (void)n;
        break;
    }
    xensim_mutex_unlock(&cp->lock);
}

static struct pty_dom *pty_make(struct xensim_console_ptys *cp, domid_t domid)
{
    struct pty_dom *p = calloc(1, sizeof(*p));
    char name[128], path[64];
    struct termios t;

    if (!p)
        return NULL;
    p->domid = domid;
    p->slave = -1;
    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (p->master < 0 || grantpt(p->master) || unlockpt(p->master) ||
        ptsname_r(p->master, name, sizeof(name)))
        goto fail;
    p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->slave < 0 || tcgetattr(p->slave, &t))
        goto fail;
    /* Bytes as the guest wrote them, as xenconsoled's ptys are. */
    cfmakeraw(&t);
    if (tcsetattr(p->slave, TCSANOW, &t))
        goto fail;
    snprintf(path, sizeof(path), "/local/domain/%u/console/tty", domid);
    if (xensim_xenstore_write(cp->sim, path, name))
        goto fail;
    return p;
fail:
    if (p->slave >= 0)
        close(p->slave);
    if (p->master >= 0)
        close(p->master);
    free(p);
    return NULL;
}

/* Guests running now get a pty, and ptys of guests gone go. */
static void pty_scan(struct xensim_console_ptys *cp)
{
    struct xensim_domain_info infos[PTY_MAX];
    int n = xensim_domain_list(cp->sim, infos, PTY_MAX);

    for (struct pty_dom *p = cp->doms; p; p = p->next)
        p->alive = false;
    bool synced = false;
    for (int i = 0; i < n && i < (int)PTY_MAX; i++) {
        if (!infos[i].domid || !infos[i].console_port ||
            (infos[i].state != XENSIM_DOMAIN_RUNNING && infos[i].state != XENSIM_DOMAIN_PAUSED))
            continue;
        struct pty_dom *p = cp->doms;
        while (p && p->domid != infos[i].domid)
            p = p->next;
        /* Not before the toolstack made the guest's home (its domid and
         * name, one transaction): console/tty written first would make
         * the home itself, and its listing's order would hang on which
         * thread came first. The next scan finds it made. */
        char id[8], home[48];
        snprintf(home, sizeof(home), "/local/domain/%u/domid", infos[i].domid);
        if (!p && xensim_xenstore_read(cp->sim, home, id, sizeof(id)) <= 0)
            continue;
        /* The back end attaches first, so that what is typed as soon as
         * the tty is there has somewhere to go. */
        if (!p && !synced) {
            xensim_consoled_sync(cp->cd);
            synced = true;
        }
        if (!p && (p = pty_make(cp, infos[i].domid))) {
            xensim_mutex_lock(&cp->lock);
            p->next = cp->doms;
            cp->doms = p;
            xensim_mutex_unlock(&cp->lock);
        }
        if (p)
            p->alive = true;
    }
    xensim_mutex_lock(&cp->lock);
    for (struct pty_dom **pp = &cp->doms; *pp;) {
        struct pty_dom *p = *pp;
        if (p->alive) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        close(p->master);
        close(p->slave);
        free(p);
    }
    xensim_mutex_unlock(&cp->lock);
}

static void *pty_main(void *arg)
{
    struct xensim_console_ptys *cp = arg;
    struct pollfd fds[PTY_MAX + 1];
    domid_t ids[PTY_MAX + 1];
    char buf[4096];

    for (;;) {
        xensim_mutex_lock(&cp->lock);
        bool stop = cp->stop;
        xensim_mutex_unlock(&cp->lock);
        if (stop)
            break;
        pty_scan(cp);
        unsigned int n = 0;
        fds[n++] = (struct pollfd){ .fd = cp->wake_fd, .events = POLLIN };
        for (struct pty_dom *p = cp->doms; p && n < ARRAY_SIZE(fds); p = p->next) {
            ids[n] = p->domid;
            fds[n++] = (struct pollfd){ .fd = p->master, .events = POLLIN };
        }
        /* The timeout is only how soon a new guest gets its pty. */
        if (poll(fds, n, 50) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(cp->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                XENSIM_DIE("eventfd read", errno);
        }
        for (unsigned int i = 1; i < n; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            ssize_t got = read(fds[i].fd, buf, sizeof(buf));
            if (got > 0)
                xensim_consoled_input(cp->cd, ids[i], buf, (size_t)got);
        }
    }
    return NULL;
}

struct xensim_console_ptys *xensim_console_ptys_start(struct xensim *sim)
{
    struct xensim_console_ptys *cp = calloc(1, sizeof(*cp));
    if (!cp)
        return NULL;
    cp->sim = sim;
    pthread_mutex_init(&cp->lock, NULL);
    cp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct xensim_consoled_config cfg = { .output = pty_output, .output_arg = cp };
    if (cp->wake_fd < 0 || !(cp->cd = xensim_consoled_start(sim, &cfg)))
        goto fail;
    int err = pthread_create(&cp->thread, NULL, pty_main, cp);
    if (err) {
        xensim_consoled_stop(cp->cd);
        errno = err;
        goto fail;
    }
    return cp;
fail:
    if (cp->wake_fd >= 0)
        close(cp->wake_fd);
    pthread_mutex_destroy(&cp->lock);
    free(cp);
    return NULL;
}

void xensim_console_ptys_stop(struct xensim_console_ptys *cp)
{
    uint64_t one = 1;

    if (!cp)
        return;
    xensim_mutex_lock(&cp->lock);
    cp->stop = true;
    xensim_mutex_unlock(&cp->lock);
    if (write(cp->wake_fd, &one, sizeof(one)) != sizeof(one))
        XENSIM_DIE("eventfd write", errno);
    XENSIM_CHECK(pthread_join(cp->thread, NULL));
    /* The back end first: its hook writes to the ptys. */
    xensim_consoled_stop(cp->cd);
    while (cp->doms) {
        struct pty_dom *p = cp->doms;
        cp->doms = p->next;
        close(p->master);
        close(p->slave);
        free(p);
    }
    close(cp->wake_fd);
    pthread_mutex_destroy(&cp->lock);
    free(cp);
}
