/*
 * The guest kernel's side of 2-level events: mask, ack and scan the real
 * bitmaps in shared_info, and thin wrappers over EVTCHNOP_*. Uses the
 * domain's evtchn_port_ops, so it works for either word size.
 */
#include <errno.h>
#include "sim.h"

static struct domain *guest_domain(evtchn_port_t port)
{
    struct vcpu *v = current_vcpu;
    if (!v || port >= v->d->evtchn_ops->nr_ports)
        return NULL;
    return v->d;
}

void xensim_evtchn_mask(evtchn_port_t port)
{
    struct domain *d = guest_domain(port);
    if (d)
        d->evtchn_ops->set_mask(d, port);
}

/* Through the hypercall, which re-raises a pending port on the vCPU it is
 * bound to, wherever that is. */
void xensim_evtchn_unmask(evtchn_port_t port)
{
    struct evtchn_unmask op = { .port = port };
    HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

void xensim_evtchn_clear_pending(evtchn_port_t port)
{
    struct domain *d = guest_domain(port);
    if (d)
        d->evtchn_ops->clear_pending(d, port);
}

bool xensim_evtchn_is_pending(evtchn_port_t port)
{
    struct domain *d = guest_domain(port);
    return d && d->evtchn_ops->is_pending(d, port);
}

bool xensim_evtchn_is_masked(evtchn_port_t port)
{
    struct domain *d = guest_domain(port);
    return d && d->evtchn_ops->is_masked(d, port);
}

unsigned int xensim_evtchn_scan(void (*handler)(evtchn_port_t port, void *arg), void *arg)
{
    struct vcpu *v = current_vcpu;
    if (!v)
        return 0;
    struct domain *d = v->d;
    const struct evtchn_port_ops *ops = d->evtchn_ops;
    unsigned int handled = 0;
    do {
        __atomic_store_n(v->upcall_pending, 0, __ATOMIC_SEQ_CST);
        uint64_t sel = ops->take_selector(v);
        while (sel) {
            unsigned int i = (unsigned int)__builtin_ctzll(sel);
            sel &= sel - 1;
            uint64_t word = ops->pending_unmasked_word(d, i);
            while (word) {
                unsigned int b = (unsigned int)__builtin_ctzll(word);
                word &= word - 1;
                handler(i * ops->word_bits + b, arg);
                handled++;
            }
        }
    } while (__atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST));
    return handled;
}

long xensim_evtchn_alloc_unbound(domid_t remote)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    return rc < 0 ? rc : (long)op.port;
}

long xensim_evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote, .remote_port = remote_port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    return rc < 0 ? rc : (long)op.local_port;
}

long xensim_evtchn_bind_virq(uint32_t virq, uint32_t vcpu)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    return rc < 0 ? rc : (long)op.port;
}

long xensim_evtchn_bind_ipi(uint32_t vcpu)
{
    struct evtchn_bind_ipi op = { .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);
    return rc < 0 ? rc : (long)op.port;
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
