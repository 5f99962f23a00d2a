/*
 * Sleeping and waking host threads with the raw futex system call: the
 * cheapest primitive there is (host-costs.md), used by the scheduler and
 * by callers waiting for a vCPU. Also keeps the kernel's futex hash for
 * this process large enough for the threads that sleep in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sim.h"

/* Linux 6.16's per-process futex hash (not in Debian 12's headers). */
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

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

/* Drepper's mutex ("Futexes Are Tricky", mutex3): the word is 0 free, 1
 * held, 2 held and maybe slept on. Whoever sleeps first sets 2, so an
 * unlock that finds 1 makes no system call. */
void sim_lock_slow(struct sim_lock *l, uint32_t seen)
{
    if (seen != 2)
        seen = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
    while (seen != 0) {
        sim_futex_wait(&l->word, 2, NULL);
        seen = __atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE);
    }
}

void sim_unlock_slow(struct sim_lock *l)
{
    if (syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
        XENSIM_DIE("futex wake", errno);
}

/*
 * Every blocked vCPU sleeps on its own futex word, and a wake walks the
 * hash bucket of its word. Since Linux 6.16 a process gets a private hash
 * of 4 buckets per online CPU (at least 16), whatever its thread count: on
 * this 2-CPU machine 10,000 sleeping vCPUs share 16 buckets, and each wake
 * walks some 600 waiters, so building and destroying domains grows with
 * the square of their number. So the hash is kept at 4 buckets per vCPU
 * thread, grown 4x at a time (a resize rehashes every waiter: O(log n)
 * resizes in all), never shrunk. Older kernels (EINVAL) have one global
 * hash sized by the machine, which nothing here can change.
 */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long hash_slots;     /* what we set; 0: the kernel's default */
static unsigned long hash_threads;   /* vCPU threads alive, under hash_lock */
static bool hash_unsupported;

#define FUTEX_HASH_DEFAULT 16         /* the kernel's, on a small machine */
#define FUTEX_HASH_FIRST 256

void sim_futex_threads(long delta)
{
    sim_mutex_lock(&hash_lock);
    hash_threads = (unsigned long)((long)hash_threads + delta);
    unsigned long want = 4 * hash_threads;
    unsigned long have = hash_slots ? hash_slots : FUTEX_HASH_DEFAULT;
    if (delta > 0 && !hash_unsupported && want > have) {
        unsigned long slots = hash_slots ? hash_slots : FUTEX_HASH_FIRST;
        while (slots < want)
            slots *= 4;
        if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, slots, 0, 0) == 0)
            hash_slots = slots;
        else
            hash_unsupported = true;
    }
    sim_mutex_unlock(&hash_lock);
}
