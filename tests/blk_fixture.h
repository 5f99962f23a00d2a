/*
 * Helpers for the block suites: a back end (blkback, in dom0 or a driver
 * domain) and a front end (blkfront, in a guest) connected directly with
 * the parameters XenStore would carry, a sparse backing file, and guest
 * calls wrapped for Check. Relies on harness.h and <xensim/blkif.h>.
 */
#ifndef XENSIM_TEST_BLK_FIXTURE_H
#define XENSIM_TEST_BLK_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>
#include "harness.h"

struct blk_fix {
    struct xensim *sim;
    domid_t back, front;
    struct xensim_blkback_config bcfg;
    struct xensim_blkfront_config fcfg;
    struct blkback *be;
    struct xensim_blkfront *fe;
    struct xensim_blkif_backend_info info;
    struct xensim_blkif_front_params params;
    char path[64];
    uint64_t bytes;
    int rc;
};

/* A sparse backing file of the given size. */
static inline void blk_file(struct blk_fix *f, uint64_t bytes)
{
    snprintf(f->path, sizeof(f->path), "/tmp/xensim-blk-XXXXXX");
    int fd = mkstemp(f->path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)bytes), 0);
    close(fd);
    f->bytes = bytes;
    f->bcfg.path = f->path;
}

static inline void blk_file_remove(struct blk_fix *f)
{
    if (f->path[0])
        unlink(f->path);
}

/* The file's bytes at off, read on the host. */
static inline void blk_file_read(struct blk_fix *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline domid_t blk_guest(struct xensim *sim, const char *name, unsigned long pages,
                                unsigned int vcpus, enum xensim_gnttab_mode mode)
{
    struct xensim_domain_config cfg = {
        .name = name, .nr_pages = pages, .nr_vcpus = vcpus, .gnttab_mode = mode,
    };
    return th_domain_cfg(sim, &cfg);
}

static void blk_setup_fn(void *p)
{
    struct blk_fix *f = p;
    f->rc = xensim_blkfront_setup(f->fe, &f->info, &f->params);
}

static void blk_bconnect_fn(void *p)
{
    struct blk_fix *f = p;
    f->rc = xensim_blkback_connect(f->be, &f->params);
}

static void blk_fconnect_fn(void *p)
{
    struct blk_fix *f = p;
    f->rc = xensim_blkfront_connect(f->fe, &f->info);
}

static void blk_bdisconnect_fn(void *p)
{
    struct blk_fix *f = p;
    f->rc = xensim_blkback_disconnect(f->be);
}

static void blk_fdisconnect_fn(void *p)
{
    struct blk_fix *f = p;
    f->rc = xensim_blkfront_disconnect(f->fe);
}

/* The three steps of the handshake, as the xenbus states would order them. */
static inline void blk_connect(struct blk_fix *f)
{
    if (!f->be)
        ck_assert_int_eq(xensim_blkback_create(&f->bcfg, &f->be), 0);
    xensim_blkback_info(f->be, &f->info);
    f->fcfg.backend_domid = f->back;
    if (!f->fe)
        ck_assert_int_eq(xensim_blkfront_create(&f->fcfg, &f->fe), 0);
    ck_assert_int_eq(xensim_blkfront_set_backend(f->fe, f->back), 0);
    th_call(f->sim, f->front, 0, blk_setup_fn, f);
    ck_assert_int_eq(f->rc, 0);
    th_call(f->sim, f->back, 0, blk_bconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
    xensim_blkback_info(f->be, &f->info);
    th_call(f->sim, f->front, 0, blk_fconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
}

/* Back end first, so that the front end can revoke every grant. */
static inline void blk_disconnect(struct blk_fix *f)
{
    th_call(f->sim, f->back, 0, blk_bdisconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
    th_call(f->sim, f->front, 0, blk_fdisconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
}

/* Disconnects, frees, and checks that no port, grant mapping or pin is
 * left anywhere. */
static inline void blk_teardown(struct blk_fix *f)
{
    blk_disconnect(f);
    xensim_blkfront_free(f->fe);
    xensim_blkback_destroy(f->be);
    ck_assert_uint_eq(th_ports_in_use(f->sim, f->front), 0);
    ck_assert_uint_eq(th_ports_in_use(f->sim, f->back), 0);
    th_sim_free_checked(f->sim);
    blk_file_remove(f);
}

/* A small deterministic PRNG (xorshift64*), so failures replay. */
static inline uint64_t blk_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static inline void blk_fill(uint8_t *p, size_t len, uint64_t *seed)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = blk_rand(seed);
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
}

#endif
