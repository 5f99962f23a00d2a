/*
 * netback: the back end of PV network devices, a driver in the back end's
 * domain. Owns each vif's back ring halves (mapped from the front's
 * grants), its event channel and its queue of frames to deliver, and the
 * pool of its own pages frames are copied into. TX: validates and copies
 * each request out with GNTTABOP_copy, answers every slot. RX: copies into
 * the front's posted pages with GNTTABOP_copy, answering in the request's
 * slot. Frames go through vswitch.c; calls guest.h and xenbus.h's ring
 * helpers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "netback.h"

#define NB_MAX_CHAIN 64          /* longer chains are fatal, as in Linux */
#define NB_TX_BUDGET 64          /* frames per vif per pass: fairness */
#define ETH_HLEN 14u

static void nb_fatal(struct nb_vif *vif, const char *why)
{
    if (!vif->dead) {
        vif->dead = true;
        vif->reason = why;
    }
}

/* The front end broke the protocol: the simulator is told, then as fatal. */
static void nb_broken(struct nb_vif *vif, const char *why)
{
    if (!vif->dead)
        xensim_protocol_violation("netback: dom%u's vif %u: %s", vif->domid, vif->handle, why);
    nb_fatal(vif, why);
}

static struct nb_pkt *nb_pkt_alloc(struct xensim_netback *nb, unsigned int len)
{
    unsigned int npages = (len + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    if (npages > NB_PKT_PAGES || npages > nb->pool_free)
        return NULL;
    struct nb_pkt *p = malloc(sizeof(*p));
    if (!p)
        return NULL;
    p->refs = 1;
    p->len = len;
    p->npages = npages;
    for (unsigned int i = 0; i < npages; i++) {
        p->pfn[i] = nb->pool[--nb->pool_free];
        p->va[i] = xensim_guest_pfn_to_virt(p->pfn[i]);
    }
    return p;
}

void netback_pkt_put(struct xensim_netback *nb, struct nb_pkt *p)
{
    if (--p->refs)
        return;
    for (unsigned int i = 0; i < p->npages; i++)
        nb->pool[nb->pool_free++] = p->pfn[i];
    free(p);
}

/* Is the front end's end of the channel still there? */
static bool nb_front_alive(struct nb_vif *vif)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = vif->port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == 0 &&
           st.status == EVTCHNSTAT_interdomain;
}

/* One frame's slots, copied off the TX ring before anything looks at them. */
struct nb_tx_frame {
    netif_tx_request_t reqs[NB_MAX_CHAIN];   /* its data slots */
    unsigned int nreq;
    struct {
        uint16_t id;
        bool extra;                          /* an extra-info slot */
    } slot[NB_MAX_CHAIN];                    /* every slot, each to be answered */
    unsigned int nslot;
    RING_IDX end;                            /* the index after its last slot */
    unsigned int total, rest;                /* first slot's size; the others' sum */
    int16_t status;
};

static void nb_tx_add_slot(struct nb_tx_frame *f, uint16_t id, bool extra)
{
    f->slot[f->nslot].id = id;
    f->slot[f->nslot++].extra = extra;
}

/* The extra-info slots after the first: we offer no GSO and no multicast
 * control, so GSO and unknown types are errors, multicast requests are
 * ignored. Returns -1 when the vif had to be disconnected. */
static int nb_tx_extras(struct nb_vif *vif, RING_IDX rp, struct nb_tx_frame *f)
{
    bool more;

    do {
        if (f->end == rp || f->nslot == NB_MAX_CHAIN) {
            nb_broken(vif, "tx extra-info slot missing");
            return -1;
        }
        netif_tx_request_t raw;
        struct netif_extra_info ex;
        RING_COPY_REQUEST(&vif->tx, f->end, &raw);
        memcpy(&ex, &raw, sizeof(ex));
        f->end++;
        nb_tx_add_slot(f, raw.id, true);
        if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE || ex.type >= XEN_NETIF_EXTRA_TYPE_MAX ||
            ex.type == XEN_NETIF_EXTRA_TYPE_GSO)
            f->status = NETIF_RSP_ERROR;
        more = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
    } while (more);
    return 0;
}

