/* The `xensim` verbs; each is a main() of its own. */
#ifndef XENSIM_TOOLS_COMMANDS_H
#define XENSIM_TOOLS_COMMANDS_H

#include <stddef.h>

int xensim_cmd_demo(int argc, char **argv);
int xensim_cmd_serve(int argc, char **argv);
int xensim_cmd_env(int argc, char **argv);
int xensim_cmd_domains(int argc, char **argv);
int xensim_cmd_ports(int argc, char **argv);
int xensim_cmd_grants(int argc, char **argv);
int xensim_cmd_tree(int argc, char **argv);
int xensim_cmd_device(int argc, char **argv);
int xensim_cmd_run(int argc, char **argv);
int xensim_cmd_view(int argc, char **argv);
int xensim_cmd_replay(int argc, char **argv);
int xensim_cmd_explore(int argc, char **argv);
int xensim_cmd_qemu(int argc, char **argv);

/* Where the drop-in libraries are (cmd_env.c): $XENSIM_LIBDIR, those of
 * the build tree this xensim runs from, or the installed ones. */
const char *xensim_libxen_dir(char *buf, size_t size);

/* Makes this process's environment that of a process of domain domid of
 * the `xensim serve` in dir (what `xensim env` prints): 0 or -errno. */
int xensim_domain_environ(const char *dir, int domid);
/* Runs argv[0] (found on PATH) to its end, forwarding SIGINT and SIGTERM
 * to it; its exit status, 128 + the signal that killed it, 127 if it
 * could not start. */
int xensim_run_program(const char *verb, char *const argv[]);

/* Guest code: the idle guests of `xensim serve` (serve_guest.c). */
void xensim_serve_guest_main(void *arg);

#endif
