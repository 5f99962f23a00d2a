/*
 * The main `xensim demo`: dom0 runs xenstored, xenconsoled, blkback and
 * netback; a guest gets a file-backed disk, a console and a network
 * interface through XenStore, then reads sector 0 while the narrator tells
 * each step of the seed's walkthrough. xenstored is the built-in one, or
 * with --xenstored Xen's C xenstored as a process of dom0, served from a
 * scratch directory. With --http the web view shows it live (the demo
 * waits for the page), and a --trace recording carries the probe's notes
 * so `xensim view` can replay it. Calls only the public API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include <xensim/task.h>
#include <xensim/trace.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include <xensim/blkif.h>
#include <xensim/netif.h>
#include <xensim/console.h>
#include <xensim/external.h>
#include <xensim/hostile.h>
#include "commands.h"
#include "demo.h"
#include "probe.h"
#include "web.h"

#define VBD_DEVID 51712          /* xvda, as libxl numbers it */
#define DISK_BYTES (1u << 20)
#define WAIT_MS 10000

static const char sector0[] = "xensim demo disk: this is sector 0 of the backing file";

struct demo_back_ops;

struct demo {
    struct xensim *sim;
    const char *pcap;
    const struct demo_back_ops *back;
    struct xensim_external *ext;    /* with a xenstored program */
    char dir[64];
    struct xensim_consoled *cons;   /* xensim's console back end, if it runs */
    struct demo_qemu *qemu;         /* --blkback qemu */
    domid_t guest;
    unsigned int inject;            /* --inject: DEMO_INJECT_* */
    unsigned int reads;             /* --reads: sectors the guest reads */
    char disk[64];
    struct xensim_netback *nb;
    int rc;
    char data[512];
};

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

static void print_line(const char *line, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&say_lock);
    puts(line);
    fflush(stdout);
    pthread_mutex_unlock(&say_lock);
}

/* The toolstack's steps go through the narrator, so a recording and the
 * web view tell them too. */
#define host_say(sim, ...) xensim_narrate_host(sim, "[toolstack]", __VA_ARGS__)

static void blkback_up(void *p)
{
    struct demo *d = p;
    struct xensim_blkback_config bcfg = { .path = d->disk, .feature_flush = true,
                                   .feature_persistent = true,
                                   .inject_lost_wakeup =
                                       (d->inject & DEMO_INJECT_LOST_WAKEUP) != 0 };
    d->rc = xensim_vbd_back_config(&bcfg);
    if (!d->rc)
        d->rc = xensim_xenbus_backend_register(&xensim_vbd_back);
    xensim_narrate("blkback registered: watching backend/vbd");
}

static void blkback_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_vbd_back, true);
    xensim_vbd_back_config(NULL);
}

static void netback_up(void *p)
{
    struct demo *d = p;
    struct xensim_netback_config ncfg = { 0 };
    d->rc = xensim_netback_create(&ncfg, &d->nb);
    if (!d->rc && d->pcap)
        d->rc = xensim_netback_pcap(d->nb, d->pcap);
    if (!d->rc)
        d->rc = xensim_vif_back_attach(d->nb);
    if (!d->rc)
        d->rc = xensim_xenbus_backend_register(&xensim_vif_back);
    xensim_narrate("netback registered: watching backend/vif");
}

static void netback_down(void *p)
{
    struct demo *d = p;
    xensim_xenbus_backend_unregister(&xensim_vif_back, true);
    xensim_vif_back_attach(NULL);
    if (d->nb)
        xensim_netback_destroy(d->nb);
}

static void frontends_up(void *p)
{
    struct demo *d = p;
    struct xensim_blkfront_config bcfg = {
        .backend_domid = 0,
        .inject_early_initialised = (d->inject & DEMO_INJECT_EARLY_INITIALISED) != 0,
        .inject_double_fetch = (d->inject & DEMO_INJECT_FRONT_DOUBLE_FETCH) != 0,
    };
    struct xensim_netfront_config ncfg = { .sg = true };
    d->rc = xensim_vbd_front_config(&bcfg);
    if (!d->rc)
        d->rc = xensim_xenbus_frontend_register(&xensim_vbd_front);
    if (!d->rc)
        d->rc = xensim_vif_front_config(&ncfg);
    if (!d->rc)
        d->rc = xensim_xenbus_frontend_register(&xensim_vif_front);
    xensim_narrate("blkfront and netfront registered: probing device/vbd and device/vif");
}