/* Copies the frame's slots from req_cons up to rp, and checks their sizes
 * and offsets. Returns -1 when the vif had to be disconnected. */
static int nb_tx_collect(struct nb_vif *vif, RING_IDX rp, struct nb_tx_frame *f)
{
    f->end = vif->tx.req_cons;
    f->nreq = f->nslot = 0;
    f->status = NETIF_RSP_OKAY;
    RING_COPY_REQUEST(&vif->tx, f->end, &f->reqs[0]);
    f->end++;
    nb_tx_add_slot(f, f->reqs[0].id, false);
    f->nreq = 1;
    if ((f->reqs[0].flags & NETTXF_extra_info) && nb_tx_extras(vif, rp, f))
        return -1;
    while (f->reqs[f->nreq - 1].flags & NETTXF_more_data) {
        if (f->end == rp) {
            nb_broken(vif, "tx packet runs past req_prod");
            return -1;
        }
        if (f->nslot == NB_MAX_CHAIN) {
            nb_broken(vif, "tx packet has too many slots");
            return -1;
        }
        RING_COPY_REQUEST(&vif->tx, f->end, &f->reqs[f->nreq]);
        f->end++;
        nb_tx_add_slot(f, f->reqs[f->nreq].id, false);
        f->nreq++;
    }
    f->total = f->reqs[0].size;
    f->rest = 0;
    for (unsigned int i = 1; i < f->nreq; i++)
        f->rest += f->reqs[i].size;
    if (f->nreq > XEN_NETIF_NR_SLOTS_MIN || f->total < ETH_HLEN || f->rest >= f->total)
        f->status = NETIF_RSP_ERROR;
    for (unsigned int i = 0; i < f->nreq && f->status == NETIF_RSP_OKAY; i++) {
        unsigned int len = i ? f->reqs[i].size : f->total - f->rest;
        if ((unsigned int)f->reqs[i].offset + len > XEN_PAGE_SIZE)
            f->status = NETIF_RSP_ERROR;
    }
    return 0;
}

/* The frames of a TX pass whose copies go in one GNTTABOP_copy, as
 * Linux's netback gathers a pass's copies into one hypercall: up to
 * NB_TX_BATCH frames, flushed early when another frame's copies might not
 * fit (a frame with an OKAY status has at most XEN_NETIF_NR_SLOTS_MIN data
 * slots, each landing in at most two of our pages). One per netback, under
 * its lock: too big for a vCPU's stack. */
#define NB_TX_BATCH 32
#define NB_TX_BATCH_OPS 128
#define NB_TX_FRAME_OPS (2 * XEN_NETIF_NR_SLOTS_MIN)
struct nb_tx_batch {
    struct nb_tx_frame f[NB_TX_BATCH];
    struct nb_pkt *pkt[NB_TX_BATCH];        /* NULL: nothing to copy */
    unsigned int first_op[NB_TX_BATCH];     /* f[k]'s copies start here */
    unsigned int nframes, nops;
    gnttab_copy_t ops[NB_TX_BATCH_OPS];
};

/* Appends the checked frame to the batch, with its copies from the
 * guest's pages into a packet of ours when its status is OKAY (DROPPED
 * when we have no pages left). */
