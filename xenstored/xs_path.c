/*
 * Path syntax: turns what a client sent into a checked absolute path
 * (relative ones hang off the connection's home). Relies on nothing else.
 */
#include "config.h"

#include <string.h>
#include "xs_internal.h"

bool xs_path_is_special(const char *p)
{
    return !strcmp(p, "@introduceDomain") || !strcmp(p, "@releaseDomain");
}

static bool valid_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

int xs_path_canon(const struct xs_conn *c, const char *in, char *out, bool special_ok)
{
    size_t n = strlen(in), h = 0;

    if (in[0] == '@') {
        if (!special_ok || !xs_path_is_special(in))
            return -EINVAL;
        strcpy(out, in);
        return 0;
    }
    if (in[0] != '/') {
        if (n == 0 || n > XENSTORE_REL_PATH_MAX)
            return -EINVAL;
        h = strlen(c->home);
        memcpy(out, c->home, h);
        out[h++] = '/';
    }
    if (h + n > XENSTORE_ABS_PATH_MAX)
        return -EINVAL;
    memcpy(out + h, in, n + 1);
    n += h;
    for (size_t i = 0; i < n; i++) {
        if (!valid_char(out[i]))
            return -EINVAL;
        if (out[i] == '/' && out[i + 1] == '/')
            return -EINVAL;
    }
    if (n > 1 && out[n - 1] == '/')
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