static void frontends_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vif_front, true);
    xensim_vif_front_config(NULL);
    xensim_xenbus_frontend_unregister(&xensim_vbd_front, true);
    xensim_vbd_front_config(NULL);
}

static void guest_read(void *p)
{
    struct demo *d = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(VBD_DEVID);
    if (!fe) {
        d->rc = -ENODEV;
        return;
    }
    xensim_narrate("reads sector 0 of its disk (%llu sectors of %u bytes)",
                   (unsigned long long)xensim_blkfront_sectors(fe), xensim_blkfront_sector_size(fe));
    xen_pfn_t pfn;
    if ((d->rc = xensim_guest_page_alloc(&pfn)))
        return;
    char *buf = xensim_guest_pfn_to_virt(pfn);
    d->rc = xensim_blkfront_read(fe, 0, buf, 1);
    memcpy(d->data, buf, sizeof(d->data));
    d->data[sizeof(d->data) - 1] = '\0';
    xensim_guest_page_free(pfn);
    xensim_narrate("blkfront completed the READ: status %d, data \"%s\"", d->rc, d->data);
}

/* --reads N: sectors 1 to N-1, each request sent once the last is
 * answered, as a guest reading a file would. */
static void guest_read_more(void *p)
{
    struct demo *d = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(VBD_DEVID);
    xen_pfn_t pfn;
    if (!fe) {
        d->rc = -ENODEV;
        return;
    }
    if ((d->rc = xensim_guest_page_alloc(&pfn)))
        return;
    char *buf = xensim_guest_pfn_to_virt(pfn);
    for (unsigned int s = 1; s < d->reads && !d->rc; s++)
        d->rc = xensim_blkfront_read(fe, s, buf, 1);
    xensim_guest_page_free(pfn);
}

static void guest_console(void *p)
{
    struct demo *d = p;
    static const char msg[] = "hello from the guest's console ring\n";
    d->rc = xensim_console_write(msg, sizeof(msg) - 1) == (ssize_t)(sizeof(msg) - 1) ? 0 : -EIO;
}

static bool wait_state(struct demo *d, const char *path, const char *want)
{
    char buf[16];
    for (int i = 0; i < WAIT_MS / 10; i++) {
        int n = xensim_xenstore_read(d->sim, path, buf, sizeof(buf));
        if (n > 0 && (size_t)n < sizeof(buf)) {
            buf[n] = '\0';
            if (!strcmp(buf, want))
                return true;
        }
        /* On the virtual clock in a deterministic run: a host sleep
         * would hold every task still while it lasts. */
        xensim_sleep_ns(10 * 1000 * 1000);
    }
    return false;
}

static int make_disk(struct demo *d)
{
    snprintf(d->disk, sizeof(d->disk), "/tmp/xensim-demo-disk-XXXXXX");
    int fd = mkstemp(d->disk);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(fd, DISK_BYTES) || pwrite(fd, sector0, sizeof(sector0), 0) != sizeof(sector0))
        rc = -errno;
    close(fd);
    return rc;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "xensim demo: %s: %s\n", what, xensim_strerror(rc));
    return 1;
}

/* The program at path as dom0's xenstored: a process of dom0, reaching
 * the simulator through dir/dom/0/hypervisor; its output in dir/log. */
static int xenstored_program(struct demo *d, const char *path)
{
    char lib[PATH_MAX], run[96], log[96];
    struct xensim_external_config ecfg = { .dir = d->dir };
    struct xensim_xenstore_program p = {
        .path = path, .hv_dir = d->dir, .lib_dir = xensim_libxen_dir(lib, sizeof(lib)),
        .run_dir = run, .log_path = log,
    };

    snprintf(d->dir, sizeof(d->dir), "/tmp/xensim-demo-XXXXXX");
    if (!mkdtemp(d->dir))
        return -errno;
    snprintf(run, sizeof(run), "%s/xenstored", d->dir);
    snprintf(log, sizeof(log), "%s/log", d->dir);
    if (!(d->ext = xensim_external_start(d->sim, &ecfg))) {
        int err = -errno;
        rmdir(d->dir);
        return err;
    }
    return xensim_xenstore_start_program(d->sim, &p);
}