static void nb_tx_queue(struct nb_vif *vif, struct nb_tx_batch *b)
{
    struct nb_tx_frame *f = &b->f[b->nframes];
    struct nb_pkt *p = NULL;
    b->first_op[b->nframes] = b->nops;
    if (f->status == NETIF_RSP_OKAY && !(p = nb_pkt_alloc(vif->nb, f->total)))
        f->status = NETIF_RSP_DROPPED;
    b->pkt[b->nframes++] = p;
    if (!p)
        return;
    unsigned int at = 0;
    for (unsigned int i = 0; i < f->nreq; i++) {
        unsigned int len = i ? f->reqs[i].size : f->total - f->rest;
        unsigned int src_off = f->reqs[i].offset;
        while (len) {
            unsigned int pg = at / XEN_PAGE_SIZE, off = at % XEN_PAGE_SIZE;
            unsigned int n = XEN_PAGE_SIZE - off < len ? XEN_PAGE_SIZE - off : len;
            b->ops[b->nops++] = (gnttab_copy_t){
                .source = { .u.ref = f->reqs[i].gref, .domid = vif->domid,
                            .offset = (uint16_t)src_off },
                .dest = { .u.gmfn = p->pfn[pg], .domid = DOMID_SELF, .offset = (uint16_t)off },
                .len = (uint16_t)n,
                .flags = GNTCOPY_source_gref,
            };
            at += n;
            src_off += n;
            len -= n;
        }
    }
}

/* Answers every slot of the frame (extra-info ones with NETIF_RSP_NULL). */
static void nb_tx_respond(struct nb_vif *vif, const struct nb_tx_frame *f)
{
    for (unsigned int k = 0; k < f->nslot; k++) {
        netif_tx_response_t *rsp = RING_GET_RESPONSE(&vif->tx, vif->tx.rsp_prod_pvt);
        vif->tx.rsp_prod_pvt++;
        rsp->id = f->slot[k].id;
        rsp->status = f->slot[k].extra ? NETIF_RSP_NULL : f->status;
    }
    if (f->status == NETIF_RSP_OKAY)
        vif->st.tx_packets++;
    else if (f->status == NETIF_RSP_DROPPED)
        vif->st.tx_dropped++;
    else
        vif->st.tx_errors++;
}

/* Copies the batch in one hypercall, then in ring order answers each
 * frame and hands the ones that arrived to the switch. A failed copy is an
 * ERROR for its frame; if the front end has gone the vif is disconnected
 * and the frames after it go nowhere. */
static void nb_tx_flush(struct nb_vif *vif, struct nb_tx_batch *b)
{
    struct xensim_netback *nb = vif->nb;
    long rc = b->nops ? HYPERVISOR_grant_table_op(GNTTABOP_copy, b->ops, b->nops) : 0;
    bool asked = false;
    for (unsigned int k = 0; k < b->nframes; k++) {
        struct nb_tx_frame *f = &b->f[k];
        struct nb_pkt *p = b->pkt[k];
        unsigned int end = k + 1 < b->nframes ? b->first_op[k + 1] : b->nops;
        bool failed = p && rc < 0;
        for (unsigned int i = b->first_op[k]; i < end && !failed; i++)
            failed = b->ops[i].status != GNTST_okay;
        if (failed) {
            f->status = NETIF_RSP_ERROR;
            /* Cleared first: a vCPU stopped in between leaks rather than
             * puts it twice (nb_batches_drop). */
            b->pkt[k] = NULL;
            netback_pkt_put(nb, p);
            p = NULL;
            if (!asked && !nb_front_alive(vif))
                nb_fatal(vif, "front end gone");
            asked = true;
        }
        nb_tx_respond(vif, f);
        if (p && !vif->dead)
            vswitch_input(nb, vif, p);
        if (p) {
            b->pkt[k] = NULL;
            netback_pkt_put(nb, p);
        }
    }
    b->nframes = b->nops = 0;
}

