/* The live page's event history (web_feed.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "web_feed.h"

int feed_init(struct feed *f, size_t max_entries, size_t max_bytes)
{
    memset(f, 0, sizeof(*f));
    f->ring = calloc(max_entries, sizeof(*f->ring));
    if (!f->ring)
        return -ENOMEM;
    f->cap = max_entries;
    f->max_bytes = max_bytes;
    f->next_id = 1;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

static void feed_drop_oldest(struct feed *f)
{
    struct feed_entry *e = &f->ring[f->head];
    f->bytes -= e->len;
    free(e->text);
    e->text = NULL;
    f->head = (f->head + 1) % f->cap;
    f->n--;
}

void feed_push(struct feed *f, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_mutex_lock(&f->lock);
    if (f->closed) {
        pthread_mutex_unlock(&f->lock);
        free(copy);
        return;
    }
    while (f->n && (f->n == f->cap || f->bytes + len > f->max_bytes))
        feed_drop_oldest(f);
    struct feed_entry *e = &f->ring[(f->head + f->n) % f->cap];
    e->id = f->next_id++;
    e->len = len;
    e->text = copy;
    f->n++;
    f->bytes += len;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* An event's text as SSE: a data: line per line of text. */
static char *feed_frame(const struct feed_entry *e, size_t *len)
{
    size_t lines = 1;
    for (size_t i = 0; i < e->len; i++)
        lines += e->text[i] == '\n';
    size_t cap = e->len + lines * 7 + 32;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = (size_t)snprintf(out, cap, "id: %llu\ndata: ", (unsigned long long)e->id);
    for (size_t i = 0; i < e->len; i++) {
        if (e->text[i] == '\n') {
            memcpy(out + o, "\ndata: ", 7);
            o += 7;
        } else if (e->text[i] != '\r') {
            out[o++] = e->text[i];
        }
    }
    out[o++] = '\n';
    out[o++] = '\n';
    *len = o;
    return out;
}

ssize_t feed_next(struct feed *f, uint64_t *want, char **out, int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    ssize_t rc = 0;
    pthread_mutex_lock(&f->lock);
    while (!f->closed && *want >= f->next_id)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &until) == ETIMEDOUT)
            break;
    if (f->closed) {
        rc = -1;
    } else if (*want < f->next_id && f->n) {
        uint64_t oldest = f->ring[f->head].id;
        if (*want < oldest)
            *want = oldest;     /* what was dropped is gone */
        const struct feed_entry *e = &f->ring[(f->head + (*want - oldest)) % f->cap];
        size_t len;
        *out = feed_frame(e, &len);
        rc = *out ? (ssize_t)len : 0;
        *want = e->id + 1;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void feed_close(struct feed *f)
{
    pthread_mutex_lock(&f->lock);
    f->closed = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void feed_destroy(struct feed *f)
{
    while (f->n)
        feed_drop_oldest(f);
    free(f->ring);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
}
