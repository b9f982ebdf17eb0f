/* A flowcorod for one test: started as a child process with a configuration
 * the test writes, pointed at the test's own redis-server, its stderr kept in
 * a log file the test can read. It is killed when the test process dies
 * (PR_SET_PDEATHSIG), and fc_test_daemon_stop() removes its files, also when
 * the test failed first. The build passes FLOWCOROD_PATH and PLUGIN_DIR
 * (see tests/CMakeLists.txt). */
#ifndef FC_TEST_DAEMON_H
#define FC_TEST_DAEMON_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <sys/types.h>

#include "redis_server.h"

typedef struct fc_test_daemon {
        pid_t pid;
        int exit_code;      /* once reaped: exit status, or 128 + signal */
        char dir[256];      /* temporary directory: config and log */
        char config[300];
        char log[300];
        char control[300];  /* its control socket, in dir (see fc_test_daemon_start) */
} fc_test_daemon_t;

/* Writes a configuration with redis.url (redis's unix socket), the build's
 * plugin directory and examples.so (allow_crash: true), control.socket in
 * the daemon's directory (d->control), followed by extra (more top-level
 * YAML keys, e.g. "concurrency: 10\n", or NULL; an extra that sets
 * "control:" itself replaces the harness's), starts
 * flowcorod -c CONFIG --insecure-plugins plus args (NULL-terminated, or
 * NULL), and waits (at most 15 s) until its log says "running". Returns 0,
 * or a negative errno with the log on stderr. */
int fc_test_daemon_start(fc_test_daemon_t *d, const fc_test_redis_t *redis, const char *extra,
                         const char *const *args);

/* Starts it again with the same configuration and directory (after it
 * exited or was killed). */
int fc_test_daemon_restart(fc_test_daemon_t *d, const char *const *args);

/* Sends sig. */
void fc_test_daemon_signal(fc_test_daemon_t *d, int sig);

/* Waits at most timeout_ms for it to exit and reaps it. Returns true when it
 * exited (d->exit_code set). */
bool fc_test_daemon_wait(fc_test_daemon_t *d, int timeout_ms);

/* kill -9 and reap. */
void fc_test_daemon_kill(fc_test_daemon_t *d);

/* SIGTERM, wait up to 30 s, then SIGKILL; reaps it and removes its
 * directory (with a control socket a killed daemon left). Safe to call
 * twice and after a failed start. */
void fc_test_daemon_stop(fc_test_daemon_t *d);

/* The log so far (malloc'd, NUL-terminated; the caller frees it). */
char *fc_test_daemon_log(const fc_test_daemon_t *d);

/* Whether the log holds text. */
bool fc_test_daemon_logged(const fc_test_daemon_t *d, const char *text);

/* Waits at most timeout_ms for the log to hold text. */
bool fc_test_wait_until_logged(const fc_test_daemon_t *d, const char *text, int timeout_ms);

/* A blocking hiredis connection to redis's unix socket (the caller frees
 * it with redisFree()); NULL on failure. */
redisContext *fc_test_redis_connect(const fc_test_redis_t *redis);

/* Runs a command (redisCommand format) and returns its integer reply, or
 * the length of an array reply, or the number in a string reply, or -1 for
 * nil, or -2 for anything else. */
long long fc_test_redis_int(redisContext *c, const char *format, ...);

/* The same reading of a reply the caller got otherwise; frees it (NULL
 * reads as -2). */
long long fc_test_reply_int(redisReply *r);

/* The resident memory of the daemon (VmRSS from /proc) in KiB, or -1. */
long fc_test_daemon_rss_kib(const fc_test_daemon_t *d);

/* Polls cond(arg) every 20 ms for at most timeout_ms. Returns its last value. */
bool fc_test_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

#endif
