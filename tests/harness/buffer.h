/* A growing, NUL-terminated byte buffer that libcurl's write and header
 * callbacks fill: the tests that speak HTTP (metrics, the Web UI) share it.
 * Header-only, so the harness library itself needs no libcurl. */
#ifndef FC_TEST_BUFFER_H
#define FC_TEST_BUFFER_H

#include <stdlib.h>
#include <string.h>

typedef struct fc_test_buffer {
        char *data; /* malloc'd, NUL-terminated; NULL until something came */
        size_t len;
} fc_test_buffer_t;

/* CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION with arg a fc_test_buffer_t:
 * appends size * n bytes; returns 0 (libcurl then fails) when out of memory. */
static inline size_t fc_test_buffer_append(char *p, size_t size, size_t n, void *arg) {
        fc_test_buffer_t *b = arg;
        char *d = realloc(b->data, b->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->len, p, size * n);
        b->len += size * n;
        d[b->len] = '\0';
        b->data = d;
        return size * n;
}

#endif
