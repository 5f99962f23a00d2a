/*
 * Threads of a simulation's own services (xenstored's loop, ...), which
 * the simulator's scheduler must know of: in a deterministic run (a
 * seeded struct xensim_config) every thread that touches the simulation
 * is a task, and only one runs at a time. Each call costs a function call
 * and nothing else when the simulation is free-running, and a NULL sim
 * means free-running, for services run without a simulator.
 */
#ifndef XENSIM_TASK_H
#define XENSIM_TASK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The creator, itself a task, calls this just before pthread_create and
 * hands the result to the new thread, whose first call is begin and last
 * is end. */
void *xensim_task_new(struct xensim *sim, const char *name);
/* The task whose pthread_create failed, so that nobody waits for it. */
void xensim_task_cancel(struct xensim *sim, void *task);
void xensim_task_begin(struct xensim *sim, void *task);
void xensim_task_end(struct xensim *sim);
/* Before a call that blocks until fd has events (POLLIN, POLLOUT): free-
 * running, returns at once and the caller's call does the waiting; in a
 * deterministic run the task waits here, and the call finds fd ready.
 * Every writer to fd must then be a task too. */
void xensim_task_wait_fd(struct xensim *sim, int fd, short events);
/* pthread_cond_wait(cond, m) for one wake-up; in a deterministic run,
 * until done(arg), which whoever makes it true need not signal. */
void xensim_task_cond_wait(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                           bool (*done)(void *arg), void *arg);
/* pthread_join of the thread that began as task. */
void xensim_task_join(struct xensim *sim, void *task, pthread_t thread);
/* Sleeps ns of the calling thread's simulation's time: host time, or
 * for a task of a deterministic run virtual time, which gets there once
 * every other task waits. For polling loops in toolstacks and tests. */
void xensim_sleep_ns(uint64_t ns);

#ifdef __cplusplus
}
#endif

#endif
