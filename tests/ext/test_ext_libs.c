/*
 * The drop-in libraries from a process of a simulated domain, beyond
 * what libxenvchan calls (libprobe.c): libxenctrl's domain list as dom0
 * and its EPERM as a guest, evtchn's errors and restrict, grant maps of
 * several refs, grant copy, gntshr's pages mapped by an in-process
 * guest; libxenforeignmemory's frames by number and libxendevicemodel's
 * PV answers. Each case ends with the teardown check.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ext_fixture.h"
#include "util.h"

#define WAIT 60000                  /* ms: a safety net, not a timing */

static char probe[PATH_MAX];

static void run_probe(struct ext_fix *f, domid_t as, char **args, int n)
{
    char *argv[8] = { probe };
    struct ext_proc p;
    char line[256];
    for (int i = 0; i < n; i++)
        argv[1 + i] = args[i];
    ext_spawn(f, as, argv, NULL, -1, false, &p);
    bool ok = ext_proc_line(&p, "ok", line, sizeof(line), WAIT);
    int rc = ext_proc_wait(&p);
    ck_assert_msg(ok && rc == 0, "libprobe %s: rc %d", args[0], rc);
}

START_TEST(test_ctrl)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    run_probe(&f, 0, (char *[]){ "ctrl", "2" }, 2);
    run_probe(&f, g, (char *[]){ "ctrl-unprivileged" }, 1);
    ext_fix_stop(&f);
}
END_TEST

struct bind_args {
    domid_t dom;
    evtchn_port_t port;
    long rc;
};

static void g_bind_send(void *arg)
{
    struct bind_args *b = arg;
    b->rc = xensim_evtchn_bind_interdomain(b->dom, b->port);
    if (b->rc > 0)
        xensim_evtchn_send((evtchn_port_t)b->rc);
}

static void g_close(void *arg)
{
    struct bind_args *b = arg;
    xensim_evtchn_close((evtchn_port_t)b->rc);
}

START_TEST(test_evtchn)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    char peer[8], line[64];
    snprintf(peer, sizeof(peer), "%u", g);
    struct ext_proc p;
    ext_spawn(&f, 0, (char *[]){ probe, "evtchn", peer, NULL }, NULL, -1, false, &p);
    ck_assert(ext_proc_line(&p, "port ", line, sizeof(line), WAIT));
    struct bind_args b = { .dom = 0, .port = (evtchn_port_t)atoi(line + 5) };
    th_call(f.sim, g, 0, g_bind_send, &b);
    ck_assert_int_gt(b.rc, 0);
    char res[256];
    bool ok = ext_proc_line(&p, "ok", res, sizeof(res), WAIT);
    ck_assert_msg(ok, "probe: %s", p.buf);
    ck_assert_int_eq(ext_proc_wait(&p), 0);
    th_call(f.sim, g, 0, g_close, &b);
    ext_fix_stop(&f);
}
END_TEST

struct grants {
    domid_t to;
    xen_pfn_t pfn[2];
    long refs[2];
    int busy;
};

static void g_grant(void *arg)
{
    struct grants *g = arg;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(xensim_guest_page_alloc(&g->pfn[i]), 0);
        memset(xensim_guest_pfn_to_virt(g->pfn[i]), 0x5a, XEN_PAGE_SIZE);
        g->refs[i] = xensim_gnttab_grant_access(g->to, g->pfn[i], i == 1);
    }
}

static void g_ungrant(void *arg)
{
    struct grants *g = arg;
    g->busy = 0;
    for (int i = 0; i < 2; i++) {
        if (xensim_gnttab_end_access((grant_ref_t)g->refs[i])) {
            g->busy++;
            continue;
        }
        xensim_gnttab_free_ref((grant_ref_t)g->refs[i]);
        xensim_guest_page_free(g->pfn[i]);
    }
}

/* A guest's grants mapped by a dom0 process, and by a domU process from
 * another domU. */
START_TEST(test_gnttab)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "granter", false, XENSIM_GNTTAB_STRICT);
    domid_t m = _i ? th_domain(f.sim, "mapper", false, XENSIM_GNTTAB_FAST) : 0;
    struct grants gr = { .to = m };
    char a[3][16];
    th_call(f.sim, g, 0, g_grant, &gr);
    snprintf(a[0], sizeof(a[0]), "%u", g);
    snprintf(a[1], sizeof(a[1]), "%ld", gr.refs[0]);
    snprintf(a[2], sizeof(a[2]), "%ld", gr.refs[1]);
    run_probe(&f, m, (char *[]){ "gnttab", a[0], a[1], a[2] }, 4);
    /* The process's copy and writes reached the granter's page. */
    ext_fix_assert_idle(&f);
    th_call(f.sim, g, 0, g_ungrant, &gr);
    ck_assert_int_eq(gr.busy, 0);
    ext_fix_stop(&f);
}
END_TEST

struct gmap {
    domid_t granter;
    grant_ref_t ref;
    gnttab_map_grant_ref_t op;
};

