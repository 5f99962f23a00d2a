/*
 * blkback's grant mappings for request data and indirect pages: one batched
 * GNTTABOP_map_grant_ref per request, and with feature-persistent a table
 * of grants kept mapped until disconnect, the least recently used making
 * room when it is full. Runs as guest code on the back
 * end's vCPU; relies on <xensim/guest.h> and blkback.h only.
 */
#include <errno.h>
#include <stdlib.h>
#include "blkback.h"

int blkback_queue_scratch(struct blkback_queue *q, unsigned int max_segs)
{
    q->segs = calloc(max_segs, sizeof(*q->segs));
    q->maps = calloc(max_segs, sizeof(*q->maps));
    q->iov = calloc(max_segs, sizeof(*q->iov));
    q->mop = calloc(max_segs, sizeof(*q->mop));
    q->uop = calloc(max_segs, sizeof(*q->uop));
    q->scratch_segs = max_segs;
    if (!q->segs || !q->maps || !q->iov || !q->mop || !q->uop) {
        blkback_queue_scratch_free(q);
        return -ENOMEM;
    }
    return 0;
}

void blkback_queue_scratch_free(struct blkback_queue *q)
{
    free(q->segs);
    free(q->maps);
    free(q->iov);
    free(q->mop);
    free(q->uop);
    free(q->pg);
    q->segs = NULL;
    q->maps = NULL;
    q->iov = NULL;
    q->mop = NULL;
    q->uop = NULL;
    q->pg = NULL;
    q->pg_cap = q->pg_count = 0;
    q->scratch_segs = 0;
}

static unsigned int pg_hash(grant_ref_t ref, unsigned int cap)
{
    return (ref * 2654435761u) & (cap - 1);
}

static struct blkback_pgrant *pg_find(struct blkback_queue *q, grant_ref_t ref)
{
    if (!q->pg)
        return NULL;
    for (unsigned int i = pg_hash(ref, q->pg_cap);; i = (i + 1) & (q->pg_cap - 1)) {
        struct blkback_pgrant *p = &q->pg[i];
        if (!p->addr)
            return NULL;
        if (p->ref == ref)
            return p;
    }
}

/* Empties slot i, moving later entries of its probe run back so that
 * every entry stays reachable from its hash (linear probing's deletion,
 * no tombstones). */
static void pg_remove_slot(struct blkback_queue *q, unsigned int i)
{
    unsigned int mask = q->pg_cap - 1;
    for (unsigned int j = (i + 1) & mask; q->pg[j].addr; j = (j + 1) & mask) {
        unsigned int home = pg_hash(q->pg[j].ref, q->pg_cap);
        /* The entry at j may fill the hole at i unless its home lies
         * cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            q->pg[i] = q->pg[j];
            i = j;
        }
    }
    q->pg[i].addr = NULL;
    q->pg_count--;
    BLKBACK_STAT_ADD(q->be, persistent_grants, (uint64_t)-1);
}

/* Unmaps the least recently used grant that the current call does not
 * use. A scan of the table (twice pg_max slots), paid only by a map that
 * found the table full, beside the map and unmap per request that it
 * saves. 1 if one went; 0 if none could; -ESTALE if the queue was torn
 * down during the unmap. */
static int pg_evict_lru(struct blkback_queue *q, unsigned int gen)
{
    unsigned int victim = q->pg_cap;
    for (unsigned int i = 0; i < q->pg_cap; i++)
        if (q->pg[i].addr && q->pg[i].last_use < q->pg_clock &&
            (victim == q->pg_cap || q->pg[i].last_use < q->pg[victim].last_use))
            victim = i;
    if (victim == q->pg_cap)
        return 0;
    /* Out of the table before the hypercall: a nested disconnect that
     * releases the table must not unmap it twice. On the stack, as the
     * disconnect may use the queue's unmap scratch. */
    gnttab_unmap_grant_ref_t op = {
        .host_addr = (uint64_t)(uintptr_t)q->pg[victim].addr,
        .handle = q->pg[victim].handle,
    };
    pg_remove_slot(q, victim);
    BLKBACK_STAT_INC(q->be, persistent_evicted);
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);
    BLKBACK_STAT_INC(q->be, unmaps);
    if (__atomic_load_n(&q->be->gen, __ATOMIC_ACQUIRE) != gen)
        return -ESTALE;
    return 1;
}

/* Capacity is fixed at twice the limit, so probing always ends. 1 if the
 * grant is now persistent, 0 if it stays temporary, -ESTALE as above. */
static int pg_insert(struct blkback_queue *q, grant_ref_t ref, grant_handle_t h, uint8_t *addr,
                     unsigned int gen)
{
    if (!q->pg) {
        unsigned int cap = 16;
        while (cap < 2 * q->pg_max)
            cap <<= 1;
        q->pg = calloc(cap, sizeof(*q->pg));
        if (!q->pg)
            return 0;
        q->pg_cap = cap;
    }
    if (!q->pg_max || pg_find(q, ref))
        return 0;
    if (q->pg_count >= q->pg_max) {
        int rc = pg_evict_lru(q, gen);
        if (rc <= 0)
            return rc;
    }
    unsigned int i = pg_hash(ref, q->pg_cap);
    while (q->pg[i].addr)
        i = (i + 1) & (q->pg_cap - 1);
    q->pg[i] = (struct blkback_pgrant){ .ref = ref, .handle = h, .addr = addr,
                                        .last_use = q->pg_clock };
    q->pg_count++;
    BLKBACK_STAT_INC(q->be, persistent_grants);
    return 1;
}

static void unmap_batch(struct blkback_queue *q, unsigned int n)
{
    if (!n)
        return;
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, q->uop, n);
    BLKBACK_STAT_ADD(q->be, unmaps, n);
}