static void xenstored_program_done(struct demo *d)
{
    char path[128];

    if (!d->ext)
        return;
    xensim_xenstore_stop(d->sim);
    xensim_external_stop(d->ext);
    static const char *const left[] = { "xenstored/proc", "xenstored", "log" };
    for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", d->dir, left[i]);
        if (unlink(path))
            rmdir(path);
    }
    rmdir(d->dir);
}


/*
 * Who serves the guest's disk and console in dom0: xensim's own blkback
 * and xenconsoled, or Debian's QEMU (--blkback qemu, demo_qemu.c). Each
 * returns 0 or a negative errno unless it says otherwise.
 */
struct demo_back_ops {
    const char *console_name;       /* who logs the guest's console */
    /* XenStore and the console back end, once dom0 is built. */
    int (*dom0_up)(struct demo *d, const char *xenstored, uint64_t seed);
    /* Once the guest is built. */
    int (*guest_built)(struct demo *d);
    /* Guest code on dom0's vCPU 0: its disk driver, or none. */
    void (*drivers_up)(void *d), (*drivers_down)(void *d);
    /* The disk (and console) written in XenStore; waits until Connected. */
    int (*add_disk)(struct demo *d);
    bool (*wait_disk)(struct demo *d);
    /* The guest's console line as its back end has it: 0, or an errno. */
    int (*console_line)(struct demo *d, char *line, size_t size);
    /* After the devices went: the back end's processes, then the rest. */
    void (*unplugged)(struct demo *d);
    void (*done)(struct demo *d);
};

static int builtin_dom0_up(struct demo *d, const char *xenstored, uint64_t seed)
{
    int rc;
    if (xenstored)
        rc = xenstored_program(d, xenstored);
    else if (!(rc = xensim_xenstore_start(d->sim, NULL)))
        rc = xensim_xenbus_dom0_init(d->sim);
    if (rc)
        return rc;
    struct xensim_consoled_config ccfg = { 0 };
    d->cons = xensim_consoled_start(d->sim, &ccfg);
    if (d->cons)
        host_say(d->sim, "dom0 built; %s and xenconsoled run in it",
                 xenstored ? "Xen's C xenstored (a process of dom0)" : "xenstored");
    else if (seed)
        host_say(d->sim, "dom0 built; xenstored runs in it (xenconsoled's thread is not yet a "
                 "task of a deterministic run, so it stays out)");
    return 0;
}

static int builtin_guest_built(struct demo *d)
{
    (void)d;
    return 0;
}

static int builtin_add_disk(struct demo *d)
{
    host_say(d->sim, "adds vbd %u (backed by %s) to dom%u: writes both halves in XenStore",
             VBD_DEVID, d->disk, d->guest);
    struct xensim_device_config vbd = { .type = "vbd", .frontend = d->guest, .backend = 0,
                                        .devid = VBD_DEVID };
    return xensim_device_add(d->sim, &vbd);
}

static bool builtin_wait_disk(struct demo *d)
{
    char fpath[128], bpath[128];
    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/vbd/%u/state", d->guest, VBD_DEVID);
    snprintf(bpath, sizeof(bpath), "/local/domain/0/backend/vbd/%u/%u/state", d->guest, VBD_DEVID);
    return wait_state(d, fpath, "4") && wait_state(d, bpath, "4");
}

static int builtin_console_line(struct demo *d, char *line, size_t size)
{
    if (!d->cons)
        return -ENODEV;
    xensim_consoled_sync(d->cons);
    int rc = xensim_consoled_wait_for(d->cons, d->guest, "hello from the guest", WAIT_MS);
    if (rc)
        return rc;
    ssize_t n = xensim_consoled_log(d->cons, d->guest, line, size - 1);
    line[n > 0 ? n : 0] = '\0';
    line[strcspn(line, "\n")] = '\0';
    return 0;
}

static void builtin_unplugged(struct demo *d)
{
    (void)d;
}

static void builtin_done(struct demo *d)
{
    if (d->cons)
        xensim_consoled_stop(d->cons);
    xenstored_program_done(d);
}

static const struct demo_back_ops builtin_back = {
    .console_name = "xenconsoled's log",
    .dom0_up = builtin_dom0_up, .guest_built = builtin_guest_built,
    .drivers_up = blkback_up, .drivers_down = blkback_down,
    .add_disk = builtin_add_disk, .wait_disk = builtin_wait_disk,
    .console_line = builtin_console_line, .unplugged = builtin_unplugged,
    .done = builtin_done,
};

/* QEMU's: XenStore on a socket QEMU reaches, the external server for its
 * hypervisor connections, no xenconsoled (QEMU maps console 0's ring). */
