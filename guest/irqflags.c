/*
 * The PV interrupt flag, as Linux's xen_irq_enable/disable keep it: the
 * upcall mask in this vCPU's vcpu_info. Enabling delivers an upcall that
 * is already pending, by making a hypercall whose return to the guest
 * delivers it. Relies on guest.h only.
 */
#include "evtchn.h"
#include <xen/version.h>

void xensim_guest_irq_disable(void)
{
    uint8_t *mask = guest_upcall_mask();

    if (mask)
        __atomic_store_n(mask, 1, __ATOMIC_SEQ_CST);
}

/* Clear the mask, then look at upcall_pending: an event raised before the
 * clear set it while masked and kicked nobody, so it is taken now; one
 * raised after finds the mask clear and is delivered at our next return
 * from Xen. The hypercall is XENVER_version, as Linux's
 * xen_force_evtchn_callback: it has no other effect, where SCHEDOP_yield
 * would also give the host CPU away and is a scheduling point. */
void xensim_guest_irq_enable(void)
{
    uint8_t *mask = guest_upcall_mask(), *pending = guest_upcall_pending();

    if (!mask)
        return;
    __atomic_store_n(mask, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(pending, __ATOMIC_SEQ_CST))
        HYPERVISOR_xen_version(XENVER_version, NULL);
}

bool xensim_guest_irq_disabled(void)
{
    uint8_t *mask = guest_upcall_mask();

    return mask && __atomic_load_n(mask, __ATOMIC_SEQ_CST);
}
