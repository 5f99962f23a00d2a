/*
 * What a vCPU's machine shows the kernel running on it: its domid and
 * vCPU, start_info, shared_info and its vcpu_info, system time, its
 * pages, the one word of per-domain memory the kernel keeps its state in,
 * and holding off xensim_domain_call()s. Called
 * from vCPU threads; reads the calling vCPU's domain.
 */
#include <errno.h>
#include "sim.h"

domid_t xensim_guest_domid(void)
{
    return current_vcpu ? current_vcpu->d->domid : DOMID_INVALID;
}

unsigned int xensim_guest_vcpu_id(void)
{
    return current_vcpu ? current_vcpu->id : ~0u;
}

unsigned int xensim_guest_nr_vcpus(void)
{
    return current_vcpu ? current_vcpu->d->nr_vcpus : 0;
}

const start_info_t *xensim_guest_start_info(void)
{
    return current_vcpu ? current_vcpu->d->start_info : NULL;
}

uint64_t xensim_guest_system_time(void)
{
    return current_vcpu ? sim_now(current_vcpu->d->sim) : 0;
}

void *xensim_guest_pfn_to_virt(xen_pfn_t pfn)
{
    return current_vcpu ? domain_pfn_to_virt(current_vcpu->d, pfn) : NULL;
}

xen_pfn_t xensim_guest_virt_to_pfn(const void *va)
{
    if (!current_vcpu)
        return XENSIM_INVALID_PFN;
    struct domain *d = current_vcpu->d;
    const uint8_t *p = va;
    if (p < d->mem || p >= d->mem + d->nr_frames * XEN_PAGE_SIZE)
        return XENSIM_INVALID_PFN;
    return (xen_pfn_t)(p - d->mem) >> XEN_PAGE_SHIFT;
}

int xensim_guest_page_alloc(xen_pfn_t *pfn)
{
    *pfn = XENSIM_INVALID_PFN;
    if (!current_vcpu)
        return -EPERM;
    xen_pfn_t got = domain_page_alloc(current_vcpu->d);
    if (got == XENSIM_INVALID_PFN)
        return -ENOMEM;
    *pfn = got;
    return 0;
}

void xensim_guest_page_free(xen_pfn_t pfn)
{
    if (current_vcpu)
        domain_page_free(current_vcpu->d, pfn);
}

void *xensim_guest_shared_info(void)
{
    return current_vcpu ? current_vcpu->d->shared_info : NULL;
}

void *xensim_guest_vcpu_info(void)
{
    return current_vcpu ? current_vcpu->vcpu_info : NULL;
}

bool xensim_guest_evtchn_fifo(void)
{
    return current_vcpu && current_vcpu->d->evtchn_fifo_boot;
}

unsigned int xensim_guest_grant_version(void)
{
    return current_vcpu ? current_vcpu->d->kernel_grant_version : 1;
}

unsigned int xensim_guest_evtchn_word_bits(void)
{
    return current_vcpu ? current_vcpu->d->evtchn_word_bits : 0;
}

void *xensim_guest_anchor(void)
{
    return current_vcpu ? atomic_load(&current_vcpu->d->guest_anchor) : NULL;
}

void *xensim_guest_anchor_set(void *data, void (*release)(void *data))
{
    struct vcpu *v = current_vcpu;
    void *expected = NULL;

    if (!v)
        return NULL;
    /* Several vCPUs may race to set it up: the first one wins, and the
     * release goes with its data. */
    sim_mutex_lock(&v->d->event_lock);
    if (atomic_compare_exchange_strong(&v->d->guest_anchor, &expected, data)) {
        v->d->guest_anchor_release = release;
        expected = data;
    }
    sim_mutex_unlock(&v->d->event_lock);
    return expected;
}

void domain_release_guest_anchor(struct domain *d)
{
    void *data = atomic_exchange(&d->guest_anchor, NULL);

    if (data && d->guest_anchor_release)
        d->guest_anchor_release(data);
}

void xensim_guest_calls_hold(void)
{
    if (current_vcpu)
        current_vcpu->calls_held++;
}

void xensim_guest_calls_release(void)
{
    struct vcpu *v = current_vcpu;

    if (!v || !v->calls_held)
        return;
    /* Calls that came meanwhile run at the next hypercall exit. */
    v->calls_held--;
}
