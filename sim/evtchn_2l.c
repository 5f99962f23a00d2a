/*
 * The 2-level event channel ABI: pending and mask bitmaps in shared_info,
 * a selector word and upcall flag per vcpu_info. Two layouts, 32-bit words
 * (1024 ports, struct shared_info_x86_32) and 64-bit words (4096 ports,
 * native struct shared_info), behind struct evtchn_port_ops.
 * Calls vcpu_mark_events_pending() and vcpu_wake_pollers() (vcpu.c).
 */
#include <stddef.h>
#include "sim.h"

struct l2_layout {
    unsigned int bits;
    size_t pending_off, mask_off;
};

static const struct l2_layout l2_32 = {
    32, offsetof(struct shared_info_x86_32, evtchn_pending),
    offsetof(struct shared_info_x86_32, evtchn_mask),
};
static const struct l2_layout l2_64 = {
    64, offsetof(struct shared_info, evtchn_pending),
    offsetof(struct shared_info, evtchn_mask),
};

/* Word-sized atomics on a bitmap, as Xen's test_and_set_bit on xen_ulong_t. */
static bool bit_test_and_set(void *words, unsigned int bits, unsigned int nr)
{
    if (bits == 32) {
        uint32_t m = 1u << (nr & 31);
        return __atomic_fetch_or((uint32_t *)words + nr / 32, m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (nr & 63);
    return __atomic_fetch_or((uint64_t *)words + nr / 64, m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test_and_clear(void *words, unsigned int bits, unsigned int nr)
{
    if (bits == 32) {
        uint32_t m = 1u << (nr & 31);
        return __atomic_fetch_and((uint32_t *)words + nr / 32, ~m, __ATOMIC_SEQ_CST) & m;
    }
    uint64_t m = 1ull << (nr & 63);
    return __atomic_fetch_and((uint64_t *)words + nr / 64, ~m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test(const void *words, unsigned int bits, unsigned int nr)
{
    if (bits == 32)
        return (__atomic_load_n((const uint32_t *)words + nr / 32, __ATOMIC_SEQ_CST) >> (nr & 31)) & 1;
    return (__atomic_load_n((const uint64_t *)words + nr / 64, __ATOMIC_SEQ_CST) >> (nr & 63)) & 1;
}

static void *l2_pending(const struct domain *d, const struct l2_layout *l)
{
    return (uint8_t *)d->shared_info + l->pending_off;
}

static void *l2_mask(const struct domain *d, const struct l2_layout *l)
{
    return (uint8_t *)d->shared_info + l->mask_off;
}

/* Ports past the bitmaps exist only as free ports left by a FIFO domain
 * that went back to 2-level: never pending, always masked, as Xen's
 * evtchn_2l_is_pending/is_masked answer. */
static bool in_bitmap(evtchn_port_t port, const struct l2_layout *l)
{
    return port < l->bits * l->bits;
}

/* Xen's order: test-and-set pending, mask, selector, upcall, kick, then
 * pollers, and all of it only if the port was not pending already. */
static void l2_set_pending(struct vcpu *v, struct evtchn *chn, const struct l2_layout *l)
{
    struct domain *d = v->d;
    evtchn_port_t port = chn->port;

    if (!in_bitmap(port, l) || bit_test_and_set(l2_pending(d, l), l->bits, port))
        return;
    /* A masked port keeps only its pending bit; unmask re-raises it. */
    if (!bit_test(l2_mask(d, l), l->bits, port) &&
        !bit_test_and_set(v->pending_sel, l->bits, port / l->bits))
        vcpu_mark_events_pending(v, port);
    vcpu_wake_pollers(d, port);
}

static void l2_unmask(struct domain *d, struct evtchn *chn, const struct l2_layout *l)
{
    struct vcpu *v = d->vcpus[chn->notify_vcpu];
    evtchn_port_t port = chn->port;

    if (in_bitmap(port, l) && bit_test_and_clear(l2_mask(d, l), l->bits, port) &&
        bit_test(l2_pending(d, l), l->bits, port) &&
        !bit_test_and_set(v->pending_sel, l->bits, port / l->bits))
        vcpu_mark_events_pending(v, port);
}

/* Changes one bit of a port that may be past the bitmaps; returns the old
 * value (past them: set = pending/masked already, as Xen answers). */
static bool l2_change(const struct domain *d, const struct l2_layout *l, bool mask,
                      evtchn_port_t port, bool on)
{
    if (!in_bitmap(port, l))
        return true;
    void *words = mask ? l2_mask(d, l) : l2_pending(d, l);
    return on ? bit_test_and_set(words, l->bits, port) : bit_test_and_clear(words, l->bits, port);
}

static bool l2_test(const struct domain *d, const struct l2_layout *l, bool mask,
                    evtchn_port_t port)
{
    if (!in_bitmap(port, l))
        return mask;
    return bit_test(mask ? l2_mask(d, l) : l2_pending(d, l), l->bits, port);
}

/* The ops of one layout W, and the host consumer's bits: the same
 * shared_info bits, without the selector or upcall. */
#define L2_OPS(W)                                                             \
    static void set_pending_##W(struct vcpu *v, struct evtchn *c)             \
    { l2_set_pending(v, c, &l2_##W); }                                        \
    static void clear_pending_##W(struct domain *d, struct evtchn *c)         \
    { l2_change(d, &l2_##W, false, c->port, false); }                         \
    static void unmask_##W(struct domain *d, struct evtchn *c)                \
    { l2_unmask(d, c, &l2_##W); }                                             \
    static bool is_pending_##W(const struct domain *d, const struct evtchn *c) \
    { return l2_test(d, &l2_##W, false, c->port); }                           \
    static bool is_masked_##W(const struct domain *d, const struct evtchn *c) \
    { return l2_test(d, &l2_##W, true, c->port); }                            \
    static bool host_tas_pending_##W(struct domain *d, struct evtchn *c)      \
    { return l2_change(d, &l2_##W, false, c->port, true); }                   \
    static bool host_is_pending_##W(struct domain *d, struct evtchn *c)       \
    { return is_pending_##W(d, c); }                                          \
    static void host_mask_##W(struct domain *d, struct evtchn *c)             \
    { l2_change(d, &l2_##W, true, c->port, true); }                           \
    static bool host_tac_mask_##W(struct domain *d, struct evtchn *c)         \
    { return l2_change(d, &l2_##W, true, c->port, false) && in_bitmap(c->port, &l2_##W); } \
    static bool host_is_masked_##W(struct domain *d, struct evtchn *c)        \
    { return is_masked_##W(d, c); }                                           \
    static const struct evtchn_host_bits host_##W = {                         \
        .test_and_set_pending = host_tas_pending_##W,                         \
        .clear_pending = clear_pending_##W,                                   \
        .is_pending = host_is_pending_##W,                                    \
        .mask = host_mask_##W,                                                \
        .test_and_clear_mask = host_tac_mask_##W,                             \
        .is_masked = host_is_masked_##W,                                      \
    };                                                                        \
    const struct evtchn_port_ops evtchn_2l_##W##_ops = {                      \
        .name = "2-level, " #W "-bit words", .nr_ports = W * W,               \
        .set_pending = set_pending_##W, .clear_pending = clear_pending_##W,   \
        .unmask = unmask_##W, .is_pending = is_pending_##W,                   \
        .is_masked = is_masked_##W, .host = &host_##W,                        \
    };

L2_OPS(32)
L2_OPS(64)
