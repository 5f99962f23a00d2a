/*
 * xensim embedding API: create a simulator, build domains whose vCPUs are
 * host threads, run them, watch them shut down, tear them down.
 * Guest code (what runs on a vCPU) uses <xensim/guest.h> instead.
 */
#ifndef XENSIM_XENSIM_H
#define XENSIM_XENSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xensim/version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim;

/* Event channel ABI of a domain. Every domain starts 2-level, as in Xen;
 * any guest may switch itself to FIFO (EVTCHNOP_init_control). */
enum xensim_evtchn_abi {
    XENSIM_EVTCHN_2L_32 = 0,   /* 32 words of 32 bits: 1024 ports (default) */
    XENSIM_EVTCHN_2L_64 = 1,   /* 64 words of 64 bits: 4096 ports */
    /* 64-bit words, and the guest kernel (guest.h's event and irq layer)
     * switches to FIFO when it first uses events, as Linux does at boot:
     * 16 priorities, up to 131,072 ports. */
    XENSIM_EVTCHN_FIFO = 2,
};

/* How a grant map reaches the granter's page. */
enum xensim_gnttab_mode {
    XENSIM_GNTTAB_STRICT = 0,  /* a real mmap alias; RO is PROT_READ; faults are caught */
    XENSIM_GNTTAB_FAST = 1,    /* a check, a pin and a pointer; no mmap */
};

/* Entry of each vCPU thread. Returning from it takes that vCPU down; when
 * every vCPU has returned the domain shuts down with SHUTDOWN_poweroff. */
typedef void (*xensim_vcpu_entry_t)(void *arg);

struct xensim_domain_config {
    const char *name;               /* copied; NULL gives "domN" */
    bool privileged;                /* the control domain (dom0 always is) */
    unsigned int nr_vcpus;          /* 0 gives 1; at most XENSIM_MAX_VCPUS */
    unsigned long nr_pages;         /* guest RAM in 4 KiB pages; 0 gives 256 */
    enum xensim_evtchn_abi evtchn_abi;
    unsigned int max_evtchn_port;   /* highest usable port, Xen's max_evtchn_port; the ABI
                                     * in use caps it too (0: only the ABI does) */
    unsigned int max_grant_frames;  /* 0 gives 64, Xen's default */
    unsigned int max_maptrack_frames; /* 0 gives 1024, Xen's default (256 handles each) */
    /* Highest grant table version the domain may switch to with
     * GNTTABOP_set_version: 0 gives 2, as libxl on x86; 1 refuses v2 as
     * Xen does a domain built with max_grant_version=1. Tables start at 1. */
    unsigned int max_grant_version;
    /* The grant table version the domain's kernel asks for at its first
     * use of grants (Linux's gnttab_request_version): 2 switches the
     * table with GNTTABOP_set_version(2) before anything is granted;
     * 0 or 1 keeps v1. */
    unsigned int kernel_grant_version;
    enum xensim_gnttab_mode gnttab_mode;
    xensim_vcpu_entry_t entry;      /* NULL: vCPUs idle and serve xensim_domain_call() */
    void *entry_arg;
};

/* PCT change points a deterministic run takes: a bug of depth 3 at most. */
#define XENSIM_PCT_CHANGES_MAX 2
#define XENSIM_MAX_VCPUS 32        /* XEN_LEGACY_MAX_VCPUS: every vcpu_info in shared_info */

/* Where a domain is in its life, as the toolstack sees it. */
enum xensim_domain_state {
    XENSIM_DOMAIN_PAUSED,     /* built, not yet unpaused, or paused */
    XENSIM_DOMAIN_RUNNING,
    XENSIM_DOMAIN_SHUTDOWN,   /* shut down (see shutdown_reason); not yet destroyed */
    XENSIM_DOMAIN_DYING,      /* destroyed; lingers while others still map its pages */
};

