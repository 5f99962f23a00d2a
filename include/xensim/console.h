/*
 * The PV console: each domain's static console ring (struct
 * xencons_interface from <xen/io/console.h>, built with the domain, grant 0,
 * start_info.console.domU) seen from both ends.
 * Guest side: what guest code on a vCPU calls to print and to read input.
 * Back end: a xenconsoled-like host thread acting as a dom0 process.
 */
#ifndef XENSIM_CONSOLE_H
#define XENSIM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Guest side; every call runs on a vCPU of the domain whose console it is.
 * Writes as much of buf as the ring takes now and notifies the back end:
 * returns the bytes taken (0 when the ring is full), or a negative errno
 * (-EPERM off a vCPU, -ENODEV for a domain without a console). */
ssize_t xensim_console_try_write(const void *buf, size_t len);
/* Writes all of buf, yielding while the ring is full. */
ssize_t xensim_console_write(const void *buf, size_t len);
/* Takes up to len bytes of input now; returns how many (0: none). */
ssize_t xensim_console_read(void *buf, size_t len);
/* Calls handler (in upcall context, on this vCPU) when the back end
 * notifies: new input, or output space freed. NULL unbinds. */
typedef void (*xensim_console_handler_t)(void *arg);
int xensim_console_bind(xensim_console_handler_t handler, void *arg);

/* Back end: xenconsoled. One per simulator, a host thread in dom0. */
struct xensim_consoled;

struct xensim_consoled_config {
    const char *log_dir;     /* NULL: logs kept in memory only; else
                              * <log_dir>/guest-<name>.log per domain */
    FILE *terminal;          /* NULL: quiet; else each line, "[name] ..." */
    size_t log_limit;        /* bytes kept in memory per domain; 0: 1 MiB */
    /* NULL, or called with each piece of a domain's output as it is
     * gathered, on the daemon's thread (it must not call the daemon). */
    void (*output)(domid_t domid, const char *buf, size_t len, void *arg);
    void *output_arg;
};

/* Starts the daemon; it attaches to every running domU (now and as they
 * are built) and detaches as they die. NULL with errno set on failure. */
struct xensim_consoled *xensim_consoled_start(struct xensim *sim,
                                              const struct xensim_consoled_config *cfg);
/* Detaches from every console (unbinds, unmaps) and stops the thread. */
void xensim_consoled_stop(struct xensim_consoled *cd);
/* Makes the daemon rescan the domain list and drain every ring now; returns
 * once it has. After it, a live domU is attached and its output gathered. */
void xensim_consoled_sync(struct xensim_consoled *cd);
/* Copies the domain's gathered output (the tail, NUL-terminated) into buf;
 * returns its full length, or -ENOENT if the daemon never saw the domain.
 * Logs of dead domains are kept until the daemon stops. */
ssize_t xensim_consoled_log(struct xensim_consoled *cd, domid_t domid,
                            char *buf, size_t size);
/* Blocks until the domain's output contains needle; 0, or -ETIMEDOUT after
 * timeout_ms (a safety net for tests, not a timing assumption). */
int xensim_consoled_wait_for(struct xensim_consoled *cd, domid_t domid,
                             const char *needle, unsigned int timeout_ms);
/* Queues input for the domain's ring (delivered as space allows). */
int xensim_consoled_input(struct xensim_consoled *cd, domid_t domid,
                          const void *buf, size_t len);
/* How many times a domain's ring claimed impossible indices. */
unsigned int xensim_consoled_bad_indices(struct xensim_consoled *cd, domid_t domid);
/* Consoles the daemon currently holds (mapped and bound). */
unsigned int xensim_consoled_attached(struct xensim_consoled *cd);

#ifdef __cplusplus
}
#endif
#endif
