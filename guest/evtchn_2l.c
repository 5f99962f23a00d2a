/*
 * The guest kernel's side of 2-level events, as Linux's events_2l.c does
 * it: atomic bit operations on the real pending and mask bitmaps in
 * shared_info and on this vCPU's selector in its vcpu_info. Two layouts,
 * 32-bit words (struct shared_info_x86_32) and 64-bit (the native
 * struct shared_info), told apart by xensim_guest_evtchn_word_bits().
 * Relies on guest.h only.
 */
#include "evtchn.h"

/* Word i of the pending (mask = false) or mask bitmap, and its width. */
static void *bitmap_word(bool mask, unsigned int i, unsigned int bits)
{
    void *si = xensim_guest_shared_info();

    if (bits == 32) {
        struct shared_info_x86_32 *s = si;
        return mask ? &s->evtchn_mask[i] : &s->evtchn_pending[i];
    }
    struct shared_info *s = si;
    return mask ? (void *)&s->evtchn_mask[i] : (void *)&s->evtchn_pending[i];
}

static unsigned int l2_nr_ports(const struct guest_evtchn *ge)
{
    unsigned int bits = xensim_guest_evtchn_word_bits();

    (void)ge;
    return bits * bits;
}

static bool in_range(evtchn_port_t port, unsigned int bits)
{
    return bits && port < bits * bits;
}

/* Sets (on) or clears one bit; returns its old value. */
static bool bit_change(bool mask, evtchn_port_t port, bool on)
{
    unsigned int bits = xensim_guest_evtchn_word_bits();

    if (!in_range(port, bits))
        return false;
    void *w = bitmap_word(mask, port / bits, bits);
    if (bits == 32) {
        uint32_t m = 1u << (port % 32);
        return (on ? __atomic_fetch_or((uint32_t *)w, m, __ATOMIC_SEQ_CST)
                   : __atomic_fetch_and((uint32_t *)w, ~m, __ATOMIC_SEQ_CST)) & m;
    }
    uint64_t m = 1ull << (port % 64);
    return (on ? __atomic_fetch_or((uint64_t *)w, m, __ATOMIC_SEQ_CST)
               : __atomic_fetch_and((uint64_t *)w, ~m, __ATOMIC_SEQ_CST)) & m;
}

static bool bit_test(bool mask, evtchn_port_t port)
{
    unsigned int bits = xensim_guest_evtchn_word_bits();

    if (!in_range(port, bits))
        return false;
    void *w = bitmap_word(mask, port / bits, bits);
    if (bits == 32)
        return (__atomic_load_n((uint32_t *)w, __ATOMIC_SEQ_CST) >> (port % 32)) & 1;
    return (__atomic_load_n((uint64_t *)w, __ATOMIC_SEQ_CST) >> (port % 64)) & 1;
}

static int l2_setup(struct guest_evtchn *ge, evtchn_port_t port)
{
    (void)ge;
    (void)port;
    return 0;   /* every bit of the bitmaps exists from the start */
}

static void l2_mask(struct guest_evtchn *ge, evtchn_port_t port)
{
    (void)ge;
    bit_change(true, port, true);
}

static void l2_clear_pending(struct guest_evtchn *ge, evtchn_port_t port)
{
    (void)ge;
    bit_change(false, port, false);
}

static bool l2_is_pending(struct guest_evtchn *ge, evtchn_port_t port)
{
    (void)ge;
    return bit_test(false, port);
}

static bool l2_is_masked(struct guest_evtchn *ge, evtchn_port_t port)
{
    (void)ge;
    return bit_test(true, port);
}

/* This vCPU's selector, taken whole (xchg with 0), as Linux does. */
static uint64_t take_selector(void *vi, unsigned int bits)
{
    if (bits == 32)
        return __atomic_exchange_n(&((struct vcpu_info_x86_32 *)vi)->evtchn_pending_sel, 0,
                                   __ATOMIC_SEQ_CST);
    return __atomic_exchange_n(&((struct vcpu_info *)vi)->evtchn_pending_sel, 0,
                               __ATOMIC_SEQ_CST);
}

static uint64_t pending_unmasked(unsigned int i, unsigned int bits)
{
    if (bits == 32)
        return __atomic_load_n((uint32_t *)bitmap_word(false, i, 32), __ATOMIC_SEQ_CST) &
               ~__atomic_load_n((uint32_t *)bitmap_word(true, i, 32), __ATOMIC_SEQ_CST);
    return __atomic_load_n((uint64_t *)bitmap_word(false, i, 64), __ATOMIC_SEQ_CST) &
           ~__atomic_load_n((uint64_t *)bitmap_word(true, i, 64), __ATOMIC_SEQ_CST);
}

/* Clear upcall_pending before looking (so an event after the look raises
 * it again), take the selector, and walk the words it names. */
static unsigned int l2_scan(struct guest_evtchn *ge, guest_evtchn_handler_t handler, void *arg)
{
    void *vi = xensim_guest_vcpu_info();
    uint8_t *upcall = guest_upcall_pending();
    unsigned int bits = xensim_guest_evtchn_word_bits();
    unsigned int handled = 0;

    (void)ge;
    if (!vi || !bits)
        return 0;
    do {
        __atomic_store_n(upcall, 0, __ATOMIC_SEQ_CST);
        uint64_t sel = take_selector(vi, bits);
        while (sel) {
            unsigned int i = (unsigned int)__builtin_ctzll(sel);
            sel &= sel - 1;
            uint64_t word = pending_unmasked(i, bits);
            while (word) {
                unsigned int b = (unsigned int)__builtin_ctzll(word);
                word &= word - 1;
                handler(i * bits + b, arg);
                handled++;
            }
        }
    } while (__atomic_load_n(upcall, __ATOMIC_SEQ_CST));
    return handled;
}

const struct guest_evtchn_ops guest_evtchn_2l_ops = {
    .name = "2-level",
    .nr_ports = l2_nr_ports,
    .setup = l2_setup,
    .mask = l2_mask,
    .clear_pending = l2_clear_pending,
    .is_pending = l2_is_pending,
    .is_masked = l2_is_masked,
    .scan = l2_scan,
};
