/*
 * vCPUs as host threads: start and stop, the idle loop, and what Xen does
 * on every return to the guest: leave if the domain stopped, wait while
 * paused, run queued xensim_domain_call()s, deliver the event upcall.
 * Owns struct vcpu; blocks and wakes only through sim->sched, between the
 * BLOCK and WAKE trace points (vcpu_block).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include "sim.h"
#include "tracepoint.h"

__thread struct vcpu *current_vcpu __attribute__((tls_model("initial-exec")));

struct vcpu *vcpu_alloc(struct domain *d, unsigned int id)
{
    struct vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->d = d;
    v->id = id;
    pthread_mutex_init(&v->call_lock, NULL);
    if (d->evtchn_word_bits == 32) {
        struct vcpu_info_x86_32 *vi = &((struct shared_info_x86_32 *)d->shared_info)->vcpu_info[id];
        v->vcpu_info = vi;
        v->upcall_pending = &vi->evtchn_upcall_pending;
        v->upcall_mask = &vi->evtchn_upcall_mask;
        v->pending_sel = &vi->evtchn_pending_sel;
    } else {
        struct vcpu_info *vi = &((struct shared_info *)d->shared_info)->vcpu_info[id];
        v->vcpu_info = vi;
        v->upcall_pending = &vi->evtchn_upcall_pending;
        v->upcall_mask = &vi->evtchn_upcall_mask;
        v->pending_sel = &vi->evtchn_pending_sel;
    }
    /* PV vCPUs start with events masked, as libxc builds them. */
    *v->upcall_mask = 1;
    return v;
}

void vcpu_free(struct vcpu *v)
{
    if (!v)
        return;
    pthread_mutex_destroy(&v->call_lock);
    free(v);
}

void vcpu_mark_events_pending(struct vcpu *v, evtchn_port_t port)
{
    if (!__atomic_exchange_n(v->upcall_pending, 1, __ATOMIC_SEQ_CST)) {
        /* Before the kick, so the raise is seen before its upcall. */
        if (trace_on(v->d->sim))
            trace_raise(v, port);
        v->d->sim->sched->kick(v);
    }
}

bool vcpu_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    if (trace_on(sim))
        trace_block(v, deadline);
    bool woken = sim->sched->block(v, wake, deadline);
    if (trace_on(sim))
        trace_wake(v, woken);
    return woken;
}

void vcpu_wake_pollers(struct domain *d, evtchn_port_t port)
{
    if (!atomic_load(&d->pollers))
        return;
    for (unsigned int i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpus[i];
        if (!atomic_load(&v->polling))
            continue;
        /* A poll on one port sees the port itself (hypercall.c); one on
         * several, or still reading its ports, wakes for any. */
        long want = atomic_load(&v->poll_evtchn);
        if (want < 0)
            atomic_store(&v->poll_woken, true);
        if (want < 0 || want == (long)port)
            d->sim->sched->kick(v);
    }
}

/* Leaves guest code for good: back to vcpu_main, never returns. */
static void vcpu_leave(struct vcpu *v)
{
    siglongjmp(v->exit_jmp, 1);
}

static bool vcpu_unpaused(struct vcpu *v)
{
    return !atomic_load(&v->d->paused) || atomic_load(&v->d->is_shutting_down) ||
           atomic_load(&v->call_pending);
}

/* A call is like an interrupt from the toolstack: it never lands inside
 * another call or inside the guest's upcall, whose locks it could meet. */
static bool vcpu_call_runnable(const struct vcpu *v)
{
    return atomic_load(&v->call_pending) && !v->in_call && !v->in_upcall && !v->calls_held;
}

static void vcpu_call_complete(struct vcpu_call *c, int result)
{
    c->result = result;
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    sim_futex_wake(&c->done);
}

/* Runs the queued calls in order. v->running holds the ones not yet
 * finished, so that a call which ends the domain still gets answered. */
static void vcpu_run_calls(struct vcpu *v)
{
    xensim_mutex_lock(&v->call_lock);
    v->running = v->calls;
    v->calls = NULL;
    atomic_store(&v->call_pending, false);
    xensim_mutex_unlock(&v->call_lock);
    while (v->running) {
        struct vcpu_call *c = v->running;
        c->fn(c->arg);
        v->running = c->next;
        vcpu_call_complete(c, 0);
    }
}

/* Fails every call nobody will finish, so callers do not wait forever. */
static void vcpu_drain_calls(struct vcpu *v)
{
    xensim_mutex_lock(&v->call_lock);
    struct vcpu_call *list = v->calls;
    v->calls = NULL;
    atomic_store(&v->call_pending, false);
    v->down = true;
    xensim_mutex_unlock(&v->call_lock);
    for (struct vcpu_call *c = v->running, *next; c; c = next) {
        next = c->next;
        vcpu_call_complete(c, -ESHUTDOWN);
    }
    v->running = NULL;
    for (struct vcpu_call *c = list, *next; c; c = next) {
        next = c->next;
        vcpu_call_complete(c, -ESHUTDOWN);
    }
}

