/*
 * Keeps xensim_domain_call() work from running nested inside xenbus
 * interrupt handlers and watch callbacks. The core runs queued calls at any
 * hypercall exit, even inside an upcall; a call that unregisters a driver
 * would then free a device under its own handler. Until the core defers
 * calls while v->in_upcall, we mark the vCPU busy with a call (sim.h).
 */
#include "config.h"

#include "sim.h"
#include "xb_client.h"

bool xb_calls_hold(void)
{
    struct vcpu *v = current_vcpu;

    if (!v || v->in_call)
        return false;
    v->in_call = true;
    return true;
}

void xb_calls_release(bool took)
{
    if (took)
        current_vcpu->in_call = false;
}
