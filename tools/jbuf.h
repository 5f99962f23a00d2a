/*
 * A growing text buffer for building JSON: appends that never fail midway
 * (an allocation failure marks the buffer broken and later appends are
 * dropped, so a caller checks once at the end), and string escaping.
 */
#ifndef XENSIM_TOOLS_JBUF_H
#define XENSIM_TOOLS_JBUF_H

#include <stdbool.h>
#include <stddef.h>

struct jbuf {
    char *s;
    size_t len, cap;
    bool broken;
};

void jbuf_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string, quotes included, of len bytes of s (NUL or not). */
void jbuf_str(struct jbuf *b, const char *s, size_t len);
/* The text (NUL-terminated), or NULL if an append failed. */
const char *jbuf_text(const struct jbuf *b);
void jbuf_free(struct jbuf *b);

#endif
