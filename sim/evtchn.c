/*
 * Event channels: the event_channel_op hypercall and its dispatch table;
 * port allocation, binding, closing, sending, status, reset, in Xen's
 * order of checks with Xen's errnos. Owns the domain's port buckets. Delivery is the domain's evtchn_port_ops
 * (evtchn_2l.c, evtchn_fifo.c) or a host consumer (hostdev_evtchn.c).
 *
 * Locks: d->event_lock serialises allocation, bind and close in a domain;
 * two domains are locked lower domid first. chn->lock guards a channel's
 * state against send; two channels are locked lower address first.
 * EVTCHNOP_send takes only the sending channel's lock; domains are found
 * under rcu_read_lock.
 */
#include <errno.h>
#include <assert.h>
#include "sim.h"
#include "tracepoint.h"

static bool virq_is_per_vcpu(uint32_t virq)
{
    return virq == VIRQ_TIMER || virq == VIRQ_DEBUG || virq == VIRQ_XENOPROF ||
           virq == VIRQ_XENPMU;
}

/* Xen's port_is_valid: inside the buckets made so far, whatever the ABI
 * (free ports above 4095 stay valid when FIFO goes back to 2-level).
 * Operations beyond it give -EINVAL. */
bool evtchn_port_valid(const struct domain *d, evtchn_port_t port)
{
    return port < __atomic_load_n(&d->valid_ports, __ATOMIC_ACQUIRE);
}

static struct evtchn_bucket *bucket_of(const struct domain *d, evtchn_port_t port)
{
    struct evtchn_group *g = atomic_load(&d->evtchn_groups[port / EVTCHNS_PER_GROUP]);
    return atomic_load(&g->bucket[port % EVTCHNS_PER_GROUP / EVTCHNS_PER_BUCKET]);
}

struct evtchn *evtchn_from_port(const struct domain *d, evtchn_port_t port)
{
    return &bucket_of(d, port)->chn[port % EVTCHNS_PER_BUCKET];
}

bool evtchn_usable(const struct evtchn *chn)
{
    return atomic_load(&chn->state) > ECS_RESERVED;
}

unsigned int evtchn_max_port(const struct domain *d)
{
    unsigned int abi_last = d->evtchn_ops->nr_ports - 1;
    return d->max_port < abi_last ? d->max_port : abi_last;
}

/* Makes the bucket of ports [first, first + 64), and its group if it is
 * the group's first; published before valid_ports grows over it. */
static int bucket_make(struct domain *d, evtchn_port_t first)
{
    struct evtchn_group *_Atomic *gp = &d->evtchn_groups[first / EVTCHNS_PER_GROUP];
    struct evtchn_group *g = atomic_load(gp);
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g)
            return -ENOMEM;
        atomic_store(gp, g);
    }
    struct evtchn_bucket *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    /* calloc's zeroes are an unlocked sim_lock. */
    for (unsigned int i = 0; i < EVTCHNS_PER_BUCKET; i++) {
        b->chn[i].port = first + i;
        b->chn[i].priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
    }
    atomic_store(&g->bucket[first % EVTCHNS_PER_GROUP / EVTCHNS_PER_BUCKET], b);
    return 0;
}

static void double_domain_lock(struct domain *a, struct domain *b)
{
    if (a == b) {
        sim_mutex_lock(&a->event_lock);
    } else if (a->domid < b->domid) {
        sim_mutex_lock(&a->event_lock);
        sim_mutex_lock(&b->event_lock);
    } else {
        sim_mutex_lock(&b->event_lock);
        sim_mutex_lock(&a->event_lock);
    }
}

static void double_domain_unlock(struct domain *a, struct domain *b)
{
    sim_mutex_unlock(&a->event_lock);
    if (a != b)
        sim_mutex_unlock(&b->event_lock);
}

static void double_chn_lock(struct evtchn *a, struct evtchn *b)
{
    if (a == b) {
        sim_lock(&a->lock);
    } else if (a < b) {
        sim_lock(&a->lock);
        sim_lock(&b->lock);
    } else {
        sim_lock(&b->lock);
        sim_lock(&a->lock);
    }
}

static void double_chn_unlock(struct evtchn *a, struct evtchn *b)
{
    sim_unlock(&a->lock);
    if (a != b)
        sim_unlock(&b->lock);
}

/* Xen's get_free_port and evtchn_allocate_port: the lowest port that is
 * free and not busy (FIFO: still queued), growing the valid range a
 * bucket at a time; the port is not taken until port_take(). Caller holds
 * d->event_lock. */