struct xensim_domain_info {
    domid_t domid;
    char name[64];
    enum xensim_domain_state state;
    unsigned int shutdown_reason;   /* SHUTDOWN_* when state is SHUTDOWN */
    unsigned int nr_vcpus;
    unsigned long nr_pages;
    bool privileged;
    unsigned int ports_in_use;      /* not free, not port 0 */
    unsigned int maptrack_in_use;   /* this domain's live grant mappings */
    unsigned int pages_mapped_by_others; /* pins other domains hold on its grants */
    uint32_t store_port, console_port;   /* allocated at build, as libxl does */
    xen_pfn_t store_pfn, console_pfn;
    /* Entries of its own grant table in use (flags set) beyond the
     * reserved refs 0-7 the toolstack owns. */
    unsigned int grant_entries_in_use;
    /* Guest RAM pages handed out and not freed, beyond the builder's
     * (start_info and the store and console rings). */
    unsigned long pages_allocated;
    /* Distinct pages of its RAM the hypervisor holds for the FIFO event
     * channel ABI (control blocks and event array pages, as Xen's
     * map_guest_page keeps them) until a reset or the domain's end. */
    unsigned int evtchn_pages_held;
    /* The event channel ABI in use now (a guest may have switched to
     * FIFO), the highest port it may use, and where its shared_info page
     * is (a frame for xensim_domain_peek; start_info names it too). */
    enum xensim_evtchn_abi evtchn_abi;
    unsigned int max_evtchn_port;
    xen_pfn_t shared_info_frame;
};

/* Simulator-wide settings; NULL for the defaults. */
struct xensim_config {
    bool quiet;               /* do not print fault reports to stderr */
    /* Free-running only: a vCPU that blocks sleeps at once instead of
     * polling its wake condition first. A polling vCPU can take an event
     * the instant it is raised, before a trace subscriber reading shared
     * memory at the raise has looked; the demo's pictures want the raise
     * seen first. */
    bool no_halt_polling;
    /* Non-zero: a deterministic run. One thread of the simulation runs at
     * a time, the next chosen at each scheduling point by a generator
     * seeded with this, and the clock is virtual: the same seed gives the
     * same run. The creating thread must be the only host thread that
     * calls into the simulator, and services with threads of their own
     * (xenstored, xenconsoled, external domains) refuse to start.
     * 0: free-running, the host kernel schedules every thread. */
    uint64_t seed;
    /* Deterministic runs only. record: a file to write the run's
     * schedule to, one decision a line after a "# record_note" line and
     * the seed's. replay: a schedule so written (with this seed), whose
     * decisions are taken in place of the generator's until it ends; a
     * decision the run cannot take is reported and aborts. stop_at: at
     * that decision (1 the first) the run prints its state on stderr
     * (tasks, domains, vCPU event flags, ports) and the process exits. */
    const char *record;
    const char *record_note;
    const char *replay;
    uint64_t stop_at;
    /* Deterministic runs only, for schedule search (<xensim/explore.h>).
     * pct: picks by PCT, probabilistic concurrency testing (Burckhardt
     * et al., ASPLOS 2010), instead of uniformly: every task gets a
     * priority drawn from the seed, the highest-priority task that can
     * run runs, and at each step in pct.change (1 the first, 0 unused)
     * the task running then drops below all others. A busy-waiting task
     * runs only when nothing else can. After step pct.until (0: never)
     * the generator picks again, so that no fixed order starves a task
     * for ever. */
    struct xensim_pct {
        bool on;
        uint64_t change[XENSIM_PCT_CHANGES_MAX];
        uint64_t until;
    } pct;
    /* Once the replayed schedule ends, the task running runs on until it
     * blocks, and then the lowest-numbered task that can run, instead of
     * the generator's picks: a prefix of a schedule, then no further
     * preemption. */
    bool replay_then_run_on;
    /* A run that makes more scheduling decisions than this reports its
     * state and aborts, as a deadlock does (0: no limit): a livelock on
     * the virtual clock never ends otherwise. */
    uint64_t max_steps;
    /* The double-fetch checker (x86-64): a ring named with
     * xensim_ring_watch() by a back end through a strict grant mapping,
     * or by a front end in its own RAM, traps every access the namer
     * makes to it, and a vCPU that reads a byte of a slot twice in one
     * handling of the ring (no upcall taken and no block returned from
     * between), without writing that slot between, is reported
     * (xensim_double_fetches): the peer may have changed it between the
     * two reads (XSA-155). One thread per named ring; slow (two signals
     * an access): for tests. */
    bool check_double_fetch;
};

