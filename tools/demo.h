/* The two demos behind `xensim demo`. */
#ifndef XENSIM_TOOLS_DEMO_H
#define XENSIM_TOOLS_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xensim/xensim.h>
#include <xensim/hostile.h>

struct web_opts;
/* Both take the scheduler's settings from sched (seed, record, replay,
 * stop_at); a seed makes a deterministic run. */
/* A disk, a console and a network interface through XenStore (default);
 * with web->spec, shown live in the web view as it runs. Both domains are
 * built on the event channel ABI abi (--evtchn). */
/* The built-in xenstored, or the program at xenstored (Xen's C one).
 * With hostile, a second guest then attacks blkback as that kind of
 * hostile front end (<xensim/hostile.h>), and the first reads again. */
struct demo_devices_opts {
    const char *trace, *pcap, *xenstored;
    enum xensim_evtchn_abi abi;
    const struct web_opts *web;
    const struct xensim_config *sched;
    bool hostile;
    enum xensim_hostile_kind hostile_kind;
    const char *qemu;       /* QEMU serves the disk and console (--blkback qemu) */
    unsigned int inject;    /* --inject: DEMO_INJECT_* bits */
    unsigned int reads;     /* --reads N: sectors 0 to N-1 read (0: 1) */
};
int demo_devices(const struct demo_devices_opts *o);
/* An event channel and a granted page set up by hand (--channel). */
int demo_channel(const char *trace, const struct xensim_config *sched);
/* Bugs --inject puts in, for xensim explore to find: blkback's lost
 * wake-up, blkfront's Initialised before its keys. */
#define DEMO_INJECT_LOST_WAKEUP 1u
#define DEMO_INJECT_EARLY_INITIALISED 2u
/* blkfront's second read of each response's id, with the double-fetch
 * checker on. */
#define DEMO_INJECT_FRONT_DOUBLE_FETCH 4u
/* The disk's sectors: --reads takes no more. */
#define DEMO_MAX_READS 2048u
/* `xensim demo` with argv as its arguments (argv[0] "demo") and the
 * scheduler settings of base (replay, stop_at, pct, replay_then_run_on,
 * max_steps; seed and record where argv gives none), for replay and
 * explore; xensim_cmd_demo passes none. */
int demo_main(int argc, char **argv, const struct xensim_config *base);

/* demo_qemu.c: Debian's QEMU as the demo's disk and console back end. */
struct demo_qemu;
/* $XENSIM_QEMU, else where Debian's qemu-system-xen puts it. */
const char *demo_qemu_default(void);
/* A scratch directory for it; NULL with errno if path is no program.
 * print tells QEMU's XenStore writes as they happen. */
struct demo_qemu *demo_qemu_new(const char *path, void (*print)(const char *line, void *arg));
/* Where XenStore's socket goes, for QEMU to reach. */
void demo_qemu_socket(const struct demo_qemu *q, char *buf, size_t size);
/* The external server on the directory: QEMU's hypervisor sockets. */
int demo_qemu_serve(struct demo_qemu *q, struct xensim *sim);
/* Starts QEMU as libxl does for guest's PV back ends. */
int demo_qemu_spawn(struct demo_qemu *q, domid_t guest);
/* The qdisk (xvda, backed by disk) and console 0 for QEMU. */
int demo_qemu_add_devices(struct demo_qemu *q, domid_t guest, const char *disk);
/* True once both ends of the disk are Connected. */
bool demo_qemu_wait_disk(struct demo_qemu *q, domid_t guest, unsigned int devid,
                         unsigned int timeout_ms);
/* The line of the guest's console (as QEMU wrote it out) holding needle. */
int demo_qemu_console_line(struct demo_qemu *q, const char *needle, char *line, size_t size,
                           unsigned int timeout_ms);
/* QEMU's own output, to stderr (after a failure). */
void demo_qemu_log(const struct demo_qemu *q);
/* Ends QEMU (SIGTERM) and waits for it. */
void demo_qemu_kill(struct demo_qemu *q);
/* demo_qemu_kill(), the external server stopped, the directory gone. */
void demo_qemu_stop(struct demo_qemu *q);

#endif
