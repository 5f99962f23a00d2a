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
#include "event.h"
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

bool vcpu_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    if (trace_on(sim))
        trace_block(v, deadline);
    bool woken = sim->sched->block(v, wake, deadline);
    v->wakes++;
    if (trace_on(sim))
        trace_wake(v, woken);
    return woken;
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
    sim_mutex_lock(&v->call_lock);
    v->running = v->calls;
    v->calls = NULL;
    atomic_store(&v->call_pending, false);
    sim_mutex_unlock(&v->call_lock);
    while (v->running) {
        struct vcpu_call *c = v->running;
        unsigned int depth = sim_guest_enter();
        c->fn(c->arg);
        sim_guest_leave(depth);
        v->running = c->next;
        vcpu_call_complete(c, 0);
    }
}

/* Fails every call nobody will finish, so callers do not wait forever. */
static void vcpu_drain_calls(struct vcpu *v)
{
    sim_mutex_lock(&v->call_lock);
    struct vcpu_call *list = v->calls;
    v->calls = NULL;
    atomic_store(&v->call_pending, false);
    v->down = true;
    sim_mutex_unlock(&v->call_lock);
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
    v->upcalls++;
    if (trace_on(v->d->sim)) {
        vcpu_upcall_wait_traced(v);
        trace_upcall(v, XENSIM_TRACE_UPCALL_ENTER);
    }
    unsigned int depth = sim_guest_enter();
    v->callback();
    sim_guest_leave(depth);
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

/* What Xen does on every return to the guest, and before a vCPU's first
 * instruction. */
static void vcpu_return_to_guest(struct vcpu *v)
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

struct vcpu *vcpu_hypercall_enter(uint32_t nr, int cmd)
{
    struct vcpu *v = current_vcpu;
    if (v) {
        /* In the hypervisor: a stop signal waits for the exit. */
        sim_hv_enter();
        v->d->sim->sched->hypercall_enter(v);
        if (trace_on(v->d->sim))
            trace_hypercall(v, XENSIM_TRACE_HYPERCALL_ENTER, nr, (uint32_t)cmd, 0);
    }
    return v;
}

long vcpu_hypercall_exit(struct vcpu *v, uint32_t nr, int cmd, long rc)
{
    if (trace_on(v->d->sim))
        trace_hypercall(v, XENSIM_TRACE_HYPERCALL_EXIT, nr, (uint32_t)cmd, rc);
    v->d->sim->sched->hypercall_exit(v);
    vcpu_return_to_guest(v);
    /* Back in guest code: a stop signal now unwinds (vcpu_preempt.c). */
    sim_hv_leave();
    return rc;
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
            vcpu_return_to_guest(v);
        }
    }
}

static void *vcpu_main(void *p)
{
    struct vcpu *v = p;
    struct domain *d = v->d;
    struct xensim *sim = d->sim;
    /* In the simulator except in guest code: before current_vcpu is set,
     * so the stop signal never finds a vCPU at depth 0 outside exit_jmp. */
    sim_hv_depth = 1;
    sim->sched->thread_begin(sim, v->task);
    current_vcpu = v;
    atomic_fetch_add(&d->sim->vcpus_awake, 1);
    sim_rcu_ensure();
    if (sigsetjmp(v->exit_jmp, 1) == 0) {
        vcpu_return_to_guest(v);
        if (d->entry) {
            unsigned int depth = sim_guest_enter();
            d->entry(d->entry_arg);
            sim_guest_leave(depth);
        } else {
            vcpu_idle(v);
        }
    }
    sim_hv_depth = 1;   /* left guest code by a jump, at whatever depth */
    sim_hv_stop = 0;
    vcpu_drain_calls(v);
    atomic_fetch_sub(&d->sim->vcpus_awake, 1);
    current_vcpu = NULL;
    sim_rcu_unregister();
    /* The last vCPU to return from its entry powers the domain off. */
    if (atomic_fetch_sub(&d->vcpus_up, 1) == 1 && !atomic_load(&d->is_shutting_down))
        domain_shutdown(d, SHUTDOWN_poweroff);
    sim->sched->thread_end(sim);
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
    sim_futex_threads(1);
    char task_name[32];
    snprintf(task_name, sizeof(task_name), "dom%u.vcpu%u", v->d->domid, v->id);
    v->task = v->d->sim->sched->task_new(v->d->sim, task_name);
    int err = pthread_create(&v->thread, &attr, vcpu_main, v);
    pthread_attr_destroy(&attr);
    if (err) {
        v->d->sim->sched->task_cancel(v->d->sim, v->task);
        sim_futex_threads(-1);
        atomic_fetch_sub(&v->d->vcpus_up, 1);
        return -err;
    }
    v->thread_started = true;
    /* dN.vM in top -H, gdb and perf. */
    char name[16];
    snprintf(name, sizeof(name), "d%u.v%u", v->d->domid, v->id);
    pthread_setname_np(v->thread, name);
    return 0;
}

