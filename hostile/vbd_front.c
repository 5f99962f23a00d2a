/*
 * The hostile block front end (<xensim/hostile.h>): a xenbus "vbd" front
 * driver that sets up one ring page and one event channel as blkfront
 * would, then attacks on request and records what the back end
 * answered. It touches the ring only as a guest may: through the granted
 * page and the port. Calls front.c, guest/ and xenbus/ only.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xensim/guest.h>
#include <xensim/hostile.h>
#include <xensim/xenbus.h>
#include "front.h"
#include "util.h"


struct hv_front {
    struct hostile_front f;  /* first: dev->priv points at both */
    void *ring_page, *data_page;
    xen_pfn_t ring_pfn, data_pfn;
    grant_ref_t ring_ref;
    long data_ref;
    blkif_front_ring_t ring;
    uint64_t sectors;
    unsigned int sector_size;
    uint64_t next_id;
    /* The ids on the ring and not yet answered. */
    uint64_t want[BLKIF_MAX_SEGMENTS_PER_REQUEST * 4];
    unsigned int nr_want;
    bool persistent;                /* asked for feature-persistent */
    domid_t backend;
    /* grant-flood: more refs to the data page. */
    long *flood;
    unsigned int nr_flood;
};

#define FLOOD_REFS 2048u

static void hv_release(struct hostile_front *f)
{
    struct hv_front *h = (struct hv_front *)f;
    /* The back end closed before the device went, so none of these is
     * mapped any more; the data page's own ref, ended last, frees it. */
    for (unsigned int i = 0; i < h->nr_flood; i++)
        xensim_xenbus_end_access((grant_ref_t)h->flood[i], XENSIM_INVALID_PFN);
    free(h->flood);
    if (h->data_ref >= 0)
        xensim_xenbus_end_access((grant_ref_t)h->data_ref, h->data_pfn);
    else if (h->data_page)
        xensim_guest_page_free(h->data_pfn);
    if (h->ring_page)
        xensim_xenbus_end_access(h->ring_ref, h->ring_pfn);
    free(h);
}

static int hv_probe(struct xensim_xenbus_device *dev)
{
    struct hv_front *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->data_ref = -1;
    h->f.release = hv_release;
    dev->priv = h;
    return 0;
}

/* The back end is in InitWait: a fresh ring page, a data page it may
 * write, and a port; the same pages again after a restart. */
static int hv_setup_rings(struct xensim_xenbus_device *dev)
{
    struct hv_front *h = dev->priv;
    int err;

    if (!h->ring_page) {
        if ((err = xensim_guest_page_alloc(&h->ring_pfn)))
            return err;
        h->ring_page = xensim_guest_pfn_to_virt(h->ring_pfn);
        if ((err = xensim_xenbus_grant_ring(dev->otherend_id, &h->ring_page, 1, &h->ring_ref))) {
            xensim_guest_page_free(h->ring_pfn);
            h->ring_page = NULL;
            return err;
        }
    }
    if (!h->data_page) {
        if ((err = xensim_guest_page_alloc(&h->data_pfn)))
            return err;
        h->data_page = xensim_guest_pfn_to_virt(h->data_pfn);
        h->data_ref = xensim_gnttab_grant_access(dev->otherend_id, h->data_pfn, false);
        if (h->data_ref < 0)
            return (int)h->data_ref;
    }
    h->backend = dev->otherend_id;
    blkif_sring_t *s = h->ring_page;
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&h->ring, s, XEN_PAGE_SIZE);
    h->nr_want = 0;
    return hostile_front_bind(&h->f, dev->otherend_id);
}

static int hv_publish(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t)
{
    struct hv_front *h = dev->priv;
    int err;

    unsigned int v = 0;
    h->persistent = xensim_xenbus_scanf(0, dev->nodename, "hostile-persistent", "%u", &v) == 1 &&
                    v == 1;
    if ((err = xensim_xenbus_printf(t, dev->nodename, "ring-ref", "%u", h->ring_ref)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "event-channel", "%u", h->f.port)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "protocol", "%s", XEN_IO_PROTO_ABI_X86_64)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-persistent", "%d", h->persistent)))
        return err;
    return 0;
}

static int hv_connect(struct xensim_xenbus_device *dev)
{
    struct hv_front *h = dev->priv;
    hostile_front_paths(&h->f, dev);
    if (xensim_xenbus_scanf(0, dev->otherend, "sectors", "%" SCNu64, &h->sectors) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "sector-size", "%u", &h->sector_size) != 1 ||
        !h->sector_size || h->sector_size > XEN_PAGE_SIZE)
        return -EINVAL;
    return 0;
}

