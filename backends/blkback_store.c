/*
 * blkback's backing stores: a host file (pread/pwrite, sparse files, hole
 * punching for discard) or anonymous memory. Owns the fd or the memory;
 * called by blkback_ring.c with ranges it has already checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blkback.h"

/* preadv/pwritev until done: a short transfer is retried from where it
 * stopped; reading past the end of a file reads zeroes. */
static int file_rw(struct blkback *be, bool write, uint64_t off, const struct iovec *iov,
                   unsigned int n)
{
    /* One segment (4 KiB I/O, the common case): no iovec for the kernel
     * to copy in. */
    if (n == 1) {
        ssize_t r;
        do
            r = write ? pwrite(be->fd, iov->iov_base, iov->iov_len, (off_t)off)
                      : pread(be->fd, iov->iov_base, iov->iov_len, (off_t)off);
        while (r < 0 && errno == EINTR);
        if (r == (ssize_t)iov->iov_len)
            return 0;
        if (r < 0)
            return -EIO;
    }
    struct iovec local[64];
    while (n) {
        unsigned int k = n < 64 ? n : 64;
        memcpy(local, iov, k * sizeof(*iov));
        struct iovec *cur = local;
        unsigned int left = k;
        while (left) {
            ssize_t r = write ? pwritev(be->fd, cur, (int)left, (off_t)off)
                              : preadv(be->fd, cur, (int)left, (off_t)off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -EIO;
            if (r == 0) {
                if (write)
                    return -EIO;
                for (unsigned int i = 0; i < left; i++) {
                    memset(cur[i].iov_base, 0, cur[i].iov_len);
                    off += cur[i].iov_len;
                }
                break;
            }
            off += (uint64_t)r;
            size_t done = (size_t)r;
            while (left && done >= cur->iov_len) {
                done -= cur->iov_len;
                cur++;
                left--;
            }
            if (left) {
                cur->iov_base = (uint8_t *)cur->iov_base + done;
                cur->iov_len -= done;
            }
        }
        iov += k;
        n -= k;
    }
    return 0;
}

static int file_flush(struct blkback *be)
{
    return fdatasync(be->fd) == 0 ? 0 : -EIO;
}

static int file_discard(struct blkback *be, uint64_t off, uint64_t len, bool secure)
{
    (void)secure;  /* a punched hole reads as zeroes: nothing to recover */
    if (fallocate(be->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                  (off_t)len) == 0)
        return 0;
    /* No hole punching here: zeroes are a correct discard. */
    static const uint8_t zero[XEN_PAGE_SIZE];
    while (len) {
        size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
        ssize_t w = pwrite(be->fd, zero, n, (off_t)off);
        if (w <= 0)
            return -EIO;
        off += (uint64_t)w;
        len -= (uint64_t)w;
    }
    return 0;
}

static void file_close(struct blkback *be)
{
    if (be->fd >= 0)
        close(be->fd);
    be->fd = -1;
}

const struct blkback_store_ops blkback_file_ops = {
    .name = "file",
    .rw = file_rw,
    .flush = file_flush,
    .discard = file_discard,
    .close = file_close,
};

static int mem_rw(struct blkback *be, bool write, uint64_t off, const struct iovec *iov,
                  unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        if (write)
            memcpy(be->mem + off, iov[i].iov_base, iov[i].iov_len);
        else
            memcpy(iov[i].iov_base, be->mem + off, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    return 0;
}

static int mem_flush(struct blkback *be)
{
    (void)be;
    return 0;
}

static int mem_discard(struct blkback *be, uint64_t off, uint64_t len, bool secure)
{
    (void)secure;
    memset(be->mem + off, 0, (size_t)len);
    return 0;
}

static void mem_close(struct blkback *be)
{
    if (be->mem)
        munmap(be->mem, (size_t)be->bytes ? (size_t)be->bytes : 1);
    be->mem = NULL;
}

const struct blkback_store_ops blkback_mem_ops = {
    .name = "memory",
    .rw = mem_rw,
    .flush = mem_flush,
    .discard = mem_discard,
    .close = mem_close,
};

int blkback_store_open(struct blkback *be)
{
    if (be->cfg.path) {
        be->store = &blkback_file_ops;
        be->fd = open(be->cfg.path, (be->cfg.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (be->fd < 0)
            return -errno;
        struct stat sb;
        if (fstat(be->fd, &sb) != 0) {
            int e = -errno;
            file_close(be);
            return e;
        }
        be->bytes = (uint64_t)sb.st_size / be->sector_size * be->sector_size;
        return 0;
    }
    be->store = &blkback_mem_ops;
    be->bytes = be->cfg.mem_bytes / be->sector_size * be->sector_size;
    /* Anonymous memory is zero-filled on first touch, like a sparse file. */
    void *p = mmap(NULL, be->bytes ? (size_t)be->bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    be->mem = p;
    return 0;
}
