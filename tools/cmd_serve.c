/*
 * `xensim serve` runs a simulator with dom0 and N idle guests, its
 * XenStore on DIR/socket, and each domain's sockets for external
 * processes under DIR/dom/N (cmd_env.c prints what points Xen's tools at
 * them). XenStore is the built-in daemon, or with --xenstored PATH that
 * program (Xen's C xenstored) as a process of dom0, whose run directory
 * is DIR/xenstored (its socket, with DIR/socket a link to it, and its
 * output in DIR/xenstored/log). Relies on the embedding API and the
 * daemon's (xenstored.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/external.h>
#include <xensim/xensim.h>
#include <xensim/xenstored.h>
#include "commands.h"
#include "control.h"
#include "web.h"

static int parse_args(int argc, char **argv, const char **dir, long *num, const char *numopt,
                      bool *seeded, const char **xenstored)
{
    static const struct option opts[] = {
        { "seed", required_argument, NULL, 's' },
        { "dir", required_argument, NULL, 'd' },
        { "domains", required_argument, NULL, 'n' },
        { "domid", required_argument, NULL, 'i' },
        { "xenstored", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;

        switch (ch) {
        case 'd':
            *dir = optarg;
            break;
        case 's':
            /* Any seed but 0 asks for a deterministic run. */
            *seeded = strtoull(optarg, &end, 0) != 0 || *end;
            break;
        case 'x':
            *xenstored = optarg;
            break;
        case 'n':
        case 'i':
            if ((ch == 'n') != !strcmp(numopt, "domains"))
                return -1;
            *num = strtol(optarg, &end, 10);
            if (*end || !*optarg || *num < 0 || *num >= DOMID_FIRST_RESERVED)
                return -1;
            break;
        default:
            return -1;
        }
    }
    return *dir && optind == argc ? 0 : -1;
}

/* XenStore on dir/socket for dom0 and dir/socket.N for guest N, handed
 * to the toolstack. Each guest speaks on a socket of its own, so the
 * toolstack's xensim_xenstore_start() will not do: make the daemon, then
 * hand it over. 0, or -1 having said why. */
