/*
 * Deterministic mode (issue 11): a seeded simulator runs one task at a
 * time in an order its seed decides, on a virtual clock. The same seed
 * gives the same trace; other seeds give other interleavings; timeouts
 * and timers end at their exact deadlines however long they are; every
 * task blocked with nothing due is reported, a lost wake-up by name (a
 * port's, or a named ring's whose event index was reached); xenstored's loop is a task
 * like the rest; xenconsoled, not yet one, refuses a seed. Guest code only records; the test thread asserts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "evtchn_helpers.h"
#include <xen/version.h>
#include <xensim/console.h>
#include <xensim/task.h>
#include <xensim/xenbus.h>
#include <xensim/trace.h>

#define ROUNDS 6

/* Written by the two entries of one run; reset before each. */
static struct pingpong {
    _Atomic int published;
    /* Rounds each side has finished: the events only say "look again",
     * since two sends before a clear coalesce into one. */
    _Atomic unsigned int ping, pong;
    evtchn_port_t guest_port;       /* the guest's, unbound to dom0 */
    domid_t guest;
    long rc[2];                     /* first failure of dom0, the guest */
} pp;

static void poll_port(evtchn_port_t port, uint64_t timeout)
{
    struct sched_poll sp = { .nr_ports = 1, .timeout = timeout };
    evtchn_port_t *p = &port;
    memcpy(&sp.ports, &p, sizeof(p));
    HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
}

static void send_port(evtchn_port_t port, long *rc)
{
    struct evtchn_send s = { .port = port };
    long r = HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
    if (r && !*rc)
        *rc = r;
}

/* Work that needs nobody else, so the seed decides how it interleaves
 * with the other domain's. */
static void busy(unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        HYPERVISOR_xen_version(XENVER_version, NULL);
}

static void pp_guest(void *arg)
{
    (void)arg;
    long port = xensim_evtchn_alloc_unbound(0);
    if (port < 0) {
        pp.rc[1] = port;
        return;
    }
    pp.guest_port = (evtchn_port_t)port;
    pp.guest = xensim_guest_domid();
    pp.published = 1;
    for (unsigned int i = 1; i <= ROUNDS; i++) {
        busy(3);
        pp.ping = i;
        send_port((evtchn_port_t)port, &pp.rc[1]);
        while (pp.pong < i) {
            poll_port((evtchn_port_t)port, 0);
            xensim_evtchn_clear_pending((evtchn_port_t)port);
        }
    }
}

static void pp_dom0(void *arg)
{
    (void)arg;
    while (!pp.published)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    struct evtchn_bind_interdomain b = { .remote_dom = pp.guest, .remote_port = pp.guest_port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
    if (rc) {
        pp.rc[0] = rc;
        return;
    }
    for (unsigned int i = 1; i <= ROUNDS; i++) {
        while (pp.ping < i) {
            poll_port(b.local_port, 0);
            xensim_evtchn_clear_pending(b.local_port);
        }
        busy(2);
        pp.pong = i;
        send_port(b.local_port, &pp.rc[0]);
    }
}

/* The trace as text, one event a line: every field that says who did
 * what, and when. */
struct log {
    char *buf;
    size_t len, cap;
};

static void log_event(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)sim;
    struct log *l = arg;
    char line[160];
    int n = snprintf(line, sizeof(line), "%d d%u v%u port %u rport %u hc %u/%u rc %ld seq %llu "
                     "t %llu\n", (int)ev->kind, ev->domid, ev->vcpu, ev->port, ev->remote_port,
                     ev->hypercall, ev->subop, ev->rc, (unsigned long long)ev->seq,
                     (unsigned long long)ev->ts_ns);
    if (l->len + (size_t)n + 1 > l->cap) {
        l->cap = (l->cap + (size_t)n + 1) * 2;
        l->buf = realloc(l->buf, l->cap);
        ck_assert_ptr_nonnull(l->buf);
    }
    memcpy(l->buf + l->len, line, (size_t)n + 1);
    l->len += (size_t)n;
}

