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

/* Weak, so the tool links while a verb's module is not built in. */
int xensim_cmd_serve(int argc, char **argv) __attribute__((weak));
int xensim_cmd_env(int argc, char **argv) __attribute__((weak));

static const struct verb verbs[] = {
    { "demo", xensim_cmd_demo, "run two domains over an event channel and a granted page, narrated" },
    { "serve", xensim_cmd_serve, "run dom0 and N guests with XenStore on DIR/socket" },
    { "env", xensim_cmd_env, "print the environment that points Xen tools at a simulator" },
};

static int usage(FILE *out)
{
    fprintf(out, "usage: xensim <verb> [args]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].main)
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
        if (verbs[i].main && !strcmp(argv[1], verbs[i].name))
            return verbs[i].main(argc - 1, argv + 1);
    fprintf(stderr, "xensim: unknown verb '%s'\n", argv[1]);
    return usage(stderr);
}
