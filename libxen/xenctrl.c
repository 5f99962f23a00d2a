/*
 * libxenctrl.so.4.17 for processes of a simulated domain: the handle is a
 * PRIVCMD connection of the hypervisor socket, and what the tools studied
 * ask of it is real: xc_domain_getinfo and xc_domain_getinfolist report
 * the simulator's domains (existence, dying, shutdown, crashed, as
 * xenstored and vchan-socket-proxy read them), with Xen's -1/EPERM for an
 * unprivileged domain. Also the library's own helpers (error strings,
 * last error, ffs, bitmaps, exact reads and writes). Every other export
 * is in xenctrl_stubs.c. Relies on hv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xenctrl.h>
#include "hv.h"

struct xc_interface_core {
    struct hv_conn c;
    xc_error last;
};

xc_hypercall_buffer_t xc__hypercall_buffer_HYPERCALL_BUFFER_NULL;

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    struct xensim_hv_hello_rep rep;
    (void)logger;
    (void)dombuild_logger;
    (void)open_flags;
    xc_interface *xch = calloc(1, sizeof(*xch));
    if (!xch)
        return NULL;
    if (hv_open(&xch->c, XENSIM_HV_PRIVCMD, true, &rep, NULL)) {
        int err = errno;
        free(xch);
        errno = err;
        return NULL;
    }
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    hv_close(&xch->c);
    free(xch);
    return 0;
}

/* Up to max domains from first up; -1 with errno if none could be read. */
static int domain_list(xc_interface *xch, uint32_t first, unsigned int max,
                       struct xensim_hv_dominfo *out)
{
    size_t size = sizeof(struct xensim_hv_info_rep) +
                  XENSIM_HV_MAX_INFOS * sizeof(struct xensim_hv_dominfo);
    struct xensim_hv_info_rep *rep = malloc(size);
    unsigned int got = 0;

    if (!rep)
        return -1;
    while (got < max && first < DOMID_FIRST_RESERVED) {
        struct xensim_hv_req r = { .op = XENSIM_HV_OP_DOMAIN_INFO, .a = first,
                                   .b = max - got < XENSIM_HV_MAX_INFOS ? max - got
                                                                        : XENSIM_HV_MAX_INFOS };
        ssize_t n = hv_call(&xch->c, &r, sizeof(r), rep, size, NULL, 0, NULL);
        if (n < (ssize_t)sizeof(*rep) ||
            (rep->rc > 0 && (size_t)n != sizeof(*rep) + rep->rc * sizeof(rep->doms[0]))) {
            if (n >= 0)
                errno = EPROTO;
            break;
        }
        if (rep->rc <= 0) {
            if (rep->rc < 0)
                errno = -rep->rc;
            break;
        }
        memcpy(out + got, rep->doms, rep->rc * sizeof(rep->doms[0]));
        got += (unsigned int)rep->rc;
        first = rep->doms[rep->rc - 1].domid + 1;
    }
    free(rep);
    return got ? (int)got : -1;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info)
{
    memset(info, 0, max_doms * sizeof(*info));
    struct xensim_hv_dominfo *d = calloc(max_doms ? max_doms : 1, sizeof(*d));
    if (!d)
        return -1;
    int n = domain_list(xch, first_domid, max_doms, d);
    for (int i = 0; i < n; i++) {
        xc_dominfo_t *o = &info[i];
        o->domid = d[i].domid;
        o->dying = !!(d[i].flags & XENSIM_HV_DOM_DYING);
        o->shutdown = !!(d[i].flags & XENSIM_HV_DOM_SHUTDOWN);
        o->paused = !!(d[i].flags & XENSIM_HV_DOM_PAUSED);
        o->running = !!(d[i].flags & XENSIM_HV_DOM_RUNNING);
        o->shutdown_reason = o->shutdown ? d[i].shutdown_reason : 0;
        /* As xc_domain_getinfo turns a crash into "crashed". */
        if (o->shutdown && o->shutdown_reason == SHUTDOWN_crash) {
            o->shutdown = 0;
            o->crashed = 1;
        }
        o->nr_pages = d[i].nr_pages;
        o->max_memkb = d[i].nr_pages << 2;
        o->nr_online_vcpus = d[i].nr_vcpus;
        o->max_vcpu_id = d[i].nr_vcpus ? d[i].nr_vcpus - 1 : 0;
    }
    free(d);
    return n;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info)
{
    struct xensim_hv_dominfo *d = calloc(max_domains ? max_domains : 1, sizeof(*d));
    if (!d)
        return -1;
    int n = domain_list(xch, first_domain, max_domains, d);
    for (int i = 0; i < n; i++) {
        xc_domaininfo_t *o = &info[i];
        memset(o, 0, sizeof(*o));
        o->domain = (domid_t)d[i].domid;
        if (d[i].flags & XENSIM_HV_DOM_DYING)
            o->flags |= XEN_DOMINF_dying;
        if (d[i].flags & XENSIM_HV_DOM_SHUTDOWN)
            o->flags |= XEN_DOMINF_shutdown |
                        (d[i].shutdown_reason & XEN_DOMINF_shutdownmask) << XEN_DOMINF_shutdownshift;
        if (d[i].flags & XENSIM_HV_DOM_PAUSED)
            o->flags |= XEN_DOMINF_paused;
        if (d[i].flags & XENSIM_HV_DOM_RUNNING)
            o->flags |= XEN_DOMINF_running;
        o->tot_pages = o->max_pages = d[i].nr_pages;
        o->nr_online_vcpus = d[i].nr_vcpus;
        o->max_vcpu_id = d[i].nr_vcpus ? d[i].nr_vcpus - 1 : 0;
    }
    free(d);
    /* The sysctl reports 0 domains rather than failing. */
    return n < 0 && errno == ESRCH ? 0 : n;
}