/* Returns true if the front must be notified. */
static bool nb_tx_action(struct nb_vif *vif)
{
    struct nb_tx_batch *b = vif->nb->tx_batch;
    unsigned int budget = NB_TX_BUDGET;
    bool notify_any = false;
    for (;;) {
        RING_IDX rp = READ_ONCE(vif->tx.sring->req_prod);
        xen_rmb();   /* the index before the requests it covers */
        if (RING_REQUEST_PROD_OVERFLOW(&vif->tx, rp)) {
            nb_broken(vif, "tx ring index overflow");
            return false;
        }
        while (vif->tx.req_cons != rp && budget) {
            budget--;
            if (nb_tx_collect(vif, rp, &b->f[b->nframes])) {
                nb_tx_flush(vif, b);
                return false;
            }
            vif->tx.req_cons = b->f[b->nframes].end;
            nb_tx_queue(vif, b);
            if (b->nframes == NB_TX_BATCH || b->nops + NB_TX_FRAME_OPS > NB_TX_BATCH_OPS)
                nb_tx_flush(vif, b);
            if (vif->dead)
                return false;
        }
        nb_tx_flush(vif, b);
        if (vif->dead)
            return false;
        int notify, more;
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&vif->tx, notify);
        notify_any |= notify;
        if (!budget) {
            vif->kick = true;   /* come back after the other vifs */
            return notify_any;
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&vif->tx, more);
        if (!more)
            return notify_any;
    }
}

/* Frames on their way into a guest's posted buffers, whose copies go in
 * one GNTTABOP_copy: up to NB_RX_BATCH_OPS pages (a frame takes at most
 * NB_PKT_PAGES). The packets are held until their copies are done. */
#define NB_RX_BATCH_OPS 64
struct nb_rx_batch {
    gnttab_copy_t ops[NB_RX_BATCH_OPS];
    uint16_t ids[NB_RX_BATCH_OPS];          /* the request each copy answers */
    struct nb_pkt *pkt[NB_RX_BATCH_OPS];
    unsigned int first_op[NB_RX_BATCH_OPS];
    unsigned int nframes, nops;
};

/* Takes the next `need` rx requests for p's pages. */
static void nb_rx_queue(struct nb_vif *vif, struct nb_rx_batch *b, struct nb_pkt *p,
                        unsigned int need)
{
    b->first_op[b->nframes] = b->nops;
    b->pkt[b->nframes++] = p;
    for (unsigned int i = 0; i < need; i++) {
        netif_rx_request_t req;
        gnttab_copy_t *op = &b->ops[b->nops];
        RING_COPY_REQUEST(&vif->rx, vif->rx.req_cons + i, &req);
        b->ids[b->nops++] = req.id;
        unsigned int n = p->len - i * XEN_PAGE_SIZE;
        if (n > XEN_PAGE_SIZE)
            n = XEN_PAGE_SIZE;
        memset(op, 0, sizeof(*op));
        op->source.u.gmfn = p->pfn[i];
        op->source.domid = DOMID_SELF;
        op->dest.u.ref = req.gref;
        op->dest.domid = vif->domid;
        op->len = (uint16_t)n;
        op->flags = GNTCOPY_dest_gref;
    }
    vif->rx.req_cons += need;
}

/* Copies the batch in one hypercall and answers every request in ring
 * order, each response in its request's slot: the front finds buffers by
 * position. */
static void nb_rx_copy(struct nb_vif *vif, struct nb_rx_batch *b)
{
    struct xensim_netback *nb = vif->nb;
    long rc = b->nops ? HYPERVISOR_grant_table_op(GNTTABOP_copy, b->ops, b->nops) : 0;
    bool asked = false;
    for (unsigned int k = 0; k < b->nframes; k++) {
        unsigned int end = k + 1 < b->nframes ? b->first_op[k + 1] : b->nops;
        bool failed = false;
        for (unsigned int i = b->first_op[k]; i < end; i++) {
            netif_rx_response_t *rsp = RING_GET_RESPONSE(&vif->rx, vif->rx.rsp_prod_pvt);
            vif->rx.rsp_prod_pvt++;
            bool ok = rc == 0 && b->ops[i].status == GNTST_okay;
            failed |= !ok;
            rsp->id = b->ids[i];
            rsp->offset = 0;
            rsp->flags = i + 1 < end ? NETRXF_more_data : 0;
            rsp->status = ok ? (int16_t)b->ops[i].len : NETIF_RSP_ERROR;
        }
        if (failed) {
            vif->st.rx_dropped++;
            if (!asked && !nb_front_alive(vif))
                nb_fatal(vif, "front end gone");
            asked = true;
        } else {
            vif->st.rx_packets++;
        }
        struct nb_pkt *p = b->pkt[k];
        b->pkt[k] = NULL;
        netback_pkt_put(nb, p);
    }
    b->nframes = b->nops = 0;
}

