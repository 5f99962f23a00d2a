/*
 * The simulator's views for people and tools: the inspection tables
 * (xensim_dump_*), the Chrome trace (xensim_trace_*), errno names, the
 * version, and starting xenstored inside a simulator. Uses the public API
 * only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/errno.h>
#include <xensim/version.h>
#include <xensim/task.h>
#include "config.h"
#include "fifo_helpers.h"

struct chan {
    domid_t guest;
    long guest_port, dom0_port;
    long ref;
    xen_pfn_t pfn;
    grant_handle_t handle;
    uint64_t host_addr;
    int16_t status;
};

static void guest_offer(void *p)
{
    struct chan *c = p;
    c->guest_port = xensim_evtchn_alloc_unbound(0);
    ck_assert_int_eq(xensim_guest_page_alloc(&c->pfn), 0);
    c->ref = xensim_gnttab_grant_access(0, c->pfn, true);
}

static void dom0_connect(void *p)
{
    struct chan *c = p;
    c->dom0_port = xensim_evtchn_bind_interdomain(c->guest, (evtchn_port_t)c->guest_port);
    struct gnttab_map_grant_ref m = {
        .flags = GNTMAP_host_map | GNTMAP_readonly, .ref = (grant_ref_t)c->ref, .dom = c->guest,
    };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    c->status = m.status;
    c->handle = m.handle;
    c->host_addr = m.host_addr;
}

static void dom0_disconnect(void *p)
{
    struct chan *c = p;
    struct gnttab_unmap_grant_ref u = { .host_addr = c->host_addr, .handle = c->handle };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    ck_assert_int_eq(u.status, GNTST_okay);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->dom0_port), 0);
}

static void guest_close(void *p)
{
    struct chan *c = p;
    ck_assert_int_eq(xensim_gnttab_end_access((grant_ref_t)c->ref), 0);
    xensim_gnttab_free_ref((grant_ref_t)c->ref);
    xensim_guest_page_free(c->pfn);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->guest_port), 0);
}

static char *dump(int (*fn)(struct xensim *, domid_t, FILE *), struct xensim *sim,
                  domid_t domid, int *rows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    *rows = fn(sim, domid, f);
    fclose(f);
    return buf;
}

START_TEST(test_dump_tables)
{
    struct xensim *sim = th_sim_new();
    struct chan c = { .guest = th_domain(sim, "inspected", false, XENSIM_GNTTAB_STRICT) };
    th_call(sim, c.guest, 0, guest_offer, &c);
    th_call(sim, 0, 0, dom0_connect, &c);
    ck_assert_int_eq(c.status, GNTST_okay);

    int rows;
    char *ports = dump(xensim_dump_ports, sim, c.guest, &rows);
    /* port 0, the store and console ports, and the channel */
    ck_assert_int_eq(rows, 4);
    ck_assert_ptr_nonnull(strstr(ports, "reserved"));
    ck_assert_ptr_nonnull(strstr(ports, "unbound      remote dom0"));
    char want[64];
    snprintf(want, sizeof(want), "interdomain  dom0 port %ld", c.dom0_port);
    ck_assert_msg(strstr(ports, want), "no '%s' in:\n%s", want, ports);
    free(ports);

    char *grants = dump(xensim_dump_grants, sim, c.guest, &rows);
    /* refs 0 and 1 from the builder, and ours */
    ck_assert_int_eq(rows, 3);
    ck_assert_msg(strstr(grants, "permit_access|readonly|reading"), "%s", grants);
    ck_assert_msg(strstr(grants, "dom0 (1 read, 0 write pins)"), "%s", grants);
    free(grants);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(xensim_dump_domains(sim, f), 2);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "inspected"));
    ck_assert_ptr_nonnull(strstr(buf, "running"));
    free(buf);

    /* The same as rows. */
    struct xensim_port_info pr[8];
    ck_assert_int_eq(xensim_port_list(sim, c.guest, NULL, 0), 4);
    ck_assert_int_eq(xensim_port_list(sim, c.guest, pr, 2), 4);
    ck_assert_int_eq(xensim_port_list(sim, c.guest, pr, 8), 4);
    ck_assert(pr[0].reserved);
    ck_assert_uint_eq(pr[0].port, 0);
    ck_assert_uint_eq(pr[1].status, EVTCHNSTAT_unbound);
    ck_assert_uint_eq(pr[1].remote_dom, 0);
    ck_assert_uint_eq(pr[3].port, (evtchn_port_t)c.guest_port);
    ck_assert_uint_eq(pr[3].status, EVTCHNSTAT_interdomain);
    ck_assert_uint_eq(pr[3].remote_dom, 0);
    ck_assert_uint_eq(pr[3].remote_port, (evtchn_port_t)c.dom0_port);
    ck_assert(!pr[3].host_consumer);
    struct xensim_grant_info gr[4];
    ck_assert_int_eq(xensim_grant_list(sim, c.guest, gr, 4), 3);
    ck_assert_uint_eq(gr[0].ref, GNTTAB_RESERVED_CONSOLE);
    ck_assert_uint_eq(gr[0].mapped_by, DOMID_INVALID);
    ck_assert_uint_eq(gr[2].ref, (grant_ref_t)c.ref);
    ck_assert_uint_eq(gr[2].flags, GTF_permit_access | GTF_readonly | GTF_reading);
    ck_assert_uint_eq(gr[2].mapped_by, 0);
    ck_assert_uint_eq(gr[2].read_pins, 1);
    ck_assert_uint_eq(gr[2].write_pins, 0);
    ck_assert_uint_eq(gr[2].frame, c.pfn);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, c.guest, &info), 0);
    ck_assert_uint_eq(info.pages_allocated, 1);
    ck_assert_uint_eq(info.grant_entries_in_use, 1);
    ck_assert_int_eq(xensim_port_list(sim, 77, pr, 8), -ESRCH);
    ck_assert_int_eq(xensim_grant_list(sim, 77, gr, 4), -ESRCH);

    f = open_memstream(&buf, &len);
    ck_assert_int_eq(xensim_dump_ports(sim, 77, f), -ESRCH);
    ck_assert_int_eq(xensim_dump_grants(sim, 77, f), -ESRCH);
    fclose(f);
    free(buf);

    th_call(sim, 0, 0, dom0_disconnect, &c);
    th_call(sim, c.guest, 0, guest_close, &c);
    th_sim_free_checked(sim);
}
END_TEST

