/*
 * Guest side of the PV console: writes output to and reads input from the
 * domain's static console ring (start_info.console.domU), with the
 * barriers and notifications of <xen/io/console.h>'s protocol. Owns the
 * per-domain console lock and handler (a guest data key); calls guest.h
 * only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/console.h>
#include <xensim/guest.h>
#include <xensim/io/ring.h>
#include <xen/io/console.h>
#include "util.h"

/*
 * The console driver's per-domain state, freed with the domain. lock
 * serialises this domain's writers and readers of the ring and guards the
 * handler, which the console port's irq handler copies out under it and
 * calls outside it (so the handler may write).
 */
struct cons_dom {
    struct xensim_irqlock lock;
    xensim_console_handler_t fn;
    void *arg;
};

static void cons_dom_free(void *p)
{
    free(p);
}

static struct xensim_guest_key cons_key = { .destroy = cons_dom_free };

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

/* This domain's console state, made on first use; NULL without memory. */
static struct cons_dom *cons_dom(void)
{
    struct cons_dom *c = xensim_guest_data(&cons_key), *won;

    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    xensim_irqlock_init(&c->lock);
    won = xensim_guest_data_init(&cons_key, c);
    if (won != c) {
        xensim_irqlock_destroy(&c->lock);
        free(c);
    }
    return won;
}

/* The calling domain's ring, port and console state; NULL with *err set. */
static struct cons_dom *cons_get(struct xencons_interface **intf, evtchn_port_t *port, int *err)
{
    struct cons_dom *c;

    if ((*err = cons_ring(intf, port)))
        return NULL;
    if (!(c = cons_dom()))
        *err = -ENOMEM;
    return c;
}

ssize_t xensim_console_try_write(const void *buf, size_t len)
{
    struct xencons_interface *intf;
    evtchn_port_t port;
    int rc;
    struct cons_dom *c = cons_get(&intf, &port, &rc);
    if (!c)
        return rc;
    bool irqs = xensim_irqlock_lock(&c->lock);

    XENCONS_RING_IDX cons = READ_ONCE(intf->out_cons);
    XENCONS_RING_IDX prod = intf->out_prod;
    xen_mb();
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
        xen_wmb();   /* the bytes before the index that publishes them */
        WRITE_ONCE(intf->out_prod, prod);
        ret = (ssize_t)n;
    }
    xensim_irqlock_unlock(&c->lock, irqs);
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
    int rc;
    struct cons_dom *c = cons_get(&intf, &port, &rc);
    if (!c)
        return rc;
    bool irqs = xensim_irqlock_lock(&c->lock);

    XENCONS_RING_IDX cons = intf->in_cons;
    XENCONS_RING_IDX prod = READ_ONCE(intf->in_prod);
    xen_rmb();   /* the index before the bytes it covers */
    size_t n = 0;
    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->in)) {
        /* A hostile or confused back end: skip to its producer. */
        cons = prod;
    } else {
        char *p = buf;
        while (n < len && cons != prod)
            p[n++] = intf->in[MASK_XENCONS_IDX(cons++, intf->in)];
    }
    xen_mb();    /* done reading before the back end may overwrite */
    WRITE_ONCE(intf->in_cons, cons);
    xensim_irqlock_unlock(&c->lock, irqs);
    xensim_evtchn_send(port);
    return (ssize_t)n;
}

static void cons_irq(evtchn_port_t port, void *arg)
{
    struct cons_dom *c = arg;
    (void)port;
    bool irqs = xensim_irqlock_lock(&c->lock);
    xensim_console_handler_t fn = c->fn;
    void *fn_arg = c->arg;
    xensim_irqlock_unlock(&c->lock, irqs);
    if (fn)
        fn(fn_arg);
}

int xensim_console_bind(xensim_console_handler_t handler, void *arg)
{
    struct xencons_interface *intf;
    evtchn_port_t port;
    int rc;
    struct cons_dom *c = cons_get(&intf, &port, &rc);
    if (!c)
        return rc;
    bool irqs = xensim_irqlock_lock(&c->lock);
    if (!handler)
        xensim_irq_unbind(port);
    c->fn = handler;
    c->arg = arg;
    xensim_irqlock_unlock(&c->lock, irqs);
    /* Outside the lock: binding enables events, so the handler may run
     * before this returns. */
    return handler ? xensim_irq_bind(port, cons_irq, c) : 0;
}
