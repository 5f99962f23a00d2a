/*
 * copy_from_guest / copy_to_guest and their batch forms (_elems): a
 * hypercall reads and writes guest memory through these, so a bad guest
 * pointer gives -EFAULT as in Xen (whose exception fixups do the same)
 * instead of killing the process.
 * The SIGSEGV handler (fault.c) jumps back here through guest_copy_jmp.
 */
#include <errno.h>
#include "sim.h"

__thread sigjmp_buf *guest_copy_jmp __attribute__((tls_model("initial-exec")));

/* Not instrumented by ASan or TSan: the source may be any address the
 * guest names, and a fault is the expected outcome, not a bug in this
 * function (TSan would touch the shadow of that address first, and die
 * there). No library call either: memcpy is intercepted by both. */
__attribute__((no_sanitize_address, no_sanitize_thread, noinline,
               optimize("no-tree-loop-distribute-patterns")))
static void guest_copy_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    /* Words first (hypercall arguments are small structs), then bytes;
     * memcpy of a word compiles to one unaligned load and store. */
    for (; n >= 8; n -= 8, dst += 8, src += 8) {
        uint64_t w;
        __builtin_memcpy(&w, src, 8);
        __builtin_memcpy(dst, &w, 8);
    }
    for (; n; n--)
        *dst++ = *src++;
}

/* The fault handler runs with SA_NODEFER and jumps out, so the signal
 * mask needs no restoring, and a copy costs no system call. TSan runs
 * every handler with all signals blocked, though: there the jump must
 * restore the mask, or the next bad pointer kills the process. */
#if defined(__SANITIZE_THREAD__)
#define GUEST_COPY_SAVEMASK 1
#else
#define GUEST_COPY_SAVEMASK 0
#endif

/* Below 2^63 on every 64-bit host: user space ends lower still. */
#define GUEST_ADDR_LIMIT ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

static bool guest_range_ok(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    return a >= XEN_PAGE_SIZE && a < GUEST_ADDR_LIMIT && n <= GUEST_ADDR_LIMIT - a;
}

static int guest_copy(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    /* The first page is never mapped; catch NULL without a signal. A
     * range that wraps or reaches the kernel half is never the guest's
     * (Xen's access_ok refuses the hypervisor's range the same way). */
    if (!guest_range_ok(dst, n) || !guest_range_ok(src, n))
        return -EFAULT;
    sigjmp_buf jb;
    if (sigsetjmp(jb, GUEST_COPY_SAVEMASK)) {
        guest_copy_jmp = NULL;
        return -EFAULT;
    }
    guest_copy_jmp = &jb;
    guest_copy_bytes(dst, src, n);
    guest_copy_jmp = NULL;
    return 0;
}

int copy_from_guest(void *dst, const void *guest_src, size_t n)
{
    return guest_copy(dst, guest_src, n);
}

int copy_to_guest(void *guest_dst, const void *src, size_t n)
{
    return guest_copy(guest_dst, src, n);
}

/* One copy for the whole run; after a fault, element by element to find
 * how far the good ones go. Either side may be the guest's, so both are
 * stepped as integers (guest_at). */
static unsigned int guest_copy_run(void *dst, const void *src, size_t size, unsigned int n)
{
    if (guest_copy(dst, src, (size_t)n * size) == 0)
        return n;
    unsigned int k = 0;
    while (k < n && guest_copy(guest_at(dst, (size_t)k * size), guest_at(src, (size_t)k * size),
                               size) == 0)
        k++;
    return k;
}

unsigned int copy_from_guest_elems(void *buf, const void *guest_array, size_t size,
                                   unsigned int i, unsigned int n)
{
    return guest_copy_run(buf, guest_at(guest_array, (size_t)i * size), size, n);
}

unsigned int copy_to_guest_elems(void *guest_array, const void *buf, size_t size,
                                 unsigned int i, unsigned int n)
{
    return guest_copy_run(guest_at(guest_array, (size_t)i * size), buf, size, n);
}

/* x86-64 Xen's array_access_ok: the count must not overflow, and the
 * start must be below the canonical hole or past Xen's own range. Only
 * the range is checked; the copy itself finds out whether it is mapped. */
bool guest_handle_okay(const void *guest_ptr, size_t nr, size_t size)
{
    uintptr_t a = (uintptr_t)guest_ptr;
    if (size && nr >= SIZE_MAX / size)
        return false;
    return a < (1ull << 47) || a >= (uintptr_t)__HYPERVISOR_VIRT_END;
}

/* One copy_fields_to_guest, in memory so that a fault cannot clobber it:
 * done is what survives. The guest's side is an integer address: its
 * array may run to the top of the address space (guest_at). */
