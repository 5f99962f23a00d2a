/*
 * Maptrack: the handles a domain's grant mappings are known by. Owns the
 * chunked entry array and its free list (gt->mt_lock); relies on nothing
 * but gnttab.h. Handles are reused after unmap, most recently freed first.
 */
#include "gnttab.h"

int gnttab_maptrack_init(struct grant_table *gt, unsigned int max_frames)
{
    gt->mt_max_frames = max_frames;
    gt->mt = calloc(max_frames, sizeof(*gt->mt));
    if (!gt->mt)
        return -ENOMEM;
    gt->mt_free = GNTTAB_NO_HANDLE;
    int e = pthread_mutex_init(&gt->mt_lock, NULL);
    if (e)
        XENSIM_DIE("pthread_mutex_init", e);
    return 0;
}

void gnttab_maptrack_free(struct grant_table *gt)
{
    if (!gt->mt)
        return;
    for (unsigned int i = 0; i < gt->mt_max_frames; i++)
        free(gt->mt[i]);
    free(gt->mt);
    gt->mt = NULL;
    pthread_mutex_destroy(&gt->mt_lock);
}

unsigned int gnttab_maptrack_limit(struct grant_table *gt)
{
    return atomic_load_explicit(&gt->mt_frames, memory_order_acquire) *
           GNTTAB_MAPTRACK_PER_FRAME;
}

/* Lock-free so that the fault handler can use it: chunks are published with
 * a release store of mt_frames after their pointer is set, and are never
 * freed before the domain. */
struct gnttab_maptrack *gnttab_maptrack_entry(struct grant_table *gt, grant_handle_t h)
{
    if (h >= gnttab_maptrack_limit(gt))
        return NULL;
    return &gt->mt[h / GNTTAB_MAPTRACK_PER_FRAME][h % GNTTAB_MAPTRACK_PER_FRAME];
}

/* Adds one chunk; its handles go on the free list lowest first. */
static bool maptrack_grow_locked(struct grant_table *gt)
{
    unsigned int n = atomic_load_explicit(&gt->mt_frames, memory_order_relaxed);
    if (n >= gt->mt_max_frames)
        return false;
    struct gnttab_maptrack *chunk = calloc(GNTTAB_MAPTRACK_PER_FRAME, sizeof(*chunk));
    if (!chunk)
        return false;
    uint32_t base = n * GNTTAB_MAPTRACK_PER_FRAME;
    for (uint32_t i = GNTTAB_MAPTRACK_PER_FRAME; i-- > 0;) {
        chunk[i].rdomid = DOMID_INVALID;
        chunk[i].next_free = gt->mt_free;
        gt->mt_free = base + i;
    }
    gt->mt[n] = chunk;
    atomic_store_explicit(&gt->mt_frames, n + 1, memory_order_release);
    return true;
}

grant_handle_t gnttab_maptrack_get(struct grant_table *gt)
{
    grant_handle_t h = GNTTAB_NO_HANDLE;

    xensim_mutex_lock(&gt->mt_lock);
    if (!gt->mt_closed &&
        (gt->mt_free != GNTTAB_NO_HANDLE || maptrack_grow_locked(gt))) {
        h = gt->mt_free;
        gt->mt_free = gnttab_maptrack_entry(gt, h)->next_free;
        atomic_fetch_add_explicit(&gt->mt_in_use, 1, memory_order_relaxed);
    }
    xensim_mutex_unlock(&gt->mt_lock);
    return h;
}

void gnttab_maptrack_put(struct grant_table *gt, grant_handle_t h)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(gt, h);

    assert(m && atomic_load(&m->flags) == 0);
    xensim_mutex_lock(&gt->mt_lock);
    m->next_free = gt->mt_free;
    gt->mt_free = h;
    atomic_fetch_sub_explicit(&gt->mt_in_use, 1, memory_order_relaxed);
    xensim_mutex_unlock(&gt->mt_lock);
}
