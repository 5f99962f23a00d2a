/* The `xensim` verbs; each is a main() of its own. */
#ifndef XENSIM_TOOLS_COMMANDS_H
#define XENSIM_TOOLS_COMMANDS_H

int xensim_cmd_demo(int argc, char **argv);
int xensim_cmd_serve(int argc, char **argv);
int xensim_cmd_env(int argc, char **argv);
int xensim_cmd_domains(int argc, char **argv);
int xensim_cmd_ports(int argc, char **argv);
int xensim_cmd_grants(int argc, char **argv);
int xensim_cmd_tree(int argc, char **argv);
int xensim_cmd_device(int argc, char **argv);
int xensim_cmd_run(int argc, char **argv);

/* Guest code: the idle guests of `xensim serve` (serve_guest.c). */
void xensim_serve_guest_main(void *arg);

#endif
