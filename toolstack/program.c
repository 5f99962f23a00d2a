/*
 * A xenstored program (Xen's own C xenstored) as the simulator's
 * dom0 xenstored: dom0's kernel makes its store ring, then the program
 * runs as a process of dom0 with what it expects of a Linux dom0, in a
 * mount namespace of its own: /proc/xen/xsd_port, and /proc/xen/xsd_kva,
 * which C xenstored maps at offset 0 and which is therefore dom0's memory
 * file, whose page 0 is the ring (xenbus/'s xb_local_init). The toolstack
 * (xenstored.c) then reaches it on its socket like the built-in daemon.
 * Relies on xensim.h, hostdev.h (dom0's memory file) and xenstored.c.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xensim/hostdev.h>
#include <xensim/hvsock.h>
#include "ts_xenstored.h"
#include "unix_socket.h"

extern char **environ;

/* How long the program may take to answer on its socket at start. */
#define PROG_START_MS 30000
#define PROG_ARGS_MAX 64
#define PROG_ENV_MAX 512

struct ts_program {
    pid_t pid;
    char run_dir[PATH_MAX];
    char socket[PATH_MAX];
    char stage[PATH_MAX];          /* run_dir/proc: the namespace's /proc, built here */
};

/*
 * Everything the child needs, formatted before fork(): between fork()
 * and exec() a child of a threaded process may only make system calls.
 */
struct prog_child {
    const char *path;
    char *argv[PROG_ARGS_MAX + 3];
    char *envp[PROG_ENV_MAX + 4];
    char env_lib[PATH_MAX + 32], env_hv[PATH_MAX + 32], env_run[PATH_MAX + 32];
    char stage[PATH_MAX], stage_xen[PATH_MAX + 8], stage_host[PATH_MAX + 8];
    char port_file[PATH_MAX + 16], kva_link[PATH_MAX + 16], kva_target[64];
    char port_text[16], uid_map[32], gid_map[32];
    int memfd, log_fd, err_pipe;
    pid_t parent;
};

static int prog_connect(void *daemon)
{
    return xensim_unix_connect(((struct ts_program *)daemon)->socket);
}

/* C xenstored keeps no totals a client can ask for. */
static int prog_usage(void *daemon, struct xensim_xenstore_usage *u)
{
    (void)daemon;
    (void)u;
    return -EOPNOTSUPP;
}

static void prog_reap(struct ts_program *p)
{
    int status;

    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    /* It does not remove its socket; nothing was mounted here. */
    unlink(p->socket);
    rmdir(p->stage);
    free(p);
}

static void prog_stop(void *daemon)
{
    prog_reap(daemon);
}

/* Its tree is in another process, seen only through the protocol. */
static int prog_visit(void *daemon, const struct xensim_xenstore_visitor *v, void *arg)
{
    (void)daemon;
    (void)v;
    (void)arg;
    return -EOPNOTSUPP;
}

static const struct ts_daemon_ops prog_ops = {
    .connect = prog_connect, .usage = prog_usage, .stop = prog_stop, .visit = prog_visit,
};

/* In the child: reports errno to the parent and leaves. */
static void child_fail(const struct prog_child *c)
{
    int err = errno;

    if (write(c->err_pipe, &err, sizeof(err)) < 0)
        _exit(126);
    _exit(127);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * A mount namespace of the child's own: as root one for mounts only;
 * otherwise, where the kernel allows it, inside a user namespace that
 * maps the caller's ids to root, which may mount there.
 */
static void child_namespace(const struct prog_child *c)
{
    if (unshare(CLONE_NEWNS) == 0)
        return;
    if (errno != EPERM || unshare(CLONE_NEWUSER | CLONE_NEWNS) ||
        write_file("/proc/self/setgroups", "deny") ||
        write_file("/proc/self/uid_map", c->uid_map) ||
        write_file("/proc/self/gid_map", c->gid_map))
        child_fail(c);
}

/*
 * The namespace's /proc: a tmpfs with xen/xsd_port, and xen/xsd_kva, a
 * link through the host's procfs (bound at /proc/host) to the memory
 * file the child keeps open across exec: a memfd cannot be bind-mounted,
 * but /proc/self/fd/N opens it again. Built under run_dir, then moved
 * over /proc.
 */
static void child_proc(const struct prog_child *c)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("xensim-proc", c->stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0755,size=64k") ||
        mkdir(c->stage_xen, 0755) || mkdir(c->stage_host, 0555) ||
        mount("/proc", c->stage_host, NULL, MS_BIND | MS_REC, NULL) ||
        write_file(c->port_file, c->port_text) || symlink(c->kva_target, c->kva_link) ||
        mount(c->stage, "/proc", NULL, MS_MOVE, NULL))
        child_fail(c);
}

