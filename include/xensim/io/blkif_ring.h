/*
 * Shared by blkback_*.c and blkfront_*.c: Xen's ring and blkif headers
 * with the barriers they leave to their includer, and slot access for
 * multi-page rings. xensim maps each granted page wherever it likes, so the
 * 2^order pages of a ring are not always contiguous: the header (indices,
 * events) is in page 0, where ring.h's index macros work, while a 112-byte
 * slot may straddle two pages and is copied piecewise.
 */
#ifndef XENSIM_BLK_RING_H
#define XENSIM_BLK_RING_H

#include <stdint.h>
#include <string.h>
#include <xen/xen.h>

#include <xensim/io/ring.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>

#define XENSIM_BLK_SEGS_PER_INDIRECT_PAGE (XEN_PAGE_SIZE / sizeof(struct blkif_request_segment))

/* For the narrator: Xen's name of an operation. */
static inline const char *xensim_blk_op_name(unsigned int op)
{
    static const char *const names[] = { "READ", "WRITE", "WRITE_BARRIER", "FLUSH_DISKCACHE",
                                         "RESERVED_1", "DISCARD", "INDIRECT" };
    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown op";
}

/* The pages of one ring as this domain sees them. */
struct xensim_blk_ring_view {
    uint8_t *page[XENSIM_BLKIF_MAX_RING_PAGES];
    unsigned int nr_pages;
    bool contiguous;          /* page[i] == page[0] + i * XEN_PAGE_SIZE for all i */
};

static inline void xensim_blk_ring_view_init(struct xensim_blk_ring_view *v, unsigned int nr_pages)
{
    v->nr_pages = nr_pages;
    v->contiguous = true;
    for (unsigned int i = 1; i < nr_pages; i++)
        if (v->page[i] != v->page[0] + (size_t)i * XEN_PAGE_SIZE)
            v->contiguous = false;
}

static inline size_t xensim_blk_slot_offset(const blkif_sring_t *s, RING_IDX idx, unsigned int nr_ents)
{
    return offsetof(blkif_sring_t, ring) + (size_t)(idx & (nr_ents - 1)) * sizeof(s->ring[0]);
}

/* Copies len bytes at ring offset off out, each shared byte read once, so
 * the peer cannot change what was checked after the check. */
static inline void xensim_blk_ring_read(const struct xensim_blk_ring_view *v, size_t off, void *dst, size_t len)
{
    uint8_t *d = dst;
    while (len) {
        size_t in = off % XEN_PAGE_SIZE, n = XEN_PAGE_SIZE - in;
        if (n > len)
            n = len;
        memcpy(d, v->page[off / XEN_PAGE_SIZE] + in, n);
        d += n;
        off += n;
        len -= n;
    }
    __asm__ __volatile__("" ::: "memory");
}

static inline void xensim_blk_ring_write(const struct xensim_blk_ring_view *v, size_t off, const void *src,
                                  size_t len)
{
    const uint8_t *s = src;
    while (len) {
        size_t in = off % XEN_PAGE_SIZE, n = XEN_PAGE_SIZE - in;
        if (n > len)
            n = len;
        memcpy(v->page[off / XEN_PAGE_SIZE] + in, s, n);
        s += n;
        off += n;
        len -= n;
    }
}

#endif
