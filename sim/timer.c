/*
 * VIRQ_TIMER: one timer thread per simulator fires each vCPU's
 * set_timer_op deadline. Owns the armed list (v->timer_next) under
 * sim->timer_lock; sends through evtchn_send_virq().
 */
#include <errno.h>
#include "sim.h"

static void timer_unlink(struct xensim *sim, struct vcpu *v)
{
    for (struct vcpu **p = &sim->timer_armed; *p; p = &(*p)->timer_next) {
        if (*p == v) {
            *p = v->timer_next;
            break;
        }
    }
    v->timer_next = NULL;
    v->timer_deadline = 0;
}

void timer_set(struct vcpu *v, uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    sim_mutex_lock(&sim->timer_lock);
    if (v->timer_deadline)
        timer_unlink(sim, v);
    if (deadline && !atomic_load(&v->d->is_shutting_down)) {
        v->timer_deadline = deadline;
        v->timer_next = sim->timer_armed;
        sim->timer_armed = v;
        pthread_cond_signal(&sim->timer_cond);
    }
    sim_mutex_unlock(&sim->timer_lock);
}

void timer_cancel_domain(struct domain *d)
{
    struct xensim *sim = d->sim;
    sim_mutex_lock(&sim->timer_lock);
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        if (d->vcpus[i]->timer_deadline)
            timer_unlink(sim, d->vcpus[i]);
    sim_mutex_unlock(&sim->timer_lock);
}

/* What the timer thread waits for: a change to the armed list (a new
 * head: timer_set pushes at the head), a due deadline or the stop. */
struct timer_wait {
    struct xensim *sim;
    struct vcpu *head;
    uint64_t next;
};

static bool timer_wait_done(void *p)
{
    struct timer_wait *w = p;
    return w->sim->timer_stop || w->sim->timer_armed != w->head ||
           (w->next && sim_now(w->sim) >= w->next);
}

static void *timer_main(void *p)
{
    struct xensim *sim = p;
    sim->sched->thread_begin(sim, sim->timer_task);
    sim_rcu_ensure();
    sim_mutex_lock(&sim->timer_lock);
    while (!sim->timer_stop) {
        uint64_t now = sim_now(sim), next = 0;
        struct vcpu *due = NULL;
        for (struct vcpu *v = sim->timer_armed; v; v = v->timer_next) {
            if (v->timer_deadline <= now) {
                due = v;
                break;
            }
            if (!next || v->timer_deadline < next)
                next = v->timer_deadline;
        }
        if (due) {
            timer_unlink(sim, due);
            /* An armed vCPU's domain has not begun to die (shutdown
             * cancels its timers first), so a read lock taken now keeps
             * it alive until the VIRQ is sent. */
            rcu_read_lock();
            sim_mutex_unlock(&sim->timer_lock);
            evtchn_send_virq(due, VIRQ_TIMER);
            rcu_read_unlock();
            sim_mutex_lock(&sim->timer_lock);
            continue;
        }
        /* Wait with the lock held since the scan: no timer_set is missed. */
        struct timer_wait w = { sim, sim->timer_armed, next };
        sim->sched->host_wait(sim, &sim->timer_cond, &sim->timer_lock, timer_wait_done, &w, next);
    }
    sim_mutex_unlock(&sim->timer_lock);
    sim_rcu_unregister();
    sim->sched->thread_end(sim);
    return NULL;
}

int timer_start(struct xensim *sim)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->timer_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&sim->timer_lock, NULL);
    sim->timer_task = sim->sched->task_new(sim, "timer");
    int err = pthread_create(&sim->timer_thread, NULL, timer_main, sim);
    if (err)
        sim->sched->task_cancel(sim, sim->timer_task);
    return err ? -err : 0;
}

void timer_stop(struct xensim *sim)
{
    sim_mutex_lock(&sim->timer_lock);
    sim->timer_stop = true;
    pthread_cond_signal(&sim->timer_cond);
    sim_mutex_unlock(&sim->timer_lock);
    sim->sched->join(sim, sim->timer_task, sim->timer_thread);
    pthread_cond_destroy(&sim->timer_cond);
    pthread_mutex_destroy(&sim->timer_lock);
}