/*
 * Guest kernels here keep their state in the host's heap, and host code
 * frees it after destroy; they are written to be left at a hypercall
 * boundary, not in the middle of a list update. So a vCPU first gets a
 * grace period to reach a boundary (a busy but honest guest does, long
 * before it ends); only one still running after it is taken to be looping
 * and interrupted, once per retry period until it is caught.
 */
#define VCPU_STOP_GRACE_NS 200000000L
#define VCPU_STOP_RETRY_NS 1000000L

static struct timespec vcpu_deadline(long ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec += ns % 1000000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Joins v if it has left by the deadline (which may be past), through
 * the scheduler (a deterministic one hands its turn over meanwhile). */
static bool vcpu_join_by(struct vcpu *v, const struct timespec *deadline)
{
    if (!v->d->sim->sched->join_by(v->d->sim, v->task, v->thread, deadline))
        return false;
    sim_futex_threads(-1);
    return true;
}

/* A kick makes a blocked vCPU see the shutdown at once, and a running one
 * at its next hypercall boundary. One that loops in guest code has none:
 * after the grace period it is interrupted until caught where it can be
 * unwound. Every vCPU not yet joined is asked each round, since one may
 * be waiting for another (a queued call) before it can leave. */
void vcpu_stop_all(struct domain *d)
{
    const struct sched_ops *sched = d->sim->sched;
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        if (d->vcpus[i] && d->vcpus[i]->thread_started)
            sched->kick(d->vcpus[i]);
    struct timespec grace = vcpu_deadline(VCPU_STOP_GRACE_NS);
    for (unsigned int i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpus[i];
        if (!v || !v->thread_started)
            continue;
        bool joined = vcpu_join_by(v, &grace);
        while (!joined) {
            for (unsigned int j = i; j < d->nr_vcpus; j++) {
                struct vcpu *w = d->vcpus[j];
                if (w && w->thread_started) {
                    sched->kick(w);
                    vcpu_preempt(w);
                }
            }
            struct timespec retry = vcpu_deadline(VCPU_STOP_RETRY_NS);
            joined = vcpu_join_by(v, &retry);
        }
        v->thread_started = false;
    }
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
    /* c lives on this stack until done: a vCPU caller must not be
     * unwound while it waits. */
    sim_hv_enter();
    struct vcpu_call c = { .fn = fn, .arg = arg };
    sim_mutex_lock(&v->call_lock);
    if (v->down || atomic_load(&d->is_shutting_down)) {
        sim_mutex_unlock(&v->call_lock);
        rcu_read_unlock();
        sim_hv_leave();
        return -ESHUTDOWN;
    }
    struct vcpu_call **tail = &v->calls;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &c;
    atomic_store(&v->call_pending, true);
    sim_mutex_unlock(&v->call_lock);
    sim->sched->kick(v);
    rcu_read_unlock();
    /* The vCPU (or its exit path) sets done; the domain cannot be freed
     * before its vCPU threads have drained their calls. */
    sim->sched->word_wait(sim, &c.done);
    sim_hv_leave();
    return c.result;
}
