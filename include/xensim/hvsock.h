/*
 * The hypervisor socket: how a process outside the simulator is one of
 * its domains. The simulator's end (xensim_external_start() in
 * <xensim/external.h>, run by `xensim serve`) listens on
 * DIR/dom/N/hypervisor for every domain N; the socket that accepted a
 * connection says which domain the process is, so a process speaks for
 * that domain only. The drop-in Xen libraries xensim builds
 * (libxenevtchn.so.1, libxengnttab.so.1, libxenctrl.so.4.17,
 * libxenforeignmemory.so.1, libxendevicemodel.so.1, installed under
 * $(libdir)/xensim) speak this protocol; any program may.
 *
 * Transport: AF_UNIX, SOCK_SEQPACKET. One connection per handle, as each
 * open of /dev/xen/evtchn, gntdev or gntalloc is a file of its own. The
 * end of a connection (close, or the process's death) is the handle's
 * close, and the simulator then does what Linux and Xen do when such a
 * file goes: the handle's ports close (their peers become unbound), its
 * mappings' pins drop, its shared pages' grants end (a page a peer still
 * maps stays granted until the peer lets go), and each unmap notification
 * fires: its byte is cleared and its event sent.
 *
 * Messages are packets in the host's byte order. A request starts with a
 * uint32_t op (XENSIM_HV_OP_*); its reply starts with an int32_t rc: 0 or
 * a positive result, or a negative Xen errno (<xensim/errno.h>).
 * Descriptors travel as SCM_RIGHTS on replies. The first request must be
 * HELLO; anything else first, a packet of the wrong size, an op the
 * connection's kind does not have, or an unknown op closes the
 * connection. Requests are answered in order, one reply each, except
 * UNMASK, which has none (Linux's write() of a port cannot fail either),
 * and NOTIFY | XENSIM_HV_NOREPLY: a notify of a port the process knows
 * it bound, whose failure (none is possible then) is not reported, so
 * that an event costs one message and no wait.
 */
#ifndef XENSIM_HVSOCK_H
#define XENSIM_HVSOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XENSIM_HV_MAGIC 0x76687378u     /* "xshv" */
#define XENSIM_HV_VERSION 1u
/* The environment variable that names the socket a process connects to;
 * `xensim env` sets it. */
#define XENSIM_HV_PATH_ENV "XENSIM_HV_PATH"
/* Pages in one MAP or SHARE (libxenvchan's largest ring is 256). */
#define XENSIM_HV_MAX_PAGES 1024u
/* Ports one EVTCHN connection may hold bound (-ENOSPC beyond): each
 * fits in its pipe whether or not the process reads it. */
#define XENSIM_HV_MAX_PORTS 4096u
/* Domains in one DOMAIN_INFO reply. */
#define XENSIM_HV_MAX_INFOS 64u
/* Or'ed into NOTIFY's op: no reply. */
#define XENSIM_HV_NOREPLY 0x80000000u
/* "No notify offset", "no notify port", as libxengnttab passes them. */
#define XENSIM_HV_NONE 0xffffffffu

/* What a connection is, fixed by its HELLO. */
enum xensim_hv_kind {
    XENSIM_HV_EVTCHN = 1,      /* /dev/xen/evtchn */
    XENSIM_HV_GNTDEV = 2,      /* /dev/xen/gntdev: maps others' grants */
    XENSIM_HV_GNTALLOC = 3,    /* /dev/xen/gntalloc: grants own pages */
    XENSIM_HV_PRIVCMD = 4,     /* domain control and foreign frames: privcmd */
};

enum xensim_hv_op {
    XENSIM_HV_OP_HELLO = 1,         /* struct xensim_hv_hello */

    /* XENSIM_HV_EVTCHN; struct xensim_hv_req, rc = the local port. */
    XENSIM_HV_OP_BIND_UNBOUND = 0x10,   /* a = remote domid */
    XENSIM_HV_OP_BIND_INTERDOMAIN,      /* a = remote domid, b = remote port */
    XENSIM_HV_OP_BIND_VIRQ,             /* a = virq */
    XENSIM_HV_OP_NOTIFY,                /* a = port; rc 0 */
    XENSIM_HV_OP_UNBIND,                /* a = port; rc 0 */
    XENSIM_HV_OP_UNMASK,                /* a = port; no reply */
    XENSIM_HV_OP_RESTRICT,              /* a = domid; rc 0 */