/* The packets of a batch its vCPU did not finish: taken down at a
 * hypercall boundary inside a flush (the copy, a notify), it never put
 * them. Each flush clears a frame's slot as it puts its packet. */
static void nb_batches_drop(struct xensim_netback *nb)
{
    for (unsigned int k = 0; nb->tx_batch && k < nb->tx_batch->nframes; k++)
        if (nb->tx_batch->pkt[k])
            netback_pkt_put(nb, nb->tx_batch->pkt[k]);
    for (unsigned int k = 0; nb->rx_batch && k < nb->rx_batch->nframes; k++)
        if (nb->rx_batch->pkt[k])
            netback_pkt_put(nb, nb->rx_batch->pkt[k]);
}

/* Delivers queued frames while the front has posted enough buffers. */
static bool nb_rx_flush(struct nb_vif *vif)
{
    struct xensim_netback *nb = vif->nb;
    struct nb_rx_batch *b = nb->rx_batch;
    bool any = false;
    while (vif->rxq_len && !vif->dead) {
        struct nb_pkt *p = vif->rxq[vif->rxq_head];
        unsigned int need = p->npages ? p->npages : 1;
        if (need > 1 && !vif->sg) {
            vif->st.rx_dropped++;
            netback_pkt_put(nb, p);
            goto pop;
        }
        RING_IDX rp = READ_ONCE(vif->rx.sring->req_prod);
        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&vif->rx, rp)) {
            nb_broken(vif, "rx ring index overflow");
            break;
        }
        if ((RING_IDX)(rp - vif->rx.req_cons) < need) {
            /* Ask the front to notify when it posts the buffers we lack. */
            vif->rx.sring->req_event = vif->rx.req_cons + need;
            xen_mb();
            rp = READ_ONCE(vif->rx.sring->req_prod);
            xen_rmb();
            if ((RING_IDX)(rp - vif->rx.req_cons) < need ||
                RING_REQUEST_PROD_OVERFLOW(&vif->rx, rp))
                break;
        }
        if (b->nops + need > NB_RX_BATCH_OPS)
            nb_rx_copy(vif, b);
        nb_rx_queue(vif, b, p, need);
        any = true;
pop:
        vif->rxq_head = (vif->rxq_head + 1) % nb->rx_queue;
        vif->rxq_len--;
    }
    nb_rx_copy(vif, b);
    if (!any || vif->dead)
        return false;
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&vif->rx, notify);
    return notify;
}

void netback_rx_enqueue(struct nb_vif *vif, struct nb_pkt *p)
{
    struct xensim_netback *nb = vif->nb;
    if (!vif->connected || vif->dead || vif->rxq_len == nb->rx_queue) {
        vif->st.rx_dropped++;
        return;
    }
    p->refs++;
    vif->rxq[(vif->rxq_head + vif->rxq_len) % nb->rx_queue] = p;
    vif->rxq_len++;
    vif->kick = true;   /* delivered in this pass of nb_run */
}

static void nb_rings_unwatch(struct nb_vif *vif)
{
    xensim_ring_unwatch(vif->tx.sring);
    xensim_ring_unwatch(vif->rx.sring);
}

static void nb_vif_teardown(struct nb_vif *vif)
{
    struct xensim_netback *nb = vif->nb;
    if (!vif->connected)
        return;
    xensim_irq_unbind(vif->port);
    xensim_evtchn_close(vif->port);
    nb_rings_unwatch(vif);
    xensim_xenbus_unmap_ring(vif->ring_handle, vif->ring_addr, 2);
    while (vif->rxq_len) {
        netback_pkt_put(nb, vif->rxq[vif->rxq_head]);
        vif->rxq_head = (vif->rxq_head + 1) % nb->rx_queue;
        vif->rxq_len--;
    }
    vswitch_forget(nb, vif);
    vif->connected = false;
    vif->dead = false;
    vif->st.connected = false;
    vif->st.disconnect_reason = vif->reason ? vif->reason : "disconnected";
}