/* One seeded run of the ping-pong; returns its trace, to be freed. */
static char *pingpong_run(uint64_t seed)
{
    memset(&pp, 0, sizeof(pp));
    struct xensim_config cfg = { .quiet = true, .seed = seed };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    ck_assert_uint_eq(xensim_seed(sim), seed);
    struct log l = { 0 };
    ck_assert_int_eq(xensim_trace_subscribe(sim, log_event, &l), 0);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true, .entry = pp_dom0 };
    struct xensim_domain_config g = { .name = "guest", .entry = pp_guest };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_create(sim, &g), 1);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);
    xensim_wait_all_shutdown(sim);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, log_event, &l), 0);
    ck_assert_int_eq(pp.rc[0], 0);
    ck_assert_int_eq(pp.rc[1], 0);
    xensim_destroy(sim);
    ck_assert_ptr_nonnull(l.buf);
    return l.buf;
}

START_TEST(test_same_seed_same_trace)
{
    char *a = pingpong_run(42), *b = pingpong_run(42);
    ck_assert_msg(strcmp(a, b) == 0, "seed 42 gave two different traces:\n%s\n---\n%s", a, b);
    /* Every round's sends are in it. */
    unsigned int sends = 0;
    for (const char *p = a; (p = strstr(p, "\n3 ")); p++)
        sends++;
    ck_assert_uint_eq(sends, 2 * ROUNDS);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_seeds_interleave_differently)
{
    enum { SEEDS = 8 };
    char *t[SEEDS];
    unsigned int distinct = 0;
    for (unsigned int i = 0; i < SEEDS; i++) {
        t[i] = pingpong_run(i + 1);
        bool seen = false;
        for (unsigned int j = 0; j < i && !seen; j++)
            seen = !strcmp(t[i], t[j]);
        distinct += !seen;
    }
    ck_assert_msg(distinct >= 2, "seeds 1..%d all gave one interleaving", SEEDS);
    for (unsigned int i = 0; i < SEEDS; i++)
        free(t[i]);
}
END_TEST

/* Virtual time as a guest sees it. */
static struct vtime {
    uint64_t t0, t1, after, deadline;
    long rc;
    _Atomic bool fired;
} vt;

static void vt_poll(void *arg)
{
    (void)arg;
    long port = xensim_evtchn_alloc_unbound(0);
    vt.t0 = xensim_guest_system_time();
    busy(5);
    vt.t1 = xensim_guest_system_time();
    /* Thirty seconds that nothing will cut short. */
    vt.deadline = vt.t1 + 30ull * 1000 * 1000 * 1000;
    struct sched_poll sp = { .nr_ports = 1, .timeout = vt.deadline };
    evtchn_port_t p = (evtchn_port_t)port, *pp_ = &p;
    memcpy(&sp.ports, &pp_, sizeof(pp_));
    vt.rc = HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    vt.after = xensim_guest_system_time();
}

static void vt_ack(evtchn_port_t port, void *arg)
{
    (void)arg;
    xensim_evtchn_clear_pending(port);
    vt.fired = true;
}

static void vt_upcall(void)
{
    xensim_evtchn_scan(vt_ack, NULL);
}

static void vt_timer(void *arg)
{
    (void)arg;
    struct callback_register cb = {
        .type = CALLBACKTYPE_event, .address = (xen_callback_t)(uintptr_t)vt_upcall,
    };
    HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    long port = xensim_evtchn_bind_virq(VIRQ_TIMER, 0);
    xensim_evtchn_unmask((evtchn_port_t)port);
    vt.deadline = xensim_guest_system_time() + 5ull * 1000 * 1000 * 1000;
    vt.rc = HYPERVISOR_set_timer_op(vt.deadline);
    while (!vt.fired)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    vt.after = xensim_guest_system_time();
}

static void run_one(uint64_t seed, xensim_vcpu_entry_t entry)
{
    memset(&vt, 0, sizeof(vt));
    struct xensim_config cfg = { .quiet = true, .seed = seed };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true, .entry = entry };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
}

START_TEST(test_poll_timeout_on_virtual_clock)
{
    run_one(7, vt_poll);
    /* The clock stands still while a task can run... */
    ck_assert_uint_eq(vt.t0, vt.t1);
    /* ...and jumps to the deadline when none can: a timed-out poll
     * returns 0 at exactly its timeout. */
    ck_assert_int_eq(vt.rc, 0);
    ck_assert_uint_eq(vt.after, vt.deadline);
}
END_TEST

