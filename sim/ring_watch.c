/*
 * Shared rings a domain's code has named (xensim_ring_watch), so that a
 * deterministic run that deadlocks can say what its rings show: each
 * one's four shared indices and, where a producer has reached the event
 * index its consumer set with every task asleep, that the consumer's
 * wake-up was lost. Owns a list per domain; reads the rings only through
 * the watcher's own mapping, which it must keep until it unwatches (and
 * which the domain's death drops after the list, in domain.c). With
 * check_double_fetch it arms fetch_watch.c on each ring it is given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"

struct ring_watch {
    const volatile uint32_t *idx;   /* req_prod, req_event, rsp_prod, rsp_event */
    unsigned int nr_entries;
    bool requests_wait;             /* requests_wait_for_work */
    bool reported;                  /* ring_watch_check told of it once */
    char name[64];
    struct ring_watch *next;
};

static struct domain *ring_domain(void)
{
    return current_vcpu ? current_vcpu->d : NULL;
}

int xensim_ring_watch(const void *sring, const struct xensim_ring_geometry *g,
                      const char *name)
{
    struct domain *d = ring_domain();
    if (!d)
        return -ESRCH;
    if (!sring || !g || !g->entry_size || !g->nr_entries ||
        g->entries_offset < 4 * sizeof(uint32_t) ||
        g->entries_offset > XEN_PAGE_SIZE ||
        g->nr_entries > (XEN_PAGE_SIZE - g->entries_offset) / g->entry_size * 16)
        return -EINVAL;
    struct ring_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->idx = sring;
    w->nr_entries = g->nr_entries;
    w->requests_wait = g->requests_wait_for_work;
    snprintf(w->name, sizeof(w->name), "%s", name ? name : "ring");
    int rc = 0;
    sim_lock(&d->ring_watch_lock);
    for (struct ring_watch *o = d->ring_watches; o; o = o->next)
        if (o->idx == w->idx)
            rc = -EEXIST;
    if (!rc) {
        w->next = d->ring_watches;
        d->ring_watches = w;
    }
    sim_unlock(&d->ring_watch_lock);
    if (rc)
        free(w);
    else if (d->sim->check_double_fetch)
        fetch_watch_arm(d, sring, g, w->name);
    return rc;
}

int xensim_ring_unwatch(const void *sring)
{
    struct domain *d = ring_domain();
    struct ring_watch *gone = NULL;
    if (!d)
        return -ESRCH;
    sim_lock(&d->ring_watch_lock);
    for (struct ring_watch **p = &d->ring_watches; *p; p = &(*p)->next)
        if ((*p)->idx == sring) {
            gone = *p;
            *p = gone->next;
            break;
        }
    sim_unlock(&d->ring_watch_lock);
    if (gone)
        fetch_watch_disarm(gone->idx);
    free(gone);
    return gone ? 0 : -ENOENT;
}

void ring_watch_domain_free(struct domain *d)
{
    sim_lock(&d->ring_watch_lock);
    struct ring_watch *w = d->ring_watches;
    d->ring_watches = NULL;
    sim_unlock(&d->ring_watch_lock);
    while (w) {
        struct ring_watch *next = w->next;
        fetch_watch_disarm(w->idx);
        free(w);
        w = next;
    }
}

/* prod has reached the event index: RING_IDX arithmetic, as ring.h's
 * notify check does it. An event index of 0 was never set. */
static bool reached(uint32_t prod, uint32_t event)
{
    return event && (uint32_t)(prod - event) < 0x80000000u;
}

/* What no honest pair makes, whoever made it: more requests outstanding
 * than the ring has entries, or responses to requests never pushed. */
void ring_watch_check(struct domain *d)
{
    if (!__atomic_load_n(&d->ring_watches, __ATOMIC_RELAXED))
        return;
    sim_lock(&d->ring_watch_lock);
    for (struct ring_watch *w = d->ring_watches; w; w = w->next) {
        uint32_t rq = w->idx[0], rs = w->idx[2];
        if (w->reported)
            continue;
        if ((uint32_t)(rq - rs) > w->nr_entries && (int32_t)(rq - rs) > 0) {
            w->reported = true;
            protocol_violation(d, "ring %s: req_prod %u is %u past rsp_prod %u, more requests "
                                  "outstanding than its %u entries", w->name, rq, rq - rs, rs,
                               w->nr_entries);
        } else if ((int32_t)(rs - rq) > 0) {
            w->reported = true;
            protocol_violation(d, "ring %s: rsp_prod %u is past req_prod %u, responses to "
                                  "requests never made", w->name, rs, rq);
        }
    }
    sim_unlock(&d->ring_watch_lock);
}

unsigned int ring_watch_report(struct domain *d, FILE *out, bool stuck)
{
    unsigned int lost = 0;
    sim_lock(&d->ring_watch_lock);
    for (struct ring_watch *w = d->ring_watches; w; w = w->next) {
        uint32_t rq = w->idx[0], rqe = w->idx[1], rs = w->idx[2], rse = w->idx[3];
        /* Mid-run a producer that reached the index may be about to
         * send; only with every task asleep is nobody going to. */
        bool lost_req = stuck && !w->requests_wait && reached(rq, rqe);
        bool lost_rsp = stuck && reached(rs, rse);
        fprintf(out, "  dom%u ring %s: req_prod %u, req_event %u, rsp_prod %u, rsp_event %u\n",
                d->domid, w->name, rq, rqe, rs, rse);
        if (lost_req)
            fprintf(out, "  dom%u ring %s: LOST WAKE-UP: requests reached req_event %u and "
                         "its consumer waits for an event nobody will send (unless it "
                         "stopped for good)\n",
                    d->domid, w->name, rqe);
        if (lost_rsp)
            fprintf(out, "  dom%u ring %s: LOST WAKE-UP: responses reached rsp_event %u and "
                         "its consumer waits for an event nobody will send (unless it "
                         "stopped for good)\n",
                    d->domid, w->name, rse);
        lost += lost_req + lost_rsp;
    }
    sim_unlock(&d->ring_watch_lock);
    return lost;
}
