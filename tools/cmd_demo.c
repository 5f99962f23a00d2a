/*
 * `xensim demo --channel`: dom0 and a guest set up a device channel by hand, an
 * event channel plus a granted page, and every step is narrated with the
 * real values the simulator produced. Calls only the public API.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include <xen/foreign/x86_32.h>
#include "commands.h"
#include "demo.h"
#include "web.h"

/* What the guest would publish in XenStore (device/<type>/<id>/...):
 * this demo passes it through memory to keep to the core's steps. */
struct demo_channel {
    _Atomic int published;      /* guest: ring-ref and event-channel are set */
    _Atomic int replied;        /* dom0: the reply is in the page */
    _Atomic int done;           /* guest: finished with the channel */
    grant_ref_t ring_ref;
    evtchn_port_t guest_port;
    domid_t guest_domid;
    const char *message;
};

static struct demo_channel chan;
static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&say_lock);
    if (xensim_guest_vcpu_id() != ~0u)
        printf("[dom%u vcpu%u] ", xensim_guest_domid(), xensim_guest_vcpu_id());
    else
        printf("[host      ] ");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&say_lock);
    va_end(ap);
}

/* Wait for the other side, letting this vCPU take upcalls meanwhile. */
static void wait_flag(_Atomic int *flag)
{
    while (!*flag)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static void describe_pending(evtchn_port_t port)
{
    struct shared_info_x86_32 *s = xensim_guest_shared_info();
    struct vcpu_info_x86_32 *vi = xensim_guest_vcpu_info();
    say("  Xen set: evtchn_pending[%u] bit %u = %d, evtchn_pending_sel = %#x, "
        "evtchn_upcall_pending = %u", port / 32, port % 32,
        (s->evtchn_pending[port / 32] >> (port % 32)) & 1, vi->evtchn_pending_sel,
        vi->evtchn_upcall_pending);
}

static _Atomic int guest_port_seen;

static void guest_port_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    xensim_evtchn_clear_pending(port);
    guest_port_seen = (int)port;
}

static void guest_upcall(void)
{
    say("upcall: vCPU %u takes the event \"interrupt\"", xensim_guest_vcpu_id());
    describe_pending(chan.guest_port);
    unsigned int n = xensim_evtchn_scan(guest_port_handler, NULL);
    say("  scanned the selector and pending words: %u port(s), port %d acked", n,
        guest_port_seen);
}

static void guest_main(void *arg)
{
    (void)arg;
    struct callback_register cb = {
        .type = CALLBACKTYPE_event, .address = (xen_callback_t)(uintptr_t)guest_upcall,
    };
    HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    say("registered an event callback (CALLBACKOP_register, CALLBACKTYPE_event)");

    xen_pfn_t pfn;
    if (xensim_guest_page_alloc(&pfn)) {
        say("has no free page to share");
        return;
    }
    char *page = xensim_guest_pfn_to_virt(pfn);
    snprintf(page, 4096, "%s", chan.message);
    say("wrote \"%s\" into its page, frame %lu", page, (unsigned long)pfn);

    long ref = xensim_gnttab_grant_access(0, pfn, false);
    grant_entry_v1_t *gt = xensim_gnttab_entries(NULL);
    say("granted frame %lu to dom0: grant ref %ld = {flags %#x (permit_access), domid %u, "
        "frame %u}", (unsigned long)pfn, ref, gt[ref].flags, gt[ref].domid, gt[ref].frame);

    long port = xensim_evtchn_alloc_unbound(0);
    say("EVTCHNOP_alloc_unbound(dom=self, remote=dom0) = port %ld (lowest free)", port);
    chan.ring_ref = (grant_ref_t)ref;
    chan.guest_port = (evtchn_port_t)port;
    chan.guest_domid = xensim_guest_domid();
    xensim_evtchn_unmask((evtchn_port_t)port);
    say("publishes ring-ref %ld and event-channel %ld for dom0; unmasks the port and "
        "enables events", ref, port);
    chan.published = 1;
    xensim_guest_irq_enable();

    wait_flag(&guest_port_seen);
    say("reads dom0's reply in the shared page: \"%s\"", page + 2048);

    say("EVTCHNOP_close(port %ld) = %ld", port, xensim_evtchn_close((evtchn_port_t)port));
    chan.done = 1;
    say("tells dom0 it is finished; ends access to grant ref %ld once dom0 has unmapped it", ref);
    int rc;
    while ((rc = xensim_gnttab_end_access((grant_ref_t)ref)) == -EBUSY)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    say("ended access to grant ref %ld (entry flags now %#x)", ref, gt[ref].flags);
    xensim_gnttab_free_ref((grant_ref_t)ref);
    struct sched_shutdown sd = { .reason = SHUTDOWN_poweroff };
    say("SCHEDOP_shutdown(poweroff)");
    HYPERVISOR_sched_op(SCHEDOP_shutdown, &sd);
}

