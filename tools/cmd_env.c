/*
 * `xensim env` prints the shell lines that make an unmodified Xen program
 * a process of domain N of a running `xensim serve --dir DIR`: the
 * drop-in libraries first on LD_LIBRARY_PATH, the domain's hypervisor
 * socket, and XenStore (dom0: the daemon's socket; a guest: its own
 * store ring, through dir/dom/N/xenstore). `xensim run` asks the
 * simulator for a new domain and runs a program as it; the domain lives
 * as long as the program. Relies on <xensim/hvsock.h> only.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xensim/hvsock.h>
#include "commands.h"
#include "unix_socket.h"

#ifndef XENSIM_LIBXEN_DIR
#define XENSIM_LIBXEN_DIR "/usr/local/lib/xensim"
#endif

/* The drop-ins: $XENSIM_LIBDIR, else those of the build tree this xensim
 * runs from (tools/xensim, or libtool's tools/.libs/lt-xensim), else the
 * installed ones. */
const char *xensim_libxen_dir(char *buf, size_t size)
{
    const char *env = getenv("XENSIM_LIBDIR");
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    static const char *const up[] = { "/../libxen", "/../../libxen" };
    ssize_t n;

    if (env && *env)
        return env;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        for (size_t i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
            snprintf(probe, sizeof(probe), "%s%s/libxenevtchn.so.1", dir, up[i]);
            if (access(probe, R_OK) == 0) {
                snprintf(probe, sizeof(probe), "%s%s", dir, up[i]);
                if (realpath(probe, buf))
                    return buf;
            }
        }
    }
    snprintf(buf, size, "%s", XENSIM_LIBXEN_DIR);
    return buf;
}

static void usage_env(void)
{
    fprintf(stderr, "usage: xensim env --dir DIR --domid N\n"
                    "       xensim run --dir DIR [--name NAME] [--pages N] -- PROGRAM [ARGS]\n");
}

/* Quotes s for the shell, in single quotes. */
static void put_quoted(const char *s)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

static int domain_paths(const char *dir, long domid, char *hv, char *xs, size_t size)
{
    char abs[PATH_MAX];
    if (!realpath(dir, abs))
        return -errno;
    snprintf(hv, size, "%s/dom/%ld/hypervisor", abs, domid);
    if (domid)
        snprintf(xs, size, "%s/dom/%ld/xenstore", abs, domid);
    else
        snprintf(xs, size, "%s/socket", abs);
    return 0;
}

