/*
 * The guest kernel's interrupt layer over 2-level events: a handler per
 * port, one upcall that scans and dispatches. Guest-side: runs on vCPU
 * threads; owns d->irq; uses the xensim_evtchn_* bit helpers.
 */
#include <errno.h>
#include "sim.h"

struct guest_irq {
    _Atomic(xensim_irq_handler_t) handler;
    void *_Atomic arg;
};

static void guest_irq_dispatch(evtchn_port_t port, void *unused)
{
    (void)unused;
    struct domain *d = current_vcpu->d;
    struct guest_irq *irq = &d->irq[port];
    xensim_irq_handler_t fn = atomic_load(&irq->handler);
    /* Ack first: an event that arrives while the handler runs is seen
     * again on the next scan rather than lost. */
    d->evtchn_ops->clear_pending(d, port);
    if (fn)
        fn(port, atomic_load(&irq->arg));
}

static void guest_irq_upcall(void)
{
    xensim_evtchn_scan(guest_irq_dispatch, NULL);
}

int xensim_irq_bind(evtchn_port_t port, xensim_irq_handler_t handler, void *arg)
{
    struct vcpu *v = current_vcpu;
    if (!v)
        return -EPERM;
    struct domain *d = v->d;
    if (port == 0 || port >= d->evtchn_ops->nr_ports || !handler)
        return -EINVAL;
    xensim_mutex_lock(&d->guest_lock);
    if (!d->irq)
        d->irq = calloc(d->evtchn_ops->nr_ports, sizeof(*d->irq));
    xensim_mutex_unlock(&d->guest_lock);
    if (!d->irq)
        return -ENOMEM;
    atomic_store(&d->irq[port].arg, arg);
    atomic_store(&d->irq[port].handler, handler);
    if (v->callback != guest_irq_upcall) {
        struct callback_register cb = {
            .type = CALLBACKTYPE_event,
            .address = (xen_callback_t)(uintptr_t)guest_irq_upcall,
        };
        HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    }
    xensim_evtchn_unmask(port);
    /* Interrupts on, unless we are inside an upcall already. */
    if (!v->in_upcall)
        xensim_guest_irq_enable();
    return 0;
}

void xensim_irq_unbind(evtchn_port_t port)
{
    struct vcpu *v = current_vcpu;
    if (!v || !v->d->irq || port >= v->d->evtchn_ops->nr_ports)
        return;
    xensim_evtchn_mask(port);
    atomic_store(&v->d->irq[port].handler, NULL);
    atomic_store(&v->d->irq[port].arg, NULL);
}

void guest_irq_free(struct domain *d)
{
    free(d->irq);
    d->irq = NULL;
}