static void g_map_write(void *arg)
{
    struct gmap *m = arg;
    m->op = (gnttab_map_grant_ref_t){ .flags = GNTMAP_host_map, .ref = m->ref, .dom = m->granter };
    HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m->op, 1);
    if (m->op.status == GNTST_okay) {
        uint8_t *p = (uint8_t *)(uintptr_t)m->op.host_addr;
        if (p[0] == 0x42)
            p[3] = 0x99;
    }
}

static void g_unmap(void *arg)
{
    struct gmap *m = arg;
    gnttab_unmap_grant_ref_t u = { .host_addr = m->op.host_addr, .handle = m->op.handle };
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
}

/* A dom0 process shares pages; a guest maps one and writes to it. */
START_TEST(test_gntshr)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    char peer[8], line[128];
    unsigned int refs[4];
    snprintf(peer, sizeof(peer), "%u", g);
    struct ext_proc p;
    ext_spawn(&f, 0, (char *[]){ probe, "gntshr", peer, NULL }, NULL, -1, true, &p);
    ck_assert(ext_proc_line(&p, "refs ", line, sizeof(line), WAIT));
    ck_assert_int_eq(sscanf(line, "refs %u %u %u %u", &refs[0], &refs[1], &refs[2], &refs[3]), 4);
    struct gmap gm = { .granter = 0, .ref = refs[1] };
    th_call(f.sim, g, 0, g_map_write, &gm);
    ck_assert_int_eq(gm.op.status, GNTST_okay);
    ck_assert_int_eq(write(p.in, "go\n", 3), 3);
    ck_assert(ext_proc_line(&p, "ok", NULL, 0, WAIT));
    ck_assert_int_eq(ext_proc_wait(&p), 0);
    /* Its page stays granted while the guest maps it. */
    struct xensim_external_stats st;
    xensim_external_sync(f.ext, &st);
    ck_assert_uint_eq(st.deferred, 1);
    th_call(f.sim, g, 0, g_unmap, &gm);
    ext_fix_stop(&f);
}
END_TEST

struct frame {
    xen_pfn_t pfn;
    int seen;
};

static void g_page(void *arg)
{
    struct frame *fr = arg;
    ck_assert_int_eq(xensim_guest_page_alloc(&fr->pfn), 0);
    memset(xensim_guest_pfn_to_virt(fr->pfn), 0x5a, XEN_PAGE_SIZE);
}

static void g_page_check(void *arg)
{
    struct frame *fr = arg;
    fr->seen = ((uint8_t *)xensim_guest_pfn_to_virt(fr->pfn))[1];
    xensim_guest_page_free(fr->pfn);
}

/* libxenforeignmemory: dom0 maps a guest's frame by number and writes
 * it; a guest cannot. libxendevicemodel: Xen's dm_op answers for PV
 * domains. The grant copy hook. */
START_TEST(test_foreign_devicemodel)
{
    struct ext_fix f;
    ext_fix_start(&f);
    struct xensim_domain_config gc = { .name = "guest", .nr_pages = 512, .nr_vcpus = 1 };
    domid_t g = th_domain_cfg(f.sim, &gc);
    domid_t other = th_domain(f.sim, "other", false, XENSIM_GNTTAB_STRICT);
    struct frame fr = { 0 };
    th_call(f.sim, g, 0, g_page, &fr);
    char a[3][24];
    snprintf(a[0], sizeof(a[0]), "%u", g);
    snprintf(a[1], sizeof(a[1]), "%lu", (unsigned long)fr.pfn);
    snprintf(a[2], sizeof(a[2]), "%lu", gc.nr_pages);
    run_probe(&f, 0, (char *[]){ "foreign", a[0], a[1], a[2] }, 4);
    th_call(f.sim, g, 0, g_page_check, &fr);
    ck_assert_int_eq(fr.seen, 0x11);
    run_probe(&f, other, (char *[]){ "foreign-unprivileged", a[0] }, 2);
    run_probe(&f, 0, (char *[]){ "devicemodel", a[0] }, 2);

    char *argv[] = { probe, "no-copy", NULL }, *env[] = { "XENSIM_GNTTAB_NO_COPY=1", NULL };
    struct ext_proc p;
    ext_spawn(&f, 0, argv, env, -1, false, &p);
    ck_assert(ext_proc_line(&p, "ok", NULL, 0, WAIT));
    ck_assert_int_eq(ext_proc_wait(&p), 0);
    ext_fix_stop(&f);
}
END_TEST

static Suite *libs_suite(void)
{
    Suite *s = suite_create("ext_libs");
    TCase *t = tcase_create("libs");
    tcase_add_test(t, test_ctrl);
    tcase_add_test(t, test_evtchn);
    tcase_add_loop_test(t, test_gnttab, 0, 2);
    tcase_add_test(t, test_gntshr);
    tcase_add_test(t, test_foreign_devicemodel);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    ext_built("tests/ext/libprobe", probe, sizeof(probe));
    SRunner *sr = srunner_create(libs_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
