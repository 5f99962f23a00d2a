/*
 * A domain's memory for a process outside the simulator: a new descriptor
 * of the domain's memfd (read-only when asked, reopened through /proc so
 * that the open file itself forbids writable mappings). Relies on
 * domain_memory.c's one memfd per domain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "sim.h"

int xensim_domain_memory_fd(struct xensim *sim, domid_t domid, bool readonly)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    int fd;
    if (readonly) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", d->memfd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } else {
        fd = fcntl(d->memfd, F_DUPFD_CLOEXEC, 0);
    }
    int err = fd < 0 ? -errno : 0;
    rcu_read_unlock();
    return fd < 0 ? err : fd;
}
