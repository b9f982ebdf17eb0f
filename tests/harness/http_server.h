/* A small HTTP server for one test, on libmicrohttpd.
 *
 * It listens on 127.0.0.1 on a port the kernel picks and serves from its
 * own threads (one per connection, so a held request holds only its own).
 * Routes:
 *   /status/NNN  responds NNN with the body "status NNN"
 *   /echo        responds 200 "ok" and records the request (see
 *                fc_test_http_last)
 *   /stall       holds the request until the server stops (then 503)
 *   /gate        holds each request until `gate` requests are held at once,
 *                then lets every request through (200) from then on; after
 *                30 s without that it gives up with 503. So a client that
 *                sends requests one at a time never gets past it.
 *   anything else 404
 * The server counts requests and the most it had in flight at once. */
#ifndef FC_TEST_HTTP_SERVER_H
#define FC_TEST_HTTP_SERVER_H

#include <stddef.h>

typedef struct fc_test_http fc_test_http_t;

/* The last request /echo saw (copies, NUL-terminated, cut to size). */
typedef struct fc_test_http_request {
        char method[16];
        char path[256];
        char body[1024];
        char x_test[256]; /* the X-Test header, "" when absent */
        char user_agent[256];
        char content_type[128];
} fc_test_http_request_t;

/* Starts a server whose /gate opens at gate requests (>= 1). Returns 0 and
 * sets *out, or a negative errno with a message on stderr. */
int fc_test_http_start(unsigned gate, fc_test_http_t **out);

/* Releases held requests, stops the threads and frees the server. NULL is
 * allowed, so a teardown may call it whether or not start succeeded. */
void fc_test_http_stop(fc_test_http_t *s);

/* The port it listens on (127.0.0.1). */
int fc_test_http_port(const fc_test_http_t *s);

/* Requests seen so far, and the most in flight at once (from the first byte
 * of a request until its response was sent or the client went away). */
unsigned fc_test_http_requests(fc_test_http_t *s);
unsigned fc_test_http_max_in_flight(fc_test_http_t *s);

/* Copies the last request /echo recorded; returns 0, or -ENOENT when none. */
int fc_test_http_last(fc_test_http_t *s, fc_test_http_request_t *out);

#endif