static evtchn_port_t dom0_port;

static void dom0_port_handler(evtchn_port_t port, void *arg)
{
    (void)arg;
    xensim_evtchn_clear_pending(port);
}

static void dom0_upcall(void)
{
    unsigned int n = xensim_evtchn_scan(dom0_port_handler, NULL);
    say("upcall: %u event(s), port %u acked", n, dom0_port);
}

static void dom0_main(void *arg)
{
    (void)arg;
    struct callback_register cb = {
        .type = CALLBACKTYPE_event, .address = (xen_callback_t)(uintptr_t)dom0_upcall,
    };
    HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    say("back end waits for a front end to publish its channel");
    wait_flag(&chan.published);

    struct evtchn_bind_interdomain bind = {
        .remote_dom = chan.guest_domid, .remote_port = chan.guest_port,
    };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bind);
    dom0_port = bind.local_port;
    say("EVTCHNOP_bind_interdomain(dom%u, port %u) = %ld, local port %u", chan.guest_domid,
        chan.guest_port, rc, bind.local_port);
    say("  Xen marked the new local port %u pending (it catches sends made before the bind): "
        "pending = %d", dom0_port, xensim_evtchn_is_pending(dom0_port));
    xensim_evtchn_clear_pending(dom0_port);
    xensim_evtchn_unmask(dom0_port);

    struct gnttab_map_grant_ref map = {
        .flags = GNTMAP_host_map, .ref = chan.ring_ref, .dom = chan.guest_domid,
    };
    HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &map, 1);
    char *page = (char *)(uintptr_t)map.host_addr;
    say("GNTTABOP_map_grant_ref(dom%u, ref %u) = status %d, handle %u, at %p", map.dom, map.ref,
        map.status, map.handle, (void *)page);
    if (map.status != GNTST_okay)
        return;
    say("reads through the mapping, the guest's own page: \"%s\"", page);
    snprintf(page + 2048, 2048, "hello back from dom0");
    say("writes its reply into the second half of the page");
    chan.replied = 1;

    struct evtchn_send send = { .port = dom0_port };
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
    say("EVTCHNOP_send(port %u) = %ld: Xen raises dom%u's port %u", dom0_port, rc,
        chan.guest_domid, chan.guest_port);

    wait_flag(&chan.done);
    struct gnttab_unmap_grant_ref unmap = { .host_addr = map.host_addr, .handle = map.handle };
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &unmap, 1);
    say("GNTTABOP_unmap_grant_ref(handle %u) = status %d", unmap.handle, unmap.status);
    struct evtchn_status st = { .dom = DOMID_SELF, .port = dom0_port };
    HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    say("EVTCHNOP_status(port %u): %s (remote dom%u), since the guest closed its end",
        dom0_port, st.status == EVTCHNSTAT_unbound ? "unbound" : "not unbound", st.u.unbound.dom);
    say("EVTCHNOP_close(port %u) = %ld", dom0_port, xensim_evtchn_close(dom0_port));
}

