/*
 * Grant tables, private to sim/gnttab*.c: the per-domain grant_table (the
 * granter's active entries, its v1/v2 layout ops and status frames; the
 * mapper's maptrack), pins, and the strict/fast mapping ops. Relies on
 * sim.h for domains and guest copies.
 */
#ifndef XENSIM_GNTTAB_H
#define XENSIM_GNTTAB_H

/* The structured guest handles and GNTTABOP_set_version and later need a
 * modern interface version; Xen's headers give the 0x0 legacy one unless
 * told otherwise. Layouts are the same either way. */
#if !defined(__XEN_INTERFACE_VERSION__) && !defined(__XEN_TOOLS__)
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <assert.h>
#include <errno.h>

#include "sim.h"

/* Entries per 4 KiB frame: v1 entries are 8 bytes, v2 entries 16, status
 * words 2. Active entries are kept in chunks of one v1 frame's worth,
 * which covers a frame of either version. */
#define GNTTAB_V1_PER_FRAME (XEN_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define GNTTAB_V2_PER_FRAME (XEN_PAGE_SIZE / sizeof(grant_entry_v2_t))
#define GNTTAB_STATUS_PER_FRAME (XEN_PAGE_SIZE / sizeof(grant_status_t))
#define GNTTAB_ACTIVE_PER_CHUNK GNTTAB_V1_PER_FRAME
#define GNTTAB_MAPTRACK_PER_FRAME 256u    /* 16-byte entries in Xen: 256 per page */
#define GNTTAB_NO_HANDLE 0xffffffffu

/*
 * Pins of one active entry: four 8-bit counters, as Xen keeps them, so a
 * map of several kinds counts once per kind. A counter may reach 128: a
 * pin is refused when the top bit of a counter it would increment is set
 * (Xen's GNTPIN_incr2oflow_mask), whatever the other counters hold.
 */
#define GNTTAB_PIN_HOST_RD 0x00000001u
#define GNTTAB_PIN_HOST_WR 0x00000100u
#define GNTTAB_PIN_DEV_RD  0x00010000u
#define GNTTAB_PIN_DEV_WR  0x01000000u
#define GNTTAB_PIN_WR_MASK 0xff00ff00u    /* any writable pin */
#define GNTTAB_PIN_OVERFLOW(inc) ((inc) << 7)

/*
 * The hypervisor's private view of one granter entry, under gt->lock,
 * recorded at the first pin. For a transitive grant (v2, copy only) the
 * frame is trans_rd's, reached through trans_gref, which this pin holds
 * pinned too; otherwise trans_rd is the granter itself.
 */
struct gnttab_active {
    uint32_t pin;
    domid_t domid;            /* the grantee, fixed while pin != 0 */
    bool is_sub_page;         /* a sub-page or transitive copy pin: maps refused */
    uint16_t start, length;   /* the bytes of the frame a copy may touch */
    xen_pfn_t frame;
    struct domain *trans_rd;
    grant_ref_t trans_gref;
};

/* An entry as a first pin reads it: for permit_access the frame and the
 * window (the whole page unless v2's GTF_sub_page), for transitive the
 * grant it forwards to. */
struct gnttab_entry {
    uint16_t flags;
    domid_t domid;
    xen_pfn_t frame;
    uint16_t start, length;
    domid_t trans_domid;
    grant_ref_t trans_gref;
};

struct grant_table;

/*
 * The layout of one grant table version (STYLE.md: an ops table, chosen
 * by the table's current version, so pins, copies, transfers and views
 * never branch on it). Every hook runs under gt->lock.
 */