struct xensim *xensim_create(const struct xensim_config *cfg);
/* The seed of a deterministic run, 0 when free-running. */
uint64_t xensim_seed(const struct xensim *sim);
/* Destroys every domain left, waits for their threads, frees everything. */
void xensim_destroy(struct xensim *sim);

/* Builds a paused domain and returns its domid (>= 0) or a negative errno.
 * The first domain built is dom0 and is always privileged. */
int xensim_domain_create(struct xensim *sim, const struct xensim_domain_config *cfg);
int xensim_domain_unpause(struct xensim *sim, domid_t domid);
int xensim_domain_pause(struct xensim *sim, domid_t domid);
/* The toolstack asks a domain to shut down (as `xl shutdown` would, but forced). */
int xensim_domain_shutdown(struct xensim *sim, domid_t domid, unsigned int reason);
/* Kills a domain: its vCPUs stop, its ports close, its mappings go. A vCPU
 * looping in guest code without hypercalls is stopped too: xensim sends
 * its thread SIGSYS and unwinds it once it is outside the simulator and
 * libc, so the process must leave SIGSYS to xensim (seccomp's SIGSYS is
 * passed on to the handler that was there before). */
int xensim_domain_destroy(struct xensim *sim, domid_t domid);
int xensim_domain_info(struct xensim *sim, domid_t domid, struct xensim_domain_info *info);
/* Fills up to max infos, lowest domid first; returns how many domains exist. */
int xensim_domain_list(struct xensim *sim, struct xensim_domain_info *infos, int max);

/*
 * Domain listeners: how the toolstack and dom0's services hear of domains
 * (the toolstack introduces each new domain to xenstored; a dom0 service
 * stops when dom0 is destroyed). built runs before xensim_domain_create()
 * returns, the domain still paused; destroying at the start of
 * xensim_domain_destroy(), while the domain still runs. Listeners run one
 * at a time and must not add or remove listeners. Either may be NULL.
 */
struct xensim_domain_listener {
    void (*built)(struct xensim *sim, domid_t domid, void *arg);
    void (*destroying)(struct xensim *sim, domid_t domid, void *arg);
};
/* 0 or -ENOMEM. */
int xensim_listener_add(struct xensim *sim, const struct xensim_domain_listener *ops,
                        void *arg);
/* 0, or -ENOENT if (ops, arg) is not listening. */
int xensim_listener_remove(struct xensim *sim, const struct xensim_domain_listener *ops,
                           void *arg);

/* Blocks until the domain has shut down (or gone); returns its SHUTDOWN_* reason. */
int xensim_domain_wait_shutdown(struct xensim *sim, domid_t domid);
/* Blocks until every domain has shut down or been destroyed. */
void xensim_wait_all_shutdown(struct xensim *sim);

/* Runs fn(arg) on vCPU `vcpu` of the domain, where guest code runs, and
 * waits for it. The vCPU takes it at its next hypercall exit or while
 * blocked, like an interrupt, but never inside its event upcall or another
 * call; calls run even while the domain is paused. Returns 0; -ESRCH or
 * -ENOENT for a missing domain or vCPU; -ESHUTDOWN if the domain stopped
 * before fn ran or while it ran (fn may have ended it). */