static long get_free_port(struct domain *d)
{
    if (atomic_load(&d->is_dying))
        return -EINVAL;
    const struct evtchn_port_ops *ops = d->evtchn_ops;
    unsigned int valid = d->valid_ports, last = evtchn_max_port(d);
    /* The full buckets at the bottom are skipped: binding every port
     * would otherwise read each earlier bucket again for every port, a
     * cache miss apiece. */
    for (unsigned int w = d->evtchn_full_below; w * EVTCHNS_PER_BUCKET < valid; w++) {
        struct evtchn_bucket *b = bucket_of(d, w * EVTCHNS_PER_BUCKET);
        if (b->used == ~0ull) {
            if (w == d->evtchn_full_below)
                d->evtchn_full_below = w + 1;
            continue;
        }
        for (uint64_t free_bits = ~b->used; free_bits; free_bits &= free_bits - 1) {
            unsigned int i = (unsigned int)__builtin_ctzll(free_bits);
            unsigned int port = w * EVTCHNS_PER_BUCKET + i;
            if (port > last)
                return -ENOSPC;
            if (ops->is_busy && ops->is_busy(d, &b->chn[i]))
                continue;
            return port;
        }
    }
    if (valid > last)
        return -ENOSPC;
    int rc = bucket_make(d, valid);
    if (rc)
        return rc;
    __atomic_store_n(&d->valid_ports, valid + EVTCHNS_PER_BUCKET, __ATOMIC_RELEASE);
    return valid;
}

/* Takes a port for a bind, which then sets its state; the ABI resets what
 * it keeps per port (Xen's evtchn_port_init). */
static void port_take(struct domain *d, evtchn_port_t port)
{
    struct evtchn_bucket *b = bucket_of(d, port);
    b->used |= 1ull << (port % EVTCHNS_PER_BUCKET);
    d->ports_in_use++;
    if (d->evtchn_ops->init)
        d->evtchn_ops->init(d, &b->chn[port % EVTCHNS_PER_BUCKET]);
}

/* Frees a port: pending is cleared so a rebind does not inherit a stale
 * event; the mask bit is left alone, and a FIFO event stays linked, as in
 * Xen. */
static void port_free(struct domain *d, struct evtchn *chn, evtchn_port_t port)
{
    struct evtchn_bucket *b = bucket_of(d, port);
    d->evtchn_ops->clear_pending(d, chn);
    chn->notify_vcpu = 0;
    chn->dev = NULL;
    memset(&chn->u, 0, sizeof(chn->u));
    atomic_store(&chn->state, ECS_FREE);
    b->used &= ~(1ull << (port % EVTCHNS_PER_BUCKET));
    if (port / EVTCHNS_PER_BUCKET < d->evtchn_full_below)
        d->evtchn_full_below = port / EVTCHNS_PER_BUCKET;
    d->ports_in_use--;
}

/* Raises a port of d: through its ABI to its notify vCPU, or to the host
 * process that consumes it. */
static void evtchn_raise(struct domain *d, struct evtchn *chn, evtchn_port_t port,
                         struct vcpu *v)
{
    (void)port;
    if (chn->dev)
        evtchn_dev_deliver(chn->dev, d, chn);
    else
        d->evtchn_ops->set_pending(v, chn);
}

int evtchn_domain_init(struct domain *d, const struct xensim_domain_config *cfg)
{
    /* A FIFO domain is a 64-bit guest, 2-level until its kernel switches. */
    bool words32 = cfg->evtchn_abi == XENSIM_EVTCHN_2L_32;
    d->evtchn_fifo_boot = cfg->evtchn_abi == XENSIM_EVTCHN_FIFO;
    d->evtchn_word_bits = words32 ? 32 : 64;
    d->evtchn_2l_ops = words32 ? &evtchn_2l_32_ops : &evtchn_2l_64_ops;
    d->evtchn_ops = d->evtchn_2l_ops;
    /* No cap, or one above every ABI, is capped by the ABI in use. */
    d->max_port = cfg->max_evtchn_port && cfg->max_evtchn_port < EVTCHN_MAX_PORTS
                      ? cfg->max_evtchn_port
                      : EVTCHN_MAX_PORTS - 1;
    pthread_mutex_init(&d->event_lock, NULL);
    if (bucket_make(d, 0))
        return -ENOMEM;
    /* Port 0 is reserved at creation and never handed out. */
    struct evtchn_bucket *b0 = bucket_of(d, 0);
    atomic_store(&b0->chn[0].state, ECS_RESERVED);
    b0->used = 1;
    d->valid_ports = EVTCHNS_PER_BUCKET;
    return 0;
}