struct gnttab_version_ops {
    unsigned int version;
    unsigned int per_frame;           /* entries per shared frame */
    size_t entry_size;
    /* Xen's _set_status_v1/_v2 for a first pin, or the first writable pin
     * of a pinned entry: on a first pin the type and the grantee are
     * checked (map: permit_access without GTF_sub_page; copy: also a
     * sub-page or, in v2, a transitive entry), then GTF_reading (and
     * GTF_writing unless readonly) are set where the version keeps them.
     * GNTST_okay or GNTST_general_error, with no bit left set. */
    int16_t (*set_status)(struct grant_table *gt, grant_ref_t ref, domid_t ldomid,
                          bool pinned, bool readonly, bool map);
    void (*clear_status)(struct grant_table *gt, grant_ref_t ref, uint16_t bits);
    void (*read)(const struct grant_table *gt, grant_ref_t ref, struct gnttab_entry *e);
    /* The frame a map takes (a full-page entry's), read once. */
    xen_pfn_t (*frame)(const struct grant_table *gt, grant_ref_t ref);
    /* The entry's flags with its status bits, as a v1 entry shows them. */
    uint16_t (*flags)(const struct grant_table *gt, grant_ref_t ref);
    /* How many of the entries [from, to) have flags or status bits set:
     * xensim_domain_info counts a whole table at every call (a fuzz
     * harness's leak check, once per input), so one loop over the layout
     * rather than a flags() call per entry. */
    unsigned int (*count_in_use)(const struct grant_table *gt, grant_ref_t from, grant_ref_t to);
    /* Swaps two entries (and their status words). */
    void (*swap)(struct grant_table *gt, grant_ref_t a, grant_ref_t b);
    /* A transfer's last step: the new frame, a write barrier, then
     * GTF_transfer_completed. */
    void (*transfer_done)(struct grant_table *gt, grant_ref_t ref, xen_pfn_t frame);
};
extern const struct gnttab_version_ops gnttab_v1_ops, gnttab_v2_ops;

/* For count_in_use's loops. A fuzzer learns nothing from them (every
 * input walks whole tables the same way), and in a fuzzing build their
 * comparison callbacks were most of a harness's per-input leak check:
 * clang leaves them out of the coverage instrumentation. GCC has no such
 * attribute for its -fsanitize-coverage. */
#ifdef __clang__
#define GNTTAB_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define GNTTAB_NO_COVERAGE
#endif

/*
 * One mapping a domain holds (a maptrack entry; its index is the handle).
 * flags != 0 means in use; every change of a live entry's flags is an
 * atomic read-modify-write (a claim), so one unmap, release or undo tears
 * each kind down. rd stays valid while flags != 0: the pin holds
 * rd->foreign_maps.
 * rdomid/ref/readonly outlive the mapping so that a fault on a stale
 * address can still say whose page it was.
 */
struct gnttab_maptrack {
    _Atomic uint16_t flags;   /* GNTMAP_host_map | device_map | readonly */
    bool readonly;
    uint8_t vcpu;             /* whose free list it goes back to */
    domid_t rdomid;
    grant_ref_t ref;
    uint32_t next_free;       /* free-list link while free */
    struct domain *rd;
    void *addr;               /* where the host mapping is visible */
    xen_pfn_t frame;
};

/* How a host mapping reaches the granter's page (STYLE.md: one small ops
 * table per variant, chosen per domain). */
struct gnttab_map_ops {
    const char *name;
    /* Makes up to n consecutive frames of rd, from frame, visible to d for
     * the maps of handles h[0..n), at consecutive addresses from *base;
     * returns how many (the caller maps the rest), 0 on failure. */
    unsigned int (*map)(struct domain *d, const grant_handle_t *h, unsigned int n,
                        struct domain *rd, xen_pfn_t frame, bool readonly, void **base);
    /* Removes the host mappings at addr[0..n), as map gave them. */
    void (*unmap)(struct domain *d, void *const *addr, unsigned int n);
    /* GNTTABOP_unmap_and_replace: the mapping at addr shows d's own RAM
     * page pfn instead of the grant, which no longer holds the address. */
    void (*replace)(struct domain *d, void *addr, xen_pfn_t pfn);
};
extern const struct gnttab_map_ops gnttab_map_strict_ops, gnttab_map_fast_ops;
/* Gives the strict window back when the domain is freed. */
void gnttab_window_free(struct grant_table *gt);

/*
 * Locks: gt->lock guards the active entries, the version and table
 * growth; gt->mt_lock guards the maptrack's free lists, its growth and the
 * strict window's reservation (maptrack flags are claimed with atomics
 * instead). No path holds one domain's mt_lock and any gt->lock at once,
 * so the two never order against each other; gt->lock of two domains is
 * never held together either (copy pins one side at a time, and a
 * transitive grant drops its own lock to pin the grant it forwards to).
 * gt->lock nests outside d->page_lock (a transfer steals a page under it).
 */
struct grant_table {
    const struct gnttab_map_ops *ops;

    /* As a granter. */
    pthread_mutex_t lock;
    _Atomic unsigned int nr_frames;
    unsigned int max_frames;
    /* The current version's layout, switched by GNTTABOP_set_version
     * under lock; lock-free readers load it with acquire. */
    _Atomic(const struct gnttab_version_ops *) vops;
    unsigned int max_version;
    void *shared;                     /* frame 0; the frames are contiguous */
    xen_pfn_t shared_pfn;
    grant_status_t *status;           /* v2 status frame 0; contiguous too */
    xen_pfn_t status_pfn;
    unsigned int nr_status_frames;    /* populated (v2 only), under lock */
    struct gnttab_active **active;    /* [max_frames] chunks, allocated as frames grow */

