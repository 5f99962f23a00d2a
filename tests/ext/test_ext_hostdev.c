/*
 * What hostdev.h gives the simulator's end of an external process: an
 * evtchn handle whose ports arrive on a pipe, grant pins that map
 * nothing in the simulator, and descriptors of a domain's memory that the
 * process maps itself (read-only ones refuse PROT_WRITE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xensim/hostdev.h>
#include "harness.h"
#include "util.h"

#define NODOM ((domid_t)0x7FEF)

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

struct gcall {
    domid_t remote;
    evtchn_port_t port;
    long rc;
};

static long g_alloc_unbound(void *arg)
{
    return xensim_evtchn_alloc_unbound(((struct gcall *)arg)->remote);
}

static long g_send(void *arg)
{
    return xensim_evtchn_send(((struct gcall *)arg)->port);
}

static long g_close(void *arg)
{
    return xensim_evtchn_close(((struct gcall *)arg)->port);
}

START_TEST(test_evtchn_fd)
{
    struct xensim *sim = th_sim_new();
    domid_t g = th_domain(sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int pfd[2];

    ck_assert_int_eq(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
    errno = 0;
    ck_assert_ptr_null(xensim_evtchn_dev_open_fd(sim, 0, -1));
    ck_assert_int_eq(errno, EBADF);
    struct xensim_evtchn_dev *dev = xensim_evtchn_dev_open_fd(sim, 0, pfd[1]);
    ck_assert_ptr_nonnull(dev);

    struct gcall c = { .remote = 0 };
    long gp = th_call_long(sim, g, 0, g_alloc_unbound, &c);
    ck_assert_int_gt(gp, 0);
    long lp = xensim_evtchn_dev_bind_interdomain(dev, g, (evtchn_port_t)gp);
    ck_assert_int_gt(lp, 0);

    /* The bind's own event, then nothing while the port stays masked. */
    uint32_t got = 0;
    ck_assert_int_eq(read(pfd[0], &got, sizeof(got)), sizeof(got));
    ck_assert_uint_eq(got, (uint32_t)lp);
    c.port = (evtchn_port_t)gp;
    ck_assert_int_eq(th_call_long(sim, g, 0, g_send, &c), 0);
    ck_assert(!readable(pfd[0]));
    /* Unmasking a port that fired meanwhile writes it again, once. */
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)lp), 0);
    ck_assert_int_eq(read(pfd[0], &got, sizeof(got)), sizeof(got));
    ck_assert_uint_eq(got, (uint32_t)lp);
    ck_assert(!readable(pfd[0]));
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)lp), 0);
    ck_assert_int_eq(th_call_long(sim, g, 0, g_send, &c), 0);
    ck_assert_int_eq(read(pfd[0], &got, sizeof(got)), sizeof(got));
    ck_assert_uint_eq(got, (uint32_t)lp);
    /* Nothing is queued in the handle itself. */
    ck_assert_int_eq(xensim_evtchn_dev_pending(dev), -EAGAIN);

    /* The process's read end gone (the simulator keeps one, as the
     * header asks): sends still cost the sender nothing, and the
     * handle's close unbinds. */
    int keep = dup(pfd[0]);
    ck_assert_int_ge(keep, 0);
    close(pfd[0]);
    ck_assert_int_eq(xensim_evtchn_dev_unmask(dev, (evtchn_port_t)lp), 0);
    ck_assert_int_eq(th_call_long(sim, g, 0, g_send, &c), 0);
    xensim_evtchn_dev_close(dev);
    close(keep);
    ck_assert_int_eq(th_call_long(sim, g, 0, g_close, &c), 0);
    th_sim_free_checked(sim);
}
END_TEST

struct ggrant {
    domid_t to;
    bool readonly;
    xen_pfn_t pfn;
    long ref;
    int end_rc;
};

static void g_grant(void *arg)
{
    struct ggrant *gg = arg;
    ck_assert_int_eq(xensim_guest_page_alloc(&gg->pfn), 0);
    uint8_t *page = xensim_guest_pfn_to_virt(gg->pfn);
    memset(page, 0x5a, XEN_PAGE_SIZE);
    gg->ref = xensim_gnttab_grant_access(gg->to, gg->pfn, gg->readonly);
}

static void g_end(void *arg)
{
    struct ggrant *gg = arg;
    gg->end_rc = xensim_gnttab_end_access((grant_ref_t)gg->ref);
    if (!gg->end_rc) {
        xensim_gnttab_free_ref((grant_ref_t)gg->ref);
        xensim_guest_page_free(gg->pfn);
    }
}