static int qemu_dom0_up(struct demo *d, const char *xenstored, uint64_t seed)
{
    char sock[96];
    int rc;
    (void)xenstored;
    (void)seed;
    demo_qemu_socket(d->qemu, sock, sizeof(sock));
    if ((rc = xensim_xenstore_start(d->sim, sock)) || (rc = xensim_xenbus_dom0_init(d->sim)) ||
        (rc = demo_qemu_serve(d->qemu, d->sim)))
        return rc;
    host_say(d->sim, "dom0 built; xenstored runs in it, and QEMU will serve the guest's disk "
             "and console");
    return 0;
}

static int qemu_guest_built(struct demo *d)
{
    return demo_qemu_spawn(d->qemu, d->guest);
}

static void no_driver(void *d)
{
    (void)d;
}

static int qemu_add_disk(struct demo *d)
{
    host_say(d->sim, "adds qdisk %u (backed by %s) and console 0 for QEMU to dom%u, as libxl "
             "does: backend/qdisk and backend/console in XenStore", VBD_DEVID, d->disk,
             d->guest);
    return demo_qemu_add_devices(d->qemu, d->guest, d->disk);
}

static bool qemu_wait_disk(struct demo *d)
{
    bool ok = demo_qemu_wait_disk(d->qemu, d->guest, VBD_DEVID, WAIT_MS);
    if (!ok)
        demo_qemu_log(d->qemu);
    return ok;
}

static int qemu_console_line(struct demo *d, char *line, size_t size)
{
    return demo_qemu_console_line(d->qemu, "hello from the guest", line, size, WAIT_MS);
}

static void qemu_unplugged(struct demo *d)
{
    /* libxl ends the device model when the guest goes. */
    demo_qemu_kill(d->qemu);
}

static void qemu_done(struct demo *d)
{
    xensim_xenstore_stop(d->sim);
    demo_qemu_stop(d->qemu);
}

static const struct demo_back_ops qemu_back = {
    .console_name = "QEMU's console log",
    .dom0_up = qemu_dom0_up, .guest_built = qemu_guest_built,
    .drivers_up = no_driver, .drivers_down = no_driver,
    .add_disk = qemu_add_disk, .wait_disk = qemu_wait_disk,
    .console_line = qemu_console_line, .unplugged = qemu_unplugged, .done = qemu_done,
};

/* dom0 with its daemons in it, then the guest. 0, or fail()'s exit
 * status. */
static int build_domains(struct demo *d, enum xensim_evtchn_abi abi, uint64_t seed,
                         const char *xenstored)
{
    int rc;
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .evtchn_abi = abi };
    if ((rc = xensim_domain_create(d->sim, &d0)) < 0 || (rc = xensim_domain_unpause(d->sim, 0)))
        return fail("cannot build dom0", rc);
    if ((rc = d->back->dom0_up(d, xenstored, seed)))
        return fail("cannot start xenstored", rc);

    struct xensim_domain_config gcfg = { .name = "guest", .evtchn_abi = abi };
    rc = xensim_domain_create(d->sim, &gcfg);
    if (rc < 0 || xensim_domain_unpause(d->sim, (domid_t)rc))
        return fail("cannot build the guest", rc);
    d->guest = (domid_t)rc;
    struct xensim_domain_info info;
    xensim_domain_info(d->sim, d->guest, &info);
    host_say(d->sim, "built dom%u: store ring at pfn %lu on port %u, console ring at pfn %lu on port %u "
             "(both ports unbound to dom0, as libxl makes them)", d->guest,
             (unsigned long)info.store_pfn, info.store_port, (unsigned long)info.console_pfn,
             info.console_port);
    if ((rc = d->back->guest_built(d)))
        return fail("cannot start the guest's back end", rc);
    return 0;
}

/* The drivers on both sides, then the disk and the vif added and waited
 * for until both ends are Connected. 0, or fail()'s exit status. */
