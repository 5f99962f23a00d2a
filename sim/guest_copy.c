/*
 * copy_from_guest / copy_to_guest and their batch forms (_elems): a
 * hypercall reads and writes guest memory through these, so a bad guest
 * pointer gives -EFAULT as in Xen (whose exception fixups do the same)
 * instead of killing the process.
 * The SIGSEGV handler (fault.c) jumps back here through guest_copy_jmp.
 */
#include <errno.h>
#include "sim.h"

__thread sigjmp_buf *guest_copy_jmp;

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
