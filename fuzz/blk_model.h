/*
 * fuzz_blkback's oracle: what a blkif request must do to the disk and to
 * the front end's pages, and the status it must get, worked out from the
 * protocol (Xen's blkif.h, the back end's advertised features) and the
 * grant entries as the front end wrote them. The harness compares blkback
 * with it request by request. Knows nothing of the simulator.
 */
#ifndef XENSIM_FUZZ_BLK_MODEL_H
#define XENSIM_FUZZ_BLK_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#define BLKM_PAGE 4096u

/* The device and the front end's side of it, as the model sees them. */
struct blkm_dev {
    /* The back end's configuration. */
    bool readonly, barrier, flush, discard, discard_secure, persistent;
    unsigned int max_indirect;          /* 0: no INDIRECT */
    unsigned int unit;                  /* bytes per protocol sector */
    uint64_t disk_bytes;
    /* Who may map: the back end's domain. */
    domid_t backend;
    /* The front end's grant table and RAM size, read as they are now. */
    const grant_entry_v1_t *gnttab;
    unsigned int nr_entries;
    unsigned long nr_pages;
    /* The pages the model follows: a grant whose frame is one of these is
     * modelled; one of another RAM page makes the outcome unknowable. */
    unsigned int nr_known;
    const xen_pfn_t *known_pfn;
};

/* The state the model changes: copies of the known pages and the disk. */
struct blkm_state {
    uint8_t **page;                     /* [nr_known] */
    uint8_t *disk;
};

enum blkm_verdict {
    BLKM_EXACT,                         /* status and effects are known */
    BLKM_UNKNOWN,                       /* a grant of an unmodelled page */
};

/*
 * Works out req's status (*status) and, when it is BLKIF_RSP_OKAY,
 * applies its effects to st. Requests are served one at a time in ring
 * order, so calling this in that order gives blkback's outcome.
 */
enum blkm_verdict blkm_request(const struct blkm_dev *dev, const blkif_request_t *req,
                               struct blkm_state *st, int16_t *status);

/* Whether req names, anywhere (its segments, its indirect pages, the
 * descriptors in them), a grant of a page the model does not follow: a
 * read through it may have written a ring. For when blkm_request() cannot
 * be trusted with the rest (grants rewritten under persistent mappings). */
bool blkm_reaches_unknown(const struct blkm_dev *dev, const blkif_request_t *req,
                          const struct blkm_state *st);

#endif