static int plug_devices(struct demo *d)
{
    int rc;
    xensim_domain_call(d->sim, 0, 0, d->back->drivers_up, d);
    if (!d->rc)
        xensim_domain_call(d->sim, 0, 0, netback_up, d);
    if (d->rc)
        return fail("back ends", d->rc);
    xensim_domain_call(d->sim, d->guest, 0, frontends_up, d);
    if (d->rc)
        return fail("front ends", d->rc);

    if ((rc = d->back->add_disk(d)))
        return fail("cannot add the disk", rc);
    host_say(d->sim, "adds vif 0 to dom%u: writes both halves in XenStore", d->guest);
    const char *vif_keys[] = { "mac", "00:16:3e:00:00:01", NULL };
    struct xensim_device_config vif = { .type = "vif", .frontend = d->guest, .backend = 0,
                                        .devid = 0, .front_keys = vif_keys,
                                        .back_keys = vif_keys };
    if ((rc = xensim_device_add(d->sim, &vif)))
        return fail("cannot add the network interface", rc);
    if (!d->back->wait_disk(d))
        return fail("the disk did not connect", -ETIMEDOUT);
    char fpath[128];
    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/vif/0/state", d->guest);
    if (!wait_state(d, fpath, "4"))
        return fail("the network interface did not connect", -ETIMEDOUT);
    host_say(d->sim, "disk and network interface are Connected on both ends");
    return 0;
}

/* The guest's console line as its back end has it, and the vif on
 * dom0's switch. */
static void show_console(struct demo *d)
{
    char line[256] = "";
    xensim_domain_call(d->sim, d->guest, 0, guest_console, d);
    if (d->rc)
        host_say(d->sim, "the guest's console write failed: %s", xensim_strerror(d->rc));
    int rc = d->back->console_line(d, line, sizeof(line));
    if (rc && rc != -ENODEV)
        host_say(d->sim, "the console back end has not seen the guest's line: %s",
                 xensim_strerror(rc));
    else if (!rc)
        host_say(d->sim, "%s of dom%u: \"%s\"", d->back->console_name, d->guest, line);
    struct xensim_vif_stats vs;
    if (d->nb && xensim_netback_vif_stats(d->nb, d->guest, 0, &vs) == 0)
        host_say(d->sim, "netback: vif%u.0 is on dom0's virtual switch", d->guest);
}

/* Unplugs both devices, destroys the guest, then everything else. */
/* Returns how many protocol violations and double fetches the run saw
 * (told as it ends). */
static uint64_t demo_teardown(struct demo *d, bool probing, struct web *web)
{
    host_say(d->sim, "unplugs the devices and destroys dom%u", d->guest);
    xensim_set_narrator(d->sim, NULL, NULL, 0);
    xensim_device_remove(d->sim, "vbd", d->guest, VBD_DEVID, WAIT_MS);
    xensim_device_remove(d->sim, "vif", d->guest, 0, WAIT_MS);
    d->back->unplugged(d);
    xensim_domain_call(d->sim, d->guest, 0, frontends_down, d);
    xensim_domain_destroy(d->sim, d->guest);
    xensim_domain_call(d->sim, 0, 0, netback_down, d);
    xensim_domain_call(d->sim, 0, 0, d->back->drivers_down, d);
    if (probing)
        probe_put();
    web_detach(web);
    d->back->done(d);
    struct xensim_double_fetch df;
    uint64_t fetches = xensim_double_fetches(d->sim, &df);
    if (fetches) {
        char line[320];
        snprintf(line, sizeof(line), "[toolstack]  %llu double fetch(es) seen; the last, dom%u "
                 "vcpu%u read byte %u of slot %u of ring %s twice", (unsigned long long)fetches,
                 df.domid, df.vcpu, df.offset, df.slot, df.ring);
        print_line(line, NULL);
    }
    struct xensim_protocol_violation pv;
    uint64_t violations = xensim_protocol_violations(d->sim, &pv);
    if (violations) {
        /* The narrator is off by now: straight to the output. */
        char line[320];
        snprintf(line, sizeof(line), "[toolstack]  %llu protocol violation(s) seen; the last, "
                 "by dom%u: %s", (unsigned long long)violations, pv.domid, pv.what);
        print_line(line, NULL);
    }
    xensim_destroy(d->sim);
    unlink(d->disk);
    print_line("[toolstack]  done", NULL);
    return violations + fetches;
}

/* The page keeps its story after the run, until Ctrl-C. */
static void web_linger(struct web *web, sigset_t *quit)
{
    int sig;

    printf("xensim demo: the demo is over; the page keeps its story at %s "
           "(Ctrl-C to stop)\n", web_url(web));
    fflush(stdout);
    while (sigwait(quit, &sig))
        ;
    web_stop(web);
}

