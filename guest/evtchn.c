/*
 * The guest kernel's event channel layer (guest.h): each domain's ABI,
 * chosen when its kernel first uses events, the port helpers over that
 * ABI's ops (evtchn_2l.c, evtchn_fifo.c), and thin wrappers over
 * EVTCHNOP_*. Owns the
 * per-domain struct guest_evtchn, kept in a guest data key. Relies on
 * guest.h only.
 */
#include <errno.h>
#include <stdlib.h>
#include "evtchn.h"

static void guest_evtchn_destroy(void *p)
{
    struct guest_evtchn *ge = p;

    xensim_irqlock_destroy(&ge->lock);
    guest_fifo_free(ge->fifo);
    free(ge);
}

static struct xensim_guest_key evtchn_key = { .destroy = guest_evtchn_destroy };

/* Boot, once per domain: whichever vCPU gets here first picks the ABI
 * while holding the lock, so the others wait for a ready layer. FIFO if
 * the configuration asks for it and the switch works, as Linux falls
 * back to 2-level when EVTCHNOP_init_control fails. */
static void guest_evtchn_boot(struct guest_evtchn *ge)
{
    bool was = xensim_irqlock_lock(&ge->lock);

    if (!atomic_load(&ge->ops)) {
        const struct guest_evtchn_ops *ops = &guest_evtchn_2l_ops;
        if (xensim_guest_evtchn_fifo() && guest_fifo_boot(ge) == 0)
            ops = &guest_evtchn_fifo_ops;
        atomic_store(&ge->ops, ops);
    }
    xensim_irqlock_unlock(&ge->lock, was);
}

struct guest_evtchn *guest_evtchn(void)
{
    if (!xensim_guest_vcpu_info())
        return NULL;
    struct guest_evtchn *ge = xensim_guest_data(&evtchn_key);
    if (ge && atomic_load(&ge->ops))
        return ge;
    if (!ge) {
        struct guest_evtchn *mine = calloc(1, sizeof(*mine));
        if (!mine)
            return NULL;
        xensim_irqlock_init(&mine->lock);
        ge = xensim_guest_data_init(&evtchn_key, mine);
        if (ge != mine)
            guest_evtchn_destroy(mine);
        if (!ge)
            return NULL;
    }
    guest_evtchn_boot(ge);
    return ge;
}

void xensim_evtchn_mask(evtchn_port_t port)
{
    struct guest_evtchn *ge = guest_evtchn();
    if (ge)
        ge->ops->mask(ge, port);
}

/* Through the hypercall, whatever the ABI: Xen re-raises a pending port
 * on the vCPU it is bound to, wherever that is. */
void xensim_evtchn_unmask(evtchn_port_t port)
{
    struct evtchn_unmask op = { .port = port };
    HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

void xensim_evtchn_clear_pending(evtchn_port_t port)
{
    struct guest_evtchn *ge = guest_evtchn();
    if (ge)
        ge->ops->clear_pending(ge, port);
}

bool xensim_evtchn_is_pending(evtchn_port_t port)
{
    struct guest_evtchn *ge = guest_evtchn();
    return ge && ge->ops->is_pending(ge, port);
}

bool xensim_evtchn_is_masked(evtchn_port_t port)
{
    struct guest_evtchn *ge = guest_evtchn();
    return ge && ge->ops->is_masked(ge, port);
}

unsigned int xensim_evtchn_scan(void (*handler)(evtchn_port_t port, void *arg), void *arg)
{
    struct guest_evtchn *ge = guest_evtchn();
    return ge ? ge->ops->scan(ge, handler, arg) : 0;
}

/* A port this kernel just bound gets its bits made (FIFO: its event
 * word) before anyone uses it, as Linux sets a port up when it binds. */
static long bound(long rc, evtchn_port_t port)
{
    if (rc < 0)
        return rc;
    struct guest_evtchn *ge = guest_evtchn();
    if (ge)
        ge->ops->setup(ge, port);
    return (long)port;
}

long xensim_evtchn_alloc_unbound(domid_t remote)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    return bound(rc, op.port);
}

long xensim_evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote, .remote_port = remote_port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    return bound(rc, op.local_port);
}

long xensim_evtchn_bind_virq(uint32_t virq, uint32_t vcpu)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    return bound(rc, op.port);
}

long xensim_evtchn_bind_ipi(uint32_t vcpu)
{
    struct evtchn_bind_ipi op = { .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);
    return bound(rc, op.port);
}

long xensim_evtchn_send(evtchn_port_t port)
{
    struct evtchn_send op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

long xensim_evtchn_close(evtchn_port_t port)
{
    struct evtchn_close op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}