static int serve_xenstore(struct xensim *sim, const char *dir, long n)
{
    char path[PATH_MAX];
    struct xensim_xenstored_config xcfg = { .quiet = true, .sim = sim };
    struct xensim_xenstored *xsd = xensim_xenstored_create(&xcfg);

    if (!xsd) {
        fprintf(stderr, "xensim serve: cannot create XenStore: %s\n", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/socket", dir);
    if (xensim_xenstored_listen(xsd, path)) {
        fprintf(stderr, "xensim serve: cannot listen on %s: %s\n", path, strerror(errno));
        goto fail;
    }
    for (long i = 1; i <= n; i++) {
        snprintf(path, sizeof(path), "%s/socket.%ld", dir, i);
        if (xensim_xenstored_listen_as(xsd, path, i)) {
            fprintf(stderr, "xensim serve: cannot listen on %s\n", path);
            goto fail;
        }
    }
    if (xensim_xenstored_start(xsd) || xensim_xenstore_attach(sim, xsd)) {
        fprintf(stderr, "xensim serve: cannot start XenStore\n");
        goto fail;
    }
    return 0;   /* the toolstack's now: it stops with dom0 */
fail:
    xensim_xenstored_destroy(xsd);
    return -1;
}

/* The program at path as dom0's xenstored, run in DIR/xenstored;
 * DIR/socket leads to its socket, where dom0's tools look. */
static int program_start(struct xensim *sim, const char *dir, const char *path)
{
    char lib[PATH_MAX], run[PATH_MAX], log[PATH_MAX + 8], sock[PATH_MAX];
    struct xensim_xenstore_program p = {
        .path = path, .hv_dir = dir, .lib_dir = xensim_libxen_dir(lib, sizeof(lib)),
        .run_dir = run, .log_path = log,
    };
    int err;

    snprintf(run, sizeof(run), "%s/xenstored", dir);
    snprintf(log, sizeof(log), "%s/log", run);
    err = xensim_xenstore_start_program(sim, &p);
    if (err) {
        fprintf(stderr, "xensim serve: cannot run %s as xenstored: %s%s%s\n", path,
                xensim_strerror(err), err == -ECHILD ? "; see " : "", err == -ECHILD ? log : "");
        return -1;
    }
    snprintf(sock, sizeof(sock), "%s/socket", dir);
    unlink(sock);
    if (symlink("xenstored/socket", sock)) {
        fprintf(stderr, "xensim serve: cannot link %s: %s\n", sock, strerror(errno));
        return -1;
    }
    return 0;
}

/* Guests 1..n, each running serve_guest.c's kernel. 0, or -1 having said
 * why. */
static int serve_guests(struct xensim *sim, long n)
{
    for (long i = 1; i <= n; i++) {
        char name[32];
        struct xensim_domain_config cfg = { .name = name, .entry = xensim_serve_guest_main };

        snprintf(name, sizeof(name), "guest%ld", i);
        int dom = xensim_domain_create(sim, &cfg);
        if (dom < 0 || xensim_domain_unpause(sim, dom)) {
            fprintf(stderr, "xensim serve: cannot build guest %ld: %s\n", i,
                    xensim_strerror(dom < 0 ? dom : -EINVAL));
            return -1;
        }
    }
    return 0;
}

/* What serve runs, in the order it starts them. */
struct serve {
    const char *dir, *xenstored;
    long n;
    struct xensim *sim;
    struct xensim_external *ext;
    struct xensim_console_ptys *ptys;
    struct control *ctl;
    struct web *web;
};

/* dom0, XenStore, the hypervisor sockets and console ptys, the guests,
 * the control socket and the web view; -1 at the first that fails, with
 * what is started left for serve_stop(). */
static int serve_start(struct serve *s, const struct web_opts *wo)
{
    struct xensim_config scfg = { .quiet = true };
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    struct xensim_external_config ecfg = { .dir = s->dir };
    char path[PATH_MAX];

    /* The web view reads each raised port at its raise (demo_devices.c). */
    scfg.no_halt_polling = wo->spec != NULL;
    s->sim = xensim_create(&scfg);
    if (!s->sim || xensim_domain_create(s->sim, &d0) < 0 || xensim_domain_unpause(s->sim, 0)) {
        fprintf(stderr, "xensim serve: cannot create the simulator\n");
        return -1;
    }
    /* A xenstored program is a process of dom0: its hypervisor socket
     * comes first. The built-in daemon comes before the guests' sockets
     * (as external.h asks). */
    if (s->xenstored && (!(s->ext = xensim_external_start(s->sim, &ecfg)) ||
                         program_start(s->sim, s->dir, s->xenstored)))
        return -1;
    if (!s->xenstored && serve_xenstore(s->sim, s->dir, s->n))
        return -1;
    if ((!s->ext && !(s->ext = xensim_external_start(s->sim, &ecfg))) ||
        !(s->ptys = xensim_console_ptys_start(s->sim))) {
        fprintf(stderr, "xensim serve: cannot serve %s/dom: %s\n", s->dir, strerror(errno));
        return -1;
    }
    if (serve_guests(s->sim, s->n))
        return -1;
    /* `xensim domains|ports|grants --dir DIR` ask here. */
    snprintf(path, sizeof(path), "%s/control", s->dir);
    s->ctl = control_start(s->sim, path);
    if (!s->ctl) {
        fprintf(stderr, "xensim serve: cannot listen on %s\n", path);
        return -1;
    }
    /* The web view, if asked for: it traces only while a page is open. */
    if (wo->spec && !(s->web = web_start(wo, "xensim serve")))
        return -1;
    if (s->web) {
        web_attach(s->web, s->sim);
        printf("xensim serve: the web view is at %s\n", web_url(s->web));
    }
    return 0;
}

static void serve_stop(struct serve *s)
{
    char path[PATH_MAX];

    web_stop(s->web);
    control_stop(s->ctl);
    xensim_console_ptys_stop(s->ptys);
    /* xenstored first, while the domains it serves are all still there. */
    if (s->sim)
        xensim_xenstore_stop(s->sim);
    if (s->xenstored) {
        snprintf(path, sizeof(path), "%s/socket", s->dir);
        unlink(path);
    }
    xensim_external_stop(s->ext);
    if (s->sim)
        xensim_destroy(s->sim);
}

int xensim_cmd_serve(int argc, char **argv)
{
    struct serve s = { 0 };
    struct web_opts wo = { 0 };
    bool seeded = false;
    sigset_t sigs;
    int sig, rc = 1;

    if (web_take_args(&argc, argv, &wo) ||
        parse_args(argc, argv, &s.dir, &s.n, "domains", &seeded, &s.xenstored)) {
        fprintf(stderr, "usage: xensim serve --dir DIR [--domains N] [--xenstored PATH] "
                "[--http ADDR:PORT [--http-public]]\n");
        return 2;
    }
    if (seeded) {
        fprintf(stderr, "xensim serve: --seed asks for a deterministic run, but serve's domains "
                        "and XenStore clients are external processes, which their own kernel "
                        "schedules: no seed can make their run repeatable. Run without --seed, "
                        "or use a seeded in-process run (xensim demo --seed N)\n");
        return 2;
    }
    if (wo.spec && web_check(&wo, "xensim serve"))
        return 2;
    /* Every thread made from here on leaves these to sigwait(). */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!serve_start(&s, &wo)) {
        printf("ready\n");
        fflush(stdout);
        while (sigwait(&sigs, &sig))
            ;
        rc = 0;
    }
    serve_stop(&s);
    return rc;
}
