/*
 * The 2-level event channel ABI: pending and mask bitmaps in shared_info,
 * a selector word and upcall flag per vcpu_info. Two layouts, 32-bit words
 * (1024 ports, struct shared_info_x86_32) and 64-bit words (4096 ports,
 * native struct shared_info), behind struct evtchn_port_ops.
 * Calls vcpu_mark_events_pending() (vcpu.c) to kick a vCPU.
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

static void l2_set_pending(struct vcpu *v, evtchn_port_t port, const struct l2_layout *l)
{
    struct domain *d = v->d;

    /* An event already pending is not re-raised: edges coalesce. */
    if (bit_test_and_set(l2_pending(d, l), l->bits, port))
        return;
    /* A masked port keeps only its pending bit; unmask re-raises it. */
    if (!bit_test(l2_mask(d, l), l->bits, port) &&
        !bit_test_and_set(v->pending_sel, l->bits, port / l->bits))
        vcpu_mark_events_pending(v, port);
}

static void l2_unmask(struct domain *d, struct vcpu *v, evtchn_port_t port,
                      const struct l2_layout *l)
{
    if (bit_test_and_clear(l2_mask(d, l), l->bits, port) &&
        bit_test(l2_pending(d, l), l->bits, port) &&
        !bit_test_and_set(v->pending_sel, l->bits, port / l->bits))
        vcpu_mark_events_pending(v, port);
}

static uint64_t l2_take_selector(struct vcpu *v, unsigned int bits)
{
    if (bits == 32)
        return __atomic_exchange_n((uint32_t *)v->pending_sel, 0, __ATOMIC_SEQ_CST);
    return __atomic_exchange_n((uint64_t *)v->pending_sel, 0, __ATOMIC_SEQ_CST);
}

static uint64_t l2_pending_unmasked(const struct domain *d, unsigned int i,
                                    const struct l2_layout *l)
{
    if (l->bits == 32)
        return __atomic_load_n((const uint32_t *)l2_pending(d, l) + i, __ATOMIC_SEQ_CST) &
               ~__atomic_load_n((const uint32_t *)l2_mask(d, l) + i, __ATOMIC_SEQ_CST);
    return __atomic_load_n((const uint64_t *)l2_pending(d, l) + i, __ATOMIC_SEQ_CST) &
           ~__atomic_load_n((const uint64_t *)l2_mask(d, l) + i, __ATOMIC_SEQ_CST);
}

#define L2_OPS(W)                                                             \
    static void set_pending_##W(struct vcpu *v, evtchn_port_t p)              \
    { l2_set_pending(v, p, &l2_##W); }                                        \
    static void clear_pending_##W(struct domain *d, evtchn_port_t p)          \
    { bit_test_and_clear(l2_pending(d, &l2_##W), W, p); }                     \
    static void unmask_##W(struct domain *d, struct vcpu *v, evtchn_port_t p) \
    { l2_unmask(d, v, p, &l2_##W); }                                          \
    static bool is_pending_##W(const struct domain *d, evtchn_port_t p)       \
    { return bit_test(l2_pending(d, &l2_##W), W, p); }                        \
    static bool is_masked_##W(const struct domain *d, evtchn_port_t p)        \
    { return bit_test(l2_mask(d, &l2_##W), W, p); }                           \
    static void set_mask_##W(struct domain *d, evtchn_port_t p)               \
    { bit_test_and_set(l2_mask(d, &l2_##W), W, p); }                          \
    static bool test_and_set_pending_##W(struct domain *d, evtchn_port_t p)   \
    { return bit_test_and_set(l2_pending(d, &l2_##W), W, p); }                \
    static bool test_and_clear_mask_##W(struct domain *d, evtchn_port_t p)    \
    { return bit_test_and_clear(l2_mask(d, &l2_##W), W, p); }                 \
    static uint64_t take_selector_##W(struct vcpu *v)                         \
    { return l2_take_selector(v, W); }                                        \
    static uint64_t pending_word_##W(const struct domain *d, unsigned int i)  \
    { return l2_pending_unmasked(d, i, &l2_##W); }                            \
    const struct evtchn_port_ops evtchn_2l_##W##_ops = {                      \
        .word_bits = W, .nr_ports = W * W,                                    \
        .set_pending = set_pending_##W, .clear_pending = clear_pending_##W,   \
        .unmask = unmask_##W, .is_pending = is_pending_##W,                   \
        .is_masked = is_masked_##W, .set_mask = set_mask_##W,                 \
        .test_and_set_pending = test_and_set_pending_##W,                     \
        .test_and_clear_mask = test_and_clear_mask_##W,                       \
        .take_selector = take_selector_##W,                                   \
        .pending_unmasked_word = pending_word_##W,                            \
    };

L2_OPS(32)
L2_OPS(64)