const char *xc_strerror(xc_interface *xch, int errcode)
{
    (void)xch;
    return strerror(errcode);
}

const char *xc_error_code_to_desc(int code)
{
    switch (code) {
    case XC_ERROR_NONE:
        return "No error details";
    case XC_INTERNAL_ERROR:
        return "Internal error";
    case XC_INVALID_KERNEL:
        return "Invalid kernel";
    case XC_INVALID_PARAM:
        return "Invalid configuration";
    case XC_OUT_OF_MEMORY:
        return "Out of memory";
    }
    return "Unknown error code";
}

const xc_error *xc_get_last_error(xc_interface *xch)
{
    return &xch->last;
}

void xc_clear_last_error(xc_interface *xch)
{
    memset(&xch->last, 0, sizeof(xch->last));
}

int xc_ffs8(uint8_t x)
{
    return __builtin_ffs(x);
}

int xc_ffs16(uint16_t x)
{
    return __builtin_ffs(x);
}

int xc_ffs32(uint32_t x)
{
    return __builtin_ffs((int)x);
}

int xc_ffs64(uint64_t x)
{
    return __builtin_ffsll((long long)x);
}

void bitmap_64_to_byte(uint8_t *bp, const uint64_t *lp, int nbits);
void bitmap_64_to_byte(uint8_t *bp, const uint64_t *lp, int nbits)
{
    for (int i = 0; i < (nbits + 7) / 8; i++)
        bp[i] = (uint8_t)(lp[i / 8] >> ((i % 8) * 8));
}

void bitmap_byte_to_64(uint64_t *lp, const uint8_t *bp, int nbits);
void bitmap_byte_to_64(uint64_t *lp, const uint8_t *bp, int nbits)
{
    for (int i = 0; i < (nbits + 63) / 64; i++)
        lp[i] = 0;
    for (int i = 0; i < (nbits + 7) / 8; i++)
        lp[i / 8] |= (uint64_t)bp[i] << ((i % 8) * 8);
}

int read_exact(int fd, void *data, size_t size);
int read_exact(int fd, void *data, size_t size)
{
    for (size_t off = 0; off < size;) {
        ssize_t n = read(fd, (char *)data + off, size - off);
        if (n == 0)
            errno = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int write_exact(int fd, const void *data, size_t size);
int write_exact(int fd, const void *data, size_t size)
{
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, (const char *)data + off, size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

int writev_exact(int fd, const struct iovec *iov, int iovcnt);
int writev_exact(int fd, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++)
        if (write_exact(fd, iov[i].iov_base, iov[i].iov_len))
            return -1;
    return 0;
}

void discard_file_cache(xc_interface *xch, int fd, int flush);
void discard_file_cache(xc_interface *xch, int fd, int flush)
{
    (void)xch;
    if (flush)
        fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}