static void child_main(const struct prog_child *c)
{
    sigset_t none;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    /* xenstored is dom0's: it goes when the simulator does, even if the
     * simulator is killed (the signal follows the thread that forked). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != c->parent)
        _exit(127);
    /* Only the descriptors named here cross exec. */
    syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(c->log_fd, 1) < 0 || dup2(c->log_fd, 2) < 0 ||
        fcntl(c->memfd, F_SETFD, 0))
        child_fail(c);
    /* The simulator blocks and ignores signals for its own threads. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    child_namespace(c);
    child_proc(c);
    execve(c->path, c->argv, c->envp);
    child_fail(c);
}

/* Environment: the caller's, without what would point the program
 * elsewhere, then ours. */
static void child_env(struct prog_child *c, const struct xensim_xenstore_program *p)
{
    static const char *const drop[] = {
        "XENSTORED_PATH=", "XENSTORED_RUNDIR=", "LD_LIBRARY_PATH=", "LD_PRELOAD=",
        "XENSIM_HV_PATH=",
    };
    unsigned int n = 0;

    for (char **e = environ; *e && n < PROG_ENV_MAX; e++) {
        bool keep = true;

        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
            keep = keep && strncmp(*e, drop[i], strlen(drop[i]));
        if (keep)
            c->envp[n++] = *e;
    }
    snprintf(c->env_lib, sizeof(c->env_lib), "LD_LIBRARY_PATH=%s", p->lib_dir);
    snprintf(c->env_hv, sizeof(c->env_hv), "%s=%s/dom/0/hypervisor", XENSIM_HV_PATH_ENV,
             p->hv_dir);
    snprintf(c->env_run, sizeof(c->env_run), "XENSTORED_RUNDIR=%s", p->run_dir);
    c->envp[n++] = c->env_lib;
    c->envp[n++] = c->env_hv;
    c->envp[n++] = c->env_run;
    c->envp[n] = NULL;
}

static int child_prepare(struct prog_child *c, const struct xensim_xenstore_program *p,
                         const struct ts_program *tp, evtchn_port_t port)
{
    unsigned int n = 0;

    c->path = p->path;
    c->argv[n++] = (char *)p->path;
    c->argv[n++] = (char *)"--no-fork";
    for (unsigned int i = 0; p->args && p->args[i]; i++) {
        if (n >= PROG_ARGS_MAX + 2)
            return -E2BIG;
        c->argv[n++] = (char *)p->args[i];
    }
    c->argv[n] = NULL;
    child_env(c, p);
    snprintf(c->stage, sizeof(c->stage), "%s", tp->stage);
    snprintf(c->stage_xen, sizeof(c->stage_xen), "%s/xen", tp->stage);
    snprintf(c->stage_host, sizeof(c->stage_host), "%s/host", tp->stage);
    snprintf(c->port_file, sizeof(c->port_file), "%s/xen/xsd_port", tp->stage);
    snprintf(c->kva_link, sizeof(c->kva_link), "%s/xen/xsd_kva", tp->stage);
    snprintf(c->kva_target, sizeof(c->kva_target), "../host/self/fd/%d", c->memfd);
    snprintf(c->port_text, sizeof(c->port_text), "%u", port);
    snprintf(c->uid_map, sizeof(c->uid_map), "0 %u 1", (unsigned int)getuid());
    snprintf(c->gid_map, sizeof(c->gid_map), "0 %u 1", (unsigned int)getgid());
    c->parent = getpid();
    return 0;
}

