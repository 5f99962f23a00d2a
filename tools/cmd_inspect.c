/*
 * `xensim domains|ports|grants|tree --dir DIR`: look inside the simulation
 * that `xensim serve --dir DIR` runs: the first three ask its control
 * socket (DIR/control); tree reads XenStore through DIR/socket with
 * Xen's own libxenstore, as any dom0 tool would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>
#include "commands.h"
#include "control.h"

struct inspect_args {
    const char *dir;
    long domid;
    const char *path;
};

static int inspect_parse(int argc, char **argv, struct inspect_args *a)
{
    a->dir = NULL;
    a->domid = -1;
    a->path = "/";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            a->dir = argv[++i];
        else if (!strcmp(argv[i], "--domid") && i + 1 < argc)
            a->domid = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] == '/')
            a->path = argv[i];
        else
            return -1;
    }
    return a->dir ? 0 : -1;
}

static int inspect_control(const char *verb, int argc, char **argv, bool per_domain)
{
    struct inspect_args a;
    if (inspect_parse(argc, argv, &a) || (per_domain && a.domid < 0)) {
        fprintf(stderr, "usage: xensim %s --dir DIR%s\n", verb, per_domain ? " --domid N" : "");
        return 2;
    }
    char path[512], cmd[64];
    snprintf(path, sizeof(path), "%s/control", a.dir);
    if (per_domain)
        snprintf(cmd, sizeof(cmd), "%s %ld", verb, a.domid);
    else
        snprintf(cmd, sizeof(cmd), "%s", verb);
    int rc = control_query(path, cmd, stdout);
    if (rc < 0) {
        fprintf(stderr, "xensim %s: cannot reach %s: %s\n", verb, path, strerror(-rc));
        return 1;
    }
    return rc;   /* 1: the simulator answered with an error, printed */
}

int xensim_cmd_domains(int argc, char **argv)
{
    return inspect_control("domains", argc, argv, false);
}

int xensim_cmd_ports(int argc, char **argv)
{
    return inspect_control("ports", argc, argv, true);
}

int xensim_cmd_grants(int argc, char **argv)
{
    return inspect_control("grants", argc, argv, true);
}

/* Values are guest-written bytes: printed as xenstore-ls prints them, so
 * that no escape sequence reaches the terminal and a NUL does not cut the
 * value short. Printable ASCII stands for itself, except the backslash;
 * tab, newline, return and the backslash get their C escapes; bytes below
 * 010 are three octal digits (\000), every other byte \x and two hex digits. */
static void tree_put_value(const char *value, unsigned int len)
{
    for (unsigned int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c >= ' ' && c <= '~' && c != '\\')
            putchar(c);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 010)
            printf("\\%03o", c);
        else
            printf("\\x%02x", c);
    }
}

static void tree_print(struct xs_handle *h, const char *path, int depth)
{
    unsigned int len = 0, n = 0;
    char *value = xs_read(h, XBT_NULL, path, &len);
    const char *name = strrchr(path, '/');
    name = name && name[1] ? name + 1 : path;
    printf("%*s%s = \"", depth * 2, "", name);
    if (value)
        tree_put_value(value, len);
    fputs("\"\n", stdout);
    free(value);
    char **children = xs_directory(h, XBT_NULL, path, &n);
    for (unsigned int i = 0; children && i < n; i++) {
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", children[i]);
        tree_print(h, child, depth + 1);
    }
    free(children);
}

int xensim_cmd_tree(int argc, char **argv)
{
    struct inspect_args a;
    if (inspect_parse(argc, argv, &a)) {
        fprintf(stderr, "usage: xensim tree --dir DIR [PATH]\n");
        return 2;
    }
    char sock[512];
    snprintf(sock, sizeof(sock), "%s/socket", a.dir);
    setenv("XENSTORED_PATH", sock, 1);
    struct xs_handle *h = xs_open(0);
    if (!h) {
        fprintf(stderr, "xensim tree: cannot reach %s: %s\n", sock, strerror(errno));
        return 1;
    }
    tree_print(h, a.path, 0);
    xs_close(h);
    return 0;
}