/* Runs with the lock held until no vif has work left. */
static void nb_run(struct xensim_netback *nb)
{
    bool again;
    do {
        for (struct nb_vif *v = nb->vifs; v; v = v->next) {
            if (!v->connected || v->dead || !v->kick)
                continue;
            v->kick = false;
            bool notify = nb_tx_action(v);
            if (notify && !v->dead)
                xensim_evtchn_send(v->port);
        }
        /* RX after every TX pass, so switched frames go out in one pass. */
        for (struct nb_vif *v = nb->vifs; v; v = v->next) {
            if (!v->connected || v->dead)
                continue;
            if (nb_rx_flush(v))
                xensim_evtchn_send(v->port);
        }
        again = false;
        for (struct nb_vif *v = nb->vifs; v; v = v->next) {
            if (v->dead)
                nb_vif_teardown(v);
            again |= v->connected && v->kick;
        }
    } while (again);
}

static void nb_irq(evtchn_port_t port, void *arg)
{
    struct xensim_netback *nb = arg;
    bool irqs = xensim_irqlock_lock(&nb->lock);
    for (struct nb_vif *v = nb->vifs; v; v = v->next)
        if (v->connected && v->port == port)
            v->kick = true;
    nb_run(nb);
    xensim_irqlock_unlock(&nb->lock, irqs);
}

int xensim_netback_create(const struct xensim_netback_config *cfg,
                          struct xensim_netback **out)
{
    if (!xensim_guest_start_info())
        return -EPERM;
    struct xensim_netback *nb = calloc(1, sizeof(*nb));
    if (!nb)
        return -ENOMEM;
    xensim_irqlock_init(&nb->lock);
    nb->domid = xensim_guest_domid();
    nb->sg = !(cfg && cfg->no_sg);
    nb->rx_queue = cfg && cfg->rx_queue ? cfg->rx_queue : 32;
    nb->pool_size = cfg && cfg->pool_pages ? cfg->pool_pages : 64;
    nb->pool = malloc(nb->pool_size * sizeof(*nb->pool));
    nb->tx_batch = calloc(1, sizeof(*nb->tx_batch));
    nb->rx_batch = calloc(1, sizeof(*nb->rx_batch));
    int rc = -ENOMEM;
    if (!nb->pool || !nb->tx_batch || !nb->rx_batch)
        goto fail;
    while (nb->pool_free < nb->pool_size) {
        xen_pfn_t pfn;
        if (xensim_guest_page_alloc(&pfn))
            goto fail;
        nb->pool[nb->pool_free++] = pfn;
    }
    if (cfg && cfg->pcap_path && !(nb->pcap = pcap_open(cfg->pcap_path, &rc)))
        goto fail;
    *out = nb;
    return 0;
fail:
    while (nb->pool_free)
        xensim_guest_page_free(nb->pool[--nb->pool_free]);
    free(nb->pool);
    free(nb->tx_batch);
    free(nb->rx_batch);
    xensim_irqlock_destroy(&nb->lock);
    free(nb);
    return rc;
}

void xensim_netback_features(const struct xensim_netback *nb,
                             struct xensim_netif_back_features *bf)
{
    bf->feature_sg = nb->sg;
    bf->feature_rx_copy = true;
    bf->feature_rx_flip = false;
}

static struct nb_vif *nb_find(struct xensim_netback *nb, domid_t front, unsigned int handle)
{
    for (struct nb_vif *v = nb->vifs; v; v = v->next)
        if (v->domid == front && v->handle == handle)
            return v;
    return NULL;
}