int xensim_domain_call(struct xensim *sim, domid_t domid, unsigned int vcpu,
                       void (*fn)(void *), void *arg);

/*
 * The toolstack's xenstored (<xensim/xenstored.h> runs one by hand).
 * xensim_xenstore_start() starts it in dom0, which must exist (-ESRCH),
 * serving dom0's socket at socket_path if given (host programs such as
 * libxenstore and xenstore-utils connect there). Every domain, those
 * already built too, gets its home /local/domain/<id> (domid, name) and is
 * introduced at build, and loses its home when destroyed, as libxl does;
 * xenstored itself notices deaths
 * (VIRQ_DOM_EXC), so a destroyed domain lingers dying until it has let go
 * of its ring. It stops when dom0's destroy begins (xensim_destroy()), as
 * a dom0 process would, or at xensim_xenstore_stop(). Its log is quiet.
 * 0, -EEXIST when one runs already, or a negative errno.
 */
struct xensim_xenstored;
int xensim_xenstore_start(struct xensim *sim, const char *socket_path);
/* The same with a daemon the caller made and started (more sockets, its
 * own log): the toolstack owns it from then on, unless this fails. */
int xensim_xenstore_attach(struct xensim *sim, struct xensim_xenstored *xsd);
void xensim_xenstore_stop(struct xensim *sim);

/*
 * Xen's own C xenstored (Debian's xen-utils-4.17 usr/lib/xen-4.17/bin/
 * xenstored, unmodified) as dom0's xenstored instead of the built-in one,
 * introduced to and told of domains as above. It is a process of dom0
 * (an external domain: xensim_external_start() must serve hv_dir first),
 * run with the drop-in libraries, XENSTORED_RUNDIR=run_dir (its socket is
 * run_dir/socket), no XENSTORED_PATH, and a private mount namespace whose
 * /proc/xen/xsd_port and /proc/xen/xsd_kva are dom0's store ring: dom0's
 * kernel makes that ring first, as Linux's does at boot, so dom0 must not
 * have made one (xensim_xenbus_dom0_init() is then not needed, and gives
 * -EEXIST). Needs root, or unprivileged user namespaces (-EPERM). Returns
 * once the daemon answers on its socket; 0, -EEXIST when a xenstored
 * runs, -ECHILD when the program exited (its status in the log), or a
 * negative errno.
 */
struct xensim_xenstore_program {
    const char *path;               /* the program */
    const char *const *args;        /* after path and --no-fork; NULL-terminated, or NULL */
    const char *hv_dir;             /* where hv_dir/dom/0/hypervisor is served */
    const char *lib_dir;            /* the drop-in libxen*.so */
    const char *run_dir;            /* made if missing */
    const char *log_path;           /* its stdout and stderr (appended); NULL: /dev/null */
};
int xensim_xenstore_start_program(struct xensim *sim, const struct xensim_xenstore_program *p);

/* What the running xenstored holds, over all its connections. */
struct xensim_xenstore_usage {
    unsigned long nodes, watches, transactions, connections, domains;
};
/* 0, -ENODEV when no xenstored runs, or -EOPNOTSUPP when it is a
 * program, which does not say. */
int xensim_xenstore_usage(struct xensim *sim, struct xensim_xenstore_usage *u);

/* What the running xenstored holds, as a debugger sees it rather than a
 * client (no message is sent, nothing is traced): node gets every node in
 * tree order (its path, value and length, owner), watch every watch (the
 * domain whose connection set it, its path and token). Both run with the
 * daemon's lock held, so they must not call into XenStore; either may be
 * NULL. 0, or -ENODEV when no xenstored runs, -EOPNOTSUPP when it is a
 * program of its own (xensim_xenstore_start_program). */