static void hostile_up(void *p)
{
    struct demo *d = p;
    d->rc = xensim_xenbus_frontend_register(&xensim_hostile_vbd_front);
}

static void hostile_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_hostile_vbd_front, true);
}

struct attack {
    enum xensim_hostile_kind kind;
    struct xensim_hostile_report r;
    int rc;
};

static void hostile_attack(void *p)
{
    struct attack *a = p;
    a->rc = xensim_hostile_vbd_attack(VBD_DEVID, a->kind, &a->r);
}

/*
 * --hostile KIND: a second guest gets a disk from the same blkback, with
 * the hostile front end driver instead of blkfront, and attacks; then the
 * first guest reads again, to show that blkback still serves it. 0, or
 * fail()'s exit status.
 */
static int demo_hostile(struct demo *d, enum xensim_evtchn_abi abi, enum xensim_hostile_kind kind)
{
    struct xensim_domain_config hc = { .name = "hostile", .evtchn_abi = abi };
    struct attack a = { .kind = kind };
    char fpath[128], bpath[128];
    int rc = xensim_domain_create(d->sim, &hc);
    if (rc < 0 || xensim_domain_unpause(d->sim, (domid_t)rc))
        return fail("cannot build the hostile guest", rc);
    domid_t h = (domid_t)rc;
    host_say(d->sim, "builds dom%u, a hostile guest (%s), and gives it a disk from the same "
             "blkback", h, xensim_hostile_name(kind));
    xensim_domain_call(d->sim, h, 0, hostile_up, d);
    if (d->rc)
        return fail("the hostile front end", d->rc);
    /* The kinds that abuse persistent grants ask for them. */
    bool persistent = kind == XENSIM_HOSTILE_GRANT_FLOOD || kind == XENSIM_HOSTILE_REVOKE_MAPPED;
    const char *fk[] = { "hostile-persistent", persistent ? "1" : "0", NULL };
    struct xensim_device_config vbd = { .type = "vbd", .frontend = h, .backend = 0,
                                        .devid = VBD_DEVID, .front_keys = fk };
    if ((rc = xensim_device_add(d->sim, &vbd)))
        return fail("cannot add the hostile guest's disk", rc);
    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/vbd/%u/state", h, VBD_DEVID);
    snprintf(bpath, sizeof(bpath), "/local/domain/0/backend/vbd/%u/%u/state", h, VBD_DEVID);
    if (!wait_state(d, fpath, "4") || !wait_state(d, bpath, "4"))
        return fail("the hostile guest's disk did not connect", -ETIMEDOUT);
    xensim_domain_call(d->sim, h, 0, hostile_attack, &a);
    if (a.rc)
        return fail("the attack", a.rc);
    host_say(d->sim, "dom%u attacked (%s): %llu notification(s), %u request(s) on the ring",
             h, xensim_hostile_name(kind), (unsigned long long)a.r.notifications, a.r.requests);
    host_say(d->sim, "blkback answered %u request(s), %u with an error, %u with an id never "
             "asked for; its end of dom%u's disk is %s", a.r.responses, a.r.errors,
             a.r.bad_responses, h, xensim_xenbus_strstate(a.r.backend_state));
    if (a.r.store_writes || a.r.store_error)
        host_say(d->sim, "xenstored took %u write(s) of dom%u, then refused one: %s",
                 a.r.store_writes, h, xensim_strerror(a.r.store_error));
    xensim_domain_call(d->sim, d->guest, 0, guest_read, d);
    host_say(d->sim, "blkback still serves dom%u: its READ of sector 0 returned status %d",
             d->guest, d->rc);
    xensim_device_remove(d->sim, "vbd", h, VBD_DEVID, WAIT_MS);
    xensim_domain_call(d->sim, h, 0, hostile_down, d);
    xensim_domain_destroy(d->sim, h);
    return d->rc ? fail("the read after the attack failed", d->rc) : 0;
}

/* The page is told where the seed's walkthrough starts, to open there. */
static const char chapter[] =
    "{\"title\":\"The guest reads sector 0: the seed's walkthrough\",\"start\":true,"
    "\"summary\":\"blkfront queues a read request in the ring it shares with blkback and "
    "notifies dom0 through an event channel; blkback takes the 'interrupt', finds the request, "
    "reads the disk, puts the response in the ring and notifies back; blkfront takes its "
    "'interrupt' and completes.\"}";

