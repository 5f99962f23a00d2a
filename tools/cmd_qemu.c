/*
 * `xensim qemu --dir DIR --domid N [--qemu PATH] [-- ARGS]`: starts
 * Debian's unmodified QEMU as dom0's device model for guest N of a
 * running `xensim serve`, the way libxl starts it for a PV guest's qdisk
 * and console back ends (-xen-domid N -xen-attach -M xenpv, no display,
 * no monitor or serial, XEN_QEMU_CONSOLE_LIMIT), on the drop-in Xen
 * libraries, and waits for it. QEMU is dom0 process like any other: when
 * it ends, the server drops what it held (ports, mappings, XenStore
 * watches). Relies on cmd_env.c.
 */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/xen.h>
#include "commands.h"

/* Where Debian's qemu-system-xen puts it. */
#define QEMU_DEFAULT "/usr/libexec/xen-qemu-system-i386"
#define MAX_EXTRA 64

static int usage(void)
{
    fprintf(stderr, "usage: xensim qemu --dir DIR --domid N [--qemu PATH] [-- QEMU-ARGS]\n"
                    "  PATH defaults to $XENSIM_QEMU, then " QEMU_DEFAULT "\n");
    return 2;
}

int xensim_cmd_qemu(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domid", required_argument, NULL, 'i' },
        { "qemu", required_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *qemu = getenv("XENSIM_QEMU");
    long domid = -1;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        char *end;
        if (ch == 'd') {
            dir = optarg;
        } else if (ch == 'q') {
            qemu = optarg;
        } else if (ch == 'i') {
            domid = strtol(optarg, &end, 10);
            if (*end || !*optarg || domid < 1 || domid >= DOMID_FIRST_RESERVED)
                return usage();
        } else {
            return usage();
        }
    }
    if (!dir || domid < 1 || argc - optind > MAX_EXTRA)
        return usage();
    if (!qemu || !*qemu)
        qemu = QEMU_DEFAULT;
    if (access(qemu, X_OK)) {
        fprintf(stderr, "xensim qemu: %s is not there (apt-get download qemu-system-xen; "
                        "dpkg -x it; pass --qemu)\n", qemu);
        return 1;
    }
    if (xensim_domain_environ(dir, 0)) {
        fprintf(stderr, "xensim qemu: %s: no such directory\n", dir);
        return 1;
    }
    /* libxl's limit on what QEMU buffers of a console. */
    setenv("XEN_QEMU_CONSOLE_LIMIT", "1048576", 1);

    char id[16], name[32];
    snprintf(id, sizeof(id), "%ld", domid);
    snprintf(name, sizeof(name), "domain-%ld", domid);
    const char *base[] = { qemu, "-xen-domid", id, "-xen-attach", "-name", name,
                           "-nographic", "-M", "xenpv", "-nodefaults", "-no-user-config",
                           "-monitor", "/dev/null", "-serial", "/dev/null",
                           "-parallel", "/dev/null" };
    size_t nb = sizeof(base) / sizeof(base[0]);
    char *args[sizeof(base) / sizeof(base[0]) + MAX_EXTRA + 1];
    for (size_t i = 0; i < nb; i++)
        args[i] = (char *)base[i];
    for (int i = optind; i < argc; i++)
        args[nb++] = argv[i];
    args[nb] = NULL;
    int rc = xensim_run_program("qemu", args);
    fprintf(stderr, "xensim qemu: QEMU for domain %ld ended (%d)\n", domid, rc);
    return rc;
}