struct xensim_xenstore_visitor {
    void (*node)(const char *path, const char *value, unsigned int len, domid_t owner,
                 void *arg);
    void (*watch)(domid_t domid, const char *path, const char *token, void *arg);
};
int xensim_xenstore_visit(struct xensim *sim, const struct xensim_xenstore_visitor *v, void *arg);

/* Records the run as Chrome trace-event JSON (chrome://tracing, Perfetto):
 * a track per domain vCPU, hypercalls and upcalls as slices, grant
 * operations as instants, and a flow arrow from each send to the upcall it
 * caused. 0, -EEXIST while recording, or fopen's errno. Stopped by
 * xensim_trace_stop() or xensim_destroy(). One subscriber of the trace
 * points in <xensim/trace.h>, where programs can add their own. */
int xensim_trace_start(struct xensim *sim, const char *path);
void xensim_trace_stop(struct xensim *sim);

/* The teaching narrator: fn receives one line per step, "[domN vcpuM] ..."
 * from guest code (xensim_narrate in guest.h) when `what` has
 * XENSIM_NARRATE_GUEST, and "[xen] ..." from the hypervisor (sends,
 * upcalls; told from the trace points) with XENSIM_NARRATE_XEN. NULL
 * turns it off (the default). Not to be called from a trace subscriber. */
typedef void (*xensim_narrator_t)(const char *line, void *arg);
#define XENSIM_NARRATE_GUEST 1u
#define XENSIM_NARRATE_XEN 2u
void xensim_set_narrator(struct xensim *sim, xensim_narrator_t fn, void *arg, unsigned int what);
/* A host program (the toolstack, a demo) tells a step of its own: to the
 * narrator, if one is set, as "who text", and to the trace as a
 * narration line like the guests' and Xen's. */
