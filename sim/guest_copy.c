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

/* Not instrumented: the source may be any address the guest names, and
 * a fault is the expected outcome, not a bug in this function. */
__attribute__((no_sanitize_address, noinline))
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

static int guest_copy(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    /* The first page is never mapped; catch NULL without a signal. */
    if ((uintptr_t)dst < XEN_PAGE_SIZE || (uintptr_t)src < XEN_PAGE_SIZE)
        return -EFAULT;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0)) {
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
 * how far the good ones go. */
static unsigned int guest_copy_run(char *dst, const char *src, size_t size, unsigned int n)
{
    if (guest_copy(dst, src, n * size) == 0)
        return n;
    unsigned int k = 0;
    while (k < n && guest_copy(dst + k * size, src + k * size, size) == 0)
        k++;
    return k;
}

unsigned int copy_from_guest_elems(void *buf, const void *guest_array, size_t size,
                                   unsigned int i, unsigned int n)
{
    return guest_copy_run(buf, (const char *)guest_array + (size_t)i * size, size, n);
}

unsigned int copy_to_guest_elems(void *guest_array, const void *buf, size_t size,
                                 unsigned int i, unsigned int n)
{
    return guest_copy_run((char *)guest_array + (size_t)i * size, buf, size, n);
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
 * done is what survives. */
struct fields_job {
    uint8_t *dst;
    const uint8_t *src;
    size_t stride, size;
    unsigned int n;
    volatile unsigned int done;
};

__attribute__((no_sanitize_address, noinline))
static void copy_fields_bytes(struct fields_job *j)
{
    uint8_t *dst = j->dst;
    const uint8_t *src = j->src;
    for (unsigned int k = 0; k < j->n; k++, dst += j->stride, src += j->stride) {
        if ((uintptr_t)dst < XEN_PAGE_SIZE)
            return;
        if (j->size == 2) {
            /* A status field: one store. */
            uint16_t v;
            __builtin_memcpy(&v, src, 2);
            __builtin_memcpy(dst, &v, 2);
        } else {
            guest_copy_bytes(dst, src, j->size);
        }
        j->done = k + 1;
    }
}

/* Writes field k (size bytes at k * stride from each base) for k < n,
 * under one fault guard; returns how many were written before a fault. */
unsigned int copy_fields_to_guest(void *guest_dst, const void *src, size_t stride, size_t size,
                                  unsigned int n)
{
    struct fields_job j = { .dst = guest_dst, .src = src, .stride = stride, .size = size,
                            .n = n };
    sigjmp_buf jb;

    if (sigsetjmp(jb, 0)) {
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
    uint8_t *base;
    size_t stride, off, size;
    unsigned int n;
    volatile unsigned int done;
    volatile bool exact;      /* a page of the array failed: element by element */
};

/* Rewrites one byte with its own value: the write faults where the guest
 * may not write, and changes nothing where it may. */
__attribute__((no_sanitize_address, noinline))
static void probe_byte(volatile uint8_t *p)
{
    *p = *p;
}

__attribute__((noinline))
static void probe_fields(struct probe_job *j)
{
    uintptr_t last = 0;     /* the last page probed, + 1 */
    for (unsigned int k = 0; k < j->n; k++) {
        uint8_t *start = j->base + (size_t)k * j->stride + j->off;
        uint8_t *end = start + j->size - 1;
        if ((uintptr_t)start < XEN_PAGE_SIZE)
            return;
        if ((uintptr_t)start / XEN_PAGE_SIZE + 1 != last)
            probe_byte(start);
        if ((uintptr_t)end / XEN_PAGE_SIZE != (uintptr_t)start / XEN_PAGE_SIZE)
            probe_byte(end);
        last = (uintptr_t)end / XEN_PAGE_SIZE + 1;
        j->done = k + 1;
    }
}

/* Every page the array's fields span, one byte each. */
__attribute__((noinline))
static void probe_pages(struct probe_job *j)
{
    uintptr_t start = (uintptr_t)j->base + j->off;
    uintptr_t end = (uintptr_t)j->base + (size_t)(j->n - 1) * j->stride + j->off + j->size;
    if (start < XEN_PAGE_SIZE) {
        j->exact = true;
        return;
    }
    probe_byte((uint8_t *)start);
    for (uintptr_t p = (start / XEN_PAGE_SIZE + 1) * XEN_PAGE_SIZE; p < end; p += XEN_PAGE_SIZE)
        probe_byte((uint8_t *)p);
    j->done = j->n;
}

/* Protection is per page, so one byte per page tells: first every page
 * of the array at once (the usual answer: all of it), and only if one
 * fails element by element, to find the first field that cannot be
 * written (a field may lie past a page its element starts in). */
unsigned int guest_fields_writable(void *guest_base, size_t stride, size_t off, size_t size,
                                   unsigned int n)
{
    struct probe_job j = { .base = guest_base, .stride = stride, .off = off,
                           .size = size ? size : 1, .n = n };
    sigjmp_buf jb;

    if (n == 0)
        return 0;
    if (sigsetjmp(jb, 0)) {
        guest_copy_jmp = NULL;
        if (j.exact)
            return j.done;
        j.exact = true;
        if (sigsetjmp(jb, 0)) {
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
