/*
 * Sleeping and waking host threads with the raw futex system call: the
 * cheapest primitive there is (host-costs.md), used by the scheduler and
 * by callers waiting for a vCPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sim.h"

void sim_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel)
{
    long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, rel, NULL, 0);
    if (r < 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
        XENSIM_DIE("futex wait", errno);
}

void sim_futex_wake(uint32_t *word)
{
    if (syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0) < 0)
        XENSIM_DIE("futex wake", errno);
}