void xensim_narrate_host(struct xensim *sim, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A guest fault report (strict grant mappings): who faulted where. */
struct xensim_fault {
    domid_t domid;            /* the domain that faulted (and was crashed) */
    unsigned int vcpu;
    uintptr_t addr;
    bool write;
    bool mapped;              /* false: the address was unmapped (access after unmap) */
    domid_t granter;          /* valid when the slot once held a grant */
    grant_ref_t ref;
    bool readonly;
};
typedef void (*xensim_fault_hook_t)(const struct xensim_fault *f, void *arg);
void xensim_set_fault_hook(struct xensim *sim, xensim_fault_hook_t hook, void *arg);
/* The last fault report, or false if none. */
bool xensim_last_fault(struct xensim *sim, struct xensim_fault *out);

/* What the double-fetch checker (check_double_fetch) saw: how many
 * second reads, and the last. */
struct xensim_double_fetch {
    domid_t domid;            /* the reader */
    unsigned int vcpu;
    char ring[64];            /* the name it gave the ring */
    unsigned int slot;        /* the entry, and the byte's offset in it */
    unsigned int offset;
};
uint64_t xensim_double_fetches(struct xensim *sim, struct xensim_double_fetch *last);

/* Protocol violations guest code reported (xensim_protocol_violation)
 * or a deterministic run saw on a named ring: how many, and the last. */
struct xensim_protocol_violation {
    /* Guest code's reports and the ring sanitizer's: the domain whose code
     * saw it; a service's (xensim_report_protocol_violation): the one it
     * names, the domain that did it. */
    domid_t domid;
    char what[160];
};
uint64_t xensim_protocol_violations(struct xensim *sim, struct xensim_protocol_violation *last);
/* The same from a service outside guest code (xenstored's loop, a back
 * end in a host thread): what domid's end did that broke a protocol
 * (domid is then the doer). */
void xensim_report_protocol_violation(struct xensim *sim, domid_t domid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tables of what a running simulation holds, for people: the domains;
 * one domain's ports (state, remote end, notify vCPU, pending, masked);
 * one domain's grant entries (flags, grantee, frame, who pins them).
 * Return the number of rows, or -ESRCH. */
int xensim_dump_domains(struct xensim *sim, FILE *out);
int xensim_dump_ports(struct xensim *sim, domid_t domid, FILE *out);
int xensim_dump_grants(struct xensim *sim, domid_t domid, FILE *out);

/* The same as rows, for programs. Each fills up to max rows (rows may be
 * NULL with max 0) and returns how many exist, or -ESRCH. */
struct xensim_port_info {
    evtchn_port_t port;
    unsigned int status;        /* EVTCHNSTAT_*, as EVTCHNOP_status gives */
    bool reserved;              /* port 0 (status closed) */
    domid_t remote_dom;         /* unbound, interdomain */
    evtchn_port_t remote_port;  /* interdomain */
    uint32_t virq;              /* virq */
    uint32_t vcpu;              /* the vCPU it notifies (ipi: the target) */
    bool pending, masked;
    bool host_consumer;         /* delivered to a host process (hostdev.h) */
    unsigned int priority;      /* FIFO: the queue it links on next, 0 (highest)..15;
                                 * 2-level: 0 */
};
int xensim_port_list(struct xensim *sim, domid_t domid, struct xensim_port_info *rows, int max);

/* One grant entry in use (flags != 0) and who pins it. */
struct xensim_grant_info {
    grant_ref_t ref;
    uint16_t flags;             /* GTF_*, as the granter and Xen wrote them */
    domid_t domid;              /* the grantee the entry names */
    uint32_t frame;
    domid_t mapped_by;          /* DOMID_INVALID when nobody pins it */
    unsigned int read_pins, write_pins;
};
int xensim_grant_list(struct xensim *sim, domid_t domid, struct xensim_grant_info *rows,
                      int max);

/* Reads len bytes at offset of one frame of a domain's memory, as a
 * debugger reads a guest's page: guest RAM is frames [0, nr_pages), then
 * come its shared_info (info.shared_info_frame) and its grant table's
 * frames, so a grant entry's frame or a store_pfn can be read directly.
 * The bytes are what the page holds at that moment; guests may be
 * writing it. 0; -ESRCH; -EINVAL for a frame the domain does not have or
 * a range that leaves the page. Takes no lock (only the RCU read side),
 * so a trace subscriber may call it. */
int xensim_domain_peek(struct xensim *sim, domid_t domid, xen_pfn_t frame, unsigned int offset,
                       void *buf, size_t len);

/* Where a domain on the FIFO ABI keeps its event state in its RAM, for
 * xensim_domain_peek(): each vCPU's control block (READY and the 16
 * queue heads, struct evtchn_fifo_control_block) as the guest gave it
 * with EVTCHNOP_init_control, and the event array's pages in order
 * (page i holds the event words of ports i * 1024 .. i * 1024 + 1023),
 * as EVTCHNOP_expand_array added them. The queues' tails are Xen's own
 * and are not in guest memory. 0; -ESRCH; -ENOENT when the domain is not
 * on FIFO. */
#define XENSIM_FIFO_MAX_ARRAY_PAGES (EVTCHN_FIFO_NR_CHANNELS * sizeof(event_word_t) / 4096)
struct xensim_evtchn_fifo_layout {
    unsigned int nr_vcpus;
    struct {
        bool mapped;            /* false until this vCPU's init_control */
        xen_pfn_t frame;
        unsigned int offset;
    } control[XENSIM_MAX_VCPUS];
    unsigned int nr_array_pages;
    xen_pfn_t array_frame[XENSIM_FIFO_MAX_ARRAY_PAGES];
};
int xensim_evtchn_fifo_layout(struct xensim *sim, domid_t domid,
                              struct xensim_evtchn_fifo_layout *out);

/* A name for a Xen errno: "-ENOSPC (no free port or slot)" style, for logs;
 * every errno xensim returns is in <xensim/errno.h>. */
const char *xensim_strerror(int negative_errno);

#ifdef __cplusplus
}
#endif
#endif