static void sleep_ms(unsigned int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

/* Waits for the program's socket to take a connection; -ECHILD if it
 * exited first. There is nothing to wait on but the socket itself. */
static int prog_wait_ready(struct ts_program *tp)
{
    for (unsigned int waited = 0; waited < PROG_START_MS; waited += 2) {
        int status, fd = xensim_unix_connect(tp->socket);

        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (waitpid(tp->pid, &status, WNOHANG) == tp->pid) {
            tp->pid = 0;
            return -ECHILD;
        }
        sleep_ms(2);
    }
    return -ETIMEDOUT;
}

/* Forks and execs; returns once exec succeeded, or the child's errno. */
static int prog_spawn(struct ts_program *tp, struct prog_child *c)
{
    int pipefd[2], err = 0;
    ssize_t n;

    if (pipe2(pipefd, O_CLOEXEC))
        return -errno;
    c->err_pipe = pipefd[1];
    tp->pid = fork();
    if (tp->pid == 0)
        child_main(c);
    close(pipefd[1]);
    if (tp->pid < 0) {
        err = -errno;
        close(pipefd[0]);
        return err;
    }
    /* EOF: exec closed the pipe; else the errno of the step that failed. */
    while ((n = read(pipefd[0], &err, sizeof(err))) < 0 && errno == EINTR)
        ;
    close(pipefd[0]);
    if (n == sizeof(err)) {
        while (waitpid(tp->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        tp->pid = 0;
        return -err;
    }
    return 0;
}

int xensim_xenstore_start_program(struct xensim *sim, const struct xensim_xenstore_program *p)
{
    struct prog_child *c = NULL;
    struct ts_program *tp = NULL;
    xen_pfn_t pfn;
    evtchn_port_t port;
    int err;

    if (!sim || !p || !p->path || !p->hv_dir || !p->lib_dir || !p->run_dir)
        return -EINVAL;
    if (ts_running(sim))
        return -EEXIST;
    if (access(p->path, X_OK))
        return -errno;
    if (mkdir(p->run_dir, 0755) && errno != EEXIST)
        return -errno;
    tp = calloc(1, sizeof(*tp));
    c = calloc(1, sizeof(*c));
    if (!tp || !c) {
        err = -ENOMEM;
        goto fail;
    }
    c->memfd = c->log_fd = -1;
    snprintf(tp->run_dir, sizeof(tp->run_dir), "%s", p->run_dir);
    if (snprintf(tp->socket, sizeof(tp->socket), "%s/socket", p->run_dir) >= 108) {
        err = -ENAMETOOLONG;        /* sun_path */
        goto fail;
    }
    snprintf(tp->stage, sizeof(tp->stage), "%s/proc", p->run_dir);
    if (mkdir(tp->stage, 0755) && errno != EEXIST) {
        err = -errno;
        goto fail;
    }
    unlink(tp->socket);
    /* dom0's kernel at boot, before xenstored runs. */
    if ((err = ts_dom0_ring(sim, &pfn, &port)))
        goto fail;
    if (pfn != 0) {
        err = -EBUSY;               /* dom0 took pages first: not at offset 0 */
        goto fail;
    }
    if ((c->memfd = xensim_domain_memory_fd(sim, 0, false)) < 0) {
        err = c->memfd;
        goto fail;
    }
    c->log_fd = open(p->log_path ? p->log_path : "/dev/null",
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->log_fd < 0) {
        err = -errno;
        goto fail;
    }
    if ((err = child_prepare(c, p, tp, port)) || (err = prog_spawn(tp, c)) ||
        (err = prog_wait_ready(tp)))
        goto fail;
    close(c->memfd);
    close(c->log_fd);
    free(c);
    err = ts_attach(sim, &prog_ops, tp);
    if (err)
        prog_reap(tp);
    return err;
fail:
    if (c && c->memfd >= 0)
        close(c->memfd);
    if (c && c->log_fd >= 0)
        close(c->log_fd);
    free(c);
    if (tp)
        prog_reap(tp);
    return err;
}
