/*
 * `xensim serve` runs a simulator with dom0 and N idle guests, its
 * XenStore on DIR/socket, and each domain's sockets for external
 * processes under DIR/dom/N (cmd_env.c prints what points Xen's tools at
 * them). Relies on the embedding API and the daemon's (xenstored.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/external.h>
#include <xensim/xensim.h>
#include <xensim/xenstored.h>
#include "commands.h"
#include "control.h"

static int parse_args(int argc, char **argv, const char **dir, long *num, const char *numopt)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domains", required_argument, NULL, 'n' },
        { "domid", required_argument, NULL, 'i' },
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

int xensim_cmd_serve(int argc, char **argv)
{
    const char *dir = NULL;
    long n = 0;
    char path[PATH_MAX];
    struct xensim *sim;
    struct xensim_config scfg = { .quiet = true };
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    struct xensim_xenstored *xsd;
    struct xensim_xenstored_config xcfg = { .quiet = true };
    sigset_t sigs;
    struct control *ctl = NULL;
    struct xensim_external *ext = NULL;
    struct xensim_console_ptys *ptys = NULL;
    int sig, rc = 1, dom;

    if (parse_args(argc, argv, &dir, &n, "domains")) {
        fprintf(stderr, "usage: xensim serve --dir DIR [--domains N]\n");
        return 2;
    }
    /* Every thread made from here on leaves these to sigwait(). */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sim = xensim_create(&scfg);
    if (!sim || (dom = xensim_domain_create(sim, &d0)) < 0 || xensim_domain_unpause(sim, 0)) {
        fprintf(stderr, "xensim serve: cannot create the simulator\n");
        return 1;
    }
    /* Each guest speaks on a socket of its own, so the toolstack's
     * xensim_xenstore_start() will not do: make the daemon, then hand it
     * over. */
    xcfg.sim = sim;
    xsd = xensim_xenstored_create(&xcfg);
    if (!xsd) {
        fprintf(stderr, "xensim serve: cannot create XenStore: %s\n", strerror(errno));
        goto out;
    }
    snprintf(path, sizeof(path), "%s/socket", dir);
    if (xensim_xenstored_listen(xsd, path)) {
        fprintf(stderr, "xensim serve: cannot listen on %s: %s\n", path, strerror(errno));
        goto out;
    }
    for (long i = 1; i <= n; i++) {
        snprintf(path, sizeof(path), "%s/socket.%ld", dir, i);
        if (xensim_xenstored_listen_as(xsd, path, i)) {
            fprintf(stderr, "xensim serve: cannot listen on %s\n", path);
            goto out;
        }
    }
    if (xensim_xenstored_start(xsd) || xensim_xenstore_attach(sim, xsd)) {
        fprintf(stderr, "xensim serve: cannot start XenStore\n");
        goto out;
    }
    xsd = NULL;   /* the toolstack's now: it stops with dom0 */
    struct xensim_external_config ecfg = { .dir = dir };
    if (!(ext = xensim_external_start(sim, &ecfg)) || !(ptys = xensim_console_ptys_start(sim))) {
        fprintf(stderr, "xensim serve: cannot serve %s/dom: %s\n", dir, strerror(errno));
        goto out;
    }
    for (long i = 1; i <= n; i++) {
        char name[32];
        struct xensim_domain_config cfg = { .name = name, .entry = xensim_serve_guest_main };

        snprintf(name, sizeof(name), "guest%ld", i);
        dom = xensim_domain_create(sim, &cfg);
        if (dom < 0 || xensim_domain_unpause(sim, dom)) {
            fprintf(stderr, "xensim serve: cannot build guest %ld: %s\n", i,
                    xensim_strerror(dom < 0 ? dom : -EINVAL));
            goto out;
        }
    }
    /* `xensim domains|ports|grants --dir DIR` ask here. */
    snprintf(path, sizeof(path), "%s/control", dir);
    ctl = control_start(sim, path);
    if (!ctl) {
        fprintf(stderr, "xensim serve: cannot listen on %s\n", path);
        goto out;
    }
    printf("ready\n");
    fflush(stdout);
    while (sigwait(&sigs, &sig))
        ;
    rc = 0;
out:
    control_stop(ctl);
    xensim_console_ptys_stop(ptys);
    xensim_external_stop(ext);
    xensim_xenstored_destroy(xsd);
    xensim_destroy(sim);
    return rc;
}
