/* A private redis-server for one test program.
 *
 * Each test that needs Redis starts its own server: on a unix socket in a
 * fresh temporary directory and on a TCP port picked by the kernel (never
 * 6379), with no persistence unless asked. The server is killed when the test
 * stops it, and also when the test process dies (PR_SET_PDEATHSIG). */
#ifndef FC_TEST_REDIS_SERVER_H
#define FC_TEST_REDIS_SERVER_H

#include <sys/types.h>

typedef struct fc_test_redis {
        pid_t pid;
        int port;              /* TCP port on 127.0.0.1 */
        char dir[256];         /* temporary directory: socket, logs, data */
        char socket_path[300]; /* unix socket inside dir */
} fc_test_redis_t;

/* Starts redis-server and waits (at most 10 s) until it answers PING.
 * extra_args: NULL-terminated list of further "--option value" words, or NULL.
 * Returns 0, or a negative errno with a message on stderr. */
int fc_test_redis_start(fc_test_redis_t *r, const char *const *extra_args);

/* Stops the server (SIGTERM, then SIGKILL after 5 s), reaps it and removes
 * its directory. Safe to call twice and on a server that failed to start. */
void fc_test_redis_stop(fc_test_redis_t *r);

/* Stops the server process like fc_test_redis_stop() but keeps its directory,
 * port and socket path, so that fc_test_redis_restart() can bring it back
 * where clients expect it. Safe on a server that is not running. */
void fc_test_redis_halt(fc_test_redis_t *r);

/* Stops the server if it runs, then starts it again on the same port, socket
 * path and directory (whatever Redis kept there, e.g. an AOF, is loaded) and
 * waits until it answers PING. extra_args as for fc_test_redis_start().
 * Returns 0, -EINVAL for a server that was stopped (or never started), or a
 * negative errno like fc_test_redis_start(). */
int fc_test_redis_restart(fc_test_redis_t *r, const char *const *extra_args);

#endif
