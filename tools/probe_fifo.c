/*
 * The probe's reader for domains on the FIFO event channel ABI: each
 * step, the event words (PENDING, MASKED, LINKED and the link) from the
 * event array pages, and each vCPU's READY bits and queue heads from its
 * control block, with evtchn_upcall_pending and the upcall mask from its
 * vcpu_info. Reads only through xensim_domain_peek(), at the frames the
 * snapshot thread found with xensim_evtchn_fifo_layout().
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "probe_view.h"

/* The page draws at most the ports of the widest 2-level ABI; a guest
 * with more event array pages has the rest left out of the notes, which
 * keeps each step's note bounded. */
#define FIFO_SHOWN_PORTS 4096
#define WORDS_PER_PAGE (4096 / sizeof(event_word_t))

/* A FIFO domain is a 64-bit guest: its vcpu_info is the 64-bit layout. */
static void vcpu_flags(struct xensim *sim, const struct probe_dom *d, unsigned int v,
                       uint8_t *up, uint8_t *um)
{
    size_t base = offsetof(struct shared_info, vcpu_info) + v * sizeof(struct vcpu_info);
    *up = *um = 0;
    xensim_domain_peek(sim, d->domid, d->shared_info_frame,
                       (unsigned int)(base + offsetof(struct vcpu_info, evtchn_upcall_pending)),
                       up, 1);
    xensim_domain_peek(sim, d->domid, d->shared_info_frame,
                       (unsigned int)(base + offsetof(struct vcpu_info, evtchn_upcall_mask)),
                       um, 1);
}

/* "D":{"abi":"fifo","bits":64,"ports":N,"pending":[..],"mask":[..],
 * "linked":[..],"links":[[port,link]..],"vcpus":[{"up","um","ready",
 * "heads"}..]}: the bit lists as the 2-level reader's, in 64-bit words. */
bool probe_read_fifo(struct xensim *sim, const struct probe_dom *d, struct jbuf *b)
{
    const struct xensim_evtchn_fifo_layout *l = &d->fifo;
    static const unsigned int nwords = FIFO_SHOWN_PORTS / 64;
    uint64_t pend[FIFO_SHOWN_PORTS / 64], mask[FIFO_SHOWN_PORTS / 64],
        linked[FIFO_SHOWN_PORTS / 64];
    event_word_t page[WORDS_PER_PAGE];
    unsigned int nports = l->nr_array_pages * WORDS_PER_PAGE;
    struct jbuf links = { 0 };

    if (!l->nr_vcpus)
        return false;
    if (nports > FIFO_SHOWN_PORTS)
        nports = FIFO_SHOWN_PORTS;
    memset(pend, 0, sizeof(pend));
    memset(mask, 0, sizeof(mask));
    memset(linked, 0, sizeof(linked));
    for (unsigned int pg = 0; pg * WORDS_PER_PAGE < nports; pg++) {
        if (xensim_domain_peek(sim, d->domid, l->array_frame[pg], 0, page, sizeof(page))) {
            jbuf_free(&links);
            return false;    /* the domain went, or reset its ABI */
        }
        for (unsigned int i = 0; i < WORDS_PER_PAGE; i++) {
            unsigned int port = pg * WORDS_PER_PAGE + i;
            event_word_t w = page[i];
            uint64_t bit = 1ull << (port % 64);
            if (w & (1u << EVTCHN_FIFO_PENDING))
                pend[port / 64] |= bit;
            if (w & (1u << EVTCHN_FIFO_MASKED))
                mask[port / 64] |= bit;
            if (w & (1u << EVTCHN_FIFO_LINKED))
                linked[port / 64] |= bit;
            if ((w & (1u << EVTCHN_FIFO_LINKED)) && (w & EVTCHN_FIFO_LINK_MASK))
                jbuf_printf(&links, "%s[%u,%u]", links.len ? "," : "", port,
                            (unsigned int)(w & EVTCHN_FIFO_LINK_MASK));
        }
    }
    const char *lt = jbuf_text(&links);
    jbuf_printf(b, "\"%u\":{\"abi\":\"fifo\",\"bits\":64,\"ports\":%u,", d->domid, nports);
    probe_words(b, "pending", pend, 64, nwords);
    jbuf_printf(b, ",");
    probe_words(b, "mask", mask, 64, nwords);
    jbuf_printf(b, ",");
    probe_words(b, "linked", linked, 64, nwords);
    jbuf_printf(b, ",\"links\":[%s],\"vcpus\":[", lt ? lt : "");
    jbuf_free(&links);
    for (unsigned int v = 0; v < l->nr_vcpus && v < d->nr_vcpus; v++) {
        uint8_t up, um;
        struct evtchn_fifo_control_block cb;
        vcpu_flags(sim, d, v, &up, &um);
        jbuf_printf(b, "%s{\"up\":%u,\"um\":%u", v ? "," : "", up, um);
        if (l->control[v].mapped &&
            !xensim_domain_peek(sim, d->domid, l->control[v].frame, l->control[v].offset, &cb,
                                sizeof(cb))) {
            jbuf_printf(b, ",\"ready\":%" PRIu32 ",\"heads\":[", cb.ready);
            for (unsigned int q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
                jbuf_printf(b, "%s%" PRIu32, q ? "," : "", cb.head[q]);
            jbuf_printf(b, "]");
        }
        jbuf_printf(b, "}");
    }
    jbuf_printf(b, "]}");
    return true;
}
