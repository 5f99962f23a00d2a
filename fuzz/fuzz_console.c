/*
 * fuzz_console: the guest's PV console driver (frontends/consfront.c)
 * against a hostile back end. The back end is harness code with dom0's
 * end of the console port: it reads the guest's output, writes its input
 * and moves the indices of struct xencons_interface as the input says,
 * honestly or not (out_cons past out_prod or backwards, in_prod far
 * ahead, the guest's own indices rewritten). The guest writes with
 * xensim_console_try_write() (the blocking write would wait for a back
 * end that never reads, as Linux's does) and reads from its console
 * handler and by hand.
 *
 * Findings: a crash or hang; a write that takes more than it was given
 * or more than there is room for; a read longer than its buffer; while
 * the back end was honest, any byte lost, added or changed in either
 * direction, or an error.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <xensim/console.h>
#include <xensim/errno.h>
#include <xensim/guest.h>
#include <xen/io/console.h>
#include "fz.h"

#define MAX_STEPS 64

static struct {
    struct xensim *sim;
    domid_t guest;
    struct fz_acct baseline;
    struct xencons_interface *intf;  /* the guest's page, as the back end maps it */
    evtchn_port_t guest_port, back_port;
    struct fz_in *in;
    bool hostile;
    /* Honest streams: what the guest wrote and the back end has not read
     * yet, what the back end wrote and the guest has not read yet. */
    uint8_t out_q[4096], in_q[4096];
    size_t out_n, in_n;
    uint8_t tmp[2048];
    ssize_t rc;
} h;

static void find_fn(void *arg)
{
    (void)arg;
    const start_info_t *si = xensim_guest_start_info();
    h.intf = xensim_guest_pfn_to_virt(si->console.domU.mfn);
    h.guest_port = si->console.domU.evtchn;
}

static void bind_fn(void *arg)
{
    (void)arg;
    long p = xensim_evtchn_bind_interdomain(h.guest, h.guest_port);
    FZ_CHECK(p > 0, "binding the console port: %ld", p);
    h.back_port = (evtchn_port_t)p;
}

static void unbind_fn(void *arg)
{
    (void)arg;
    xensim_evtchn_close(h.back_port);
}

static void notify_fn(void *arg)
{
    (void)arg;
    xensim_evtchn_send(h.back_port);
}

/* Guest: what a read returned, checked against the honest stream. */
static void took_input(const uint8_t *buf, ssize_t n, size_t len)
{
    FZ_CHECK(n >= 0 && (size_t)n <= len, "console read of %zu returned %zd", len, n);
    if (h.hostile)
        return;
    FZ_CHECK((size_t)n <= h.in_n && !memcmp(buf, h.in_q, (size_t)n),
             "console read %zd bytes, not the %zu the back end wrote", n, h.in_n);
    memmove(h.in_q, h.in_q + n, h.in_n - (size_t)n);
    h.in_n -= (size_t)n;
}

static void handler(void *arg)
{
    (void)arg;
    uint8_t buf[64];
    ssize_t n;
    do {
        n = xensim_console_read(buf, sizeof(buf));
        took_input(buf, n, sizeof(buf));
    } while (n == (ssize_t)sizeof(buf));
}

static void setup_fn(void *arg)
{
    (void)arg;
    FZ_CHECK(xensim_console_bind(handler, NULL) == 0, "console bind");
}

static void unbind_handler_fn(void *arg)
{
    (void)arg;
    xensim_console_bind(NULL, NULL);
}

