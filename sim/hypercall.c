/*
 * The guest's hypercall entry points. Each enters through the scheduler
 * and a trace point, dispatches to its module (evtchn.c, gnttab.c, here
 * for sched_op and the timer), and leaves through vcpu_hypercall_exit(),
 * where Xen would return to the guest and deliver a pending upcall. Only
 * numbers reach the trace point; names are the subscribers' business.
 */
#include <errno.h>
#include "sim.h"
#include "tracepoint.h"

static struct vcpu *hypercall_enter(uint32_t nr, int cmd)
{
    struct vcpu *v = current_vcpu;
    if (v) {
        v->d->sim->sched->hypercall_enter(v);
        if (trace_on(v->d->sim))
            trace_hypercall(v, XENSIM_TRACE_HYPERCALL_ENTER, nr, (uint32_t)cmd, 0);
    }
    return v;
}

static long hypercall_exit(struct vcpu *v, uint32_t nr, int cmd, long rc)
{
    if (trace_on(v->d->sim))
        trace_hypercall(v, XENSIM_TRACE_HYPERCALL_EXIT, nr, (uint32_t)cmd, rc);
    v->d->sim->sched->hypercall_exit(v);
    vcpu_hypercall_exit(v);
    return rc;
}

long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    struct vcpu *v = hypercall_enter(__HYPERVISOR_event_channel_op, cmd);
    if (!v)
        return -EPERM;
    return hypercall_exit(v, __HYPERVISOR_event_channel_op, cmd,
                          do_event_channel_op(v->d, cmd, arg));
}

long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    struct vcpu *v = hypercall_enter(__HYPERVISOR_grant_table_op, (int)cmd);
    if (!v)
        return -EPERM;
    return hypercall_exit(v, __HYPERVISOR_grant_table_op, (int)cmd,
                          do_grant_table_op(v->d, cmd, uop, count));
}

static bool block_wake(struct vcpu *v)
{
    return __atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST) || vcpu_has_work(v);
}

/* Xen's local_events_need_delivery(): an upcall is due whether or not a
 * callback is registered. */
static bool events_need_delivery(const struct vcpu *v)
{
    return __atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(v->upcall_mask, __ATOMIC_SEQ_CST);
}

/* A poller wakes for its ports, and also when kicked for an upcall. */
static bool poll_wake(struct vcpu *v)
{
    return atomic_load(&v->poll_woken) || vcpu_has_work(v) || events_need_delivery(v);
}

/* SCHEDOP_poll in Xen's order: count, buffer, deliverable events, then
 * each port (invalid: -EINVAL; pending: done), then sleep. */
static long sched_poll(struct vcpu *v, void *arg)
{
    struct sched_poll op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -EFAULT;
    if (op.nr_ports > 128)
        return -EINVAL;
    evtchn_port_t ports[128];
    /* The handle is a bare pointer or a one-pointer struct, depending on
     * the guest's __XEN_INTERFACE_VERSION__; the layout is the same. */
    const evtchn_port_t *guest_ports;
    memcpy(&guest_ports, &op.ports, sizeof(guest_ports));
    if (op.nr_ports && copy_from_guest(ports, guest_ports, op.nr_ports * sizeof(ports[0])))
        return -EFAULT;
    struct domain *d = v->d;
    v->poll_nr = op.nr_ports;
    atomic_store(&v->poll_woken, false);
    __atomic_store_n(&v->poll_ports, ports, __ATOMIC_SEQ_CST);
    atomic_fetch_add(&d->pollers, 1);
    long rc = 0;
    if (events_need_delivery(v))
        goto out;
    for (unsigned int i = 0; i < op.nr_ports; i++) {
        if (!evtchn_port_valid(d, ports[i])) {
            rc = -EINVAL;
            goto out;
        }
        if (evtchn_port_pending(d, ports[i]))
            goto out;
    }
    vcpu_block(v, poll_wake, op.timeout);
out:
    atomic_fetch_sub(&d->pollers, 1);
    __atomic_store_n(&v->poll_ports, NULL, __ATOMIC_SEQ_CST);
    return rc;
}