const struct xensim_xenbus_driver xensim_hostile_vbd_front = {
    .type = "vbd",
    .probe = hv_probe,
    .setup_rings = hv_setup_rings,
    .publish = hv_publish,
    .connect = hv_connect,
    .disconnect = hostile_front_disconnect,
    .remove = hostile_front_remove,
};

/* Puts a request on the ring (not yet pushed); its id is remembered. */
static void put(struct hv_front *h, const blkif_request_t *req, struct xensim_hostile_report *r)
{
    blkif_request_t *slot = RING_GET_REQUEST(&h->ring, h->ring.req_prod_pvt);
    *slot = *req;
    slot->id = h->next_id++;
    h->ring.req_prod_pvt++;
    if (h->nr_want < sizeof(h->want) / sizeof(h->want[0]))
        h->want[h->nr_want++] = slot->id;
    r->requests++;
}

static void push(struct hv_front *h, struct xensim_hostile_report *r)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&h->ring, notify);
    (void)notify;           /* always: a hostile front end does not wait */
    xensim_evtchn_send(h->f.port);
    r->notifications++;
}

/* A response's id: one asked for and not yet answered, or a bad one. */
static bool take_id(struct hv_front *h, uint64_t id)
{
    for (unsigned int i = 0; i < h->nr_want; i++)
        if (h->want[i] == id) {
            h->want[i] = h->want[--h->nr_want];
            return true;
        }
    return false;
}

static void collect(struct hv_front *h, struct xensim_hostile_report *r)
{
    RING_IDX rp = __atomic_load_n(&h->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
    /* A back end that pushes more than was asked is itself broken: read
     * only what the ring can hold past our consumer. */
    if ((RING_IDX)(rp - h->ring.rsp_cons) > RING_SIZE(&h->ring))
        rp = h->ring.rsp_cons + RING_SIZE(&h->ring);
    while (h->ring.rsp_cons != rp) {
        blkif_response_t rsp = *RING_GET_RESPONSE(&h->ring, h->ring.rsp_cons);
        h->ring.rsp_cons++;
        r->responses++;
        if (!take_id(h, rsp.id))
            r->bad_responses++;
        if (rsp.status != BLKIF_RSP_OKAY)
            r->errors++;
    }
    h->ring.sring->rsp_event = h->ring.rsp_cons + 1;
}

/* The back end's state, once it is one of `until` (a bit per state), or
 * whatever it is when the wait ends. */
static enum xenbus_state backend_state(const struct hv_front *h, unsigned int until)
{
    uint64_t deadline = xensim_guest_system_time() + HOSTILE_WAIT_NS;
    enum xenbus_state s;
    for (;;) {
        s = xensim_xenbus_read_state(h->f.otherend);
        if ((until & (1u << s)) || xensim_guest_system_time() >= deadline)
            return s;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

/* Until every id asked for is answered, or the back end stops answering
 * (it closed the device, or HOSTILE_WAIT_NS passed). */
static void wait_answers(struct hv_front *h, struct xensim_hostile_report *r)
{
    uint64_t deadline = xensim_guest_system_time() + HOSTILE_WAIT_NS;
    while (h->f.live && !h->f.removed) {
        collect(h, r);
        if (!h->nr_want || xensim_guest_system_time() >= deadline)
            return;
        enum xenbus_state s = xensim_xenbus_read_state(h->f.otherend);
        if (s == XenbusStateClosing || s == XenbusStateClosed)
            return;
        xensim_evtchn_clear_pending(h->f.port);
        collect(h, r);
        if (!h->nr_want)
            return;
        hostile_front_poll(&h->f);
    }
}

/* One honest request: a read of the first sector into the data page. */
static blkif_request_t good_read(const struct hv_front *h)
{
    unsigned int last = h->sector_size / 512 - 1;
    blkif_request_t req = { .operation = BLKIF_OP_READ, .nr_segments = 1, .sector_number = 0 };
    req.seg[0] = (struct blkif_request_segment){ .gref = (grant_ref_t)h->data_ref,
                                                 .first_sect = 0, .last_sect = (uint8_t)last };
    return req;
}

static void event_storm(struct hv_front *h, struct xensim_hostile_report *r)
{
    hostile_front_storm(&h->f, r);
    blkif_request_t req = good_read(h);
    put(h, &req, r);
    push(h, r);
    wait_answers(h, r);
}

static void ring_indices(struct hv_front *h, struct xensim_hostile_report *r)
{
    /* More requests than the ring holds: nothing a back end may read. */
    RING_IDX far = h->ring.req_prod_pvt + RING_SIZE(&h->ring) + 7;
    __atomic_store_n(&h->ring.sring->req_prod, far, __ATOMIC_RELEASE);
    xensim_evtchn_send(h->f.port);
    r->notifications++;
}

static void bad_requests(struct hv_front *h, struct xensim_hostile_report *r)
{
    blkif_request_t good = good_read(h), req;
    unsigned int per_page = XEN_PAGE_SIZE / 512;

    req = good;
    req.operation = 0x7f;                                /* no such operation */
    put(h, &req, r);
    req = good;
    req.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1; /* more than a request holds */
    put(h, &req, r);
    req = good;
    req.seg[0].gref = HOSTILE_NO_REF;                            /* never granted */
    put(h, &req, r);
    req = good;
    req.seg[0].first_sect = 3;                           /* past the page's end */
    req.seg[0].last_sect = (uint8_t)(per_page + 1);
    put(h, &req, r);
    req = good;
    req.seg[0].first_sect = 5;                           /* backwards */
    req.seg[0].last_sect = 2;
    put(h, &req, r);
    req = good;
    req.sector_number = h->sectors;                      /* past the disk's end */
    put(h, &req, r);
    push(h, r);
    wait_answers(h, r);
}

static void state_jumps(struct hv_front *h, struct xensim_hostile_report *r)
{
    static const enum xenbus_state jumps[] = {
        XenbusStateConnected, XenbusStateInitialising, XenbusStateReconfiguring,
        XenbusStateInitialised, XenbusStateUnknown, XenbusStateConnected, XenbusStateClosed,
    };
    for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]) && !h->f.removed; i++)
        xensim_xenbus_printf(0, h->f.nodename, "state", "%d", (int)jumps[i]);
    (void)r;
}

