/*
 * fuzz_blkback's oracle (blk_model.h). The checks come in the order a
 * back end must make them before touching anything: the operation and
 * its feature, the device's mode, the segments, the range, then the
 * grants; only a request that passes all of them moves data.
 */
#include <string.h>
#include "blk_model.h"

/* 1: ref grants the back end a modelled page (its index in *idx); 0: a
 * map of it must fail; -1: it grants a page the model does not follow. */
static int grant_page(const struct blkm_dev *d, grant_ref_t ref, bool writable, unsigned int *idx)
{
    if (ref >= d->nr_entries)
        return 0;
    const volatile grant_entry_v1_t *e = &d->gnttab[ref];
    uint16_t flags = e->flags;
    if ((flags & (GTF_type_mask | GTF_sub_page)) != GTF_permit_access || e->domid != d->backend)
        return 0;
    if (writable && (flags & GTF_readonly))
        return 0;
    xen_pfn_t frame = e->frame;
    if (frame >= d->nr_pages)
        return 0;
    for (unsigned int i = 0; i < d->nr_known; i++)
        if (d->known_pfn[i] == frame) {
            *idx = i;
            return 1;
        }
    return -1;
}

/* The segments of a read or write, checked and, if all is well, done. */
static enum blkm_verdict model_rw(const struct blkm_dev *d, bool write, uint64_t sector,
                                  const struct blkif_request_segment *seg, unsigned int n,
                                  struct blkm_state *st, int16_t *status)
{
    unsigned int per_page = BLKM_PAGE / d->unit;
    uint64_t total = 0;

    *status = BLKIF_RSP_ERROR;
    if (write && d->readonly)
        return BLKM_EXACT;
    for (unsigned int i = 0; i < n; i++) {
        if (seg[i].last_sect >= per_page || seg[i].last_sect < seg[i].first_sect)
            return BLKM_EXACT;
        total += (uint64_t)(seg[i].last_sect - seg[i].first_sect + 1);
    }
    uint64_t units = d->disk_bytes / d->unit;
    if (sector > units || total > units - sector)
        return BLKM_EXACT;
    /* A read writes the front end's pages: it needs writable grants;
     * persistent grants are always mapped writable. */
    bool writable = !write || d->persistent;
    bool unknown = false;
    unsigned int idx[n ? n : 1];
    for (unsigned int i = 0; i < n; i++) {
        int g = grant_page(d, seg[i].gref, writable, &idx[i]);
        if (g == 0)
            return BLKM_EXACT;
        unknown |= g < 0;
    }
    if (unknown)
        return BLKM_UNKNOWN;
    uint64_t off = sector * d->unit;
    for (unsigned int i = 0; i < n; i++) {
        size_t at = (size_t)seg[i].first_sect * d->unit;
        size_t len = (size_t)(seg[i].last_sect - seg[i].first_sect + 1) * d->unit;
        if (write)
            memcpy(st->disk + off, st->page[idx[i]] + at, len);
        else
            memcpy(st->page[idx[i]] + at, st->disk + off, len);
        off += len;
    }
    *status = BLKIF_RSP_OKAY;
    return BLKM_EXACT;
}

static enum blkm_verdict model_discard(const struct blkm_dev *d, const blkif_request_t *req,
                                       struct blkm_state *st, int16_t *status)
{
    blkif_request_discard_t r;
    memcpy(&r, req, sizeof(r));
    if (!d->discard || ((r.flag & BLKIF_DISCARD_SECURE) && !d->discard_secure)) {
        *status = BLKIF_RSP_EOPNOTSUPP;
        return BLKM_EXACT;
    }
    uint64_t units = d->disk_bytes / d->unit;
    *status = BLKIF_RSP_ERROR;
    if (d->readonly || r.sector_number > units || r.nr_sectors > units - r.sector_number)
        return BLKM_EXACT;
    /* What a discarded range reads as is the store's choice: xensim's
     * stores give zeroes. */
    memset(st->disk + r.sector_number * d->unit, 0, (size_t)(r.nr_sectors * d->unit));
    *status = BLKIF_RSP_OKAY;
    return BLKM_EXACT;
}

