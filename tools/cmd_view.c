/*
 * `xensim view run.json`: the web view on a recording (the Chrome trace
 * of `xensim demo --trace`), to play, pause and step through. Serves the
 * page and the file until a signal; no simulator runs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "web.h"

/* A Chrome trace is a JSON array: look at its first character. */
static int recording_check(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
        ;
    fclose(f);
    return c == '[' ? 0 : -EINVAL;
}

int xensim_cmd_view(int argc, char **argv)
{
    struct web_opts o = { 0 };
    if (web_take_args(&argc, argv, &o))
        return 2;
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: xensim view RUN.json [--http ADDR:PORT [--http-public]]\n"
                        "  RUN.json: a recording from `xensim demo --trace RUN.json`\n");
        return 2;
    }
    int rc = recording_check(argv[1]);
    if (rc) {
        fprintf(stderr, "xensim view: %s: %s\n", argv[1],
                rc == -EINVAL ? "not a Chrome trace (a JSON array of events)" : strerror(-rc));
        return 1;
    }
    if (!o.spec)
        o.spec = "127.0.0.1:8080";
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &quit, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct web *w = web_start(&o, "xensim view");
    if (!w)
        return 2;
    if (web_set_recording(w, argv[1])) {
        web_stop(w);
        return 1;
    }
    printf("xensim view: open %s in a browser to play %s (Ctrl-C to stop)\n", web_url(w),
           argv[1]);
    fflush(stdout);
    int sig;
    while (sigwait(&quit, &sig))
        ;
    web_stop(w);
    return 0;
}
