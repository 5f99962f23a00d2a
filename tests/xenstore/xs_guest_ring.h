/*
 * Guest code's side of the store ring, the bare protocol with no xenbus
 * library: write a request, kick the store event channel, sleep in
 * SCHEDOP_poll until the response ring moves. For the simulator integration test and the ring bench.
 */
#ifndef XS_GUEST_RING_H
#define XS_GUEST_RING_H

#include <string.h>
#include <xensim/guest.h>
#include <xen/io/xs_wire.h>

static inline struct xenstore_domain_interface *xg_ring(void)
{
    return xensim_guest_pfn_to_virt(xensim_guest_start_info()->store_mfn);
}

/* Sleeps in SCHEDOP_poll on the store port until *idx moves from old
 * (events off meanwhile, so the poll is not cut short by an upcall). */
static inline bool xg_wait(const uint32_t *idx, uint32_t old)
{
    evtchn_port_t port = xensim_guest_start_info()->store_evtchn;
    bool was_off = xensim_guest_irq_disabled();
    struct sched_poll sp = { .nr_ports = 1 };
    bool moved = true;

    evtchn_port_t *pp = &port;
    /* A bare pointer or a one-pointer struct, by interface version. */
    memcpy(&sp.ports, &pp, sizeof(pp));
    sp.timeout = xensim_guest_system_time() + 5000000000ull;
    xensim_guest_irq_disable();
    /* The daemon also notifies when it consumes requests, so an event
     * need not mean this index moved: wait again until it does. */
    for (;;) {
        xensim_evtchn_clear_pending(port);
        moved = __atomic_load_n(idx, __ATOMIC_ACQUIRE) != old;
        if (moved || xensim_guest_system_time() >= sp.timeout)
            break;
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
    if (!was_off)
        xensim_guest_irq_enable();
    return moved;
}

static inline void xg_put(struct xenstore_domain_interface *in, const void *p, size_t n)
{
    const char *s = p;

    while (n) {
        uint32_t prod = in->req_prod, cons = __atomic_load_n(&in->req_cons, __ATOMIC_ACQUIRE);
        uint32_t k = XENSTORE_RING_SIZE - (prod - cons);

        if (!k) {
            xg_wait(&in->req_cons, cons);
            continue;
        }
        if (k > n)
            k = n;
        for (uint32_t i = 0; i < k; i++)
            in->req[MASK_XENSTORE_IDX(prod + i)] = s[i];
        __atomic_store_n(&in->req_prod, prod + k, __ATOMIC_RELEASE);
        xensim_evtchn_send(xensim_guest_start_info()->store_evtchn);
        s += k;
        n -= k;
    }
}

/* false if nothing came within spins yields */
static inline bool xg_get(struct xenstore_domain_interface *in, void *p, size_t n)
{
    char *d = p;

    while (n) {
        uint32_t cons = in->rsp_cons, prod = __atomic_load_n(&in->rsp_prod, __ATOMIC_ACQUIRE);
        uint32_t k = prod - cons;

        if (!k) {
            if (!xg_wait(&in->rsp_prod, prod))
                return false;
            continue;
        }
        if (k > n)
            k = n;
        for (uint32_t i = 0; i < k; i++)
            d[i] = in->rsp[MASK_XENSTORE_IDX(cons + i)];
        __atomic_store_n(&in->rsp_cons, cons + k, __ATOMIC_RELEASE);
        xensim_evtchn_send(xensim_guest_start_info()->store_evtchn);
        d += k;
        n -= k;
    }
    return true;
}

/* One request; the reply's type (watch events skipped), or XS_INVALID. */
static inline uint32_t xg_req(uint32_t type, const void *p, size_t len, char *out, uint32_t *olen)
{
    struct xenstore_domain_interface *in = xg_ring();
    struct xsd_sockmsg h = { .type = type, .len = len };
    char req[sizeof(h) + XENSTORE_PAYLOAD_MAX];

    memcpy(req, &h, sizeof(h));
    memcpy(req + sizeof(h), p, len);
    xg_put(in, req, sizeof(h) + len);
    do {
        if (!xg_get(in, &h, sizeof(h)) || h.len > XENSTORE_PAYLOAD_MAX ||
            !xg_get(in, out, h.len))
            return XS_INVALID;
        out[h.len] = '\0';
    } while (h.type == XS_WATCH_EVENT);
    *olen = h.len;
    return h.type;
}

#endif
