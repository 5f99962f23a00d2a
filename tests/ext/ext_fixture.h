/*
 * The external-domain suites' fixture: a simulator with XenStore and the
 * external server in this process, under a scratch directory; processes
 * started as one of its domains (the drop-in libraries first on their
 * LD_LIBRARY_PATH); their output read line by line; and the teardown
 * check, after the server has dealt with every process's end.
 */
#ifndef XENSIM_TEST_EXT_FIXTURE_H
#define XENSIM_TEST_EXT_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>
#include <xensim/external.h>
#include <xensim/xensim.h>
#include "harness.h"

struct ext_fix {
    struct xensim *sim;
    struct xensim_external *ext;
    char dir[64];
};

/* th_sim_new(), XenStore on dir/socket, the external server. */
void ext_fix_start(struct ext_fix *f);
/* Syncs the server, asserts it holds nothing, stops it, runs the
 * teardown check and frees the simulator. */
void ext_fix_stop(struct ext_fix *f);
/* Fails the test unless the server holds nothing. */
void ext_fix_assert_idle(struct ext_fix *f);

/* A process of the simulation. */
struct ext_proc {
    pid_t pid;
    int out;                        /* its stdout, read by ext_proc_line() */
    int in;                         /* its stdin, or -1 */
    char buf[8192];
    size_t len;
};

/* Starts argv[0] (a path) as a process of domid: XENSIM_HV_PATH and
 * XENSTORED_PATH for that domain, the drop-ins first. extra_env is
 * NULL or NAME=VALUE strings, NULL-terminated. keep_fd, if >= 0, stays
 * open in the child under its own number. with_stdin gives it a pipe. */
void ext_spawn(struct ext_fix *f, domid_t domid, char *const argv[], char *const extra_env[],
               int keep_fd, bool with_stdin, struct ext_proc *p);
/* Reads its stdout until a line containing needle (true), or until it
 * ends or timeout_ms passes (false). The line goes in line if not NULL. */
bool ext_proc_line(struct ext_proc *p, const char *needle, char *line, size_t size,
                   unsigned int timeout_ms);
/* Waits for it to end; its exit status (128 + signal if killed). */
int ext_proc_wait(struct ext_proc *p);
void ext_proc_kill(struct ext_proc *p, int sig);

/* The path of a built file (tests/ext/vchantest ...), absolute. */
const char *ext_built(const char *rel, char *buf, size_t size);

/*
 * Debian's xen-utils-4.17, unpacked into the build tree (never
 * installed): the path of a program in it, or NULL when the package
 * cannot be fetched. ext_require_xen_utils() exits the test program with
 * 77 (skip) in that case, or fails it when CI=true.
 */
const char *ext_xen_utils(const char *prog, char *buf, size_t size);
void ext_require_xen_utils(const char *prog);
/* Debian's qemu-system-xen, the same way (tests/ext/qemu): the path of
 * xen-qemu-system-i386, or NULL. */
const char *ext_qemu(char *buf, size_t size);

#endif
