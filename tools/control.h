/* The control socket of a running `xensim serve`: one command a connection. */
#ifndef XENSIM_TOOLS_CONTROL_H
#define XENSIM_TOOLS_CONTROL_H

#include <stdio.h>
#include <xensim/xensim.h>

struct control;
/* Serves "domains", "ports N", "grants N" on a unix socket at path. */
struct control *control_start(struct xensim *sim, const char *path);
void control_stop(struct control *c);
/* Sends one command to the socket at path and copies the answer to out:
 * 0; 1 when the answer is a refusal ("error: ..."); a negative errno when
 * the socket cannot be reached. */
int control_query(const char *path, const char *command, FILE *out);

#endif