static void nb_vif_free(struct xensim_netback *nb, struct nb_vif *vif)
{
    for (struct nb_vif **pp = &nb->vifs; *pp; pp = &(*pp)->next)
        if (*pp == vif) {
            *pp = vif->next;
            break;
        }
    free(vif->rxq);
    free(vif);
}

/* A vif for (front, handle) with its rings mapped, not yet bound. */
static int nb_vif_new(struct xensim_netback *nb, domid_t front, unsigned int handle,
                      const struct xensim_netif_front_keys *keys, struct nb_vif **out)
{
    struct nb_vif *vif = calloc(1, sizeof(*vif));
    if (!vif || !(vif->rxq = calloc(nb->rx_queue, sizeof(*vif->rxq)))) {
        free(vif);
        return -ENOMEM;
    }
    vif->nb = nb;
    vif->domid = front;
    vif->handle = handle;
    vif->sg = nb->sg && keys->feature_sg;
    memcpy(vif->mac, keys->mac, XENSIM_ETH_ALEN);
    grant_ref_t refs[2] = { keys->tx_ring_ref, keys->rx_ring_ref };
    int rc = xensim_xenbus_map_ring(front, refs, 2, vif->ring_handle, vif->ring_addr);
    if (rc) {
        free(vif->rxq);
        free(vif);
        return rc;
    }
    BACK_RING_INIT(&vif->tx, (netif_tx_sring_t *)vif->ring_addr[0], XEN_PAGE_SIZE);
    BACK_RING_INIT(&vif->rx, (netif_rx_sring_t *)vif->ring_addr[1], XEN_PAGE_SIZE);
    XENSIM_RING_INDICES(vif->tx.sring);
    XENSIM_RING_INDICES(vif->rx.sring);
    /* Named for a stuck deterministic run's report; only a report is
     * lost if this fails, and unwatching an unnamed ring is harmless. */
    char name[64];
    struct xensim_ring_geometry g = XENSIM_RING_GEOMETRY(&vif->tx);
    snprintf(name, sizeof(name), "vif %u of dom%u tx (netback's end)", handle, front);
    xensim_ring_watch(vif->tx.sring, &g, name);
    g = (struct xensim_ring_geometry)XENSIM_RING_GEOMETRY(&vif->rx);
    g.requests_wait_for_work = true;   /* buffers, taken when a frame comes */
    snprintf(name, sizeof(name), "vif %u of dom%u rx (netback's end)", handle, front);
    xensim_ring_watch(vif->rx.sring, &g, name);
    *out = vif;
    return 0;
}

int xensim_netback_connect(struct xensim_netback *nb, domid_t front, unsigned int handle,
                           const struct xensim_netif_front_keys *keys)
{
    if (!keys->request_rx_copy)
        return -EOPNOTSUPP;   /* modern netback serves no flipping front */
    bool irqs = xensim_irqlock_lock(&nb->lock);
    struct nb_vif *vif = nb_find(nb, front, handle);
    if (vif && vif->connected) {
        xensim_irqlock_unlock(&nb->lock, irqs);
        return -EEXIST;
    }
    if (vif)
        nb_vif_free(nb, vif);   /* a protocol-error leftover */
    int rc = nb_vif_new(nb, front, handle, keys, &vif);
    long port = rc ? 0 : xensim_evtchn_bind_interdomain(front, keys->event_channel);
    if (!rc && port < 0) {
        nb_rings_unwatch(vif);
        xensim_xenbus_unmap_ring(vif->ring_handle, vif->ring_addr, 2);
        nb_vif_free(nb, vif);
        rc = (int)port;
    }
    if (rc) {
        xensim_irqlock_unlock(&nb->lock, irqs);
        return rc;
    }
    vif->port = (evtchn_port_t)port;
    vif->connected = true;
    vif->st.connected = true;
    vif->kick = true;
    vif->next = nb->vifs;
    nb->vifs = vif;
    xensim_irqlock_unlock(&nb->lock, irqs);
    /* Outside the lock: binding enables events and may run nb_irq now. */
    rc = xensim_irq_bind(vif->port, nb_irq, nb);
    irqs = xensim_irqlock_lock(&nb->lock);
    if (rc) {
        vif->reason = "irq bind failed";
        nb_vif_teardown(vif);
        nb_vif_free(nb, vif);
    } else {
        nb_run(nb);
    }
    xensim_irqlock_unlock(&nb->lock, irqs);
    return rc;
}