START_TEST(test_timer_on_virtual_clock)
{
    run_one(9, vt_timer);
    ck_assert_int_eq(vt.rc, 0);
    ck_assert(vt.fired);
    ck_assert_uint_eq(vt.after, vt.deadline);
}
END_TEST

/* A guest that busy-waits with SCHEDOP_yield for the toolstack, which
 * sleeps 5 s first: with only a spinner able to run, the clock moves on
 * to the sleeper's deadline rather than spinning forever. */
static struct spin_view {
    _Atomic bool go;
    uint64_t start, seen;
    unsigned long spins;
} sp;

static void spin_guest(void *arg)
{
    (void)arg;
    sp.start = xensim_guest_system_time();
    while (!sp.go) {
        sp.spins++;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    sp.seen = xensim_guest_system_time();
}

START_TEST(test_spinner_lets_time_pass)
{
    memset(&sp, 0, sizeof(sp));
    struct xensim_config cfg = { .quiet = true, .seed = 13 };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = spin_guest };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    xensim_sleep_ns(5ull * 1000 * 1000 * 1000);
    sp.go = true;
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    ck_assert_uint_gt(sp.spins, 0);
    ck_assert_uint_eq(sp.start, 0);
    ck_assert_uint_eq(sp.seen, 5ull * 1000 * 1000 * 1000);
}
END_TEST

/* A guest that waits for an event nobody will send, while the toolstack
 * waits for it to finish: every task blocked and no deadline. */
static void wait_forever(void *arg)
{
    (void)arg;
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

/* A guest that loses its own wake-up: an IPI to itself is pending and
 * unmasked, but it clears evtchn_upcall_pending without scanning, then
 * blocks. */
static void lose_wakeup(void *arg)
{
    (void)arg;
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
    xensim_evtchn_unmask(ipi.port);
    struct evtchn_send send = { .port = ipi.port };
    HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
    /* evtchn_upcall_pending is the first byte of vcpu_info in every layout. */
    __atomic_store_n((uint8_t *)xensim_guest_vcpu_info(), 0, __ATOMIC_SEQ_CST);
    wait_forever(NULL);
}

/* The rings the tests below name: plain words in place of a page. */
static struct {
    uint32_t lost[4], quiet[4], buffers[4];
    int twice, unknown, gone, again, bad[4];
} rw;
/* Entries past the four indices, as a 64-byte header would place them. */
static const struct xensim_ring_geometry rw_geo = { 64, 8, 4 };

/* Rings whose indices no honest pair makes, named, then hypercalls: a
 * deterministic run checks them at each, and tells each ring once. */
static struct { uint32_t ahead[4], behind[4], fine[4]; } bad_rings;

static void make_bad_rings(void *arg)
{
    (void)arg;
    bad_rings.ahead[0] = 100;       /* req_prod: 100 outstanding, 4 entries */
    bad_rings.behind[0] = 3;        /* rsp_prod 5 past req_prod 3 */
    bad_rings.behind[2] = 5;
    bad_rings.fine[0] = 7;
    bad_rings.fine[2] = 5;
    xensim_ring_watch(bad_rings.ahead, &rw_geo, "ahead");
    xensim_ring_watch(bad_rings.behind, &rw_geo, "behind");
    xensim_ring_watch(bad_rings.fine, &rw_geo, "fine");
    for (int i = 0; i < 3; i++)
        HYPERVISOR_xen_version(XENVER_version, NULL);
    xensim_protocol_violation("guest code says %s", "so");
}

START_TEST(test_bad_ring_indices_reported)
{
    memset(&bad_rings, 0, sizeof(bad_rings));
    xensim_protocol_violation("not guest code: %d", 1);
    struct xensim_config cfg = { .quiet = true, .seed = 12 };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    struct xensim_domain_config g = { .name = "guest", .entry = make_bad_rings };
    ck_assert_int_eq(xensim_domain_create(sim, &g), 1);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);
    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, 1), SHUTDOWN_poweroff);
    struct xensim_protocol_violation pv;
    ck_assert_uint_eq(xensim_protocol_violations(sim, &pv), 3);
    ck_assert_uint_eq(pv.domid, 1);
    ck_assert_str_eq(pv.what, "guest code says so");
    xensim_destroy(sim);
}
END_TEST