#define STORE_NODES_MAX 100000   /* far past any quota the daemon has */

static void store_quota(struct hv_front *h, struct xensim_hostile_report *r)
{
    char key[32];
    /* 64 to a directory: one directory's list of children would hit the
     * entry size quota (2048 bytes) long before the node count. */
    for (unsigned int i = 0; i < STORE_NODES_MAX && !h->f.removed; i++) {
        snprintf(key, sizeof(key), "junk-%u/%u", i / 64, i % 64);
        int err = xensim_xenbus_printf(0, h->f.nodename, key, "%u", i);
        if (err) {
            r->store_error = err;
            return;
        }
        r->store_writes++;
    }
}

/* A read of the data page, its grant entry rewritten to name another
 * domain with the flags given (in either version's header, what a guest
 * may do to its own table at any time), and a second read of the same
 * ref. */
static void read_rewrite_read(struct hv_front *h, struct xensim_hostile_report *r,
                              uint16_t new_flags)
{
    blkif_request_t req = good_read(h);
    unsigned int nr = 0, nr2 = 0;
    grant_entry_v1_t *e = xensim_gnttab_entries(&nr);
    grant_entry_v2_t *e2 = e ? NULL : xensim_gnttab_entries_v2(&nr2);
    domid_t *domid = NULL;
    uint16_t *flags = NULL;

    put(h, &req, r);
    push(h, r);
    wait_answers(h, r);
    if (e && (unsigned long)h->data_ref < nr) {
        domid = &e[h->data_ref].domid;
        flags = &e[h->data_ref].flags;
    } else if (e2 && (unsigned long)h->data_ref < nr2) {
        domid = &e2[h->data_ref].hdr.domid;
        flags = &e2[h->data_ref].hdr.flags;
    }
    if (!domid || !h->f.live)
        return;
    __atomic_store_n(domid, (domid_t)0x7ff0, __ATOMIC_RELAXED);
    __atomic_store_n(flags, new_flags, __ATOMIC_RELEASE);
    put(h, &req, r);
    push(h, r);
    wait_answers(h, r);
}

static void grant_rewrite(struct hv_front *h, struct xensim_hostile_report *r)
{
    read_rewrite_read(h, r, GTF_permit_access | GTF_readonly);
}

#define REWRITES 20000

static void rewrite_after_push(struct hv_front *h, struct xensim_hostile_report *r)
{
    blkif_request_t good = good_read(h);
    blkif_request_t *slot = RING_GET_REQUEST(&h->ring, h->ring.req_prod_pvt);
    put(h, &good, r);
    push(h, r);
    /* The guest owns its ring page: nothing stops these writes. Only the
     * fields past byte 12 change: the response goes into the same slot
     * (its id, operation and status in bytes 0-11), and clobbering it
     * would be the attacker's own loss, not the back end's. */
    uint64_t past_end = h->sectors;
    for (unsigned int i = 0; i < REWRITES && h->f.live; i++) {
        switch (i % 3) {
        case 0:
            __atomic_store_n(&slot->seg[0].gref, (grant_ref_t)HOSTILE_NO_REF, __ATOMIC_RELAXED);
            break;
        case 1:
            __atomic_store_n(&slot->seg[0].last_sect, (uint8_t)(XEN_PAGE_SIZE / 512 + 3),
                             __ATOMIC_RELAXED);
            break;
        default:
            __atomic_store_n(&slot->sector_number, past_end, __ATOMIC_RELAXED);
            __atomic_store_n(&slot->seg[0].gref, good.seg[0].gref, __ATOMIC_RELAXED);
            __atomic_store_n(&slot->seg[0].last_sect, good.seg[0].last_sect, __ATOMIC_RELAXED);
            __atomic_store_n(&slot->sector_number, (uint64_t)0, __ATOMIC_RELAXED);
            break;
        }
    }
    wait_answers(h, r);
    put(h, &good, r);
    push(h, r);
    wait_answers(h, r);
}

