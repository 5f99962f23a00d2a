/*
 * /dev/xen/evtchn for host threads: ports bound through a handle belong to
 * its domain, but their events go to the handle (an eventfd and a queue,
 * or a pipe that a process outside the simulator reads) instead of a
 * vCPU, as the Linux driver's interrupt handler does: it masks the port
 * in shared_info, acks it and queues it; the process unmasks to hear it
 * again, and a send that came meanwhile is re-raised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "event.h"

enum {
    DEVPORT_BOUND = 1,      /* bound through this handle */
};

struct xensim_evtchn_dev {
    struct xensim *sim;
    domid_t domid;
    int efd;                        /* EFD_SEMAPHORE: one count per queued port */
    int out_fd;                     /* -1, or where a process reads its ports */
    pthread_mutex_t lock;
    unsigned int nr_ports;
    uint8_t *flags;                 /* DEVPORT_* per port */
    evtchn_port_t *queue;           /* ports reported, oldest first */
    unsigned int head, count;
};

static void dev_enqueue(struct xensim_evtchn_dev *dev, evtchn_port_t port)
{
    if (dev->out_fd >= 0) {
        /* The reader sized the pipe for every port and keeps a read end:
         * a failed write only means its process is gone. */
        uint32_t p = port;
        ssize_t n = write(dev->out_fd, &p, sizeof(p));
        (void)n;
        return;
    }
    dev->queue[(dev->head + dev->count) % dev->nr_ports] = port;
    dev->count++;
    uint64_t one = 1;
    if (write(dev->efd, &one, sizeof(one)) != sizeof(one))
        XENSIM_DIE("eventfd write", errno);
}

/* Masks and acks the port, then reports it. Caller holds dev->lock. */
static void dev_report(struct xensim_evtchn_dev *dev, struct domain *d, struct evtchn *chn)
{
    const struct evtchn_host_bits *h = d->evtchn_ops->host;

    h->mask(d, chn);
    h->clear_pending(d, chn);
    dev_enqueue(dev, chn->port);
}

/* Called with the sending channel's lock held: no domain locks here. The
 * 2-level order still holds: a pending port is not raised twice, and a
 * masked one keeps only its pending bit; pollers wake when it became
 * pending. */
void evtchn_dev_deliver(struct xensim_evtchn_dev *dev, struct domain *d, struct evtchn *chn)
{
    const struct evtchn_host_bits *h = d->evtchn_ops->host;
    evtchn_port_t port = chn->port;

    if (port >= dev->nr_ports)
        return;
    sim_mutex_lock(&dev->lock);
    bool newly = !h->test_and_set_pending(d, chn);
    /* Until its bind returns (dev_bound) the port only latches, as a
     * Linux port does until its irq starts. */
    if (newly && !h->is_masked(d, chn) && (dev->flags[port] & DEVPORT_BOUND))
        dev_report(dev, d, chn);
    sim_mutex_unlock(&dev->lock);
    if (newly)
        vcpu_wake_pollers(d, port);
}

struct xensim_evtchn_dev *xensim_evtchn_dev_open(struct xensim *sim, domid_t domid)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d) {
        errno = ESRCH;
        return NULL;
    }
    /* Every port the domain may ever use, whichever ABI it switches to. */
    unsigned int nr = d->max_port + 1;
    rcu_read_unlock();
    struct xensim_evtchn_dev *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->sim = sim;
    dev->domid = domid;
    dev->nr_ports = nr;
    dev->flags = calloc(nr, 1);
    dev->queue = calloc(nr, sizeof(*dev->queue));
    dev->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
    if (!dev->flags || !dev->queue || dev->efd < 0) {
        int err = errno;
        if (dev->efd >= 0)
            close(dev->efd);
        free(dev->flags);
        free(dev->queue);
        free(dev);
        errno = err;
        return NULL;
    }
    dev->out_fd = -1;
    pthread_mutex_init(&dev->lock, NULL);
    return dev;
}

struct xensim_evtchn_dev *xensim_evtchn_dev_open_fd(struct xensim *sim, domid_t domid, int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    struct xensim_evtchn_dev *dev = xensim_evtchn_dev_open(sim, domid);
    if (dev)
        dev->out_fd = fd;
    return dev;
}

int xensim_evtchn_dev_fd(struct xensim_evtchn_dev *dev)
{
    return dev->efd;
}

/* Runs op on the handle's domain under the RCU read lock. */
#define DEV_DOMAIN_CALL(dev, d, expr)                                         \
    ({                                                                        \
        long rc_ = -ESRCH;                                                    \
        struct domain *d = domain_rcu_get((dev)->sim, NULL, (dev)->domid);    \
        if (d) {                                                              \
            rc_ = (expr);                                                     \
            rcu_read_unlock();                                                \
        }                                                                     \
        rc_;                                                                  \
    })

/* The port starts unmasked whatever its last user left in shared_info,
 * as the Linux driver's bind starts the port's irq (unmask_evtchn): an
 * event latched meanwhile, such as the one bind_interdomain sets on the
 * binder's port, is then reported once. */
