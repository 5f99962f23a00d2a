/* Parsing `--http ADDR:PORT` and the loopback rule (web_addr.c). */
#ifndef XENSIM_TOOLS_WEB_ADDR_H
#define XENSIM_TOOLS_WEB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct web_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    bool loopback;
};

/* "127.0.0.1:8080", "[::1]:8080", "localhost:8080", ":8080" or "8080"
 * (loopback); port 0 picks a free one. 0, or -1 with why in err. */
int web_addr_parse(const char *spec, struct web_addr *a, char *err, size_t size);

#endif
