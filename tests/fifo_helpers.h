/*
 * Helpers for the FIFO suites: the FIFO hypercalls as guest code makes
 * them, and a guest's view of its own event words and control blocks.
 * Relies on evtchn_helpers.h (the public API).
 */
#ifndef XENSIM_TEST_FIFO_HELPERS_H
#define XENSIM_TEST_FIFO_HELPERS_H

#include "evtchn_helpers.h"

#define FW_P (1u << EVTCHN_FIFO_PENDING)
#define FW_M (1u << EVTCHN_FIFO_MASKED)
#define FW_L (1u << EVTCHN_FIFO_LINKED)
#define FW_B (1u << EVTCHN_FIFO_BUSY)
#define FW_LINK EVTCHN_FIFO_LINK_MASK

static inline long g_init_control(xen_pfn_t gfn, uint32_t offset, uint32_t vcpu,
                                  uint8_t *link_bits)
{
    evtchn_init_control_t op = { .control_gfn = gfn, .offset = offset, .vcpu = vcpu };
    /* what the caller put in link_bits goes in, to see whether Xen wrote it */
    if (link_bits)
        op.link_bits = *link_bits;
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &op);
    if (link_bits)
        *link_bits = op.link_bits;
    return rc;
}

static inline long g_expand_array(xen_pfn_t gfn)
{
    evtchn_expand_array_t op = { .array_gfn = gfn };
    return HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &op);
}

static inline long g_set_priority(evtchn_port_t port, uint32_t priority)
{
    evtchn_set_priority_t op = { .port = port, .priority = priority };
    return HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, &op);
}

static inline long ev_bind_vcpu_self(evtchn_port_t port, uint32_t vcpu)
{
    evtchn_bind_vcpu_t op = { .port = port, .vcpu = vcpu };
    return HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &op);
}

/* Whether the domain is on FIFO now, without changing anything: Xen's
 * expand_array answers -EOPNOTSUPP on 2-level and checks the gfn (and the
 * slot) only on FIFO. */
static inline bool g_is_fifo(void)
{
    long rc = g_expand_array(~(xen_pfn_t)0);
    ck_assert_msg(rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENOSPC,
                  "expand_array probe gave %ld", rc);
    return rc != -EOPNOTSUPP;
}

static void g_is_fifo_fn(void *p)
{
    *(bool *)p = g_is_fifo();
}

static inline bool ev_is_fifo(struct xensim *sim, domid_t dom)
{
    bool fifo = false;
    th_call(sim, dom, 0, g_is_fifo_fn, &fifo);
    return fifo;
}

/* The pages g_page() gave this vCPU's thread, for g_pages_free(). */
static __thread xen_pfn_t g_pages[16];
static __thread unsigned int g_nr_pages;

/* A zeroed page of the calling guest's RAM. */
static inline xen_pfn_t g_page(void)
{
    xen_pfn_t pfn;
    ck_assert_int_eq(xensim_guest_page_alloc(&pfn), 0);
    if (g_nr_pages < sizeof(g_pages) / sizeof(g_pages[0]))
        g_pages[g_nr_pages++] = pfn;
    return pfn;
}

/* After a reset to 2-level the hypervisor no longer holds the control
 * block and array pages: give them back, or the teardown check reports
 * them as the test's leak. */
static inline void g_pages_free(void)
{
    while (g_nr_pages)
        xensim_guest_page_free(g_pages[--g_nr_pages]);
}

static inline uint32_t *g_words(xen_pfn_t pfn)
{
    uint32_t *w = xensim_guest_pfn_to_virt(pfn);
    ck_assert_ptr_nonnull(w);
    return w;
}

static inline struct evtchn_fifo_control_block *g_cb(xen_pfn_t pfn, uint32_t offset)
{
    return (struct evtchn_fifo_control_block *)((uint8_t *)g_words(pfn) + offset);
}

#endif
