/*
 * The hypercalls with no module of their own: sched_op (block, poll,
 * shutdown, yield), set_timer_op, callback_op and xen_version. Event
 * channels (evtchn.c) and grant tables (gnttab.c) take their hypercall
 * beside their dispatcher, as Xen's common/event_channel.c and
 * common/grant_table.c do. Each enters through vcpu_hypercall_enter() and
 * leaves through vcpu_hypercall_exit() (vcpu.c), Xen's entry and return
 * to the guest: the scheduler, the trace points, then a pending upcall.
 */
#include <errno.h>
#include "sim.h"
#include <xen/version.h>

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

/* A poll ends when the one port it waits for is pending, or, polling
 * any port, when one became pending (vcpu_wake_pollers); when the upcall
 * flag went from 0 to 1, even masked (Xen's vcpu_mark_events_pending
 * kicks, and "polling period ends when a VCPU is unblocked"); or for the
 * toolstack. Tested as conditions, so that a wake meant for an earlier
 * poll cannot end this one. */
static bool poll_wake(struct vcpu *v)
{
    if (vcpu_has_work(v))
        return true;
    if (v->poll_upcall && __atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST))
        return true;
    long want = atomic_load(&v->poll_evtchn);
    if (want > 0)
        return evtchn_port_pending(v->d, (evtchn_port_t)want);
    return atomic_load(&v->poll_woken);
}

/* Xen's evtchn_port_poll: -EINVAL unless the port is valid and usable,
 * else whether it is pending. */
static int poll_port(struct domain *d, evtchn_port_t port)
{
    if (!evtchn_port_valid(d, port) || !evtchn_usable(evtchn_from_port(d, port)))
        return -EINVAL;
    return evtchn_port_pending(d, port);
}

/*
 * SCHEDOP_poll in Xen's do_poll order: the count; then the vCPU is marked
 * polling (for any port of the domain, poll_evtchn -1); an upcall that is
 * due ends it at once, before a port is read; then each port in turn,
 * read when its turn comes (a fault: -EFAULT; unusable: -EINVAL; pending:
 * done, and the ports after it are never read); a single port becomes
 * the one waited for; then sleep to the absolute timeout. Xen's
 * guest_handle_okay is a range check a hosted guest's pointer always
 * passes, so a bad buffer faults only when a port is read.
 */
static long sched_poll(struct vcpu *v, void *arg)
{
    struct sched_poll op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -EFAULT;
    if (op.nr_ports > 128)
        return -EINVAL;
    /* The handle is a bare pointer or a one-pointer struct, depending on
     * the guest's __XEN_INTERFACE_VERSION__; the layout is the same. */
    const evtchn_port_t *guest_ports;
    memcpy(&guest_ports, &op.ports, sizeof(guest_ports));
    struct domain *d = v->d;
    /* Read before the poll is marked: an edge that races the marking ends
     * the poll rather than being missed. */
    v->poll_upcall = !__atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST);
    atomic_store(&v->poll_woken, false);
    atomic_store(&v->poll_evtchn, -1);
    atomic_store(&v->polling, true);
    atomic_fetch_add(&d->pollers, 1);
    long rc = 0;
    if (events_need_delivery(v))
        goto out;
    evtchn_port_t port = 0;
    for (unsigned int i = 0; i < op.nr_ports; i++) {
        if (copy_from_guest(&port, guest_at(guest_ports, (size_t)i * sizeof(port)),
                            sizeof(port))) {
            rc = -EFAULT;
            goto out;
        }
        int r = poll_port(d, port);
        if (r < 0)
            rc = r;
        if (r)
            goto out;
    }
    if (op.nr_ports == 1)
        atomic_store(&v->poll_evtchn, (long)port);
    vcpu_block(v, poll_wake, op.timeout);
out:
    atomic_store(&v->polling, false);
    atomic_fetch_sub(&d->pollers, 1);
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
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_sched_op, cmd);
    if (!v)
        return -EPERM;
    return vcpu_hypercall_exit(v, __HYPERVISOR_sched_op, cmd, do_sched_op(v, cmd, arg));
}

long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_set_timer_op, 0);
    if (!v)
        return -EPERM;
    /* Xen's workaround for guests whose time wrapped: a deadline that is
     * negative as s_time_t, or 2^50 ns or more ahead, fires in 100 ms. */
    uint64_t now = sim_now(v->d->sim);
    if (timeout && ((int64_t)timeout < 0 || (timeout > now && (timeout - now) >> 50)))
        timeout = now + 100 * 1000 * 1000;
    timer_set(v, timeout);
    return vcpu_hypercall_exit(v, __HYPERVISOR_set_timer_op, 0, 0);
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
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_callback_op, cmd);
    if (!v)
        return -EPERM;
    return vcpu_hypercall_exit(v, __HYPERVISOR_callback_op, cmd, do_callback_op(v, cmd, arg));
}

/* The version xensim's semantics follow. */
#define XENSIM_XEN_MAJOR 4
#define XENSIM_XEN_MINOR 17

long HYPERVISOR_xen_version(int cmd, void *arg)
{
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_xen_version, cmd);
    if (!v)
        return -EPERM;
    (void)arg;
    long rc = cmd == XENVER_version ? (XENSIM_XEN_MAJOR << 16) | XENSIM_XEN_MINOR : -ENOSYS;
    return vcpu_hypercall_exit(v, __HYPERVISOR_xen_version, cmd, rc);
}
