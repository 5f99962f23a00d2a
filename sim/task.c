/*
 * The task API of <xensim/task.h>: service threads reach the scheduler's
 * host-side operations through sim->sched, or the free-running ones when
 * they run without a simulator.
 */
#include <xensim/task.h>
#include "sim.h"

static const struct sched_ops *task_sched(const struct xensim *sim)
{
    return sim ? sim->sched : &sched_free_running;
}

void *xensim_task_new(struct xensim *sim, const char *name)
{
    return task_sched(sim)->task_new(sim, name);
}

void xensim_task_cancel(struct xensim *sim, void *task)
{
    task_sched(sim)->task_cancel(sim, task);
}

void xensim_task_begin(struct xensim *sim, void *task)
{
    task_sched(sim)->thread_begin(sim, task);
}

void xensim_task_end(struct xensim *sim)
{
    task_sched(sim)->thread_end(sim);
}

void xensim_task_wait_fd(struct xensim *sim, int fd, short events)
{
    task_sched(sim)->fd_wait(sim, fd, events);
}

void xensim_task_cond_wait(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                           bool (*done)(void *arg), void *arg)
{
    task_sched(sim)->host_wait(sim, cond, m, done, arg, 0);
}

void xensim_sleep_ns(uint64_t ns)
{
    struct xensim *sim = sched_task_sim;
    task_sched(sim)->sleep(sim, ns);
}

void xensim_task_join(struct xensim *sim, void *task, pthread_t thread)
{
    task_sched(sim)->join(sim, task, thread);
}