int xensim_cmd_env(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domid", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    long domid = -1;
    char hv[PATH_MAX + 64], xs[PATH_MAX + 64], lib[PATH_MAX];
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        if (ch == 'd') {
            dir = optarg;
        } else if (ch == 'i') {
            domid = strtol(optarg, &end, 10);
            if (*end || !*optarg || domid < 0 || domid >= DOMID_FIRST_RESERVED)
                domid = -2;
        } else {
            usage_env();
            return 2;
        }
    }
    if (!dir || domid < 0 || optind != argc) {
        usage_env();
        return 2;
    }
    if (domain_paths(dir, domid, hv, xs, sizeof(hv))) {
        fprintf(stderr, "xensim env: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    fputs("export LD_LIBRARY_PATH=", stdout);
    put_quoted(xensim_libxen_dir(lib, sizeof(lib)));
    fputs("${LD_LIBRARY_PATH:+:\"$LD_LIBRARY_PATH\"}\n", stdout);
    printf("export %s=", XENSIM_HV_PATH_ENV);
    put_quoted(hv);
    fputs("\nexport XENSTORED_PATH=", stdout);
    put_quoted(xs);
    fputs("\nunset XENSTORED_RUNDIR XENSIM_DOMID\n", stdout);
    return 0;
}

/* A new domain on dom0's hypervisor socket; the returned connection is
 * its life. */
static int domain_new(const char *hv0, const char *name, unsigned long pages, int *domid)
{
    struct xensim_hv_hello h = {
        .op = XENSIM_HV_OP_HELLO, .magic = XENSIM_HV_MAGIC, .version = XENSIM_HV_VERSION,
        .kind = XENSIM_HV_PRIVCMD, .domid = DOMID_SELF,
    };
    struct xensim_hv_hello_rep hr;
    struct xensim_hv_domain_new req = { .op = XENSIM_HV_OP_DOMAIN_NEW, .nr_pages = pages };
    struct xensim_hv_rep rep;

    snprintf(req.name, sizeof(req.name), "%s", name ? name : "");
    int fd = xensim_unix_connect_type(hv0, SOCK_SEQPACKET | SOCK_CLOEXEC);
    if (fd < 0)
        return fd;
    if (send(fd, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h) ||
        recv(fd, &hr, sizeof(hr), 0) != sizeof(hr) || hr.rc ||
        send(fd, &req, sizeof(req), MSG_NOSIGNAL) != sizeof(req) ||
        recv(fd, &rep, sizeof(rep), 0) != sizeof(rep) || rep.rc < 0) {
        int err = hr.rc < 0 ? hr.rc : rep.rc < 0 ? rep.rc : -errno;
        close(fd);
        return err ? err : -EPROTO;
    }
    *domid = rep.rc;
    return fd;
}

static pid_t child;

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

int xensim_domain_environ(const char *dir, int domid)
{
    char hv[PATH_MAX + 64], xs[PATH_MAX + 64], lib[PATH_MAX], id[16];

    if (domain_paths(dir, domid, hv, xs, sizeof(hv)))
        return -errno;
    const char *old = getenv("LD_LIBRARY_PATH"), *ldir = xensim_libxen_dir(lib, sizeof(lib));
    char *ld = malloc(strlen(ldir) + (old ? strlen(old) : 0) + 2);
    if (!ld)
        return -ENOMEM;
    sprintf(ld, "%s%s%s", ldir, old && *old ? ":" : "", old && *old ? old : "");
    snprintf(id, sizeof(id), "%d", domid);
    setenv("LD_LIBRARY_PATH", ld, 1);
    setenv(XENSIM_HV_PATH_ENV, hv, 1);
    setenv("XENSTORED_PATH", xs, 1);
    setenv("XENSIM_DOMID", id, 1);
    unsetenv("XENSTORED_RUNDIR");
    free(ld);
    return 0;
}

int xensim_run_program(const char *verb, char *const argv[])
{
    int status;

    signal(SIGINT, forward);
    signal(SIGTERM, forward);
    child = fork();
    if (child < 0) {
        fprintf(stderr, "xensim %s: fork: %s\n", verb, strerror(errno));
        return 1;
    }
    if (!child) {
        /* The program is of the domain this process holds: if this process
         * is killed outright, the domain or the device model's guest goes,
         * and so does the program. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execvp(argv[0], argv);
        fprintf(stderr, "xensim %s: %s: %s\n", verb, argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    child = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int xensim_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "name", required_argument, NULL, 'n' },
        { "pages", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *name = NULL;
    unsigned long pages = 0;
    char hv[PATH_MAX + 64], xs[PATH_MAX + 64];
    int ch, domid = 0;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'n')
            name = optarg;
        else if (ch == 'p')
            pages = strtoul(optarg, NULL, 10);
        else {
            usage_env();
            return 2;
        }
    }
    if (!dir || optind >= argc) {
        usage_env();
        return 2;
    }
    if (domain_paths(dir, 0, hv, xs, sizeof(hv))) {
        fprintf(stderr, "xensim run: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int fd = domain_new(hv, name, pages, &domid);
    if (fd < 0) {
        fprintf(stderr, "xensim run: no new domain: %s\n", strerror(-fd));
        return 1;
    }
    if (xensim_domain_environ(dir, domid)) {
        close(fd);
        return 1;
    }
    int rc = xensim_run_program("run", argv + optind);
    /* The domain goes with its program. */
    close(fd);
    return rc;
}