void blkback_unmap_segs(struct blkback_queue *q, unsigned int n)
{
    unsigned int k = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (!q->maps[i].temporary)
            continue;
        q->uop[k++] = (gnttab_unmap_grant_ref_t){
            .host_addr = (uint64_t)(uintptr_t)q->maps[i].addr,
            .handle = q->maps[i].handle,
        };
        q->maps[i].temporary = false;
    }
    unmap_batch(q, k);
}

int blkback_map_segs(struct blkback_queue *q, const grant_ref_t *refs, unsigned int n,
                     bool readonly, unsigned int gen)
{
    struct blkback *be = q->be;
    unsigned int k = 0;
    /* Persistent grants are always mapped writable: the front end reuses
     * them for reads and writes alike (blkif.h, note 8). */
    bool ro = readonly && !be->persistent;

    /* What this call maps is in use until it returns to the caller's
     * unmap: the LRU never evicts a grant stamped with this clock. */
    q->pg_clock++;
    for (unsigned int i = 0; i < n; i++) {
        struct blkback_pgrant *p = be->persistent ? pg_find(q, refs[i]) : NULL;
        if (p) {
            p->last_use = q->pg_clock;
            q->maps[i] = (struct blkback_seg_map){ .addr = p->addr, .handle = p->handle };
            continue;
        }
        q->maps[i] = (struct blkback_seg_map){ .addr = NULL, .temporary = true };
        /* Failed until the hypercall says otherwise: a nested disconnect
         * reads these to find what is mapped. */
        q->mop[k++] = (gnttab_map_grant_ref_t){
            .flags = GNTMAP_host_map | (ro ? GNTMAP_readonly : 0),
            .ref = refs[i],
            .dom = be->front,
            .status = GNTST_general_error,
            .handle = ~0u,
        };
    }
    if (k) {
        q->mop_n = k;
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, q->mop, k);
        if (__atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) != gen)
            return -ESTALE;
        q->mop_n = 0;
        BLKBACK_STAT_ADD(be, maps, k);
        bool failed = rc != 0;
        unsigned int j = 0;
        for (unsigned int i = 0; i < n; i++) {
            if (!q->maps[i].temporary)
                continue;
            gnttab_map_grant_ref_t *m = &q->mop[j++];
            if (rc != 0 || m->status != GNTST_okay) {
                failed = true;
                q->maps[i].temporary = false;
                continue;
            }
            q->maps[i].addr = (uint8_t *)(uintptr_t)m->host_addr;
            q->maps[i].handle = m->handle;
        }
        if (failed) {
            blkback_unmap_segs(q, n);
            return -EIO;
        }
        if (be->persistent)
            for (unsigned int i = 0; i < n; i++) {
                if (!q->maps[i].temporary)
                    continue;
                int in = pg_insert(q, refs[i], q->maps[i].handle, q->maps[i].addr, gen);
                if (in < 0)
                    return in;   /* torn down: the disconnect unmapped the rest */
                if (in)
                    q->maps[i].temporary = false;
            }
    }
    return 0;
}

void blkback_pgrants_release(struct blkback_queue *q)
{
    unsigned int k = 0;
    for (unsigned int i = 0; i < q->pg_cap; i++) {
        struct blkback_pgrant *p = &q->pg[i];
        if (!p->addr)
            continue;
        q->uop[k++] = (gnttab_unmap_grant_ref_t){
            .host_addr = (uint64_t)(uintptr_t)p->addr, .handle = p->handle,
        };
        p->addr = NULL;
        if (k == q->scratch_segs) {
            unmap_batch(q, k);
            k = 0;
        }
    }
    unmap_batch(q, k);
    BLKBACK_STAT_ADD(q->be, persistent_grants, -(uint64_t)q->pg_count);
    q->pg_count = 0;
}

void blkback_unmap_interrupted(struct blkback_queue *q)
{
    unsigned int k = 0;
    if (!q->uop)
        return;
    for (unsigned int i = 0; i < q->mop_n; i++)
        if (q->mop[i].status == GNTST_okay && q->mop[i].handle != ~0u)
            q->uop[k++] = (gnttab_unmap_grant_ref_t){
                .host_addr = q->mop[i].host_addr, .handle = q->mop[i].handle,
            };
    if (!q->mop_n)
        for (unsigned int i = 0; i < q->scratch_segs; i++)
            if (q->maps[i].temporary && q->maps[i].addr) {
                q->uop[k++] = (gnttab_unmap_grant_ref_t){
                    .host_addr = (uint64_t)(uintptr_t)q->maps[i].addr,
                    .handle = q->maps[i].handle,
                };
                q->maps[i].temporary = false;
            }
    q->mop_n = 0;
    unmap_batch(q, k);
}