static long dev_start(struct xensim_evtchn_dev *dev, struct domain *d, evtchn_port_t port)
{
    const struct evtchn_host_bits *h = d->evtchn_ops->host;

    sim_mutex_lock(&dev->lock);
    struct evtchn *chn = evtchn_port_valid(d, port) ? evtchn_from_port(d, port) : NULL;
    dev->flags[port] |= DEVPORT_BOUND;
    if (chn) {
        h->test_and_clear_mask(d, chn);
        if (h->is_pending(d, chn))
            dev_report(dev, d, chn);
    }
    sim_mutex_unlock(&dev->lock);
    return 0;
}

static long dev_bound(struct xensim_evtchn_dev *dev, long rc, evtchn_port_t port)
{
    if (rc < 0)
        return rc;
    DEV_DOMAIN_CALL(dev, d, dev_start(dev, d, port));
    return port;
}

long xensim_evtchn_dev_bind_unbound(struct xensim_evtchn_dev *dev, domid_t remote)
{
    evtchn_port_t port = 0;
    long rc = DEV_DOMAIN_CALL(dev, d, evtchn_alloc_unbound_for(d, DOMID_SELF, remote, &port, dev));
    return dev_bound(dev, rc, port);
}

long xensim_evtchn_dev_bind_interdomain(struct xensim_evtchn_dev *dev, domid_t remote,
                                        evtchn_port_t remote_port)
{
    evtchn_port_t port = 0;
    long rc = DEV_DOMAIN_CALL(dev, d,
                              evtchn_bind_interdomain_for(d, remote, remote_port, &port, dev));
    return dev_bound(dev, rc, port);
}

long xensim_evtchn_dev_bind_virq(struct xensim_evtchn_dev *dev, uint32_t virq)
{
    evtchn_port_t port = 0;
    long rc = DEV_DOMAIN_CALL(dev, d, evtchn_bind_virq_for(d, virq, 0, &port, dev));
    return dev_bound(dev, rc, port);
}

static bool dev_owns(struct xensim_evtchn_dev *dev, evtchn_port_t port)
{
    if (port >= dev->nr_ports)
        return false;
    sim_mutex_lock(&dev->lock);
    bool owned = dev->flags[port] & DEVPORT_BOUND;
    sim_mutex_unlock(&dev->lock);
    return owned;
}

int xensim_evtchn_dev_notify(struct xensim_evtchn_dev *dev, evtchn_port_t port)
{
    if (!dev_owns(dev, port))
        return -EINVAL;
    return (int)DEV_DOMAIN_CALL(dev, d, evtchn_send_port(d, port));
}

int xensim_evtchn_dev_unbind(struct xensim_evtchn_dev *dev, evtchn_port_t port)
{
    if (!dev_owns(dev, port))
        return -EINVAL;
    long rc = DEV_DOMAIN_CALL(dev, d, evtchn_close_port(d, port));
    sim_mutex_lock(&dev->lock);
    dev->flags[port] = 0;
    sim_mutex_unlock(&dev->lock);
    return (int)rc;
}

long xensim_evtchn_dev_pending(struct xensim_evtchn_dev *dev)
{
    sim_mutex_lock(&dev->lock);
    long port = -EAGAIN;
    if (dev->count) {
        port = dev->queue[dev->head];
        dev->head = (dev->head + 1) % dev->nr_ports;
        dev->count--;
        uint64_t v;
        if (read(dev->efd, &v, sizeof(v)) != sizeof(v))
            XENSIM_DIE("eventfd read", errno);
    }
    sim_mutex_unlock(&dev->lock);
    return port;
}

static long dev_unmask(struct xensim_evtchn_dev *dev, struct domain *d, evtchn_port_t port)
{
    sim_mutex_lock(&dev->lock);
    long rc = 0;
    const struct evtchn_host_bits *h = d->evtchn_ops->host;
    struct evtchn *chn = evtchn_port_valid(d, port) ? evtchn_from_port(d, port) : NULL;
    if (!(dev->flags[port] & DEVPORT_BOUND) || !chn)
        rc = -EINVAL;
    /* An event that arrived while masked is re-raised, as Xen's unmask does. */
    else if (h->test_and_clear_mask(d, chn) && h->is_pending(d, chn))
        dev_report(dev, d, chn);
    sim_mutex_unlock(&dev->lock);
    return rc;
}

int xensim_evtchn_dev_unmask(struct xensim_evtchn_dev *dev, evtchn_port_t port)
{
    if (port >= dev->nr_ports)
        return -EINVAL;
    return (int)DEV_DOMAIN_CALL(dev, d, dev_unmask(dev, d, port));
}

void xensim_evtchn_dev_close(struct xensim_evtchn_dev *dev)
{
    if (!dev)
        return;
    for (evtchn_port_t p = 1; p < dev->nr_ports; p++)
        if (dev->flags[p] & DEVPORT_BOUND)
            xensim_evtchn_dev_unbind(dev, p);
    close(dev->efd);
    if (dev->out_fd >= 0)
        close(dev->out_fd);
    pthread_mutex_destroy(&dev->lock);
    free(dev->flags);
    free(dev->queue);
    free(dev);
}