/* The names --evtchn takes: Xen's two ABIs, 2-level in either word size. */
static bool abi_from_name(const char *name, enum xensim_evtchn_abi *abi)
{
    static const struct { const char *name; enum xensim_evtchn_abi abi; } names[] = {
        { "2l", XENSIM_EVTCHN_2L_32 }, { "2l-64", XENSIM_EVTCHN_2L_64 },
        { "fifo", XENSIM_EVTCHN_FIFO },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i].name)) {
            *abi = names[i].abi;
            return true;
        }
    return false;
}

/* The bugs --inject puts in (xensim explore's prey); each may be given. */
static bool inject_from_name(const char *name, unsigned int *bits)
{
    static const struct { const char *name; unsigned int bit; } names[] = {
        { "lost-wakeup", DEMO_INJECT_LOST_WAKEUP },
        { "early-initialised", DEMO_INJECT_EARLY_INITIALISED },
        { "front-double-fetch", DEMO_INJECT_FRONT_DOUBLE_FETCH },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i].name)) {
            *bits |= names[i].bit;
            return true;
        }
    return false;
}

int xensim_cmd_demo(int argc, char **argv)
{
    return demo_main(argc, argv, NULL);
}

/* The arguments again, but --record's: what `xensim replay` reruns. */
static void record_note(char *buf, size_t size, int argc, char **argv)
{
    size_t n = (size_t)snprintf(buf, size, "xensim demo");
    for (int i = 1; i < argc && n < size; i++) {
        if (!strcmp(argv[i], "--record")) {
            i++;
            continue;
        }
        n += (size_t)snprintf(buf + n, size - n, " %s", argv[i]);
    }
}

/* Options that do not go together: 0, or 2 (the exit status) with why. */
static int refuse_conflicts(bool channel, enum xensim_evtchn_abi abi, const char *xenstored,
                            const char *pcap, bool hostile, const struct web_opts *web,
                            uint64_t seed, const char *record, const char *qemu)
{
    if (qemu && (channel || seed || hostile || xenstored)) {
        /* QEMU is a process of its own, which no seed orders; the hostile
         * guest attacks xensim's blkback; the C xenstored wants the same
         * scratch directory QEMU's sockets are in. */
        fprintf(stderr, "xensim demo: --blkback qemu goes with none of --channel, --seed, "
                        "--hostile, --xenstored\n");
        return 2;
    }
    if (channel && abi != XENSIM_EVTCHN_2L_32) {
        fprintf(stderr, "xensim demo: --evtchn picks the devices demo's ABI; drop --channel\n");
        return 2;
    }
    if (channel && (xenstored || pcap || hostile)) {
        fprintf(stderr, "xensim demo: --xenstored, --pcap and --hostile are the devices demo's; "
                        "drop --channel\n");
        return 2;
    }
    if (channel && web->spec) {
        fprintf(stderr, "xensim demo: the web view shows the devices demo; drop --channel\n");
        return 2;
    }
    if (seed && web->spec) {
        /* The web server's threads read the simulation from outside any
         * task: a deterministic run cannot order them. */
        fprintf(stderr, "xensim demo: the web view's server is not a task of a deterministic "
                        "run; drop --seed or --http\n");
        return 2;
    }
    if (seed && xenstored) {
        fprintf(stderr, "xensim demo: --xenstored runs the daemon as a process of its own, "
                        "which no seed can order; drop --seed or --xenstored\n");
        return 2;
    }
    if (seed && hostile) {
        /* Its waits poll the back end's state against the clock, which a
         * deterministic run moves only when every task waits. */
        fprintf(stderr, "xensim demo: --hostile is not yet a deterministic run's; drop --seed "
                        "or --hostile\n");
        return 2;
    }
    if (record && !seed) {
        fprintf(stderr, "xensim demo: --record needs --seed: only a deterministic run has a "
                        "schedule to write\n");
        return 2;
    }
    return 0;
}