    /* XENSIM_HV_GNTDEV */
    XENSIM_HV_OP_MAP = 0x20,            /* struct xensim_hv_map -> xensim_hv_map_rep */
    XENSIM_HV_OP_UNMAP,                 /* a = map id; rc 0 */
    XENSIM_HV_OP_SET_MAX_GRANTS,        /* a = count; rc 0 */

    /* XENSIM_HV_GNTALLOC */
    XENSIM_HV_OP_SHARE = 0x30,          /* struct xensim_hv_share -> xensim_hv_share_rep */
    XENSIM_HV_OP_UNSHARE,               /* a = share id; rc 0 */

    /* XENSIM_HV_PRIVCMD */
    XENSIM_HV_OP_DOMAIN_INFO = 0x40,    /* a = first domid, b = max -> xensim_hv_info_rep */
    XENSIM_HV_OP_DOMAIN_NEW,            /* struct xensim_hv_domain_new; rc = domid */
    XENSIM_HV_OP_FOREIGN_MAP,           /* struct xensim_hv_fmap -> xensim_hv_map_rep */
};

/*
 * HELLO. domid is the domain the process believes it is, or DOMID_SELF
 * (0x7FF0) for "whichever this socket is": another domain's id gets
 * -EPERM and the connection closes. The reply gives the domain; for an
 * EVTCHN connection it carries one descriptor, the read end of a pipe on
 * which each port that fires arrives as a uint32_t, as read() on
 * /dev/xen/evtchn gives them (the port is then masked until UNMASK).
 */
struct xensim_hv_hello {
    uint32_t op;
    uint32_t magic;                 /* XENSIM_HV_MAGIC */
    uint32_t version;               /* XENSIM_HV_VERSION */
    uint32_t kind;                  /* enum xensim_hv_kind */
    uint32_t domid;
    uint32_t flags;                 /* 0 */
};
struct xensim_hv_hello_rep {
    int32_t rc;
    uint32_t domid;
    uint32_t max_ports;             /* ports one EVTCHN connection may bind */
    uint32_t version;
};

/* Requests with up to four arguments; their reply is struct xensim_hv_rep. */
struct xensim_hv_req {
    uint32_t op;
    uint32_t a, b, c, d;
};
struct xensim_hv_rep {
    int32_t rc;
    uint32_t pad;
};

/*
 * MAP: count grants pinned for this domain, all or none, as gntdev's
 * mmap does. notify_offset (a byte of the mapping, or XENSIM_HV_NONE) is
 * cleared and notify_port (one of this domain's ports that an EVTCHN
 * connection of it bound, or XENSIM_HV_NONE) is sent on when the mapping
 * goes: at UNMAP or at the connection's end. A read-only mapping cannot
 * have a byte to clear. rc: the map id (> 0), or -EINVAL when a page
 * failed (each page's status says why, with Xen's GNTST_*), -E2BIG for
 * count 0 or over XENSIM_HV_MAX_PAGES.
 * On success the reply carries one descriptor per distinct granter
 * (read-only ones for a read-only map): page i is at pages[i].offset of
 * descriptor pages[i].fd, for mmap(MAP_SHARED).
 */
#define XENSIM_HV_MAP_READONLY 1u
struct xensim_hv_gref {
    uint32_t domid;
    uint32_t ref;
};
struct xensim_hv_map {
    uint32_t op;
    uint32_t count;
    uint32_t flags;                 /* XENSIM_HV_MAP_* */
    uint32_t notify_offset;
    uint32_t notify_port;
    uint32_t pad;
    struct xensim_hv_gref refs[];   /* count of them */
};
struct xensim_hv_page {
    int16_t status;                 /* GNTST_* */
    uint16_t fd;                    /* index among the reply's descriptors */
    uint32_t pad;
    uint64_t offset;
};
struct xensim_hv_map_rep {
    int32_t rc;
    uint32_t count;
    uint32_t nr_fds;
    uint32_t pad;
    struct xensim_hv_page pages[];  /* count of them */
};