int xensim_netback_disconnect(struct xensim_netback *nb, domid_t front, unsigned int handle)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    struct nb_vif *vif = nb_find(nb, front, handle);
    int rc = -ENOENT;
    if (vif) {
        nb_vif_teardown(vif);
        nb_vif_free(nb, vif);
        rc = 0;
    }
    xensim_irqlock_unlock(&nb->lock, irqs);
    return rc;
}

int xensim_netback_reap(struct xensim_netback *nb)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    int n = 0;
    for (struct nb_vif *v = nb->vifs; v; v = v->next)
        if (v->connected && !nb_front_alive(v)) {
            nb_fatal(v, "front end gone");
            n++;
        }
    nb_run(nb);
    xensim_irqlock_unlock(&nb->lock, irqs);
    return n;
}

int xensim_netback_vif_stats(struct xensim_netback *nb, domid_t front, unsigned int handle,
                             struct xensim_vif_stats *st)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    struct nb_vif *vif = nb_find(nb, front, handle);
    if (vif)
        *st = vif->st;
    xensim_irqlock_unlock(&nb->lock, irqs);
    return vif ? 0 : -ENOENT;
}

int xensim_netback_mac_lookup(struct xensim_netback *nb, const uint8_t mac[XENSIM_ETH_ALEN],
                              domid_t *front, unsigned int *handle)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    struct nb_vif *vif = vswitch_lookup(nb, mac);
    if (vif) {
        *front = vif->domid;
        *handle = vif->handle;
    }
    xensim_irqlock_unlock(&nb->lock, irqs);
    return vif ? 0 : -ENOENT;
}

int xensim_netback_pcap(struct xensim_netback *nb, const char *path)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    int rc = 0;
    pcap_close(nb->pcap);
    nb->pcap = NULL;
    if (path)
        nb->pcap = pcap_open(path, &rc);
    xensim_irqlock_unlock(&nb->lock, irqs);
    return rc;
}

int xensim_netback_nr_vifs(struct xensim_netback *nb)
{
    bool irqs = xensim_irqlock_lock(&nb->lock);
    int n = 0;
    for (struct nb_vif *v = nb->vifs; v; v = v->next)
        n += v->connected;
    xensim_irqlock_unlock(&nb->lock, irqs);
    return n;
}

int xensim_netback_destroy(struct xensim_netback *nb)
{
    if (!nb)
        return 0;
    /* Off a vCPU, the back end's domain is dead: its vCPU may have been
     * taken down holding the lock, and nobody else can take it. */
    bool orphan = !xensim_guest_start_info();
    bool irqs = false, locked = true;
    if (orphan)
        locked = pthread_mutex_trylock(&nb->lock.m) == 0;
    else
        irqs = xensim_irqlock_lock(&nb->lock);
    while (nb->vifs) {
        nb_vif_teardown(nb->vifs);
        nb_vif_free(nb, nb->vifs);
    }
    nb_batches_drop(nb);
    pcap_close(nb->pcap);
    nb->pcap = NULL;
    if (orphan && locked)
        pthread_mutex_unlock(&nb->lock.m);
    else if (locked)
        xensim_irqlock_unlock(&nb->lock, irqs);
    while (nb->pool_free)
        xensim_guest_page_free(nb->pool[--nb->pool_free]);
    free(nb->pool);
    free(nb->tx_batch);
    free(nb->rx_batch);
    if (locked)
        xensim_irqlock_destroy(&nb->lock);
    free(nb);
    return 0;
}