static long sched_remote_shutdown(struct domain *caller, void *arg)
{
    struct sched_remote_shutdown op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -EFAULT;
    struct domain *d = domain_rcu_get(caller->sim, NULL, op.domain_id);
    if (!d)
        return -ESRCH;
    long rc = 0;
    if (!caller->privileged)
        rc = -EPERM;
    else
        domain_shutdown(d, op.reason);
    rcu_read_unlock();
    return rc;
}

static long do_sched_op(struct vcpu *v, int cmd, void *arg)
{
    switch (cmd) {
    case SCHEDOP_yield:
        v->d->sim->sched->yield(v);
        return 0;
    case SCHEDOP_block:
        /* Blocking enables event delivery first, closing the window in
         * which an event could arrive unseen. */
        __atomic_store_n(v->upcall_mask, 0, __ATOMIC_SEQ_CST);
        vcpu_block(v, block_wake, 0);
        return 0;
    case SCHEDOP_shutdown: {
        struct sched_shutdown op;
        if (copy_from_guest(&op, arg, sizeof(op)))
            return -EFAULT;
        /* Like Xen, any reason is recorded; SHUTDOWN_* are the known ones. */
        domain_shutdown(v->d, op.reason);
        return 0;
    }
    case SCHEDOP_poll:
        return sched_poll(v, arg);
    case SCHEDOP_remote_shutdown:
        return sched_remote_shutdown(v->d, arg);
    default:
        /* shutdown_code, watchdog, pin_override: not simulated. */
        return -ENOSYS;
    }
}

long HYPERVISOR_sched_op(int cmd, void *arg)
{
    struct vcpu *v = hypercall_enter(__HYPERVISOR_sched_op, cmd);
    if (!v)
        return -EPERM;
    return hypercall_exit(v, __HYPERVISOR_sched_op, cmd, do_sched_op(v, cmd, arg));
}

long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    struct vcpu *v = hypercall_enter(__HYPERVISOR_set_timer_op, 0);
    if (!v)
        return -EPERM;
    /* Xen's workaround for guests whose time wrapped: a deadline that is
     * negative as s_time_t, or 2^50 ns or more ahead, fires in 100 ms. */
    uint64_t now = sim_now(v->d->sim);
    if (timeout && ((int64_t)timeout < 0 || (timeout > now && (timeout - now) >> 50)))
        timeout = now + 100 * 1000 * 1000;
    timer_set(v, timeout);
    return hypercall_exit(v, __HYPERVISOR_set_timer_op, 0, 0);
}

static long do_callback_op(struct vcpu *v, int cmd, const void *arg)
{
    switch (cmd) {
    case CALLBACKOP_register: {
        struct callback_register op;
        if (copy_from_guest(&op, arg, sizeof(op)))
            return -EFAULT;
        switch (op.type) {
        case CALLBACKTYPE_event:
            v->callback = (xensim_upcall_t)(uintptr_t)op.address;
            return 0;
        case CALLBACKTYPE_failsafe:
        case CALLBACKTYPE_syscall:
        case CALLBACKTYPE_syscall32:
        case CALLBACKTYPE_sysenter:
        case CALLBACKTYPE_nmi:
            return 0;   /* accepted; nothing here ever raises them */
        default:
            return -ENOSYS;
        }
    }
    case CALLBACKOP_unregister: {
        struct callback_unregister op;
        if (copy_from_guest(&op, arg, sizeof(op)))
            return -EFAULT;
        /* As on x86 PV, only the NMI callback can be unregistered. */
        return op.type == CALLBACKTYPE_nmi ? 0 : -EINVAL;
    }
    default:
        return -ENOSYS;
    }
}

long HYPERVISOR_callback_op(int cmd, const void *arg)
{
    struct vcpu *v = hypercall_enter(__HYPERVISOR_callback_op, cmd);
    if (!v)
        return -EPERM;
    return hypercall_exit(v, __HYPERVISOR_callback_op, cmd, do_callback_op(v, cmd, arg));
}