static _Atomic int upcalls;

static void count_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
    upcalls++;
}

static void guest_listen(void *p)
{
    struct chan *c = p;
    c->guest_port = xensim_evtchn_alloc_unbound(0);
    ck_assert_int_eq(xensim_irq_bind((evtchn_port_t)c->guest_port, count_irq, NULL), 0);
}

static void dom0_send(void *p)
{
    struct chan *c = p;
    c->dom0_port = xensim_evtchn_bind_interdomain(c->guest, (evtchn_port_t)c->guest_port);
    ck_assert_int_gt(c->dom0_port, 0);
    ck_assert_int_eq(xensim_evtchn_send((evtchn_port_t)c->dom0_port), 0);
}

static void dom0_close(void *p)
{
    struct chan *c = p;
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->dom0_port), 0);
}

static void guest_unlisten(void *p)
{
    struct chan *c = p;
    xensim_irq_unbind((evtchn_port_t)c->guest_port);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->guest_port), 0);
}

/* Guest code writes its page; a debugger-style peek reads it back. */
static void guest_write_page(void *p)
{
    struct chan *c = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&c->pfn), 0);
    memcpy((char *)xensim_guest_pfn_to_virt(c->pfn) + 4090, "peek!", 6);
    c->guest_port = xensim_evtchn_alloc_unbound(0);
    /* Masks it by hand, as a kernel does in its own shared_info. */
    struct shared_info *sh = xensim_guest_shared_info();
    __atomic_fetch_or(&sh->evtchn_mask[0], 1ull << c->guest_port, __ATOMIC_SEQ_CST);
}