int demo_main(int argc, char **argv, const struct xensim_config *base)
{
    const char *trace = NULL, *pcap = NULL, *record = NULL, *xenstored = NULL, *qemu = NULL;
    bool by_qemu = false;
    bool channel = false, hostile = false;
    unsigned int inject = 0;
    unsigned int reads = 1;
    enum xensim_hostile_kind kind = XENSIM_HOSTILE_EVENT_STORM;
    enum xensim_evtchn_abi abi = XENSIM_EVTCHN_2L_32;
    struct web_opts web = { 0 };
    if (web_take_args(&argc, argv, &web))
        return 2;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--record") && i + 1 < argc) {
            record = argv[++i];
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            errno = 0;
            seed = strtoull(argv[++i], &end, 0);
            if (errno || *end || !*argv[i] || argv[i][0] == '-') {
                fprintf(stderr, "xensim demo: --seed wants a number, not \"%s\"\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
            trace = argv[++i];
        } else if (!strcmp(argv[i], "--pcap") && i + 1 < argc) {
            pcap = argv[++i];
        } else if (!strcmp(argv[i], "--xenstored") && i + 1 < argc) {
            xenstored = argv[++i];
        } else if (!strcmp(argv[i], "--hostile") && i + 1 < argc &&
                   !xensim_hostile_parse(argv[i + 1], &kind) &&
                   kind < XENSIM_HOSTILE_MADE_UP_IDS) {   /* a front end's kind */
            hostile = true;
            i++;
        } else if (!strcmp(argv[i], "--blkback") && i + 1 < argc &&
                   (!strcmp(argv[i + 1], "qemu") || !strcmp(argv[i + 1], "xensim"))) {
            by_qemu = !strcmp(argv[++i], "qemu");
        } else if (!strcmp(argv[i], "--qemu") && i + 1 < argc) {
            qemu = argv[++i];
        } else if (!strcmp(argv[i], "--inject") && i + 1 < argc &&
                   inject_from_name(argv[i + 1], &inject)) {
            i++;
        } else if (!strcmp(argv[i], "--reads") && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long n = strtoul(argv[++i], &end, 0);
            if (errno || *end || !*argv[i] || n < 1 || n > DEMO_MAX_READS) {
                fprintf(stderr, "xensim demo: --reads wants 1 to %u sectors, not \"%s\"\n",
                        DEMO_MAX_READS, argv[i]);
                return 2;
            }
            reads = (unsigned int)n;
        } else if (!strcmp(argv[i], "--channel")) {
            channel = true;
        } else if (!strcmp(argv[i], "--evtchn") && i + 1 < argc && abi_from_name(argv[i + 1], &abi)) {
            i++;
        } else {
            fprintf(stderr, "usage: xensim demo [--channel] [--evtchn 2l|2l-64|fifo] "
                    "[--seed N [--record FILE]] [--trace FILE.json] [--pcap FILE] "
                    "[--http ADDR:PORT [--http-public]] [--xenstored PATH] "
                    "[--hostile event-storm|ring-indices|bad-requests|state-jumps|store-quota|"
                    "grant-rewrite|rewrite-after-push|grant-flood|revoke-mapped] "
                    "[--blkback qemu|xensim [--qemu PATH]] [--reads N] "
                    "[--inject lost-wakeup|early-initialised|front-double-fetch]\n");
            return 2;
        }
    }
    if (qemu && !by_qemu) {
        fprintf(stderr, "xensim demo: --qemu is the path for --blkback qemu\n");
        return 2;
    }
    if (by_qemu && !qemu)
        qemu = demo_qemu_default();
    /* A search (xensim explore) hands the seed and where the schedule
     * goes; the note then names the seed, so the schedule replays. */
    bool seed_given = !seed && base && base->seed;
    if (seed_given)
        seed = base->seed;
    if (!record && base)
        record = base->record;
    if (refuse_conflicts(channel, abi, xenstored, pcap, hostile, &web, seed, record,
                         by_qemu ? qemu : NULL))
        return 2;
    if ((inject || reads > 1) && (channel || by_qemu)) {
        fprintf(stderr, "xensim demo: --inject and --reads are for xensim's blkback in the "
                        "devices demo; drop --channel and --blkback qemu\n");
        return 2;
    }
    if (inject && !seed) {
        /* Where the bug strikes, the read waits for ever: a deterministic
         * run reports that, a free one would hang. */
        fprintf(stderr, "xensim demo: --inject needs --seed: only a deterministic run "
                        "reports the wait a lost wake-up causes\n");
        return 2;
    }
    char note[1024];
    record_note(note, sizeof(note), argc, argv);
    if (seed_given) {
        size_t n = strlen(note);
        snprintf(note + n, sizeof(note) - n, " --seed %llu", (unsigned long long)seed);
    }
    struct xensim_config sched = { .seed = seed, .record = record, .record_note = note };
    if (base) {
        sched.replay = base->replay;
        sched.stop_at = base->stop_at;
        sched.pct = base->pct;
        sched.replay_then_run_on = base->replay_then_run_on;
        sched.max_steps = base->max_steps;
    }
    if (seed)
        printf("xensim demo: deterministic run, seed %llu (the same seed gives the same run)\n",
               (unsigned long long)seed);
    struct demo_devices_opts o = { .trace = trace, .pcap = pcap, .xenstored = xenstored,
                                   .abi = abi, .web = &web, .sched = &sched,
                                   .hostile = hostile, .hostile_kind = kind,
                                   .qemu = by_qemu ? qemu : NULL,
                                   .inject = inject, .reads = reads };
    return channel ? demo_channel(trace, &sched) : demo_devices(&o);
}

