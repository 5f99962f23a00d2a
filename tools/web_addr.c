/*
 * `--http ADDR:PORT`: the address as a socket address, and whether it is
 * loopback. Names go through getaddrinfo() (numeric ports only), so
 * "localhost" works; a name with several addresses takes the first.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "web_addr.h"

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        /* ::ffff:127.x.y.z is loopback too. */
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

int web_addr_parse(const char *spec, struct web_addr *a, char *err, size_t size)
{
    char host[256] = "127.0.0.1";
    const char *port = spec;
    if (!spec || !*spec) {
        snprintf(err, size, "--http needs ADDR:PORT, such as 127.0.0.1:8080");
        return -1;
    }
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host)) {
            snprintf(err, size, "'%s' is not [IPv6]:PORT", spec);
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close - spec - 1), spec + 1);
        port = close + 2;
    } else if (strchr(spec, ':')) {
        const char *colon = strrchr(spec, ':');
        if (colon != spec) {
            if ((size_t)(colon - spec) >= sizeof(host)) {
                snprintf(err, size, "the address in '%s' is too long", spec);
                return -1;
            }
            snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        }
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        snprintf(err, size, "'%s' has no port number 0-65535 (ADDR:PORT)", spec);
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV }, *res = NULL;
    char pstr[8];
    snprintf(pstr, sizeof(pstr), "%ld", p);
    int rc = getaddrinfo(host, pstr, &hints, &res);
    if (rc || !res) {
        snprintf(err, size, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memset(a, 0, sizeof(*a));
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    a->loopback = is_loopback(res->ai_addr);
    freeaddrinfo(res);
    return 0;
}
