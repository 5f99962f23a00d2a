/*
 * `xensim device add|remove`: the toolstack's device calls against a
 * running `xensim serve --dir DIR`, through its XenStore socket (the
 * xensim_device_*_at() calls of <xensim/xenbus.h>). Type qdisk is a disk
 * for QEMU's xen-block, with the keys libxl writes (xensim_qdisk_add_at);
 * it is removed as type vbd, the front end's name for it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xensim/xenbus.h>
#include "commands.h"

#define MAX_KEYS 32

static int usage(void)
{
    fprintf(stderr,
            "usage: xensim device add --dir DIR --type T --frontend N --backend M [--devid I]\n"
            "                         [--front-key K=V]... [--back-key K=V]...\n"
            "       xensim device add --dir DIR --type qdisk --frontend N --image PATH\n"
            "                         [--backend M] [--vdev xvdX] [--readonly]\n"
            "       xensim device remove --dir DIR --type T --frontend N [--devid I]\n"
            "                         [--timeout MS]\n");
    return 2;
}

static bool parse_num(const char *s, long max, long *out)
{
    char *end;

    *out = strtol(s, &end, 10);
    return *s && !*end && *out >= 0 && *out <= max;
}

/* K=V into the next two slots of a NULL-terminated pair list. */
static bool add_key(const char **kv, unsigned int *n, char *arg)
{
    char *eq = strchr(arg, '=');

    if (!eq || eq == arg || *n + 3 > MAX_KEYS * 2)
        return false;
    *eq = '\0';
    kv[(*n)++] = arg;
    kv[(*n)++] = eq + 1;
    kv[*n] = NULL;
    return true;
}

int xensim_cmd_device(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "type", required_argument, NULL, 't' },
        { "frontend", required_argument, NULL, 'f' },
        { "backend", required_argument, NULL, 'b' },
        { "devid", required_argument, NULL, 'i' },
        { "front-key", required_argument, NULL, 'F' },
        { "back-key", required_argument, NULL, 'B' },
        { "timeout", required_argument, NULL, 'w' },
        { "image", required_argument, NULL, 'I' },
        { "vdev", required_argument, NULL, 'v' },
        { "readonly", no_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    const char *fkeys[MAX_KEYS * 2 + 1] = { NULL }, *bkeys[MAX_KEYS * 2 + 1] = { NULL };
    unsigned int nf = 0, nb = 0;
    const char *dir = NULL, *type = NULL, *image = NULL, *vdev = NULL;
    bool readonly = false;
    long fe = -1, be = -1, devid = 0, timeout = 10000;
    char sock[PATH_MAX];
    bool add;
    int ch, rc;

    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "remove")))
        return usage();
    add = !strcmp(argv[1], "add");
    argc--;
    argv++;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool ok = true;

        switch (ch) {
        case 'd': dir = optarg; break;
        case 't': type = optarg; break;
        case 'f': ok = parse_num(optarg, DOMID_FIRST_RESERVED - 1, &fe); break;
        case 'b': ok = parse_num(optarg, DOMID_FIRST_RESERVED - 1, &be); break;
        case 'i': ok = parse_num(optarg, INT_MAX, &devid); break;
        case 'w': ok = parse_num(optarg, INT_MAX, &timeout); break;
        case 'F': ok = add && add_key(fkeys, &nf, optarg); break;
        case 'B': ok = add && add_key(bkeys, &nb, optarg); break;
        case 'I': ok = add; image = optarg; break;
        case 'v': ok = add; vdev = optarg; break;
        case 'r': ok = add; readonly = true; break;
        default: ok = false; break;
        }
        if (!ok)
            return usage();
    }
    bool qdisk = add && !strcmp(type ? type : "", "qdisk");
    if (optind != argc || !dir || !type || fe < 0 || (add && !qdisk && be < 0) ||
        (qdisk ? !image || nf || nb : image || vdev || readonly))
        return usage();
    snprintf(sock, sizeof(sock), "%s/socket", dir);
    if (qdisk) {
        struct xensim_qdisk q = { .frontend = (domid_t)fe, .backend = be < 0 ? 0 : (domid_t)be,
                                  .vdev = vdev, .path = image, .readonly = readonly };

        rc = xensim_qdisk_add_at(sock, &q);
    } else if (add) {
        struct xensim_device_config cfg = {
            .type = type, .frontend = (domid_t)fe, .backend = (domid_t)be,
            .devid = (unsigned int)devid, .front_keys = fkeys, .back_keys = bkeys,
        };

        rc = xensim_device_add_at(sock, &cfg);
    } else {
        rc = xensim_device_remove_at(sock, type, (domid_t)fe, (unsigned int)devid,
                                     (unsigned int)timeout);
    }
    if (rc) {
        fprintf(stderr, "xensim device %s: %s\n", add ? "add" : "remove", xensim_strerror(rc));
        return 1;
    }
    return 0;
}