static void ring_ahead_only(void *arg)
{
    (void)arg;
    xensim_ring_watch(bad_rings.ahead, &rw_geo, "ahead");
    HYPERVISOR_xen_version(XENVER_version, NULL);
    HYPERVISOR_xen_version(XENVER_version, NULL);
}

/* One report, its words. */
START_TEST(test_bad_ring_report_text)
{
    memset(&bad_rings, 0, sizeof(bad_rings));
    bad_rings.ahead[0] = 100;
    struct xensim_config cfg = { .quiet = true, .seed = 12 };
    struct xensim *sim = xensim_create(&cfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = ring_ahead_only };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    xensim_wait_all_shutdown(sim);
    struct xensim_protocol_violation pv;
    ck_assert_uint_eq(xensim_protocol_violations(sim, &pv), 1);
    ck_assert_str_eq(pv.what, "ring ahead: req_prod 100 is 100 past rsp_prod 0, more requests "
                              "outstanding than its 4 entries");
    xensim_destroy(sim);
}
END_TEST

static const char *replay_path;

/* A run on a recorded schedule; only its report matters. */
static void run_replayed(uint64_t seed, xensim_vcpu_entry_t entry)
{
    struct xensim_config cfg = { .quiet = true, .seed = seed, .replay = replay_path };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true, .entry = entry };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
}

static void (*stuck_runner)(uint64_t seed, xensim_vcpu_entry_t entry) = run_one;

/* Runs entry in a child whose stderr is kept; returns what it printed
 * and checks that it aborted. */
static char *run_stuck(uint64_t seed, xensim_vcpu_entry_t entry)
{
    FILE *err = tmpfile();
    ck_assert_ptr_nonnull(err);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fileno(err), 2);
        stuck_runner(seed, entry);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "a stuck run did not abort (status %#x)", status);
    static char buf[8192];
    rewind(err);
    size_t n = fread(buf, 1, sizeof(buf) - 1, err);
    buf[n] = '\0';
    fclose(err);
    return buf;
}

/* A ring whose consumer set req_event 5 and whose producer reached it
 * without an event, and one that is quiet, named; then every task waits.
 * The naming's own errors on the way. */

static void lose_ring_wakeup(void *arg)
{
    (void)arg;
    rw.lost[0] = 5;                 /* req_prod */
    rw.lost[1] = 5;                 /* req_event */
    rw.lost[2] = 2;                 /* rsp_prod */
    rw.lost[3] = 3;                 /* rsp_event */
    rw.quiet[0] = 7;
    rw.quiet[1] = 8;
    xensim_ring_watch(rw.quiet, &rw_geo, "quiet ring");
    rw.twice = xensim_ring_watch(rw.quiet, &rw_geo, "again");
    rw.unknown = xensim_ring_unwatch(&rw.twice);
    xensim_ring_watch(&rw.again, &rw_geo, "unwatched ring");
    rw.gone = xensim_ring_unwatch(&rw.again);
    xensim_ring_watch(rw.lost, &rw_geo, "test ring");
    /* Receive buffers past req_event: taken when a frame comes, not owed
     * an event. */
    rw.buffers[0] = 5;
    rw.buffers[1] = 1;
    struct xensim_ring_geometry work = rw_geo;
    work.requests_wait_for_work = true;
    xensim_ring_watch(rw.buffers, &work, "buffers ring");
    wait_forever(NULL);
}

