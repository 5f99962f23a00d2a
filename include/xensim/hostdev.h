/*
 * Host threads acting as user-space processes of a domain (normally dom0),
 * the way xenstored or a vchan program uses /dev/xen/evtchn and
 * /dev/xen/gntdev: event channels whose events arrive on a file descriptor,
 * and grant mappings made on the process's behalf.
 * Like the Linux driver, a port is masked and cleared before it is reported
 * by xensim_evtchn_dev_pending(); unmask it to hear it again.
 */
#ifndef XENSIM_HOSTDEV_H
#define XENSIM_HOSTDEV_H

#include <stdbool.h>
#include <xensim/xensim.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim_evtchn_dev;
struct xensim_gnttab_dev;

/* NULL with errno set (ESRCH: no such domain). */
struct xensim_evtchn_dev *xensim_evtchn_dev_open(struct xensim *sim, domid_t domid);
/* Closes every port the handle bound. */
void xensim_evtchn_dev_close(struct xensim_evtchn_dev *dev);
/* Readable (poll) while a reported port is waiting. */
int xensim_evtchn_dev_fd(struct xensim_evtchn_dev *dev);
/* Each returns the local port (> 0) or a negative Xen errno. */
long xensim_evtchn_dev_bind_unbound(struct xensim_evtchn_dev *dev, domid_t remote);
long xensim_evtchn_dev_bind_interdomain(struct xensim_evtchn_dev *dev, domid_t remote,
                                        evtchn_port_t remote_port);
long xensim_evtchn_dev_bind_virq(struct xensim_evtchn_dev *dev, uint32_t virq);
int xensim_evtchn_dev_notify(struct xensim_evtchn_dev *dev, evtchn_port_t port);
int xensim_evtchn_dev_unbind(struct xensim_evtchn_dev *dev, evtchn_port_t port);
/* The next port that fired (it is now masked), or -EAGAIN if none. */
long xensim_evtchn_dev_pending(struct xensim_evtchn_dev *dev);
int xensim_evtchn_dev_unmask(struct xensim_evtchn_dev *dev, evtchn_port_t port);
/*
 * A handle for a process outside the simulator, as /dev/xen/evtchn gives
 * one: each port that fires is written to fd as a 4-byte port number
 * (native order) instead of being queued, so pending() and fd() do not
 * apply. The handle owns fd (closed with it). Writes never block: make fd
 * non-blocking, hold room for every port the domain may use (4 bytes
 * each: at most one is written per port until it is unmasked), and keep
 * a read end open while the handle lives, so that a reader gone raises
 * no SIGPIPE.
 */
struct xensim_evtchn_dev *xensim_evtchn_dev_open_fd(struct xensim *sim, domid_t domid, int fd);

struct xensim_gnttab_dev *xensim_gnttab_dev_open(struct xensim *sim, domid_t domid);
/* Unmaps whatever the handle still maps. */
void xensim_gnttab_dev_close(struct xensim_gnttab_dev *dev);
/* Maps one granted page; NULL with *status = GNTST_* on failure. */
void *xensim_gnttab_dev_map(struct xensim_gnttab_dev *dev, domid_t granter,
                            grant_ref_t ref, bool readonly, int16_t *status);
int xensim_gnttab_dev_unmap(struct xensim_gnttab_dev *dev, void *addr);
/*
 * For a process outside the simulator that maps the page itself (gntdev's
 * mmap): pins the grant for the handle's domain, with Xen's checks and
 * its maptrack limit, and makes no mapping here. *frame is the granter's
 * frame: map it from xensim_domain_memory_fd(granter), at offset
 * frame << XEN_PAGE_SHIFT. The pin holds the granter (and its memory)
 * until unpinned. Returns GNTST_*; *handle is for unpin.
 */
int16_t xensim_gnttab_dev_pin(struct xensim_gnttab_dev *dev, domid_t granter, grant_ref_t ref,
                              bool readonly, grant_handle_t *handle, xen_pfn_t *frame);
/* 0, or -EINVAL if the handle pinned no such thing. */
int xensim_gnttab_dev_unpin(struct xensim_gnttab_dev *dev, grant_handle_t handle);

/*
 * A new descriptor of a domain's memory, for a process that maps some of
 * it MAP_SHARED: frame f is at offset f << XEN_PAGE_SHIFT. readonly
 * gives one opened O_RDONLY, so that a PROT_WRITE mapping of it fails.
 * Close-on-exec; the caller closes it. -ESRCH for no such domain.
 */
int xensim_domain_memory_fd(struct xensim *sim, domid_t domid, bool readonly);

#ifdef __cplusplus
}
#endif
#endif
