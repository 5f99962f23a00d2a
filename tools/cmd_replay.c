/*
 * `xensim replay FILE [--until K]`: reruns a deterministic run from the
 * schedule `--record FILE` wrote. The file's first line names the command
 * that made it; the simulator takes the file's decisions in place of its
 * generator's (sched_det.c) and, with --until, prints the state at
 * decision K and stops.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "demo.h"

#define MAX_ARGS 32

int xensim_cmd_replay(int argc, char **argv)
{
    const char *file = NULL;
    uint64_t until = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--until") && i + 1 < argc) {
            char *end;
            errno = 0;
            until = strtoull(argv[++i], &end, 0);
            if (errno || *end || !until) {
                fprintf(stderr, "xensim replay: --until wants a step, 1 or more\n");
                return 2;
            }
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            file = NULL;
            break;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: xensim replay FILE [--until K]\n");
        return 2;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "xensim replay: cannot read %s: %s\n", file, strerror(errno));
        return 1;
    }
    static char line[1024];
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    /* "# xensim demo ARGS...": words without spaces, as record_note wrote. */
    char *args[MAX_ARGS];
    int n = 0;
    if (ok && !strncmp(line, "# xensim ", 9)) {
        for (char *w = strtok(line + 9, " \n"); w && n < MAX_ARGS; w = strtok(NULL, " \n"))
            args[n++] = w;
    }
    if (n < 1 || strcmp(args[0], "demo")) {
        fprintf(stderr, "xensim replay: %s is not a schedule `xensim demo --record` wrote\n",
                file);
        return 1;
    }
    struct xensim_config replay = { .replay = file, .stop_at = until };
    return demo_main(n, args, &replay);
}