static enum blkm_verdict model_indirect(const struct blkm_dev *d, const blkif_request_t *req,
                                        struct blkm_state *st, int16_t *status)
{
    blkif_request_indirect_t r;
    memcpy(&r, req, sizeof(r));
    *status = BLKIF_RSP_EOPNOTSUPP;
    if (!d->max_indirect)
        return BLKM_EXACT;
    *status = BLKIF_RSP_ERROR;
    if (r.indirect_op != BLKIF_OP_READ && r.indirect_op != BLKIF_OP_WRITE)
        return BLKM_EXACT;
    unsigned int n = r.nr_segments;
    if (n == 0 || n > d->max_indirect)
        return BLKM_EXACT;
    const unsigned int per = BLKM_PAGE / sizeof(struct blkif_request_segment);
    unsigned int pages = (n + per - 1) / per;
    unsigned int idx[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    bool unknown = false;
    for (unsigned int p = 0; p < pages; p++) {
        int g = grant_page(d, r.indirect_grefs[p], d->persistent, &idx[p]);
        if (g == 0)
            return BLKM_EXACT;
        unknown |= g < 0;
    }
    if (unknown)
        return BLKM_UNKNOWN;
    struct blkif_request_segment seg[n];
    for (unsigned int p = 0; p < pages; p++) {
        unsigned int k = n - p * per < per ? n - p * per : per;
        memcpy(&seg[p * per], st->page[idx[p]], k * sizeof(seg[0]));
    }
    return model_rw(d, r.indirect_op == BLKIF_OP_WRITE, r.sector_number, seg, n, st, status);
}

enum blkm_verdict blkm_request(const struct blkm_dev *d, const blkif_request_t *req,
                               struct blkm_state *st, int16_t *status)
{
    unsigned int n = req->nr_segments;

    switch (req->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        if (n == 0 || n > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
            *status = BLKIF_RSP_ERROR;
            return BLKM_EXACT;
        }
        return model_rw(d, req->operation == BLKIF_OP_WRITE, req->sector_number, req->seg, n,
                        st, status);
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE: {
        bool barrier = req->operation == BLKIF_OP_WRITE_BARRIER;
        if (!(barrier ? d->barrier : d->flush)) {
            *status = BLKIF_RSP_EOPNOTSUPP;
            return BLKM_EXACT;
        }
        if (d->readonly || n > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
            *status = BLKIF_RSP_ERROR;
            return BLKM_EXACT;
        }
        if (!n) {
            *status = BLKIF_RSP_OKAY;
            return BLKM_EXACT;
        }
        return model_rw(d, true, req->sector_number, req->seg, n, st, status);
    }
    case BLKIF_OP_DISCARD:
        return model_discard(d, req, st, status);
    case BLKIF_OP_INDIRECT:
        return model_indirect(d, req, st, status);
    default:
        *status = BLKIF_RSP_EOPNOTSUPP;
        return BLKM_EXACT;
    }
}

static bool unknown_ref(const struct blkm_dev *d, grant_ref_t ref)
{
    unsigned int idx;
    return grant_page(d, ref, false, &idx) < 0;
}

bool blkm_reaches_unknown(const struct blkm_dev *d, const blkif_request_t *req,
                          const struct blkm_state *st)
{
    if (req->operation != BLKIF_OP_INDIRECT) {
        unsigned int n = req->nr_segments;
        if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            n = BLKIF_MAX_SEGMENTS_PER_REQUEST;
        for (unsigned int i = 0; i < n; i++)
            if (unknown_ref(d, req->seg[i].gref))
                return true;
        return false;
    }
    blkif_request_indirect_t r;
    memcpy(&r, req, sizeof(r));
    const unsigned int per = BLKM_PAGE / sizeof(struct blkif_request_segment);
    unsigned int n = r.nr_segments, pages = (n + per - 1) / per;
    if (pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
        pages = BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
    for (unsigned int p = 0; p < pages; p++) {
        unsigned int idx;
        int g = grant_page(d, r.indirect_grefs[p], false, &idx);
        if (g < 0)
            return true;
        if (g == 0)
            continue;
        const struct blkif_request_segment *seg = (const void *)st->page[idx];
        unsigned int k = n - p * per < per ? n - p * per : per;
        for (unsigned int i = 0; i < k; i++)
            if (unknown_ref(d, seg[i].gref))
                return true;
    }
    return false;
}