void evtchn_domain_free(struct domain *d)
{
    for (unsigned int i = 0; i < NR_EVTCHN_GROUPS; i++) {
        struct evtchn_group *g = atomic_exchange(&d->evtchn_groups[i], NULL);
        if (!g)
            continue;
        for (unsigned int j = 0; j < BUCKETS_PER_GROUP; j++)
            free(atomic_load(&g->bucket[j]));
        free(g);
    }
    evtchn_fifo_free(d);
}

long evtchn_alloc_unbound_for(struct domain *caller, domid_t dom, domid_t remote,
                              evtchn_port_t *port_out, struct xensim_evtchn_dev *dev)
{
    long rc;
    struct domain *d = domain_rcu_get(caller->sim, caller, dom);
    if (!d)
        return -ESRCH;
    sim_mutex_lock(&d->event_lock);
    rc = get_free_port(d);
    if (rc < 0)
        goto out;
    evtchn_port_t port = (evtchn_port_t)rc;
    if (!xsm_target(caller, d)) {
        rc = -EPERM;
        goto out;
    }
    struct evtchn *chn = evtchn_from_port(d, port);
    sim_lock(&chn->lock);
    chn->u.unbound_remote = remote == DOMID_SELF ? caller->domid : remote;
    chn->notify_vcpu = 0;
    chn->dev = dev;
    atomic_store(&chn->state, ECS_UNBOUND);
    port_take(d, port);
    sim_unlock(&chn->lock);
    *port_out = port;
    rc = 0;
out:
    sim_mutex_unlock(&d->event_lock);
    rcu_read_unlock();
    return rc;
}

long evtchn_bind_interdomain_for(struct domain *ld, domid_t rdom, evtchn_port_t rport,
                                 evtchn_port_t *lport_out, struct xensim_evtchn_dev *dev)
{
    long rc;
    struct domain *rd = domain_rcu_get(ld->sim, ld, rdom);
    if (!rd)
        return -ESRCH;
    double_domain_lock(ld, rd);
    rc = get_free_port(ld);
    if (rc < 0)
        goto out;
    evtchn_port_t lport = (evtchn_port_t)rc;
    if (!evtchn_port_valid(rd, rport)) {
        rc = -EINVAL;
        goto out;
    }
    struct evtchn *rchn = evtchn_from_port(rd, rport);
    if (atomic_load(&rchn->state) != ECS_UNBOUND || rchn->u.unbound_remote != ld->domid) {
        rc = -EINVAL;
        goto out;
    }
    struct evtchn *lchn = evtchn_from_port(ld, lport);
    double_chn_lock(lchn, rchn);
    lchn->u.interdomain.dom = rd->domid;
    lchn->u.interdomain.port = rport;
    lchn->notify_vcpu = 0;
    lchn->dev = dev;
    atomic_store(&lchn->state, ECS_INTERDOMAIN);
    port_take(ld, lport);
    rchn->u.interdomain.dom = ld->domid;
    rchn->u.interdomain.port = lport;
    atomic_store(&rchn->state, ECS_INTERDOMAIN);
    /* The binder's new port is always raised: it catches sends the peer
     * made before the bind, which were dropped. */
    evtchn_raise(ld, lchn, lport, ld->vcpus[lchn->notify_vcpu]);
    double_chn_unlock(lchn, rchn);
    *lport_out = lport;
    rc = 0;
out:
    double_domain_unlock(ld, rd);
    rcu_read_unlock();
    return rc;
}