    /* As a mapper. */
    struct domain *d;
    pthread_mutex_t mt_lock;
    struct gnttab_maptrack **mt;      /* [mt_max_frames] chunks of 256 */
    unsigned int mt_max_frames;
    _Atomic unsigned int mt_frames;   /* chunks allocated: limit = 256 * this */
    /* One free list per vCPU, as Xen keeps them (head and tail handles,
     * GNTTAB_NO_HANDLE when the vCPU has none yet). */
    uint32_t mt_head[XENSIM_MAX_VCPUS], mt_tail[XENSIM_MAX_VCPUS];
    unsigned int mt_steal_next;       /* the next victim vCPU */
    _Atomic unsigned int mt_in_use;
    _Atomic bool mt_closed;           /* dying: no new handles */

    /* Strict mode: a PROT_NONE window of one slot (page) per possible
     * handle, reserved at the first strict map and never given back while
     * the domain lives (gnttab_map_strict.c). Slots are handed out apart
     * from handles, the most recently freed first, under mt_lock. */
    _Atomic(uint8_t *) window;
    size_t window_len;
    _Atomic uint32_t *slot_handle;    /* the handle a slot last held, + 1 */
    uint32_t *slot_free;              /* freed slots, a stack */
    unsigned int nr_slot_free, slot_free_cap;
    uint32_t slot_next;               /* slots from here on never used */
};

static inline const struct gnttab_version_ops *gnttab_vops(const struct grant_table *gt)
{
    return atomic_load_explicit(&((struct grant_table *)gt)->vops, memory_order_acquire);
}

/* gnttab_maptrack.c */
int gnttab_maptrack_init(struct grant_table *gt, unsigned int max_frames);
void gnttab_maptrack_free(struct grant_table *gt);
/* A free handle from the calling vCPU's list (vCPU 0's for a host
 * thread), its entry's flags 0 and off the list; GNTTAB_NO_HANDLE when
 * every list is down to the entry Xen keeps and no frame may be added, or
 * the domain is dying. */
grant_handle_t gnttab_maptrack_get(struct grant_table *gt);
/* Back at the tail of its vCPU's list: the last handle to be reused. */
void gnttab_maptrack_put(struct grant_table *gt, grant_handle_t h);
/* Back at the head, as if it had never been taken (handles given back
 * last taken first). */
void gnttab_maptrack_unget(struct grant_table *gt, grant_handle_t h);
static inline unsigned int gnttab_maptrack_limit(struct grant_table *gt)
{
    return atomic_load_explicit(&gt->mt_frames, memory_order_acquire) *
           GNTTAB_MAPTRACK_PER_FRAME;
}
/* The entry of h, or NULL if h is beyond the current limit. Lock-free, so
 * that the fault handler can use it: chunks are published with a release
 * store of mt_frames after their pointer is set, and are never freed
 * before the domain. */
static inline struct gnttab_maptrack *gnttab_maptrack_entry(struct grant_table *gt,
                                                            grant_handle_t h)
{
    if (h >= gnttab_maptrack_limit(gt))
        return NULL;
    return &gt->mt[h / GNTTAB_MAPTRACK_PER_FRAME][h % GNTTAB_MAPTRACK_PER_FRAME];
}

/* gnttab_pin.c */
static inline struct gnttab_active *gnttab_active_entry(struct grant_table *gt, grant_ref_t ref)
{
    return &gt->active[ref / GNTTAB_ACTIVE_PER_CHUNK][ref % GNTTAB_ACTIVE_PER_CHUNK];
}
/* Pins rd's ref for a map by ldomid (Xen's map_grant_ref from the ref
 * check to the pin). pin_inc are GNTTAB_PIN_* counts to add; readonly: no
 * writable pin wanted. Fills *frame. Returns GNTST_*; a failure may still
 * leave a dying rd to put (*put), as for gnttab_unpin. */
int16_t gnttab_pin(struct domain *rd, grant_ref_t ref, domid_t ldomid,
                   uint32_t pin_inc, bool readonly, xen_pfn_t *frame, bool *put);