static void grant_flood(struct hv_front *h, struct xensim_hostile_report *r)
{
    if (!h->persistent || !(h->flood = calloc(FLOOD_REFS, sizeof(*h->flood))))
        return;
    while (h->nr_flood < FLOOD_REFS) {
        long ref = xensim_gnttab_grant_access(h->backend, h->data_pfn, false);
        if (ref < 0)
            break;
        h->flood[h->nr_flood++] = ref;
    }
    /* Every ref once, 11 to a request, as many requests at a time as the
     * ring holds. */
    blkif_request_t req = good_read(h);
    req.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    unsigned int next = 0;
    while (next < h->nr_flood && h->f.live && !h->f.removed) {
        for (unsigned int k = 0; k < RING_SIZE(&h->ring) - 1 && next < h->nr_flood; k++) {
            for (unsigned int s = 0; s < BLKIF_MAX_SEGMENTS_PER_REQUEST; s++)
                req.seg[s] = (struct blkif_request_segment){
                    .gref = (grant_ref_t)h->flood[next++ % h->nr_flood],
                    .first_sect = (uint8_t)s % (XEN_PAGE_SIZE / 512),
                    .last_sect = (uint8_t)s % (XEN_PAGE_SIZE / 512) };
            put(h, &req, r);
        }
        push(h, r);
        wait_answers(h, r);
        if (h->nr_want)
            return;           /* it stopped answering: the report says so */
    }
}

/* Revoked by hand while the back end keeps it mapped (persistent
 * grants): the in-use bits and permit_access gone, another domain
 * named. */
static void revoke_mapped(struct hv_front *h, struct xensim_hostile_report *r)
{
    if (h->persistent)
        read_rewrite_read(h, r, 0);
}

static void (*const attacks[XENSIM_HOSTILE_KINDS])(struct hv_front *,
                                                   struct xensim_hostile_report *) = {
    [XENSIM_HOSTILE_EVENT_STORM] = event_storm,
    [XENSIM_HOSTILE_RING_INDICES] = ring_indices,
    [XENSIM_HOSTILE_BAD_REQUESTS] = bad_requests,
    [XENSIM_HOSTILE_STATE_JUMPS] = state_jumps,
    [XENSIM_HOSTILE_STORE_QUOTA] = store_quota,
    [XENSIM_HOSTILE_GRANT_REWRITE] = grant_rewrite,
    [XENSIM_HOSTILE_REWRITE_AFTER_PUSH] = rewrite_after_push,
    [XENSIM_HOSTILE_GRANT_FLOOD] = grant_flood,
    [XENSIM_HOSTILE_REVOKE_MAPPED] = revoke_mapped,
};

/* What the back end settles in after each attack: after a closed ring,
 * Closing or Closed; after state jumps, any state it can leave (the
 * framework answers each jump, and where that ends depends on when each
 * event is seen); otherwise Connected, still serving. */
static unsigned int settled_states(enum xensim_hostile_kind kind)
{
    unsigned int gone = 1u << XenbusStateClosing | 1u << XenbusStateClosed;
    if (kind == XENSIM_HOSTILE_RING_INDICES)
        return gone;
    if (kind == XENSIM_HOSTILE_STATE_JUMPS)
        return gone | 1u << XenbusStateInitWait | 1u << XenbusStateConnected;
    return 1u << XenbusStateConnected | gone;
}

int xensim_hostile_vbd_attack(unsigned int devid, enum xensim_hostile_kind kind,
                              struct xensim_hostile_report *r)
{
    if ((unsigned int)kind >= XENSIM_HOSTILE_KINDS || !attacks[kind])
        return -EINVAL;
    struct hostile_front *f = hostile_front_begin(&xensim_hostile_vbd_front, devid);
    if (!f)
        return -ENODEV;
    struct hv_front *h = (struct hv_front *)f;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    /* From here on the device may go at any xenbus call: only h is used. */
    attacks[kind](h, r);
    /* h keeps the back end's path even if the device went meanwhile. */
    r->backend_state = backend_state(h, settled_states(kind));
    r->backend_closed = r->backend_state == XenbusStateClosing ||
                        r->backend_state == XenbusStateClosed;
    hostile_front_end(f);
    return 0;
}