START_TEST(test_ring_lost_wakeup_reported)
{
    ck_assert_int_eq(xensim_ring_watch(rw.lost, &rw_geo, "not guest code"), -ESRCH);
    const char *out = run_stuck(6, lose_ring_wakeup);
    ck_assert_msg(strstr(out, "dom0 ring test ring: req_prod 5, req_event 5, rsp_prod 2, "
                              "rsp_event 3\n"), "report: %s", out);
    ck_assert_msg(strstr(out, "dom0 ring test ring: LOST WAKE-UP: requests reached req_event 5"),
                  "report: %s", out);
    ck_assert_msg(!strstr(out, "responses reached"), "report: %s", out);
    ck_assert_msg(strstr(out, "dom0 ring quiet ring: req_prod 7, req_event 8"), "report: %s", out);
    ck_assert_msg(!strstr(out, "quiet ring: LOST"), "report: %s", out);
    ck_assert_msg(!strstr(out, "unwatched ring"), "report: %s", out);
    ck_assert_msg(strstr(out, "dom0 ring buffers ring: req_prod 5, req_event 1"), "report: %s", out);
    ck_assert_msg(!strstr(out, "buffers ring: LOST"), "report: %s", out);
    ck_assert_msg(strstr(out, "a lost wake-up is among the causes"), "report: %s", out);
}
END_TEST

/* The naming's answers, from a guest that then ends. */
static void ring_watch_answers(void *arg)
{
    (void)arg;
    rw.twice = xensim_ring_watch(rw.quiet, &rw_geo, "one");
    rw.again = xensim_ring_watch(rw.quiet, &rw_geo, "two");
    rw.unknown = xensim_ring_unwatch(rw.lost);
    rw.gone = xensim_ring_unwatch(rw.quiet);
    /* No ring, no geometry, no entries, entries past 16 pages. */
    struct xensim_ring_geometry none = rw_geo, huge = rw_geo;
    none.nr_entries = 0;
    huge.nr_entries = 16 * (4096 - 64) / 8 + 1;
    rw.bad[0] = xensim_ring_watch(NULL, &rw_geo, "no ring");
    rw.bad[1] = xensim_ring_watch(rw.buffers, NULL, "no geometry");
    rw.bad[2] = xensim_ring_watch(rw.buffers, &none, "no entries");
    rw.bad[3] = xensim_ring_watch(rw.buffers, &huge, "too many");
    /* Left named: the domain's death takes it. */
    xensim_ring_watch(rw.lost, &rw_geo, "left");
}

START_TEST(test_ring_watch_answers)
{
    memset(&rw, 0, sizeof(rw));
    run_one(9, ring_watch_answers);
    ck_assert_int_eq(rw.twice, 0);
    ck_assert_int_eq(rw.again, -EEXIST);
    ck_assert_int_eq(rw.unknown, -ENOENT);
    ck_assert_int_eq(rw.gone, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(rw.bad[i] == -EINVAL, "case %d: %d", i, rw.bad[i]);
    ck_assert_int_eq(xensim_ring_unwatch(rw.quiet), -ESRCH);
}
END_TEST

START_TEST(test_deadlock_reported)
{
    const char *out = run_stuck(3, wait_forever);
    ck_assert_msg(strstr(out, "deterministic run (seed 3) deadlocked"), "report: %s", out);
    ck_assert_msg(strstr(out, "task 2 dom0.vcpu0: blocked"), "report: %s", out);
    ck_assert_msg(strstr(out, "rerun it with the same seed, 3"), "report: %s", out);
    ck_assert_msg(!strstr(out, "LOST WAKE-UP"), "report: %s", out);
}
END_TEST

START_TEST(test_lost_wakeup_reported)
{
    const char *out = run_stuck(4, lose_wakeup);
    ck_assert_msg(strstr(out, "deadlocked"), "report: %s", out);
    ck_assert_msg(strstr(out, "dom0 vcpu0: evtchn_upcall_pending 0, mask 0"), "report: %s", out);
    ck_assert_msg(strstr(out, ": pending: LOST WAKE-UP"), "report: %s", out);
    ck_assert_msg(strstr(out, "a lost wake-up is among the causes"), "report: %s", out);
}
END_TEST

/* A schedule records each decision as the task that ran; one that names
 * a task that cannot run then is reported, not followed. The same file
 * with the decisions the run makes replays to its end. */
START_TEST(test_replay_divergence_reported)
{
    char path[] = "/tmp/xensim-sched-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct xensim_config cfg = { .quiet = true, .seed = 8, .record = path, .record_note = "t" };
    memset(&vt, 0, sizeof(vt));
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = vt_poll };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    uint64_t deadline = vt.deadline;

    /* As recorded: the same run. */
    replay_path = path;
    memset(&vt, 0, sizeof(vt));
    run_replayed(8, vt_poll);
    ck_assert_uint_eq(vt.after, deadline);

    /* Task 9 does not exist. */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# t\nseed 8\n9\n", f);
    fclose(f);
    stuck_runner = run_replayed;
    const char *out = run_stuck(8, vt_poll);
    ck_assert_msg(strstr(out, "diverged at step 1: it runs task 9"), "report: %s", out);
    stuck_runner = run_one;
    unlink(path);
}
END_TEST