int demo_devices(const struct demo_devices_opts *o)
{
    const char *trace = o->trace, *xenstored = o->xenstored;
    const struct web_opts *wo = o->web;
    const struct xensim_config *sched = o->sched;
    enum xensim_evtchn_abi abi = o->abi;
    uint64_t seed = sched->seed;
    struct demo d = { .pcap = o->pcap, .back = &builtin_back,
                      .inject = o->inject,
                      .reads = o->reads ? o->reads : 1 };
    if (o->qemu) {
        if (!(d.qemu = demo_qemu_new(o->qemu, print_line))) {
            fprintf(stderr, "xensim demo: QEMU at %s: %s (apt-get download qemu-system-xen, "
                            "dpkg -x it, and pass --qemu PATH)\n", o->qemu, strerror(errno));
            return 1;
        }
        d.back = &qemu_back;
    }
    struct web *web = NULL;
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    if (wo && wo->spec) {
        /* Every thread made from here leaves these to sigwait(). */
        pthread_sigmask(SIG_BLOCK, &quit, NULL);
        signal(SIGPIPE, SIG_IGN);
        web = web_start(wo, "xensim demo");
        if (!web)
            return 2;
    }
    int rc = make_disk(&d);
    if (rc)
        return fail("cannot make the disk file", rc);
    struct xensim_config sc = *sched;
    sc.quiet = true;
    /* The checker traps every access to a named ring: only when the bug
     * it is to find was asked for. */
    sc.check_double_fetch = (o->inject & DEMO_INJECT_FRONT_DOUBLE_FETCH) != 0;
    /* The probe reads each raised port at its raise: a polling vCPU
     * could take the event first, and the picture would miss it. */
    sc.no_halt_polling = web || trace;
    d.sim = xensim_create(&sc);
    if (!d.sim)
        return fail("cannot create the simulator", -ENOMEM);
    if (trace && (rc = xensim_trace_start(d.sim, trace)))
        return fail("cannot write the trace", rc);
    /* The probe's snapshots come from a thread of its own that no seed
     * orders: a seeded run's trace goes without them (the player then
     * has the narration and the events, not the pictures). */
    bool probing = trace && !seed;
    if (probing && (rc = probe_get(d.sim)))
        return fail("cannot start the probe", rc);
    if (web) {
        web_attach(web, d.sim);
        printf("xensim demo: open %s in a browser; the demo starts when the page does "
               "(Ctrl-C to stop)\n", web_url(web));
        fflush(stdout);
        if (!web_wait_page(web, &quit)) {
            web_stop(web);
            if (probing)
                probe_put();
            xensim_destroy(d.sim);
            unlink(d.disk);
            return 0;
        }
    }
    xensim_set_narrator(d.sim, print_line, NULL, XENSIM_NARRATE_GUEST);

    if ((rc = build_domains(&d, abi, seed, xenstored)) || (rc = plug_devices(&d))) {
        /* Scratch directories, the external server and QEMU, not left
         * behind. */
        d.back->done(&d);
        return rc;
    }

    /* The READ itself, with the hypervisor narrating too. The probe first
     * looks at the connected rings, so every step shows their indices. */
    if (probing || web)
        probe_sync();
    xensim_trace_note(d.sim, d.guest, "chapter", chapter);
    xensim_set_narrator(d.sim, print_line, NULL, XENSIM_NARRATE_GUEST | XENSIM_NARRATE_XEN);
    xensim_domain_call(d.sim, d.guest, 0, guest_read, &d);
    xensim_set_narrator(d.sim, print_line, NULL, XENSIM_NARRATE_GUEST);
    if (d.rc)
        return fail("the read failed", d.rc);
    if (d.reads > 1) {
        xensim_domain_call(d.sim, d.guest, 0, guest_read_more, &d);
        if (d.rc)
            return fail("a read of sectors 1 on failed", d.rc);
        host_say(d.sim, "dom%u read sectors 1 to %u, one request at a time", d.guest,
                 d.reads - 1);
    }
    show_console(&d);
    if (o->hostile && (rc = demo_hostile(&d, abi, o->hostile_kind)))
        return rc;

    /* Only a hostile guest may break a protocol: anything else is a bug
     * the run found (xensim explore's too). */
    if (demo_teardown(&d, probing, web) && !o->hostile) {
        fprintf(stderr, "xensim demo: a protocol violation or a double fetch in a run without "
                        "a hostile guest\n");
        return 1;
    }
    if (web)
        web_linger(web, &quit);
    return 0;
}