/* Drops the counts; clears GTF_writing/GTF_reading when the last
 * writable/any pin goes. Returns true if rd is dying and has no pin left:
 * the caller then calls domain_put_foreign(rd) (which is idempotent) once
 * it is outside any RCU read-side section and holds no lock. */
bool gnttab_unpin(struct domain *rd, grant_ref_t ref, uint32_t pin_dec);

/* What a copy holds of one grant while it copies (Xen's
 * acquire_grant_for_copy): the frame, the window, and the pins to give
 * back (two for a transitive grant). */
struct gnttab_claim {
    struct domain *rd;
    grant_ref_t ref;
    bool readonly;
    uint8_t *page;
    uint16_t start, length;
    struct domain *puts[2];   /* dying granters to put after release */
};
/* Caller holds rcu_read_lock. allow_transitive: Xen's gnttab=transitive
 * for the outer grant; the grant a transitive one forwards to may not be
 * transitive itself. */
int16_t gnttab_acquire(struct domain *rd, grant_ref_t ref, domid_t ldomid, bool readonly,
                       bool allow_transitive, struct gnttab_claim *c);
void gnttab_release(struct gnttab_claim *c);

unsigned int gnttab_nr_entries(const struct grant_table *gt);
int16_t gnttab_swap_refs(struct domain *d, grant_ref_t a, grant_ref_t b);
/* Grows rd's table to nr frames (under gt->lock), with its status frames
 * in v2. 0 or -ENOMEM. */
int gnttab_grow_locked(struct grant_table *gt, unsigned int nr);
/* Whether some pin on d's own entries holds d's frame (the extra page
 * reference that makes Xen's steal_page fail). Under gt->lock. */
bool gnttab_frame_pinned_locked(struct domain *d, xen_pfn_t frame);

/* gnttab_version.c: GNTTABOP_set_version, get_version, get_status_frames,
 * and the status frames behind them. */
long gnttab_set_version(struct domain *d, void *uop);
long gnttab_get_version(struct domain *caller, void *uop);
long gnttab_get_status_frames(struct domain *caller, void *uop, unsigned int count);
/* Populates the status frames nr shared frames need (v2, under lock). */
void gnttab_status_populate_locked(struct grant_table *gt, unsigned int nr);

/* gnttab_transfer.c */
long gnttab_transfer_batch(struct domain *d, void *uop, unsigned int count);

/* gnttab_map.c */
long gnttab_map_batch(struct domain *ld, void *uop, unsigned int count);
long gnttab_unmap_batch(struct domain *ld, void *uop, unsigned int count);
/* Up to 32 maps or unmaps on behalf of ld, each with its status in its
 * op. Maps need rcu_read_lock held. puts[0..n) receive the dying granters
 * the caller must then put (see gnttab_unpin), or NULL. */
void gnttab_map_many(struct domain *ld, gnttab_map_grant_ref_t *ops, unsigned int n,
                     struct domain **puts);
void gnttab_unmap_many(struct domain *ld, gnttab_unmap_grant_ref_t *ops, unsigned int n,
                       struct domain **puts);
long gnttab_unmap_and_replace_batch(struct domain *ld, void *uop, unsigned int count);
bool gnttab_maps_frame(struct domain *ld, xen_pfn_t frame, grant_ref_t from);
void gnttab_release_all(struct domain *ld);
/* Copies elements [i, i+n) of a batch in (or out); on a fault, element
 * by element, so that the elements before the bad one are still done as
 * in Xen. Return how many were copied. */
unsigned int copy_from_guest_elems(void *dst, const void *uop, size_t size, unsigned int i,
                            unsigned int n);
unsigned int copy_to_guest_elems(void *uop, const void *src, size_t size, unsigned int i,
                             unsigned int n);
/* Of elements [i, i+n) of a batch of size-byte elements, how many to do:
 * up to and including the first whose output field [off, off + len)
 * cannot be written back (Xen does that one, then stops). */
unsigned int gnttab_batch_todo(void *uop, size_t size, size_t off, size_t len, unsigned int i,
                               unsigned int n);

/* gnttab_copy.c */
long gnttab_copy_batch(struct domain *ld, void *uop, unsigned int count);

/* Looks up a domain by id for a grant op (caller holds rcu_read_lock). */
static inline struct domain *gnttab_domain_by_id(struct domain *self, domid_t id,
                                                 bool allow_self)
{
    if (allow_self && id == DOMID_SELF)
        return self;
    if (id >= DOMID_FIRST_RESERVED)
        return NULL;
    return domain_lookup(self->sim, id);
}

#endif