/*
 * SHARE: count fresh zeroed pages of this domain's memory, each granted to
 * domid (writable if XENSIM_HV_SHARE_WRITABLE), as gntalloc gives them.
 * notify_offset and notify_port as for MAP, acted on at UNSHARE or at the
 * connection's end. rc: the share id (> 0) or a negative errno (-ENOMEM
 * when the domain has no free page). The reply carries one descriptor,
 * the domain's memory: page i is at pages[i].offset, granted as
 * pages[i].ref.
 */
#define XENSIM_HV_SHARE_WRITABLE 1u
struct xensim_hv_share {
    uint32_t op;
    uint32_t domid;
    uint32_t count;
    uint32_t flags;                 /* XENSIM_HV_SHARE_* */
    uint32_t notify_offset;
    uint32_t notify_port;
};
struct xensim_hv_spage {
    uint32_t ref;
    uint32_t pad;
    uint64_t offset;
};
struct xensim_hv_share_rep {
    int32_t rc;
    uint32_t count;
    struct xensim_hv_spage pages[];  /* count of them */
};

/*
 * DOMAIN_INFO: the domains with ids from a up, at most b (and at most
 * XENSIM_HV_MAX_INFOS), lowest first, as XEN_DOMCTL_getdomaininfo walks
 * them; rc = how many. Privileged domains only (-EPERM), as Xen's XSM
 * default decides.
 */
#define XENSIM_HV_DOM_DYING       (1u << 0)
#define XENSIM_HV_DOM_SHUTDOWN    (1u << 1)
#define XENSIM_HV_DOM_PAUSED      (1u << 2)
#define XENSIM_HV_DOM_RUNNING     (1u << 3)
#define XENSIM_HV_DOM_PRIVILEGED  (1u << 4)
struct xensim_hv_dominfo {
    uint32_t domid;
    uint32_t flags;                 /* XENSIM_HV_DOM_* */
    uint32_t shutdown_reason;       /* SHUTDOWN_*, with XENSIM_HV_DOM_SHUTDOWN */
    uint32_t nr_vcpus;
    uint64_t nr_pages;
};
struct xensim_hv_info_rep {
    int32_t rc;
    uint32_t pad;
    struct xensim_hv_dominfo doms[];  /* rc of them */
};

/*
 * DOMAIN_NEW: a new running domain, privileged callers only (-EPERM),
 * that lives as long as this connection: its end destroys the domain,
 * as the death of the process that asked for it. Zero fields take the
 * simulator's defaults. A connection asks for one domain at most
 * (-EEXIST).
 */
struct xensim_hv_domain_new {
    uint32_t op;
    uint32_t nr_pages;
    uint32_t max_maptrack_frames;
    uint32_t pad;
    char name[64];                  /* NUL-terminated; "" gives "domN" */
};

/*
 * FOREIGN_MAP: frames of another domain's memory, by frame number, as
 * privcmd's IOCTL_PRIVCMD_MMAPBATCH_V2 maps them for
 * libxenforeignmemory (QEMU maps console 0's ring so: a frame, not a
 * grant). Privileged callers only (-EPERM), or a domain's own frames;
 * -ESRCH for no such domain; -E2BIG for count 0 or over
 * XENSIM_HV_MAX_PAGES. Each page answers on its own, as the batch's err[]
 * does: status 0, or -EINVAL for a frame the domain does not have (Xen
 * refuses to map a page the domain does not own). rc is 0 when every
 * page mapped, else how many failed (> 0). The reply carries one
 * descriptor, the
 * domain's memory (read-only for XENSIM_HV_MAP_READONLY), with each
 * mapped page's offset in pages[i]. Nothing is held in the simulator: the
 * mapping is the process's until it unmaps, as a privcmd mapping is the
 * process's own address space.
 */
struct xensim_hv_fmap {
    uint32_t op;
    uint32_t domid;
    uint32_t count;
    uint32_t flags;                 /* XENSIM_HV_MAP_READONLY */
    uint64_t frames[];              /* count of them */
};

#ifdef __cplusplus
}
#endif
#endif
