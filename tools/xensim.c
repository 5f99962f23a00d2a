/*
 * `xensim`: the command line. Dispatches a verb to its tools/cmd_*.c.
 */
#include <stdio.h>
#include <string.h>
#include "commands.h"

struct verb {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
};

static const struct verb verbs[] = {
    { "demo", xensim_cmd_demo, "run two domains over an event channel and a granted page, narrated" },
    { "replay", xensim_cmd_replay, "rerun a `demo --seed N --record FILE` run (FILE [--until K])" },
    { "explore", xensim_cmd_explore, "search the demo's schedules for a failing one "
                                     "(PCT; [--seeds N] [--depth D] [DEMO OPTIONS])" },
    { "serve", xensim_cmd_serve, "run dom0 and N guests with XenStore on DIR/socket" },
    { "env", xensim_cmd_env, "print the environment that makes a Xen program domain N" },
    { "run", xensim_cmd_run, "run a program as a new domain of a running `xensim serve`" },
    { "qemu", xensim_cmd_qemu, "run Debian's QEMU as dom0's back end for a guest of `xensim serve`" },
    { "domains", xensim_cmd_domains, "list the domains of a running `xensim serve --dir DIR`" },
    { "ports", xensim_cmd_ports, "show a domain's event channel ports (--dir DIR --domid N)" },
    { "grants", xensim_cmd_grants, "show a domain's grant entries and who maps them" },
    { "tree", xensim_cmd_tree, "print the XenStore tree (--dir DIR [PATH])" },
    { "device", xensim_cmd_device, "add or remove a device's XenStore halves, as libxl does" },
    { "view", xensim_cmd_view, "play a recording (demo --trace FILE) in the web view" },
};

static int usage(FILE *out)
{
    fprintf(out, "usage: xensim <verb> [args]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].help);
    return out == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].main(argc - 1, argv + 1);
    fprintf(stderr, "xensim: unknown verb '%s'\n", argv[1]);
    return usage(stderr);
}