/* xenstored's loop is a task: a guest's xenbus read of what the
 * toolstack wrote goes over its ring, the toolstack's over a socket. */
static struct store_view {
    int init_rc, rc;
    char buf[64];
} sv;

static void store_guest(void *arg)
{
    (void)arg;
    sv.init_rc = xensim_xenbus_init();
    if (!sv.init_rc)
        sv.rc = xensim_xenbus_read_buf(XENSIM_XENBUS_TRANSACTION_NIL, "/local/domain/1/note", sv.buf, sizeof(sv.buf));
}

static char *store_run(uint64_t seed)
{
    memset(&sv, 0, sizeof(sv));
    struct xensim_config cfg = { .quiet = true, .seed = seed };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    struct log l = { 0 };
    ck_assert_int_eq(xensim_trace_subscribe(sim, log_event, &l), 0);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), 0);
    ck_assert_int_eq(xensim_xenbus_dom0_init(sim), 0);
    struct xensim_domain_config g = { .name = "guest", .entry = store_guest };
    ck_assert_int_eq(xensim_domain_create(sim, &g), 1);
    ck_assert_int_eq(xensim_xenstore_write(sim, "/local/domain/1/note", "from the toolstack"), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);
    xensim_wait_all_shutdown(sim);
    char back[64];
    int n = xensim_xenstore_read(sim, "/local/domain/1/note", back, sizeof(back) - 1);
    ck_assert_int_eq(n, 18);
    ck_assert_int_eq(xensim_trace_unsubscribe(sim, log_event, &l), 0);
    xensim_destroy(sim);
    ck_assert_int_eq(sv.init_rc, 0);
    ck_assert_int_ge(sv.rc, 0);
    ck_assert_str_eq(sv.buf, "from the toolstack");
    ck_assert_ptr_nonnull(l.buf);
    return l.buf;
}

START_TEST(test_xenstored_is_a_task)
{
    char *a = store_run(21), *b = store_run(21);
    ck_assert_msg(strcmp(a, b) == 0, "seed 21 gave two different traces:\n%s\n---\n%s", a, b);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_consoled_refuses_a_seed)
{
    struct xensim_config cfg = { .quiet = true, .seed = 5 };
    struct xensim *sim = xensim_create(&cfg);
    ck_assert_ptr_nonnull(sim);
    ck_assert_uint_eq(xensim_seed(sim), 5);
    errno = 0;
    ck_assert_ptr_null(xensim_consoled_start(sim, NULL));
    ck_assert_int_eq(errno, EOPNOTSUPP);
    xensim_destroy(sim);

    sim = xensim_create(NULL);
    ck_assert_uint_eq(xensim_seed(sim), 0);
    xensim_destroy(sim);
}
END_TEST

static Suite *det_suite(void)
{
    Suite *s = suite_create("det");
    TCase *t = tcase_create("deterministic");
    tcase_add_test(t, test_same_seed_same_trace);
    tcase_add_test(t, test_seeds_interleave_differently);
    tcase_add_test(t, test_poll_timeout_on_virtual_clock);
    tcase_add_test(t, test_timer_on_virtual_clock);
    tcase_add_test(t, test_spinner_lets_time_pass);
    tcase_add_test(t, test_deadlock_reported);
    tcase_add_test(t, test_lost_wakeup_reported);
    tcase_add_test(t, test_ring_lost_wakeup_reported);
    tcase_add_test(t, test_ring_watch_answers);
    tcase_add_test(t, test_bad_ring_indices_reported);
    tcase_add_test(t, test_bad_ring_report_text);
    tcase_add_test(t, test_replay_divergence_reported);
    tcase_add_test(t, test_xenstored_is_a_task);
    tcase_add_test(t, test_consoled_refuses_a_seed);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(det_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
