/*
 * The drop-in libraries' end of the hypervisor socket (<xensim/hvsock.h>):
 * connect as this process's domain, one request and its reply at a time,
 * descriptors received. Compiled into each library (its symbols are kept
 * local by the version scripts). Errors are -1 with errno set, as the
 * real libraries report theirs.
 */
#ifndef XENSIM_LIBXEN_HV_H
#define XENSIM_LIBXEN_HV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xensim/hvsock.h>

struct hv_conn {
    int fd;
    bool cloexec;                   /* descriptors received get O_CLOEXEC */
    pthread_mutex_t lock;           /* one request at a time per handle */
};

/* Connects to $XENSIM_HV_PATH as a connection of the given kind. The
 * reply's descriptor (an EVTCHN connection's pipe) goes to *fd, if any.
 * errno ENOENT when the variable is unset, as a missing /dev/xen/ node. */
int hv_open(struct hv_conn *c, uint32_t kind, bool cloexec, struct xensim_hv_hello_rep *rep,
            int *fd);
void hv_close(struct hv_conn *c);
/* A request and its reply (at most size bytes into rep), with up to
 * maxfds descriptors into fds (*nfds, the caller closes them). Returns
 * the reply's length, or -1 with errno (ESRCH: the simulator closed the
 * connection, as when the domain was destroyed). */
ssize_t hv_call(struct hv_conn *c, const void *req, size_t len, void *rep, size_t size,
                int *fds, unsigned int maxfds, unsigned int *nfds);
/* A request that has no reply (UNMASK). */
int hv_post(struct hv_conn *c, const void *req, size_t len);
/* struct xensim_hv_req with its rc: the rc if >= 0, else -1 with errno. */
int hv_simple(struct hv_conn *c, uint32_t op, uint32_t a, uint32_t b);

/* Maps count pages, page i from fds[page[i].fd] at page[i].offset, side
 * by side in a fresh range (runs of neighbouring offsets in one mmap).
 * NULL with errno on failure, nothing left mapped. */
void *hv_map_pages(const struct xensim_hv_page *pages, unsigned int count, const int *fds,
                   unsigned int nfds, int prot);
/* The same at addr (a hint, or the place with MAP_FIXED in flags); a
 * page whose status is not 0 is left inaccessible (PROT_NONE), as
 * privcmd leaves a frame it could not map. */
void *hv_map_pages_at(void *addr, int flags, const struct xensim_hv_page *pages,
                      unsigned int count, const int *fds, unsigned int nfds, int prot);

/* privcmd's IOCTL_PRIVCMD_RESTRICT, which libxenforeignmemory and
 * libxendevicemodel handles both have: once restricted to a domain, a
 * handle acts on that domain only (others get EPERM). */
struct hv_restriction {
    pthread_mutex_t lock;
    uint32_t domid;                 /* DOMID_INVALID: not restricted */
};
void hv_restriction_init(struct hv_restriction *r);
void hv_restriction_destroy(struct hv_restriction *r);
/* Restricts to domid: 0; again to the same one 0; to another -1, EINVAL. */
int hv_restriction_set(struct hv_restriction *r, uint32_t domid);
bool hv_restriction_allows(struct hv_restriction *r, uint32_t domid);

/* A restrictable PRIVCMD connection: the first member of the
 * libxenforeignmemory and libxendevicemodel handles. */
struct hv_privcmd {
    struct hv_conn c;
    uint32_t self;                  /* the domain the socket says this is */
    struct hv_restriction restricted;
};
/* A zeroed handle of size bytes (at least the struct) with its
 * connection open, or NULL with errno; hv_privcmd_free() ends it. */
void *hv_privcmd_new(size_t size);
void hv_privcmd_free(struct hv_privcmd *p);

#endif