static void guest_free_page(void *p)
{
    struct chan *c = p;
    xensim_guest_page_free(c->pfn);
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->guest_port), 0);
}

START_TEST(test_peek)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "wide", .evtchn_abi = XENSIM_EVTCHN_2L_64,
                                        .max_evtchn_port = 100 };
    struct chan c = { .guest = th_domain_cfg(sim, &cfg) };
    th_call(sim, c.guest, 0, guest_write_page, &c);

    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, c.guest, &info), 0);
    ck_assert_int_eq(info.evtchn_abi, XENSIM_EVTCHN_2L_64);
    ck_assert_uint_eq(info.max_evtchn_port, 100);
    ck_assert_uint_eq(info.shared_info_frame, info.nr_pages);
    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert_int_eq(info.evtchn_abi, XENSIM_EVTCHN_2L_32);
    ck_assert_uint_eq(info.max_evtchn_port, 1023);

    char buf[8] = "";
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, c.pfn, 4090, buf, 6), 0);
    ck_assert_str_eq(buf, "peek!");
    /* shared_info shows the port the guest masked: bit guest_port of
     * evtchn_mask, in 64-bit words for this ABI. */
    ck_assert_int_eq(xensim_domain_info(sim, c.guest, &info), 0);
    uint64_t mask;
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, info.shared_info_frame,
                                        (unsigned int)offsetof(struct shared_info, evtchn_mask),
                                        &mask, sizeof(mask)), 0);
    ck_assert_uint_eq((mask >> c.guest_port) & 1, 1);

    /* Bad input is answered, never followed. */
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, c.pfn, 4090, buf, 7), -EINVAL);
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, c.pfn, 4097, buf, 0), -EINVAL);
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, c.pfn, 0, buf, (size_t)-1), -EINVAL);
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, ~(xen_pfn_t)0, 0, buf, 1), -EINVAL);
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, 1u << 30, 0, buf, 1), -EINVAL);
    ck_assert_int_eq(xensim_domain_peek(sim, 999, 0, 0, buf, 1), -ESRCH);
    ck_assert_int_eq(xensim_domain_peek(sim, c.guest, c.pfn, 4096, buf, 0), 0);

    th_call(sim, c.guest, 0, guest_free_page, &c);
    th_sim_free_checked(sim);
}
END_TEST

/* What a FIFO guest's own pages say, read from outside as the web view
 * reads them, while its vCPU has events off so nothing consumes them. */
struct fifo_look {
    struct xensim *sim;
    domid_t dom;
    int rc_before, rc_after;
    long port;
    enum xensim_evtchn_abi abi;
    struct xensim_evtchn_fifo_layout l;
    struct evtchn_fifo_control_block cb;
    event_word_t word;
    unsigned int priority;
};

static void fifo_look_fn(void *p)
{
    struct fifo_look *f = p;
    f->rc_before = xensim_evtchn_fifo_layout(f->sim, f->dom, &f->l);
    xensim_guest_irq_disable();
    f->port = xensim_evtchn_bind_ipi(0);
    ck_assert_int_gt(f->port, 0);
    evtchn_port_t port = (evtchn_port_t)f->port;
    xensim_evtchn_unmask(port);
    ck_assert_int_eq(g_set_priority(port, 3), 0);
    ck_assert_int_eq(xensim_evtchn_send(port), 0);

    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f->sim, f->dom, &info), 0);
    f->abi = info.evtchn_abi;
    f->rc_after = xensim_evtchn_fifo_layout(f->sim, f->dom, &f->l);
    if (!f->rc_after && f->l.control[0].mapped && port / 1024 < f->l.nr_array_pages) {
        ck_assert_int_eq(xensim_domain_peek(f->sim, f->dom, f->l.control[0].frame,
                                            f->l.control[0].offset, &f->cb, sizeof(f->cb)), 0);
        ck_assert_int_eq(xensim_domain_peek(f->sim, f->dom, f->l.array_frame[port / 1024],
                                            (port % 1024) * sizeof(event_word_t), &f->word,
                                            sizeof(f->word)), 0);
    }
    struct xensim_port_info rows[16];
    int n = xensim_port_list(f->sim, f->dom, rows, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (rows[i].port == port)
            f->priority = rows[i].priority;
    /* Not pending any more, so the upcall that enabling delivers only
     * unlinks it. */
    xensim_evtchn_clear_pending(port);
    ck_assert_int_eq(xensim_evtchn_close(port), 0);
    xensim_guest_irq_enable();
}