static void harness_fini(void)
{
    fz_call(h.sim, h.guest, 0, unbind_handler_fn, NULL);
    fz_call(h.sim, 0, 0, unbind_fn, NULL);
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    h.sim = fz_sim_new(XENSIM_GNTTAB_FAST);
    struct xensim_domain_config c = { .name = "guest" };
    h.guest = fz_domain(h.sim, &c);
    fz_call(h.sim, h.guest, 0, find_fn, NULL);
    fz_call(h.sim, 0, 0, bind_fn, NULL);
    fz_call(h.sim, h.guest, 0, setup_fn, NULL);
    /* What the kernel printed while it booted is not the input's. */
    memset(h.intf, 0, sizeof(*h.intf));
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

static void write_fn(void *arg)
{
    struct fz_in *in = arg;
    size_t len = fz_u16(in) % (sizeof(h.tmp) + 1);
    fz_bytes(in, h.tmp, len);
    XENCONS_RING_IDX before = h.intf->out_prod - h.intf->out_cons;
    ssize_t n = xensim_console_try_write(h.tmp, len);
    FZ_TRACE("write %zu: %zd", len, n);
    FZ_CHECK(n == -EIO || (n >= 0 && (size_t)n <= len), "console write of %zu returned %zd",
             len, n);
    if (h.hostile)
        return;
    FZ_CHECK(n >= 0, "console write: %zd with an honest back end", n);
    size_t room = sizeof(h.intf->out) - before;
    FZ_CHECK((size_t)n == (len < room ? len : room), "console write took %zd of %zu, room %zu",
             n, len, room);
    memcpy(h.out_q + h.out_n, h.tmp, (size_t)n);
    h.out_n += (size_t)n;
}

static void read_fn(void *arg)
{
    struct fz_in *in = arg;
    size_t len = fz_u8(in) % 200;
    ssize_t n = xensim_console_read(h.tmp, len);
    FZ_TRACE("read %zu: %zd", len, n);
    took_input(h.tmp, n, len);
}

/* The back end reads output: up to k bytes, then moves out_cons. */
static void back_read(struct fz_in *in)
{
    struct xencons_interface *x = h.intf;
    uint8_t b = fz_u8(in);
    XENCONS_RING_IDX cons = x->out_cons, prod = __atomic_load_n(&x->out_prod, __ATOMIC_ACQUIRE);
    if (b >= 0xf0) {
        h.hostile = true;
        cons = b == 0xf0 ? prod + 1 + fz_u8(in) : b == 0xf1 ? cons - 1 - fz_u8(in) : fz_u32(in);
    } else if (!h.hostile) {
        size_t k = (size_t)(prod - cons);
        if (k > b)
            k = b;
        for (size_t i = 0; i < k; i++)
            FZ_CHECK(x->out[MASK_XENCONS_IDX(cons + i, x->out)] == (char)h.out_q[i],
                     "output byte %zu (at %u) is %#x, not the %#x the guest wrote", i,
                     cons + (XENCONS_RING_IDX)i,
                     (uint8_t)x->out[MASK_XENCONS_IDX(cons + i, x->out)], h.out_q[i]);
        memmove(h.out_q, h.out_q + k, h.out_n - k);
        h.out_n -= k;
        cons += (XENCONS_RING_IDX)k;
    } else {
        cons += b % 64;
    }
    __atomic_store_n(&x->out_cons, cons, __ATOMIC_RELEASE);
}

/* The back end writes input: k bytes, then in_prod. */
static void back_write(struct fz_in *in)
{
    struct xencons_interface *x = h.intf;
    uint8_t b = fz_u8(in);
    XENCONS_RING_IDX prod = x->in_prod, cons = __atomic_load_n(&x->in_cons, __ATOMIC_ACQUIRE);
    if (b >= 0xf0) {
        h.hostile = true;
        prod = b == 0xf0 ? cons + sizeof(x->in) + 1 + fz_u8(in) : b == 0xf1 ? prod - 1 : fz_u32(in);
    } else {
        size_t room = sizeof(x->in) - (XENCONS_RING_IDX)(prod - cons);
        size_t k = b % 80;
        if (!h.hostile && k > room)
            k = room;
        for (size_t i = 0; i < k; i++) {
            uint8_t v = fz_u8(in);
            x->in[MASK_XENCONS_IDX(prod + i, x->in)] = v;
            if (!h.hostile)
                h.in_q[h.in_n++] = v;
        }
        prod += (XENCONS_RING_IDX)k;
    }
    __atomic_store_n(&x->in_prod, prod, __ATOMIC_RELEASE);
}

static void scribble(struct fz_in *in)
{
    struct xencons_interface *x = h.intf;
    h.hostile = true;
    switch (fz_u8(in) % 3) {
    case 0: __atomic_store_n(&x->out_prod, fz_u32(in), __ATOMIC_RELEASE); break;
    case 1: __atomic_store_n(&x->in_cons, fz_u32(in), __ATOMIC_RELEASE); break;
    default: ((uint8_t *)x)[fz_u16(in) % sizeof(*x)] = fz_u8(in); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    h.hostile = false;
    h.out_n = h.in_n = 0;
    for (unsigned int step = 0; step < MAX_STEPS && !fz_empty(&in); step++) {
        switch (fz_u8(&in) % 8) {
        case 0: case 1:
            fz_call(h.sim, h.guest, 0, write_fn, &in);
            break;
        case 2:
            fz_call(h.sim, h.guest, 0, read_fn, &in);
            break;
        case 3: case 4:
            back_read(&in);
            fz_call(h.sim, 0, 0, notify_fn, NULL);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        case 5:
            back_write(&in);
            fz_call(h.sim, 0, 0, notify_fn, NULL);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        case 6:
            scribble(&in);
            break;
        default:
            fz_call(h.sim, 0, 0, notify_fn, NULL);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        }
    }
    /* The guest drains what an honest back end sent, as its handler does
     * on the next event, and the ring goes back to as built. */
    fz_call(h.sim, 0, 0, notify_fn, NULL);
    fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
    FZ_CHECK(h.hostile || h.in_n == 0, "%zu bytes of input never reached the guest", h.in_n);
    memset(h.intf, 0, sizeof(*h.intf));
    fz_acct_expect(h.sim, &h.baseline, "after the input");
    return 0;
}