int demo_channel(const char *trace, const struct xensim_config *sched)
{
    chan.message = "hello, dom0: this page is granted to you";
    struct xensim_config cfg = *sched;
    struct xensim *sim = xensim_create(&cfg);
    if (!sim) {
        fprintf(stderr, "xensim demo: cannot create the simulator%s\n",
                cfg.replay ? ": is the schedule readable, and written with this seed?" : "");
        return 1;
    }
    if (trace) {
        int rc = xensim_trace_start(sim, trace);
        if (rc) {
            fprintf(stderr, "xensim demo: cannot write %s: %s\n", trace, xensim_strerror(rc));
            xensim_destroy(sim);
            return 1;
        }
    }
    struct xensim_domain_config dom0 = { .name = "Domain-0", .privileged = true,
                                         .entry = dom0_main };
    struct xensim_domain_config guest = { .name = "guest", .entry = guest_main };
    int d0 = xensim_domain_create(sim, &dom0);
    int d1 = xensim_domain_create(sim, &guest);
    if (d0 < 0 || d1 < 0) {
        fprintf(stderr, "xensim: domain create failed: %s\n", xensim_strerror(d0 < 0 ? d0 : d1));
        xensim_destroy(sim);
        return 1;
    }
    struct xensim_domain_info info;
    xensim_domain_info(sim, (domid_t)d1, &info);
    say("built dom%d (Domain-0) and dom%d (guest): the guest's store port %u and console "
        "port %u were allocated unbound to dom0, as libxl does", d0, d1, info.store_port,
        info.console_port);
    xensim_domain_unpause(sim, (domid_t)d0);
    xensim_domain_unpause(sim, (domid_t)d1);
    xensim_wait_all_shutdown(sim);
    xensim_domain_info(sim, (domid_t)d1, &info);
    say("dom%d shut down (reason %u); dom0 powered off", d1, info.shutdown_reason);
    xensim_destroy(sim);
    return 0;
}
