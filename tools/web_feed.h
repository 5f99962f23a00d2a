/*
 * The history of events the live page streams: each event's JSON text,
 * numbered from 1, kept in order up to a bound of count and bytes (the
 * oldest go first), so a page that connects late or reconnects gets the
 * story so far. Pushed from trace points (quick, never waits on a
 * reader); read by the server's connection threads.
 */
#ifndef XENSIM_TOOLS_WEB_FEED_H
#define XENSIM_TOOLS_WEB_FEED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct feed_entry {
    uint64_t id;
    size_t len;
    char *text;
};

struct feed {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct feed_entry *ring;     /* cap entries, oldest at head */
    size_t cap, head, n, bytes, max_bytes;
    uint64_t next_id;
    bool closed;
};

int feed_init(struct feed *f, size_t max_entries, size_t max_bytes);
void feed_push(struct feed *f, const char *text, size_t len);
/* The server-sent event ("id: N\ndata: ...\n\n") of the first entry
 * numbered *want or later, malloc'd in *out; *want moves past it. Waits
 * up to wait_ms for one. Returns its length, 0 when none came, -1 once
 * the feed is closed. */
ssize_t feed_next(struct feed *f, uint64_t *want, char **out, int wait_ms);
/* Wakes every reader for good. */
void feed_close(struct feed *f);
void feed_destroy(struct feed *f);

#endif