static void vcpu_deliver_upcall(struct vcpu *v)
{
    /* The upcall is entered with events masked, like an interrupt
     * handler, and the mask is restored on the way out (iret). */
    *v->upcall_mask = 1;
    v->in_upcall = true;
    if (trace_on(v->d->sim))
        trace_upcall(v, XENSIM_TRACE_UPCALL_ENTER);
    v->callback();
    if (trace_on(v->d->sim))
        trace_upcall(v, XENSIM_TRACE_UPCALL_EXIT);
    v->in_upcall = false;
    __atomic_store_n(v->upcall_mask, 0, __ATOMIC_SEQ_CST);
}

bool vcpu_upcall_deliverable(const struct vcpu *v)
{
    return v->callback && !v->in_upcall &&
           __atomic_load_n(v->upcall_pending, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(v->upcall_mask, __ATOMIC_SEQ_CST);
}

void vcpu_hypercall_exit(struct vcpu *v)
{
    struct domain *d = v->d;
    for (;;) {
        if (atomic_load(&d->is_shutting_down))
            vcpu_leave(v);
        if (vcpu_call_runnable(v)) {
            v->in_call = true;
            vcpu_run_calls(v);
            v->in_call = false;
            continue;
        }
        if (atomic_load(&d->paused)) {
            vcpu_block(v, vcpu_unpaused, 0);
            continue;
        }
        if (vcpu_upcall_deliverable(v)) {
            vcpu_deliver_upcall(v);
            continue;
        }
        break;
    }
}

bool vcpu_has_work(struct vcpu *v)
{
    return atomic_load(&v->d->is_shutting_down) || vcpu_call_runnable(v);
}

/* An idle vCPU is a kernel with nothing to do. Once guest code has
 * registered an event callback it halts in SCHEDOP_block, which enables
 * events and returns to take the upcall. Without one it only waits for
 * calls, leaving the mask and event bits as they are for inspection. */
static void vcpu_idle(struct vcpu *v)
{
    for (;;) {
        if (v->callback) {
            HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        } else {
            vcpu_block(v, vcpu_has_work, 0);
            vcpu_hypercall_exit(v);
        }
    }
}

static void *vcpu_main(void *p)
{
    struct vcpu *v = p;
    struct domain *d = v->d;
    current_vcpu = v;
    sim_rcu_ensure();
    if (sigsetjmp(v->exit_jmp, 1) == 0) {
        vcpu_hypercall_exit(v);
        if (d->entry)
            d->entry(d->entry_arg);
        else
            vcpu_idle(v);
    }
    vcpu_drain_calls(v);
    current_vcpu = NULL;
    sim_rcu_unregister();
    /* The last vCPU to return from its entry powers the domain off. */
    if (atomic_fetch_sub(&d->vcpus_up, 1) == 1 && !atomic_load(&d->is_shutting_down))
        domain_shutdown(d, SHUTDOWN_poweroff);
    return NULL;
}

int vcpu_start(struct vcpu *v)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* Guest code runs here; 1 MiB is plenty and keeps 1000s of domains
     * affordable in address space. */
    pthread_attr_setstacksize(&attr, 1u << 20);
    atomic_fetch_add(&v->d->vcpus_up, 1);
    int err = pthread_create(&v->thread, &attr, vcpu_main, v);
    pthread_attr_destroy(&attr);
    if (err) {
        atomic_fetch_sub(&v->d->vcpus_up, 1);
        return -err;
    }
    v->thread_started = true;
    return 0;
}

void vcpu_stop(struct vcpu *v)
{
    if (!v->thread_started)
        return;
    v->d->sim->sched->kick(v);
    int err = pthread_join(v->thread, NULL);
    if (err)
        XENSIM_DIE("pthread_join", err);
    v->thread_started = false;
}

int xensim_domain_call(struct xensim *sim, domid_t domid, unsigned int vcpu,
                       void (*fn)(void *), void *arg)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= d->nr_vcpus) {
        rcu_read_unlock();
        return -ENOENT;
    }
    struct vcpu *v = d->vcpus[vcpu];
    if (current_vcpu == v) {
        rcu_read_unlock();
        fn(arg);
        return 0;
    }
    struct vcpu_call c = { .fn = fn, .arg = arg };
    xensim_mutex_lock(&v->call_lock);
    if (v->down || atomic_load(&d->is_shutting_down)) {
        xensim_mutex_unlock(&v->call_lock);
        rcu_read_unlock();
        return -ESHUTDOWN;
    }
    struct vcpu_call **tail = &v->calls;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &c;
    atomic_store(&v->call_pending, true);
    xensim_mutex_unlock(&v->call_lock);
    sim->sched->kick(v);
    rcu_read_unlock();
    /* The vCPU (or its exit path) sets done; the domain cannot be freed
     * before its vCPU threads have drained their calls. */
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
        sim_futex_wait(&c.done, 0, NULL);
    return c.result;
}