struct fields_job {
    uintptr_t dst;
    const uint8_t *src;
    size_t stride, size;
    unsigned int n;
    volatile unsigned int done;
};

__attribute__((no_sanitize_address, no_sanitize_thread, noinline))
static void copy_fields_bytes(struct fields_job *j)
{
    const uint8_t *src = j->src;
    uintptr_t dst = j->dst;
    for (unsigned int k = 0; k < j->n; k++, dst += j->stride, src += j->stride) {
        if (!guest_range_ok((void *)dst, j->size))
            return;
        if (j->size == 2) {
            /* A status field: one store. */
            uint16_t v;
            __builtin_memcpy(&v, src, 2);
            __builtin_memcpy((void *)dst, &v, 2);
        } else {
            guest_copy_bytes((uint8_t *)dst, src, j->size);
        }
        j->done = k + 1;
    }
}

/* Writes field k (size bytes at k * stride from each base) for k < n,
 * under one fault guard; returns how many were written before a fault. */
unsigned int copy_fields_to_guest(void *guest_dst, const void *src, size_t stride, size_t size,
                                  unsigned int n)
{
    struct fields_job j = { .dst = (uintptr_t)guest_dst, .src = src, .stride = stride,
                            .size = size, .n = n };
    sigjmp_buf jb;

    if (sigsetjmp(jb, GUEST_COPY_SAVEMASK)) {
        guest_copy_jmp = NULL;
        return j.done;
    }
    guest_copy_jmp = &jb;
    copy_fields_bytes(&j);
    guest_copy_jmp = NULL;
    return j.done;
}

/* One guest_fields_writable, in memory for the same reason. */
struct probe_job {
    uintptr_t base;
    size_t stride, off, size;
    unsigned int n;
    volatile unsigned int done;
    volatile bool exact;      /* a page of the array failed: element by element */
};

/* Rewrites one byte with its own value: the write faults where the guest
 * may not write, and changes nothing where it may. */
__attribute__((no_sanitize_address, no_sanitize_thread, noinline))
static void probe_byte(uintptr_t a)
{
    volatile uint8_t *p = (volatile uint8_t *)a;
    *p = *p;
}

__attribute__((noinline))
static void probe_fields(struct probe_job *j)
{
    uintptr_t last = 0;     /* the last page probed, + 1 */
    for (unsigned int k = 0; k < j->n; k++) {
        uintptr_t start = j->base + (size_t)k * j->stride + j->off;
        uintptr_t end = start + j->size - 1;
        if (!guest_range_ok((void *)start, j->size))
            return;
        if (start / XEN_PAGE_SIZE + 1 != last)
            probe_byte(start);
        if (end / XEN_PAGE_SIZE != start / XEN_PAGE_SIZE)
            probe_byte(end);
        last = end / XEN_PAGE_SIZE + 1;
        j->done = k + 1;
    }
}

/* Every page the array's fields span, one byte each. An array that is
 * not all the guest's goes element by element instead. */
__attribute__((noinline))
static void probe_pages(struct probe_job *j)
{
    uintptr_t start = j->base + j->off;
    size_t span = (size_t)(j->n - 1) * j->stride + j->size;
    if (!guest_range_ok((void *)start, span)) {
        j->exact = true;
        return;
    }
    uintptr_t end = start + span;
    probe_byte(start);
    for (uintptr_t p = (start / XEN_PAGE_SIZE + 1) * XEN_PAGE_SIZE; p < end; p += XEN_PAGE_SIZE)
        probe_byte(p);
    j->done = j->n;
}

/* Protection is per page, so one byte per page tells: first every page
 * of the array at once (the usual answer: all of it), and only if one
 * fails element by element, to find the first field that cannot be
 * written (a field may lie past a page its element starts in). */
unsigned int guest_fields_writable(void *guest_base, size_t stride, size_t off, size_t size,
                                   unsigned int n)
{
    struct probe_job j = { .base = (uintptr_t)guest_base, .stride = stride, .off = off,
                           .size = size ? size : 1, .n = n };
    sigjmp_buf jb;

    if (n == 0)
        return 0;
    if (sigsetjmp(jb, GUEST_COPY_SAVEMASK)) {
        guest_copy_jmp = NULL;
        if (j.exact)
            return j.done;
        j.exact = true;
        if (sigsetjmp(jb, GUEST_COPY_SAVEMASK)) {
            guest_copy_jmp = NULL;
            return j.done;
        }
        guest_copy_jmp = &jb;
        probe_fields(&j);
        guest_copy_jmp = NULL;
        return j.done;
    }
    guest_copy_jmp = &jb;
    probe_pages(&j);
    if (j.exact)
        probe_fields(&j);
    guest_copy_jmp = NULL;
    return j.done;
}
