/*
 * The web view's server (`--http ADDR:PORT`): serves the page (plain
 * files from $(pkgdatadir)/web), a live stream of the simulation's trace
 * events as server-sent events while a simulator is attached, and a
 * recording for `xensim view`. Live tracing (a Chrome JSON sink and the
 * probe) runs only while a page is connected.
 */
#ifndef XENSIM_TOOLS_WEB_H
#define XENSIM_TOOLS_WEB_H

#include <signal.h>
#include <stdbool.h>
#include <xensim/xensim.h>

struct web_opts {
    const char *spec;            /* "ADDR:PORT", NULL: no server */
    bool public_ok;              /* --http-public */
};

/* Takes --http ADDR:PORT and --http-public out of argv, moving the rest
 * down and updating *argc. 0, or -1 after printing why (a missing
 * address, --http-public alone). */
int web_take_args(int *argc, char **argv, struct web_opts *o);

/* Whether web_start() would take o->spec: a valid address, loopback or
 * allowed by --http-public. 0, or -1 after printing why. */
int web_check(const struct web_opts *o, const char *who);

struct web;
/* Listens on o->spec; a non-loopback address needs o->public_ok. who
 * prefixes messages ("xensim demo"). NULL after printing why. */
struct web *web_start(const struct web_opts *o, const char *who);
const char *web_url(const struct web *w);
/* Live: streams sim's events to the pages connected. */
void web_attach(struct web *w, struct xensim *sim);
/* Stops streaming (before xensim_destroy); pages keep what they got,
 * and new ones get the history. */
void web_detach(struct web *w);
/* Recording: serves the file at path to the page. */
int web_set_recording(struct web *w, const char *path);
/* Waits until a page is connected, or a signal of quit arrives (false). */
bool web_wait_page(struct web *w, const sigset_t *quit);
void web_stop(struct web *w);

#endif
