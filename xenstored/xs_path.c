/*
 * Path syntax: turns what a client sent into a checked absolute path
 * (relative ones hang off the connection's home), with C xenstored
 * 4.17's rules (core.c: canonicalize(), is_valid_nodename()). Relies on
 * nothing else.
 */
#include "config.h"

#include <string.h>
#include "xs_internal.h"

int xs_special_index(const char *name)
{
    if (!strcmp(name, "@introduceDomain"))
        return 0;
    if (!strcmp(name, "@releaseDomain"))
        return 1;
    return -1;
}

static bool valid_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

/*
 * The length C xenstored allows a path beyond quota_max_path_len (2048):
 * is_valid_nodename() takes "sscanf(node, "/local/domain/%5u/%n", &domid,
 * &local_off)" as a domain's prefix, so the prefix of a domain with at
 * most five characters of id (a '-' counts, as %u takes a sign) is free.
 */
static size_t local_off(const char *p)
{
    static const char pre[] = "/local/domain/";
    size_t i = sizeof(pre) - 1, start, digits = 0;

    if (strncmp(p, pre, i))
        return 0;
    start = i;
    if (p[i] == '-')
        i++;
    while (p[i] >= '0' && p[i] <= '9' && i - start < 5) {
        i++;
        digits++;
    }
    return digits && p[i] == '/' ? i + 1 : 0;
}

size_t xs_path_join(const struct xs_conn *c, const char *in, char *out, size_t size)
{
    size_t n = strlen(in), h = 0;

    /* canonicalize(): "/..." and "@..." stay, the rest is relative to
     * the home, "/local/domain/0" for sockets. */
    if (in[0] != '/' && in[0] != '@') {
        h = strlen(c->home);
        if (h + 1 + n >= size)
            return size;
        memcpy(out, c->home, h);
        out[h++] = '/';
    }
    if (h + n >= size)
        return size;
    memcpy(out + h, in, n + 1);
    return h + n;
}

int xs_path_canon(const struct xs_conn *c, const char *in, char *out, bool special_ok)
{
    size_t n;

    if (in[0] == '@') {
        /* do_watch(): any "@name" up to XENSTORE_REL_PATH_MAX is a watch
         * (only the two specials ever fire); no node has such a name. */
        if (!special_ok || strlen(in) > XENSTORE_REL_PATH_MAX)
            return -EINVAL;
        strcpy(out, in);
        return 0;
    }
    n = xs_path_join(c, in, out, XS_PATH_BUF);
    if (n >= XS_PATH_BUF || out[0] != '/')
        return -EINVAL;
    if (n > 1 && out[n - 1] == '/')
        return -EINVAL;
    if (strstr(out, "//"))
        return -EINVAL;
    if (n > local_off(out) + XENSTORE_REL_PATH_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!valid_char(out[i]))
            return -EINVAL;
    return 0;
}

void xs_path_parent(const char *p, char *out)
{
    const char *slash = strrchr(p, '/');
    size_t n = slash && slash != p ? (size_t)(slash - p) : 1;

    memcpy(out, p, n);
    out[n] = '\0';
}

bool xs_path_is_below(const char *p, const char *top)
{
    size_t n = strlen(top);

    if (n == 1 && top[0] == '/')
        return p[0] == '/';
    return !strncmp(p, top, n) && (p[n] == '\0' || p[n] == '/');
}

const char *xs_path_leaf(const char *p)
{
    const char *slash = strrchr(p, '/');

    return slash ? slash + 1 : p;
}
