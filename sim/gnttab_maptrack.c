/*
 * Maptrack: the handles a domain's grant mappings are known by. Owns the
 * chunked entry array and the per-vCPU free lists (gt->mt_lock); relies on
 * nothing but gnttab.h and current_vcpu.
 *
 * The lists follow Xen 4.17's get_maptrack_handle so that handle numbers
 * match Xen's for the same sequence of maps and unmaps:
 *  - a new frame (256 entries) gives its first entry to the map that grew
 *    it and chains the other 255 in order in front of the vCPU's list;
 *  - a freed handle goes to the tail of the list of the vCPU it belongs
 *    to, so it is the last one reused;
 *  - a list always keeps its last entry ("to make it easier to add free
 *    entries to the tail"), so one frame on one vCPU gives 255 handles;
 *  - a vCPU without headroom takes entries from the other vCPUs' lists
 *    (first a tail of its own if it has no list), each keeping its last.
 */
#include "gnttab.h"

#define MT_TAIL GNTTAB_NO_HANDLE

int gnttab_maptrack_init(struct grant_table *gt, unsigned int max_frames)
{
    gt->mt_max_frames = max_frames;
    gt->mt = calloc(max_frames ? max_frames : 1, sizeof(*gt->mt));
    if (!gt->mt)
        return -ENOMEM;
    for (unsigned int v = 0; v < XENSIM_MAX_VCPUS; v++)
        gt->mt_head[v] = gt->mt_tail[v] = MT_TAIL;
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


static struct gnttab_maptrack *mt_locked(struct grant_table *gt, uint32_t h)
{
    return &gt->mt[h / GNTTAB_MAPTRACK_PER_FRAME][h % GNTTAB_MAPTRACK_PER_FRAME];
}

/* The head of v's list, unless it is the last entry (Xen's
 * _get_maptrack_handle). */
static inline uint32_t take_locked(struct grant_table *gt, unsigned int v)
{
    uint32_t head = gt->mt_head[v];
    if (head == MT_TAIL)
        return MT_TAIL;
    uint32_t next = mt_locked(gt, head)->next_free;
    if (next == MT_TAIL)
        return MT_TAIL;
    gt->mt_head[v] = next;
    return head;
}

/* A new frame for vCPU v: its first entry is returned, the rest go in
 * front of v's list. MT_TAIL without headroom or memory. */
static uint32_t grow_locked(struct grant_table *gt, unsigned int v)
{
    unsigned int n = atomic_load_explicit(&gt->mt_frames, memory_order_relaxed);
    if (n >= gt->mt_max_frames)
        return MT_TAIL;
    struct gnttab_maptrack *chunk = calloc(GNTTAB_MAPTRACK_PER_FRAME, sizeof(*chunk));
    if (!chunk)
        return MT_TAIL;
    uint32_t base = n * GNTTAB_MAPTRACK_PER_FRAME;
    for (uint32_t i = 0; i < GNTTAB_MAPTRACK_PER_FRAME; i++) {
        chunk[i].rdomid = DOMID_INVALID;
        chunk[i].vcpu = (uint8_t)v;
        chunk[i].next_free = base + i + 1;
    }
    chunk[GNTTAB_MAPTRACK_PER_FRAME - 1].next_free = gt->mt_head[v];
    if (gt->mt_tail[v] == MT_TAIL)
        gt->mt_tail[v] = base + GNTTAB_MAPTRACK_PER_FRAME - 1;
    gt->mt[n] = chunk;
    atomic_store_explicit(&gt->mt_frames, n + 1, memory_order_release);
    gt->mt_head[v] = base + 1;
    return base;
}

/* One entry from some vCPU's list for thief (Xen's steal_maptrack_handle:
 * the first victim in turn, then the others). */
static uint32_t steal_locked(struct grant_table *gt, unsigned int thief, unsigned int nr_vcpus)
{
    unsigned int first = gt->mt_steal_next++ % nr_vcpus;
    unsigned int i = first;
    do {
        uint32_t h = take_locked(gt, i);
        if (h != MT_TAIL) {
            mt_locked(gt, h)->vcpu = (uint8_t)thief;
            return h;
        }
        i = (i + 1) % nr_vcpus;
    } while (i != first);
    return MT_TAIL;
}

/* The list of v had nothing to give. */
__attribute__((noinline))
static uint32_t get_slow_locked(struct grant_table *gt, unsigned int v, unsigned int nr_vcpus)
{
    uint32_t h = grow_locked(gt, v);
    if (h != MT_TAIL)
        return h;
    /* No headroom (or no memory): a vCPU with no list first takes an entry to be its
     * tail, then one more to return. */
    if (gt->mt_tail[v] == MT_TAIL) {
        uint32_t t = steal_locked(gt, v, nr_vcpus);
        if (t == MT_TAIL)
            return MT_TAIL;
        mt_locked(gt, t)->next_free = MT_TAIL;
        gt->mt_tail[v] = t;
        if (gt->mt_head[v] == MT_TAIL)
            gt->mt_head[v] = t;
    }
    return steal_locked(gt, v, nr_vcpus);
}

grant_handle_t gnttab_maptrack_get(struct grant_table *gt)
{
    struct vcpu *cur = current_vcpu;
    unsigned int v = cur && cur->d == gt->d ? cur->id : 0;
    uint32_t h = MT_TAIL;

    xensim_mutex_lock(&gt->mt_lock);
    if (!atomic_load_explicit(&gt->mt_closed, memory_order_relaxed) &&
        (h = take_locked(gt, v)) == MT_TAIL)
        h = get_slow_locked(gt, v, gt->d->nr_vcpus);
    if (h != MT_TAIL)
        atomic_fetch_add_explicit(&gt->mt_in_use, 1, memory_order_relaxed);
    xensim_mutex_unlock(&gt->mt_lock);
    return h;
}

void gnttab_maptrack_put(struct grant_table *gt, grant_handle_t h)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(gt, h);

    assert(m && atomic_load(&m->flags) == 0);
    xensim_mutex_lock(&gt->mt_lock);
    unsigned int v = m->vcpu;
    m->next_free = MT_TAIL;
    /* A handle only ever belongs to a vCPU that has a list. */
    assert(gt->mt_tail[v] != MT_TAIL);
    mt_locked(gt, gt->mt_tail[v])->next_free = h;
    gt->mt_tail[v] = h;
    atomic_fetch_sub_explicit(&gt->mt_in_use, 1, memory_order_relaxed);
    xensim_mutex_unlock(&gt->mt_lock);
}

void gnttab_maptrack_unget(struct grant_table *gt, grant_handle_t h)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(gt, h);

    assert(m && atomic_load(&m->flags) == 0);
    xensim_mutex_lock(&gt->mt_lock);
    unsigned int v = m->vcpu;
    m->next_free = gt->mt_head[v];
    gt->mt_head[v] = h;
    if (gt->mt_tail[v] == MT_TAIL)
        gt->mt_tail[v] = h;
    atomic_fetch_sub_explicit(&gt->mt_in_use, 1, memory_order_relaxed);
    xensim_mutex_unlock(&gt->mt_lock);
}