/* A FIFO domain's control block and event words are found where the
 * guest put them: the send links the port at the head of queue 3 of
 * vCPU0 and sets READY bit 3. A 2-level domain has no FIFO layout. */
START_TEST(test_fifo_layout)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "fifo", .evtchn_abi = XENSIM_EVTCHN_FIFO };
    struct fifo_look f = { .sim = sim, .dom = th_domain_cfg(sim, &cfg) };
    struct xensim_evtchn_fifo_layout l;

    ck_assert_int_eq(xensim_evtchn_fifo_layout(sim, 0, &l), -ENOENT);
    ck_assert_int_eq(xensim_evtchn_fifo_layout(sim, 999, &l), -ESRCH);
    th_call(sim, f.dom, 0, fifo_look_fn, &f);
    ck_assert_int_eq(f.rc_before, -ENOENT);   /* the kernel switches at its first event */
    ck_assert_int_eq(f.rc_after, 0);
    ck_assert_int_eq(f.abi, XENSIM_EVTCHN_FIFO);
    ck_assert_uint_eq(f.l.nr_vcpus, 1);
    ck_assert(f.l.control[0].mapped);
    ck_assert_uint_ge(f.l.nr_array_pages, 1);
    ck_assert_uint_eq(f.cb.ready, 1u << 3);
    ck_assert_uint_eq(f.cb.head[3], (uint32_t)f.port);
    ck_assert_uint_eq(f.cb.head[EVTCHN_FIFO_PRIORITY_DEFAULT], 0);
    ck_assert_uint_eq(f.word & (FW_P | FW_M | FW_L), FW_P | FW_L);
    ck_assert_uint_eq(f.priority, 3);

    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, f.dom, &info), 0);
    ck_assert_uint_eq(info.evtchn_pages_held, 2);   /* a control block page, an array page */
    th_sim_free_checked(sim);
}
END_TEST

START_TEST(test_trace_flow)
{
    char path[] = "/tmp/xensim-trace-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct xensim *sim = th_sim_new();
    ck_assert_int_eq(xensim_trace_start(sim, path), 0);
    ck_assert_int_eq(xensim_trace_start(sim, path), -EEXIST);
    struct chan c = { .guest = th_domain(sim, "traced", false, XENSIM_GNTTAB_FAST) };
    th_call(sim, c.guest, 0, guest_listen, &c);
    th_call(sim, 0, 0, dom0_send, &c);
    for (int i = 0; i < 10000 && upcalls < 1; i++)
        xensim_sleep_ns(1000000);
    ck_assert_int_ge(upcalls, 1);
    th_call(sim, 0, 0, dom0_close, &c);
    th_call(sim, c.guest, 0, guest_unlisten, &c);
    xensim_trace_stop(sim);
    th_sim_free_checked(sim);

    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    bool named = false, send_slice = false, upcall = false;
    long flow_start = -1, flow_end = -2;
    while (fgets(line, sizeof(line), f)) {
        long id;
        if (strstr(line, "\"process_name\"") && strstr(line, "traced"))
            named = true;
        if (strstr(line, "\"name\":\"EVTCHNOP_send\""))
            send_slice = true;
        if (strstr(line, "\"name\":\"upcall\"") && strstr(line, "\"ph\":\"B\""))
            upcall = true;
        const char *p = strstr(line, "\"id\":");
        if (p && sscanf(p, "\"id\":%ld", &id) == 1) {
            if (strstr(line, "\"ph\":\"s\""))
                flow_start = id;
            if (strstr(line, "\"ph\":\"f\""))
                flow_end = id;
        }
    }
    fclose(f);
    unlink(path);
    ck_assert(named);
    ck_assert(send_slice);
    ck_assert(upcall);
    ck_assert_int_eq(flow_start, flow_end);
}
END_TEST

