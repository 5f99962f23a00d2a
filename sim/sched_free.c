/*
 * The free-running scheduler: every vCPU is a host thread the kernel
 * schedules. A blocked vCPU sleeps on its wake_seq futex; a kick bumps the
 * sequence and makes a system call only if the vCPU is blocked.
 */
#include <sched.h>
#include "sim.h"

static void sf_hypercall_enter(struct vcpu *v)
{
    (void)v;
}

static void sf_hypercall_exit(struct vcpu *v)
{
    (void)v;
}

/* Publish BLOCKED before testing the condition; kick bumps wake_seq before
 * reading the state. With both sequentially consistent, either the kicker
 * sees BLOCKED and wakes us, or we see its condition. */
static bool sf_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    bool woken = true;
    for (;;) {
        uint32_t seq = __atomic_load_n(&v->wake_seq, __ATOMIC_SEQ_CST);
        atomic_store(&v->run_state, VCPU_BLOCKED);
        if (wake(v))
            break;
        if (deadline) {
            uint64_t now = sim_now(sim);
            if (now >= deadline) {
                woken = false;
                break;
            }
            uint64_t left = deadline - now;
            struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
            sim_futex_wait(&v->wake_seq, seq, &ts);
        } else {
            sim_futex_wait(&v->wake_seq, seq, NULL);
        }
    }
    atomic_store(&v->run_state, VCPU_RUNNING);
    return woken;
}

static void sf_kick(struct vcpu *v)
{
    __atomic_fetch_add(&v->wake_seq, 1, __ATOMIC_SEQ_CST);
    if (atomic_load(&v->run_state) == VCPU_BLOCKED)
        sim_futex_wake(&v->wake_seq);
}

static void sf_yield(struct vcpu *v)
{
    (void)v;
    sched_yield();
}

const struct sched_ops sched_free_running = {
    .name = "free-running",
    .hypercall_enter = sf_hypercall_enter,
    .hypercall_exit = sf_hypercall_exit,
    .block = sf_block,
    .kick = sf_kick,
    .yield = sf_yield,
};