long evtchn_bind_virq_for(struct domain *d, uint32_t virq, uint32_t vcpu,
                          evtchn_port_t *port_out, struct xensim_evtchn_dev *dev)
{
    if (virq >= NR_VIRQS)
        return -EINVAL;
    if (!virq_is_per_vcpu(virq) && vcpu != 0)
        return -EINVAL;
    if (vcpu >= d->nr_vcpus)
        return -ENOENT;
    struct vcpu *v = d->vcpus[vcpu];
    long rc;
    sim_mutex_lock(&d->event_lock);
    if (v->virq_to_evtchn[virq] != 0) {
        rc = -EEXIST;
        goto out;
    }
    rc = get_free_port(d);
    if (rc < 0)
        goto out;
    evtchn_port_t port = (evtchn_port_t)rc;
    struct evtchn *chn = evtchn_from_port(d, port);
    sim_lock(&chn->lock);
    chn->u.virq = virq;
    chn->notify_vcpu = (uint16_t)vcpu;
    chn->dev = dev;
    atomic_store(&chn->state, ECS_VIRQ);
    port_take(d, port);
    sim_unlock(&chn->lock);
    __atomic_store_n(&v->virq_to_evtchn[virq], port, __ATOMIC_RELEASE);
    *port_out = port;
    rc = 0;
out:
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

static long evtchn_bind_ipi(struct domain *d, uint32_t vcpu, evtchn_port_t *port_out)
{
    if (vcpu >= d->nr_vcpus)
        return -ENOENT;
    sim_mutex_lock(&d->event_lock);
    long rc = get_free_port(d);
    if (rc >= 0) {
        evtchn_port_t port = (evtchn_port_t)rc;
        struct evtchn *chn = evtchn_from_port(d, port);
        sim_lock(&chn->lock);
        chn->u.ipi_vcpu = vcpu;
        chn->notify_vcpu = (uint16_t)vcpu;
        atomic_store(&chn->state, ECS_IPI);
        port_take(d, port);
        sim_unlock(&chn->lock);
        *port_out = port;
        rc = 0;
    }
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

long evtchn_close_port(struct domain *d, evtchn_port_t port)
{
    if (!evtchn_port_valid(d, port))
        return -EINVAL;
    struct evtchn *chn = evtchn_from_port(d, port);
    long rc = 0;
    rcu_read_lock();
    sim_mutex_lock(&d->event_lock);
again:
    switch (atomic_load(&chn->state)) {
    case ECS_FREE:
    case ECS_RESERVED:
        rc = -EINVAL;
        break;
    case ECS_UNBOUND:
    case ECS_IPI:
    case ECS_PIRQ:
        sim_lock(&chn->lock);
        port_free(d, chn, port);
        sim_unlock(&chn->lock);
        break;
    case ECS_VIRQ: {
        uint32_t virq = chn->u.virq;
        for (unsigned int i = 0; i < d->nr_vcpus; i++)
            if (d->vcpus[i]->virq_to_evtchn[virq] == port)
                __atomic_store_n(&d->vcpus[i]->virq_to_evtchn[virq], 0, __ATOMIC_RELEASE);
        sim_lock(&chn->lock);
        port_free(d, chn, port);
        sim_unlock(&chn->lock);
        break;
    }
    case ECS_INTERDOMAIN: {
        domid_t rdomid = chn->u.interdomain.dom;
        evtchn_port_t rport = chn->u.interdomain.port;
        struct domain *rd = domain_lookup(d->sim, rdomid);
        if (!rd) {
            sim_lock(&chn->lock);
            port_free(d, chn, port);
            sim_unlock(&chn->lock);
            break;
        }
        if (rd != d && rd->domid < d->domid) {
            /* Take both locks in order, then look again: the channel may
             * have changed while d's lock was dropped. */
            sim_mutex_unlock(&d->event_lock);
            double_domain_lock(d, rd);
            if (atomic_load(&chn->state) != ECS_INTERDOMAIN ||
                chn->u.interdomain.dom != rdomid || chn->u.interdomain.port != rport) {
                sim_mutex_unlock(&rd->event_lock);
                goto again;
            }
        } else if (rd != d) {
            sim_mutex_lock(&rd->event_lock);
        }
        struct evtchn *rchn = evtchn_from_port(rd, rport);
        double_chn_lock(chn, rchn);
        /* The peer keeps its port, pending and mask bits, and hears nothing. */
        rchn->u.unbound_remote = d->domid;
        atomic_store(&rchn->state, ECS_UNBOUND);
        port_free(d, chn, port);
        double_chn_unlock(chn, rchn);
        if (rd != d)
            sim_mutex_unlock(&rd->event_lock);
        break;
    }
    }
    sim_mutex_unlock(&d->event_lock);
    rcu_read_unlock();
    return rc;
}

long evtchn_send_port(struct domain *ld, evtchn_port_t lport)
{
    if (!evtchn_port_valid(ld, lport))
        return -EINVAL;
    struct evtchn *lchn = evtchn_from_port(ld, lport);
    long rc = 0;
    sim_lock(&lchn->lock);
    switch (atomic_load(&lchn->state)) {
    case ECS_INTERDOMAIN: {
        rcu_read_lock();
        struct domain *rd = domain_lookup(ld->sim, lchn->u.interdomain.dom);
        if (rd) {
            evtchn_port_t rport = lchn->u.interdomain.port;
            struct evtchn *rchn = evtchn_from_port(rd, rport);
            struct vcpu *rv = rd->vcpus[rchn->notify_vcpu];
            if (trace_on(ld->sim))
                trace_send(ld, lport, rd, rport, rv, rchn->dev != NULL);
            evtchn_raise(rd, rchn, rport, rv);
        }
        rcu_read_unlock();
        break;
    }
    case ECS_IPI:
        if (trace_on(ld->sim))
            trace_send(ld, lport, ld, lport, ld->vcpus[lchn->notify_vcpu], false);
        evtchn_raise(ld, lchn, lport, ld->vcpus[lchn->notify_vcpu]);
        break;
    case ECS_UNBOUND:
        /* Nobody is listening yet: dropped; the binder gets a pending bit. */
        break;
    default:
        rc = -EINVAL;
    }
    sim_unlock(&lchn->lock);
    return rc;
}

long evtchn_unmask_port(struct domain *d, evtchn_port_t port)
{
    if (!evtchn_port_valid(d, port))
        return -EINVAL;
    struct evtchn *chn = evtchn_from_port(d, port);
    /* Only a usable port is unmasked; the answer is 0 either way. */
    sim_lock(&chn->lock);
    if (evtchn_usable(chn))
        d->evtchn_ops->unmask(d, chn);
    sim_unlock(&chn->lock);
    return 0;
}

static long evtchn_status(struct domain *caller, struct evtchn_status *st)
{
    long rc = 0;
    struct domain *d = domain_rcu_get(caller->sim, caller, st->dom);
    if (!d)
        return -ESRCH;
    if (!evtchn_port_valid(d, st->port)) {
        rc = -EINVAL;
        goto out;
    }
    struct evtchn *chn = evtchn_from_port(d, st->port);
    sim_lock(&chn->lock);
    if (!xsm_target(caller, d)) {
        rc = -EPERM;
    } else {
        /* As in Xen, only the fields of the port's state are written: the
         * rest of u goes back to the guest as it came in. */
        switch (atomic_load(&chn->state)) {
        case ECS_FREE:
        case ECS_RESERVED:
            st->status = EVTCHNSTAT_closed;
            break;
        case ECS_UNBOUND:
            st->status = EVTCHNSTAT_unbound;
            st->u.unbound.dom = chn->u.unbound_remote;
            break;
        case ECS_INTERDOMAIN:
            st->status = EVTCHNSTAT_interdomain;
            st->u.interdomain.dom = chn->u.interdomain.dom;
            st->u.interdomain.port = chn->u.interdomain.port;
            break;
        case ECS_PIRQ:
            st->status = EVTCHNSTAT_pirq;
            break;
        case ECS_VIRQ:
            st->status = EVTCHNSTAT_virq;
            st->u.virq = chn->u.virq;
            break;
        case ECS_IPI:
            st->status = EVTCHNSTAT_ipi;
            break;
        }
        st->vcpu = chn->notify_vcpu;
    }
    sim_unlock(&chn->lock);
out:
    rcu_read_unlock();
    return rc;
}

static long evtchn_bind_vcpu(struct domain *d, evtchn_port_t port, uint32_t vcpu)
{
    if (vcpu >= d->nr_vcpus)
        return -ENOENT;
    if (!evtchn_port_valid(d, port))
        return -EINVAL;
    struct evtchn *chn = evtchn_from_port(d, port);
    long rc = 0;
    sim_mutex_lock(&d->event_lock);
    sim_lock(&chn->lock);
    switch (atomic_load(&chn->state)) {
    case ECS_VIRQ:
        if (virq_is_per_vcpu(chn->u.virq)) {
            rc = -EINVAL;
            break;
        }
        /* A global VIRQ follows its port to the new vCPU's table slot. */
        chn->notify_vcpu = (uint16_t)vcpu;
        break;
    case ECS_UNBOUND:
    case ECS_INTERDOMAIN:
    case ECS_PIRQ:
        chn->notify_vcpu = (uint16_t)vcpu;
        break;
    default:
        rc = -EINVAL;
    }
    sim_unlock(&chn->lock);
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

/* Closes every port but 0, highest first, as Xen's evtchn_destroy does. */
static void evtchn_close_all(struct domain *d)
{
    for (unsigned int p = d->valid_ports; p-- > 1;) {
        int st = atomic_load(&evtchn_from_port(d, p)->state);
        if (st != ECS_FREE && st != ECS_RESERVED)
            evtchn_close_port(d, p);
    }
}

/* Xen's has_active_evtchns (xensim has no Xen-consumed ports). */
static bool ports_active(struct domain *d)
{
    sim_mutex_lock(&d->event_lock);
    bool any = d->ports_in_use != 0;
    sim_mutex_unlock(&d->event_lock);
    return any;
}

/*
 * Xen's evtchn_reset(d, resuming): EVTCHNOP_reset starts one (resuming
 * false), its continuation EVTCHNOP_reset_cont carries on from
 * next_evtchn. "i = resuming ? d->next_evtchn : !d->next_evtchn" makes
 * both -EBUSY when the other is due: a fresh reset while one is under
 * way, a continuation of none. Xen pre-empts every 64 ports and comes
 * back with reset_cont; xensim never pre-empts, so a reset is under way
 * only while another vCPU or domain runs it. Ports close lowest first, as
 * a guest's closes; then a FIFO domain goes back to 2-level, unless a
 * port was bound meanwhile (-EAGAIN).
 */
static long evtchn_reset_domain(struct domain *d, bool resuming)
{
    sim_mutex_lock(&d->event_lock);
    unsigned int i = resuming ? d->next_evtchn : !d->next_evtchn;
    if (i > d->next_evtchn)
        d->next_evtchn = i;
    sim_mutex_unlock(&d->event_lock);
    if (!i)
        return -EBUSY;

    for (; evtchn_port_valid(d, i) && ports_active(d); i++)
        if (evtchn_usable(evtchn_from_port(d, i)))
            evtchn_close_port(d, i);

    long rc = 0;
    sim_mutex_lock(&d->event_lock);
    d->next_evtchn = 0;
    if (d->ports_in_use)
        rc = -EAGAIN;
    else
        evtchn_fifo_destroy(d);
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

static long evtchn_reset(struct domain *caller, domid_t dom, bool resuming)
{
    long rc;
    struct domain *d = domain_rcu_get(caller->sim, caller, dom);
    if (!d)
        return -ESRCH;
    if (!xsm_target(caller, d))
        rc = -EPERM;
    else if (d != caller && !atomic_load(&d->paused))
        rc = -EINVAL;
    else
        rc = evtchn_reset_domain(d, resuming);
    rcu_read_unlock();
    return rc;
}

void evtchn_domain_destroy(struct domain *d)
{
    evtchn_close_all(d);
}

void evtchn_send_virq(struct vcpu *v, uint32_t virq)
{
    struct domain *d = v->d;
    evtchn_port_t port = __atomic_load_n(&v->virq_to_evtchn[virq], __ATOMIC_ACQUIRE);
    if (!port)
        return;
    struct evtchn *chn = evtchn_from_port(d, port);
    sim_lock(&chn->lock);
    if (atomic_load(&chn->state) == ECS_VIRQ && chn->u.virq == virq)
        evtchn_raise(d, chn, port, v);
    sim_unlock(&chn->lock);
}

/* Global VIRQs go to the hardware domain (dom0) only, as in Xen 4.17. */
void evtchn_send_global_virq(struct xensim *sim, uint32_t virq)
{
    rcu_read_lock();
    struct domain *d = domain_lookup(sim, 0);
    if (d && !atomic_load(&d->is_dying)) {
        evtchn_port_t port = __atomic_load_n(&d->vcpus[0]->virq_to_evtchn[virq], __ATOMIC_ACQUIRE);
        if (port) {
            struct evtchn *chn = evtchn_from_port(d, port);
            sim_lock(&chn->lock);
            if (atomic_load(&chn->state) == ECS_VIRQ && chn->u.virq == virq)
                evtchn_raise(d, chn, port, d->vcpus[chn->notify_vcpu]);
            sim_unlock(&chn->lock);
        }
    }
    rcu_read_unlock();
}

bool evtchn_port_pending(struct domain *d, evtchn_port_t port)
{
    return d->evtchn_ops->is_pending(d, evtchn_from_port(d, port));
}

/* The hypercall: each op copies its struct in, runs on the copy, and (for
 * the ops that answer in it) copies it back on success, as Xen's
 * do_event_channel_op does. */
static long op_alloc_unbound(struct domain *d, void *arg)
{
    struct evtchn_alloc_unbound *op = arg;
    return evtchn_alloc_unbound_for(d, op->dom, op->remote_dom, &op->port, NULL);
}

static long op_bind_interdomain(struct domain *d, void *arg)
{
    struct evtchn_bind_interdomain *op = arg;
    return evtchn_bind_interdomain_for(d, op->remote_dom, op->remote_port, &op->local_port,
                                       NULL);
}

static long op_bind_virq(struct domain *d, void *arg)
{
    struct evtchn_bind_virq *op = arg;
    return evtchn_bind_virq_for(d, op->virq, op->vcpu, &op->port, NULL);
}

static long op_bind_ipi(struct domain *d, void *arg)
{
    struct evtchn_bind_ipi *op = arg;
    return evtchn_bind_ipi(d, op->vcpu, &op->port);
}

static long op_close(struct domain *d, void *arg)
{
    return evtchn_close_port(d, ((struct evtchn_close *)arg)->port);
}

static long op_send(struct domain *d, void *arg)
{
    return evtchn_send_port(d, ((struct evtchn_send *)arg)->port);
}

static long op_status(struct domain *d, void *arg)
{
    return evtchn_status(d, arg);
}

static long op_bind_vcpu(struct domain *d, void *arg)
{
    struct evtchn_bind_vcpu *op = arg;
    return evtchn_bind_vcpu(d, op->port, op->vcpu);
}

static long op_unmask(struct domain *d, void *arg)
{
    return evtchn_unmask_port(d, ((struct evtchn_unmask *)arg)->port);
}

static long op_reset(struct domain *d, void *arg)
{
    return evtchn_reset(d, ((struct evtchn_reset *)arg)->dom, false);
}

static long op_reset_cont(struct domain *d, void *arg)
{
    return evtchn_reset(d, ((struct evtchn_reset *)arg)->dom, true);
}

/*
 * The machine xensim's Xen runs on, as far as PIRQs go: one IO-APIC
 * with 24 GSIs and two present CPUs. Xen 4.17 x86 sizes a domain's PIRQ
 * space at creation (domain_create): a domU gets nr_irqs_gsi + 32
 * (extra_guest_irqs' default), the hardware domain arch_hwdom_irqs():
 * nr_irqs_gsi + min(fls(present CPUs), its vCPUs) * NR_DYNAMIC_VECTORS,
 * at most nr_irqs (max(16 + CPUs * NR_DYNAMIC_VECTORS, 8 * GSIs)).
 */
enum {
    MACHINE_GSIS = 24,
    MACHINE_CPUS = 2,
    MACHINE_CPUS_FLS = 2,           /* fls(MACHINE_CPUS) */
    NR_DYNAMIC_VECTORS = 0xdf - 0x21 + 1,   /* LAST - FIRST_DYNAMIC_VECTOR + 1 */
    MACHINE_NR_IRQS = 16 + MACHINE_CPUS * NR_DYNAMIC_VECTORS,
    EXTRA_DOMU_IRQS = 32,
};

static unsigned int domain_nr_pirqs(const struct domain *d)
{
    if (d->domid != 0)
        return MACHINE_GSIS + EXTRA_DOMU_IRQS;
    unsigned int n = d->nr_vcpus < MACHINE_CPUS_FLS ? d->nr_vcpus : MACHINE_CPUS_FLS;
    n = MACHINE_GSIS + n * NR_DYNAMIC_VECTORS;
    return n < MACHINE_NR_IRQS ? n : MACHINE_NR_IRQS;
}

/*
 * Xen 4.17's evtchn_bind_pirq checks, in order, `pirq >= d->nr_pirqs`
 * (-EINVAL; the pirq is unsigned) and, for a PV domain,
 * pirq_access_permitted(), which needs the PIRQ mapped to an IRQ
 * (PHYSDEVOP_map_pirq) that the domain may use. xensim has no physical
 * devices and no physdev_op, so no PIRQ is ever mapped: every PIRQ in
 * range is -EPERM, for dom0 as for a domU, and no port is allocated.
 */
static long op_bind_pirq(struct domain *d, void *arg)
{
    const struct evtchn_bind_pirq *op = arg;
    if (op->pirq >= domain_nr_pirqs(d))
        return -EINVAL;
    return -EPERM;
}

/* The FIFO switch and its array: evtchn_fifo.c, under event_lock. */
static long op_init_control(struct domain *d, void *arg)
{
    sim_mutex_lock(&d->event_lock);
    long rc = evtchn_fifo_init_control(d, arg);
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

static long op_expand_array(struct domain *d, void *arg)
{
    sim_mutex_lock(&d->event_lock);
    long rc = evtchn_fifo_expand_array(d, arg);
    sim_mutex_unlock(&d->event_lock);
    return rc;
}

/* Xen's evtchn_set_priority and evtchn_port_set_priority: the port is
 * looked up first (-EINVAL), then an ABI without priorities says -ENOSYS,
 * then an unusable port -EACCES, then the ABI checks the value. */
static long op_set_priority(struct domain *d, void *arg)
{
    struct evtchn_set_priority *op = arg;
    if (!evtchn_port_valid(d, op->port))
        return -EINVAL;
    struct evtchn *chn = evtchn_from_port(d, op->port);
    long rc;
    sim_lock(&chn->lock);
    const struct evtchn_port_ops *ops = d->evtchn_ops;
    if (!ops->set_priority)
        rc = -ENOSYS;
    else if (!evtchn_usable(chn))
        rc = -EACCES;
    else
        rc = ops->set_priority(d, chn, op->priority);
    sim_unlock(&chn->lock);
    return rc;
}

struct evtchn_op_desc {
    size_t size;              /* of the op's struct */
    bool answers;             /* copied back when the op succeeds */
    long (*run)(struct domain *d, void *op);
};

#define EVTCHN_OP(cmd, type, answers_, fn) [cmd] = { sizeof(type), answers_, fn }
static const struct evtchn_op_desc evtchn_op_table[] = {
    EVTCHN_OP(EVTCHNOP_alloc_unbound, struct evtchn_alloc_unbound, true, op_alloc_unbound),
    EVTCHN_OP(EVTCHNOP_bind_interdomain, struct evtchn_bind_interdomain, true,
              op_bind_interdomain),
    EVTCHN_OP(EVTCHNOP_bind_virq, struct evtchn_bind_virq, true, op_bind_virq),
    EVTCHN_OP(EVTCHNOP_bind_ipi, struct evtchn_bind_ipi, true, op_bind_ipi),
    EVTCHN_OP(EVTCHNOP_close, struct evtchn_close, false, op_close),
    EVTCHN_OP(EVTCHNOP_send, struct evtchn_send, false, op_send),
    EVTCHN_OP(EVTCHNOP_status, struct evtchn_status, true, op_status),
    EVTCHN_OP(EVTCHNOP_bind_vcpu, struct evtchn_bind_vcpu, false, op_bind_vcpu),
    EVTCHN_OP(EVTCHNOP_unmask, struct evtchn_unmask, false, op_unmask),
    EVTCHN_OP(EVTCHNOP_reset, struct evtchn_reset, false, op_reset),
    EVTCHN_OP(EVTCHNOP_bind_pirq, struct evtchn_bind_pirq, false, op_bind_pirq),
    /* link_bits is written back only on success. */
    EVTCHN_OP(EVTCHNOP_init_control, struct evtchn_init_control, true, op_init_control),
    EVTCHN_OP(EVTCHNOP_expand_array, struct evtchn_expand_array, false, op_expand_array),
    EVTCHN_OP(EVTCHNOP_set_priority, struct evtchn_set_priority, false, op_set_priority),
    EVTCHN_OP(XENSIM_EVTCHNOP_reset_cont, struct evtchn_reset, false, op_reset_cont),
};

/* Room for the largest op struct, aligned for any of them. */
union evtchn_op_buf {
    struct evtchn_alloc_unbound alloc_unbound;
    struct evtchn_bind_interdomain bind_interdomain;
    struct evtchn_bind_virq bind_virq;
    struct evtchn_bind_ipi bind_ipi;
    struct evtchn_status status;
    struct evtchn_bind_vcpu bind_vcpu;
    struct evtchn_reset reset;
    struct evtchn_bind_pirq bind_pirq;
    struct evtchn_init_control init_control;
    struct evtchn_expand_array expand_array;
    struct evtchn_set_priority set_priority;
};

static long do_event_channel_op(struct domain *d, int cmd, void *arg)
{
    union evtchn_op_buf buf;

    if (cmd < 0 || (size_t)cmd >= ARRAY_SIZE(evtchn_op_table) ||
        !evtchn_op_table[cmd].run)
        return -ENOSYS;
    const struct evtchn_op_desc *op = &evtchn_op_table[cmd];
    assert(op->size <= sizeof(buf));
    if (copy_from_guest(&buf, arg, op->size))
        return -EFAULT;
    long rc = op->run(d, &buf);
    if (!rc && op->answers && copy_to_guest(arg, &buf, op->size))
        rc = -EFAULT;
    return rc;
}

long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_event_channel_op, cmd);
    if (!v)
        return -EPERM;
    return vcpu_hypercall_exit(v, __HYPERVISOR_event_channel_op, cmd,
                               do_event_channel_op(v->d, cmd, arg));
}