START_TEST(test_trace_bad_path)
{
    struct xensim *sim = th_sim_new();
    ck_assert_int_eq(xensim_trace_start(sim, "/nonexistent-dir/x.json"), -ENOENT);
    xensim_trace_stop(sim);   /* nothing to stop: harmless */
    th_sim_free_checked(sim);
}
END_TEST

START_TEST(test_errno_names)
{
    ck_assert_str_eq(xensim_strerror(-ENOSPC), "-ENOSPC (no free port or slot)");
    ck_assert_str_eq(xensim_strerror(-EINVAL), "-EINVAL (invalid argument)");
    ck_assert_str_eq(xensim_strerror(0), "0 (success)");
    ck_assert_str_eq(xensim_strerror(-12345), "unknown error");
    ck_assert_str_eq(xensim_strerror(-ETIMEDOUT), "-ETIMEDOUT (timed out)");
}
END_TEST

/* The header, the library and configure agree on the version. */
START_TEST(test_version)
{
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", XENSIM_VERSION_MAJOR, XENSIM_VERSION_MINOR,
             XENSIM_VERSION_PATCH);
    ck_assert_str_eq(XENSIM_VERSION_STRING, want);
    ck_assert_str_eq(xensim_version(), XENSIM_VERSION_STRING);
    ck_assert_str_eq(xensim_version(), PACKAGE_VERSION);
    ck_assert_int_eq(XENSIM_VERSION_HEX, (XENSIM_VERSION_MAJOR << 16) |
                                         (XENSIM_VERSION_MINOR << 8) | XENSIM_VERSION_PATCH);
}
END_TEST

/* Every row of the public list is what xensim_strerror prints. */
START_TEST(test_errno_list)
{
    static const struct { int err; const char *name, *text; } rows[] = {
#define ROW(name, text) { name, #name, text },
        XENSIM_ERRNO_LIST(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "-%s (%s)", rows[i].name, rows[i].text);
        ck_assert_str_eq(xensim_strerror(-rows[i].err), want);
    }
}
END_TEST

START_TEST(test_xenstore_start)
{
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    /* xenstored runs in dom0: without it there is nowhere to run */
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), -ESRCH);
    struct xensim_domain_config d0 = { .name = "Domain-0" };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    ck_assert_int_eq(xensim_xenstore_start(sim, "/nonexistent-dir/socket"), -ENOENT);
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), 0);
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), -EEXIST);
    domid_t g = th_domain(sim, "introduced", false, XENSIM_GNTTAB_STRICT);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 1);     /* xenstored maps grant 1 */
    ck_assert_int_eq(xensim_domain_destroy(sim, g), 0);
    /* xenstored notices the death (VIRQ_DOM_EXC) and hands the ring back;
     * until then g lingers dying. Wait (boundedly) for it to go. */
    for (int i = 0; i < 1000 && xensim_domain_info(sim, g, &info) == 0; i++)
        xensim_sleep_ns(10000000);
    ck_assert_int_eq(xensim_domain_info(sim, g, &info), -ESRCH);
    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    th_sim_free_checked(sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("inspect");
    TCase *tc = tcase_create("views");
    tcase_add_test(tc, test_dump_tables);
    tcase_add_test(tc, test_peek);
    tcase_add_test(tc, test_fifo_layout);
    tcase_add_test(tc, test_trace_flow);
    tcase_add_test(tc, test_trace_bad_path);
    tcase_add_test(tc, test_errno_names);
    tcase_add_test(tc, test_errno_list);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_xenstore_start);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