START_TEST(test_pin_and_memory_fd)
{
    struct xensim *sim = th_sim_new();
    domid_t g = th_domain(sim, "guest", false, XENSIM_GNTTAB_STRICT);
    struct xensim_gnttab_dev *dev = xensim_gnttab_dev_open(sim, 0);
    ck_assert_ptr_nonnull(dev);
    struct ggrant gg = { .to = 0, .readonly = true };
    th_call(sim, g, 0, g_grant, &gg);
    ck_assert_int_gt(gg.ref, 0);

    grant_handle_t h;
    xen_pfn_t frame = 0;
    /* Xen's checks: a writable pin of a read-only grant (Xen says
     * general_error), a ref never granted, a granter that does not exist. */
    ck_assert_int_eq(xensim_gnttab_dev_pin(dev, g, (grant_ref_t)gg.ref, false, &h, &frame),
                     GNTST_general_error);
    ck_assert_int_eq(xensim_gnttab_dev_pin(dev, g, 4000, true, &h, &frame), GNTST_bad_gntref);
    ck_assert_int_eq(xensim_gnttab_dev_pin(dev, NODOM, 8, true, &h, &frame), GNTST_bad_domain);
    ck_assert_int_eq(xensim_gnttab_dev_pin(dev, g, (grant_ref_t)gg.ref, true, &h, &frame),
                     GNTST_okay);
    ck_assert_uint_eq(frame, gg.pfn);

    /* The page itself, through the granter's memory. */
    int fd = xensim_domain_memory_fd(sim, g, true);
    ck_assert_int_ge(fd, 0);
    void *w = mmap(NULL, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)frame << XEN_PAGE_SHIFT);
    ck_assert(w == MAP_FAILED && errno == EACCES);
    uint8_t *r = mmap(NULL, XEN_PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
                      (off_t)frame << XEN_PAGE_SHIFT);
    ck_assert(r != MAP_FAILED);
    ck_assert_uint_eq(r[0], 0x5a);
    ck_assert_uint_eq(r[XEN_PAGE_SIZE - 1], 0x5a);
    munmap(r, XEN_PAGE_SIZE);
    close(fd);
    fd = xensim_domain_memory_fd(sim, g, false);
    ck_assert_int_ge(fd, 0);
    w = mmap(NULL, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             (off_t)frame << XEN_PAGE_SHIFT);
    ck_assert(w != MAP_FAILED);
    munmap(w, XEN_PAGE_SIZE);
    close(fd);
    ck_assert_int_eq(xensim_domain_memory_fd(sim, NODOM, false), -ESRCH);

    /* While pinned the granter cannot end access. */
    th_call(sim, g, 0, g_end, &gg);
    ck_assert_int_eq(gg.end_rc, -EBUSY);
    ck_assert_int_eq(xensim_gnttab_dev_unpin(dev, h + 1000), -EINVAL);
    ck_assert_int_eq(xensim_gnttab_dev_unpin(dev, h), 0);
    ck_assert_int_eq(xensim_gnttab_dev_unpin(dev, h), -EINVAL);
    th_call(sim, g, 0, g_end, &gg);
    ck_assert_int_eq(gg.end_rc, 0);
    xensim_gnttab_dev_close(dev);
    th_sim_free_checked(sim);
}
END_TEST

/* 257 grants of one page, so that no pin count overflows first. */
#define MANY 257
struct gmany {
    domid_t to;
    xen_pfn_t pfn;
    long refs[MANY];
    int bad_ends;
};

static void g_grant_many(void *arg)
{
    struct gmany *gm = arg;
    ck_assert_int_eq(xensim_guest_page_alloc(&gm->pfn), 0);
    for (int i = 0; i < MANY; i++)
        gm->refs[i] = xensim_gnttab_grant_access(gm->to, gm->pfn, false);
}

static void g_end_many(void *arg)
{
    struct gmany *gm = arg;
    for (int i = 0; i < MANY; i++) {
        if (xensim_gnttab_end_access((grant_ref_t)gm->refs[i]))
            gm->bad_ends++;
        else
            xensim_gnttab_free_ref((grant_ref_t)gm->refs[i]);
    }
    xensim_guest_page_free(gm->pfn);
}

/* Pins count against the pinning domain's maptrack, as Xen's do, and the
 * handle's close gives them all back. */
START_TEST(test_pin_maptrack_limit)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "mapper", .max_maptrack_frames = 1 };
    domid_t m = th_domain_cfg(sim, &cfg);
    domid_t g = th_domain(sim, "granter", false, XENSIM_GNTTAB_FAST);
    struct xensim_gnttab_dev *dev = xensim_gnttab_dev_open(sim, m);
    static struct gmany gm;
    gm.to = m;
    th_call(sim, g, 0, g_grant_many, &gm);
    grant_handle_t h;
    xen_pfn_t frame;

    /* One maptrack frame holds 256 entries, and Xen keeps one of them on
     * the free list (_get_maptrack_handle): 255 pins. */
    for (int i = 0; i < MANY - 2; i++) {
        ck_assert_int_gt(gm.refs[i], 0);
        ck_assert_int_eq(xensim_gnttab_dev_pin(dev, g, (grant_ref_t)gm.refs[i], false, &h,
                                               &frame), GNTST_okay);
    }
    ck_assert_int_eq(xensim_gnttab_dev_pin(dev, g, (grant_ref_t)gm.refs[MANY - 2], false, &h,
                                           &frame), GNTST_no_space);
    xensim_gnttab_dev_close(dev);
    th_call(sim, g, 0, g_end_many, &gm);
    ck_assert_int_eq(gm.bad_ends, 0);
    th_sim_free_checked(sim);
}
END_TEST

static Suite *hostdev_suite(void)
{
    Suite *s = suite_create("ext_hostdev");
    TCase *t = tcase_create("hostdev");
    tcase_add_test(t, test_evtchn_fd);
    tcase_add_test(t, test_pin_and_memory_fd);
    tcase_add_test(t, test_pin_maptrack_limit);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hostdev_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
