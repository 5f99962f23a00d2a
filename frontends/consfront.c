/*
 * Guest side of the PV console: writes output to and reads input from the
 * domain's static console ring (start_info.console.domU), with the
 * barriers and notifications of <xen/io/console.h>'s protocol. Owns the
 * per-domain console handler; calls guest.h only.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xensim/console.h>
#include "netcons.h"
#include <xen/io/console.h>

/* Writers of one domain serialise on a stripe; sharing stripes between
 * domains costs only a little contention. */
#define CONS_STRIPES 64
static struct nc_lock cons_locks[CONS_STRIPES];
static pthread_once_t cons_once = PTHREAD_ONCE_INIT;

static void cons_init_locks(void)
{
    for (unsigned int i = 0; i < CONS_STRIPES; i++)
        nc_lock_init(&cons_locks[i]);
}

struct cons_binding {
    xensim_console_handler_t fn;
    void *arg;
};

/* The ring and port of the calling domain, or a negative errno. */
static int cons_ring(struct xencons_interface **intf, evtchn_port_t *port)
{
    const start_info_t *si = xensim_guest_start_info();
    if (!si)
        return -EPERM;
    if (!si->console.domU.evtchn)
        return -ENODEV;   /* dom0 has no console ring */
    *intf = xensim_guest_pfn_to_virt(si->console.domU.mfn);
    *port = si->console.domU.evtchn;
    return *intf ? 0 : -ENODEV;
}

static struct nc_lock *cons_lock(void)
{
    pthread_once(&cons_once, cons_init_locks);
    return &cons_locks[xensim_guest_domid() % CONS_STRIPES];
}

ssize_t xensim_console_try_write(const void *buf, size_t len)
{
    struct xencons_interface *intf;
    evtchn_port_t port;
    int rc = cons_ring(&intf, &port);
    if (rc)
        return rc;
    struct nc_lock *l = cons_lock();
    bool irqs;
    if (!nc_lock(l, &irqs))
        return -EAGAIN;

    XENCONS_RING_IDX cons = NC_READ_ONCE(intf->out_cons);
    XENCONS_RING_IDX prod = intf->out_prod;
    mb();
    ssize_t ret;
    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->out)) {
        /* The back end wrote a cons we never produced up to. */
        ret = -EIO;
    } else {
        size_t space = sizeof(intf->out) - (prod - cons);
        size_t n = len < space ? len : space;
        const char *p = buf;
        for (size_t i = 0; i < n; i++)
            intf->out[MASK_XENCONS_IDX(prod++, intf->out)] = p[i];
        wmb();   /* the bytes before the index that publishes them */
        NC_WRITE_ONCE(intf->out_prod, prod);
        ret = (ssize_t)n;
    }
    nc_unlock(l, irqs);
    if (ret > 0)
        xensim_evtchn_send(port);
    return ret;
}

ssize_t xensim_console_write(const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = xensim_console_try_write((const char *)buf + done, len - done);
        if (n < 0)
            return done ? (ssize_t)done : n;
        done += (size_t)n;
        if (done < len)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return (ssize_t)done;
}

ssize_t xensim_console_read(void *buf, size_t len)
{
    struct xencons_interface *intf;
    evtchn_port_t port;
    int rc = cons_ring(&intf, &port);
    if (rc)
        return rc;
    struct nc_lock *l = cons_lock();
    bool irqs;
    if (!nc_lock(l, &irqs))
        return -EAGAIN;

    XENCONS_RING_IDX cons = intf->in_cons;
    XENCONS_RING_IDX prod = NC_READ_ONCE(intf->in_prod);
    rmb();   /* the index before the bytes it covers */
    size_t n = 0;
    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->in)) {
        /* A hostile or confused back end: skip to its producer. */
        cons = prod;
    } else {
        char *p = buf;
        while (n < len && cons != prod)
            p[n++] = intf->in[MASK_XENCONS_IDX(cons++, intf->in)];
    }
    mb();    /* done reading before the back end may overwrite */
    NC_WRITE_ONCE(intf->in_cons, cons);
    nc_unlock(l, irqs);
    xensim_evtchn_send(port);
    return (ssize_t)n;
}

static void cons_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    struct cons_binding *b = arg;
    b->fn(b->arg);
}

/* One binding per domain, indexed by domid; the irq layer holds it as arg. */
static struct cons_binding *cons_bindings[DOMID_FIRST_RESERVED];

int xensim_console_bind(xensim_console_handler_t handler, void *arg)
{
    struct xencons_interface *intf;
    evtchn_port_t port;
    int rc = cons_ring(&intf, &port);
    if (rc)
        return rc;
    struct nc_lock *l = cons_lock();
    bool irqs;
    if (!nc_lock(l, &irqs))
        return -EAGAIN;
    struct cons_binding **slot = &cons_bindings[xensim_guest_domid()];
    xensim_irq_unbind(port);
    struct cons_binding *old = *slot;
    *slot = NULL;
    if (handler) {
        struct cons_binding *b = malloc(sizeof(*b));
        if (!b) {
            rc = -ENOMEM;
        } else {
            b->fn = handler;
            b->arg = arg;
            *slot = b;
            rc = xensim_irq_bind(port, cons_irq, b);
        }
    }
    nc_unlock(l, irqs);
    free(old);
    return rc;
}
