/*
 * The guest kernel's interrupt layer (guest.h), as Linux's
 * bind_evtchn_to_irqhandler: a handler per port, and one upcall per vCPU
 * that runs the domain's event consumer (evtchn.c, either ABI) and calls
 * each port's handler. Owns the per-domain handler table, kept in a guest
 * data key, and the "in the upcall" flag of each vCPU thread. Relies on
 * guest.h only.
 */
#include <errno.h>
#include <stdlib.h>
#include "evtchn.h"

/* Handlers in chunks of 1024 ports, made as ports are bound, up to the
 * FIFO ABI's 2^17 ports. */
#define IRQ_CHUNK 1024u
#define IRQ_CHUNKS (EVTCHN_FIFO_NR_CHANNELS / IRQ_CHUNK)

struct guest_irq {
    _Atomic(xensim_irq_handler_t) handler;
    void *_Atomic arg;
};

struct guest_irqs {
    struct xensim_irqlock lock;          /* making chunks */
    struct guest_irq *_Atomic chunk[IRQ_CHUNKS];
};

/* Each vCPU is one thread, so this is the vCPU's own flag: set while its
 * upcall runs, as a kernel knows it is in interrupt context. */
static __thread bool in_upcall;

static void guest_irqs_destroy(void *p)
{
    struct guest_irqs *t = p;

    for (unsigned int i = 0; i < IRQ_CHUNKS; i++)
        free(atomic_load(&t->chunk[i]));
    xensim_irqlock_destroy(&t->lock);
    free(t);
}

static struct xensim_guest_key irq_key = { .destroy = guest_irqs_destroy };

static struct guest_irqs *irq_table(bool create)
{
    struct guest_irqs *t = xensim_guest_data(&irq_key);

    if (t || !create)
        return t;
    struct guest_irqs *mine = calloc(1, sizeof(*mine));
    if (!mine)
        return NULL;
    xensim_irqlock_init(&mine->lock);
    t = xensim_guest_data_init(&irq_key, mine);
    if (t != mine)
        guest_irqs_destroy(mine);
    return t;
}

static struct guest_irq *irq_slot(struct guest_irqs *t, evtchn_port_t port)
{
    struct guest_irq *c = port < EVTCHN_FIFO_NR_CHANNELS ? atomic_load(&t->chunk[port / IRQ_CHUNK])
                                                         : NULL;
    return c ? &c[port % IRQ_CHUNK] : NULL;
}

static struct guest_irq *irq_slot_make(struct guest_irqs *t, evtchn_port_t port)
{
    struct guest_irq *slot = irq_slot(t, port);

    if (slot)
        return slot;
    bool was = xensim_irqlock_lock(&t->lock);
    if (!atomic_load(&t->chunk[port / IRQ_CHUNK]))
        atomic_store(&t->chunk[port / IRQ_CHUNK], calloc(IRQ_CHUNK, sizeof(struct guest_irq)));
    xensim_irqlock_unlock(&t->lock, was);
    return irq_slot(t, port);
}

struct dispatch_ctx {
    struct guest_evtchn *ge;
    struct guest_irqs *irqs;
};

static void guest_irq_dispatch(evtchn_port_t port, void *p)
{
    struct dispatch_ctx *c = p;
    struct guest_irq *irq = c->irqs ? irq_slot(c->irqs, port) : NULL;
    xensim_irq_handler_t fn = irq ? atomic_load(&irq->handler) : NULL;

    /* Ack first: an event that arrives while the handler runs is seen
     * again on the next scan rather than lost. */
    c->ge->ops->clear_pending(c->ge, port);
    if (fn)
        fn(port, atomic_load(&irq->arg));
}

static void guest_irq_upcall(void)
{
    struct dispatch_ctx c = { guest_evtchn(), irq_table(false) };

    if (!c.ge) {
        /* No memory for the event layer: drop the upcall rather than have
         * Xen deliver it again forever. */
        __atomic_store_n(guest_upcall_pending(), 0, __ATOMIC_SEQ_CST);
        return;
    }
    in_upcall = true;
    c.ge->ops->scan(c.ge, guest_irq_dispatch, &c);
    in_upcall = false;
}

int xensim_irq_bind(evtchn_port_t port, xensim_irq_handler_t handler, void *arg)
{
    struct guest_evtchn *ge = guest_evtchn();
    if (!ge)
        return xensim_guest_vcpu_info() ? -ENOMEM : -EPERM;
    if (port == 0 || port >= ge->ops->nr_ports(ge) || !handler)
        return -EINVAL;
    struct guest_irqs *t = irq_table(true);
    struct guest_irq *irq = t ? irq_slot_make(t, port) : NULL;
    if (!irq)
        return -ENOMEM;
    int rc = ge->ops->setup(ge, port);
    if (rc)
        return rc;
    atomic_store(&irq->arg, arg);
    atomic_store(&irq->handler, handler);
    /* Registered on every bind, not once: guest code may have put its own
     * upcall on this vCPU since. */
    struct callback_register cb = {
        .type = CALLBACKTYPE_event,
        .address = (xen_callback_t)(uintptr_t)guest_irq_upcall,
    };
    HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    xensim_evtchn_unmask(port);
    /* Interrupts on, unless we are inside an upcall already. */
    if (!in_upcall)
        xensim_guest_irq_enable();
    return 0;
}

void xensim_irq_unbind(evtchn_port_t port)
{
    struct guest_irqs *t = irq_table(false);
    struct guest_irq *irq = t ? irq_slot(t, port) : NULL;

    if (!irq)
        return;
    xensim_evtchn_mask(port);
    atomic_store(&irq->handler, NULL);
    atomic_store(&irq->arg, NULL);
}
