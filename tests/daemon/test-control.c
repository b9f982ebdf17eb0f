/* daemon/control.c: the control socket of a real flowcorod (harness/daemon.h)
 * on a real redis-server, through the real client (fc_control_request) and
 * through raw connections for what the client never sends: status, quiet,
 * bad requests, the socket's mode, a stale socket replaced, a live one
 * refused, start-up errors that say what to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "flowcoro/core.h"
#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
/* The daemon a test runs, and the second one test_live_socket_is_refused
 * starts against it; stopped after each test, also one that failed (it
 * would go on fetching from the shared Redis during the next tests). */
static fc_test_daemon_t d, second;

static int setup(void **state) {
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int teardown(void **state) {
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

static int stop_daemons(void **state) {
        fc_test_daemon_stop(&second);
        fc_test_daemon_stop(&d);
        return 0;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Sends command with the real client; the answer, parsed. */
static json_t *request(const fc_test_daemon_t *daemon, const char *command) {
        char *reply = NULL, error[512] = "";
        int r = fc_control_request(daemon->control, command, &reply, error, sizeof(error));
        if (r < 0)
                fprintf(stderr, "fc_control_request(%s): %s\n", command, error);
        assert_int_equal(r, 0);
        json_error_t jerr;
        json_t *j = json_loads(reply, 0, &jerr);
        free(reply);
        assert_true(json_is_object(j));
        return j;
}

/* Writes bytes on a raw connection (unless NULL), ends its side, and
 * returns everything the daemon sends until it closes (malloc'd), waiting
 * at most 15 s. */
static char *raw_exchange(const char *path, const char *bytes, size_t len) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t path_len = strlen(path);
        assert_true(path_len < sizeof(sa.sun_path));
        memcpy(sa.sun_path, path, path_len + 1);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (bytes) {
                assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
                shutdown(fd, SHUT_WR); /* the end of the request, newline or not */
        }
        char *out = calloc(1, 65536);
        size_t got = 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (got < 65535 && poll(&p, 1, 15000) > 0) {
                ssize_t n = read(fd, out + got, 65535 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        close(fd);
        return out;
}

/* The first error of a {"ok":false,"errors":[...]} answer, or NULL. */
static const char *first_error(json_t *j) {
        if (!json_is_false(json_object_get(j, "ok")))
                return NULL;
        return json_string_value(json_array_get(json_object_get(j, "errors"), 0));
}

static json_t *raw_json(const char *path, const char *bytes, size_t len) {
        char *text = raw_exchange(path, bytes, len);
        json_t *j = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
        if (!j)
                fprintf(stderr, "not JSON: \"%s\"\n", text);
        free(text);
        assert_non_null(j);
        return j;
}

static bool redis_is_up(void *arg) {
        json_t *j = request(arg, "status");
        bool up = json_is_true(json_object_get(j, "redis_up"));
        json_decref(j);
        return up;
}

static void test_status_answers_with_the_engine_state(void **state) {
        assert_int_equal(fc_test_daemon_start(
                                 &d, &redis,
                                 "concurrency: 7\nqueues: [critical, default]\nshutdown_timeout: 1s\n", NULL),
                         0);

        /* Owner-only. */
        struct stat st;
        assert_int_equal(stat(d.control, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0600);

        assert_true(fc_test_wait_until(redis_is_up, &d, 15000));
        json_t *j = request(&d, "status");
        assert_true(json_is_true(json_object_get(j, "ok")));
        assert_int_equal(json_integer_value(json_object_get(j, "pid")), d.pid);
        const char *identity = json_string_value(json_object_get(j, "identity"));
        assert_non_null(identity);
        char pid[32];
        snprintf(pid, sizeof(pid), ":%d:", (int)d.pid);
        assert_non_null(strstr(identity, pid)); /* Sidekiq's host:pid:hex */
        assert_string_equal(json_string_value(json_object_get(j, "config")), d.config);
        assert_int_equal(json_integer_value(json_object_get(j, "concurrency")), 7);
        assert_int_equal(json_integer_value(json_object_get(j, "busy")), 0);
        assert_true(json_is_integer(json_object_get(j, "processed")));
        assert_true(json_is_integer(json_object_get(j, "failed")));
        assert_true(json_is_false(json_object_get(j, "quiet")));
        assert_true(json_is_false(json_object_get(j, "stopping")));
        json_t *queues = json_object_get(j, "queues");
        assert_int_equal(json_array_size(queues), 2);
        assert_string_equal(json_string_value(json_array_get(queues, 0)), "critical");
        assert_string_equal(json_string_value(json_array_get(queues, 1)), "default");
        assert_int_equal(json_integer_value(json_object_get(j, "plugins")), 1);
        assert_true(json_integer_value(json_object_get(j, "job_classes")) >= 8); /* examples.so */
        assert_true(json_is_null(json_object_get(j, "last_reload")));
        assert_non_null(json_string_value(json_object_get(j, "version")));
        json_decref(j);

        /* A job that runs shows in busy. */
        freeReplyObject(redisCommand(
                rc, "LPUSH queue:critical {\"class\":\"Sleep\",\"args\":[60000],\"jid\":\"s1\"}"));
        long long busy = 0;
        for (int i = 0; i < 750 && busy != 1; i++) {
                j = request(&d, "status");
                busy = json_integer_value(json_object_get(j, "busy"));
                json_decref(j);
                if (busy != 1)
                        sleep_ms(20);
        }
        assert_int_equal(busy, 1);

        fc_test_daemon_signal(&d, SIGTERM);
        assert_true(fc_test_daemon_wait(&d, 30000));
        assert_int_equal(d.exit_code, 0);
        /* A daemon that stopped cleanly removes its socket. */
        assert_int_equal(access(d.control, F_OK), -1);
        fc_test_daemon_stop(&d);
        freeReplyObject(redisCommand(rc, "DEL queue:critical")); /* the Sleep job, put back */
}

static void test_quiet_stops_fetching(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, "queues: [q_quiet]\n", NULL), 0);
        json_t *j = request(&d, "quiet");
        assert_true(json_is_true(json_object_get(j, "ok")));
        assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "quiet"));
        json_decref(j);
        j = request(&d, "status");
        assert_true(json_is_true(json_object_get(j, "quiet")));
        json_decref(j);
        freeReplyObject(
                redisCommand(rc, "LPUSH queue:q_quiet {\"class\":\"Noop\",\"args\":[],\"jid\":\"q1\"}"));
        sleep_ms(1500); /* a fetcher that still ran would have taken it by now */
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:q_quiet"), 1);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        freeReplyObject(redisCommand(rc, "DEL queue:q_quiet"));
}

static void test_bad_requests_get_errors_and_change_nothing(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, NULL, NULL), 0);

        json_t *j = request(&d, "bogus");
        assert_non_null(first_error(j));
        assert_non_null(strstr(first_error(j), "unknown command 'bogus'"));
        assert_non_null(strstr(first_error(j), "reload, quiet or status"));
        json_decref(j);

        j = raw_json(d.control, "\n", 1);
        assert_non_null(strstr(first_error(j), "empty request"));
        json_decref(j);

        j = raw_json(d.control, "st\x01\xff\"x\n", 7); /* control bytes, invalid UTF-8, a quote */
        assert_non_null(first_error(j));
        assert_non_null(strstr(first_error(j), "unknown command 'st??\"x'"));
        json_decref(j);

        char big[1000];
        memset(big, 'a', sizeof(big));
        j = raw_json(d.control, big, sizeof(big));
        assert_non_null(strstr(first_error(j), "request too long"));
        json_decref(j);

        j = raw_json(d.control, "status\r\n", 8); /* CRLF is fine */
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);

        j = raw_json(d.control, "status", 6); /* so is the end of the stream without a newline */
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);

        /* A client that says nothing is told so, after 5 s. */
        j = raw_json(d.control, NULL, 0);
        assert_non_null(strstr(first_error(j), "no request within 5 s"));
        json_decref(j);

        /* The client refuses what it can't send. */
        char *reply = NULL, error[512];
        assert_int_equal(fc_control_request(d.control, "", &reply, error, sizeof(error)), -EINVAL);
        assert_int_equal(fc_control_request(d.control, "status\nquiet", &reply, error, sizeof(error)),
                         -EINVAL);
        assert_null(reply);

        /* Still serving, not quiet. */
        j = request(&d, "status");
        assert_true(json_is_false(json_object_get(j, "quiet")));
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

static void test_client_errors_name_the_socket(void **state) {
        char *reply = NULL, error[512];
        assert_int_equal(
                fc_control_request("/nonexistent-dir/control.sock", "status", &reply, error, sizeof(error)),
                -ENOENT);
        assert_null(reply);
        assert_non_null(strstr(error, "/nonexistent-dir/control.sock"));
        assert_non_null(strstr(error, "is flowcorod running"));
}

static void test_stale_socket_is_replaced(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, NULL, NULL), 0);
        fc_test_daemon_kill(&d);
        struct stat st;
        assert_int_equal(stat(d.control, &st), 0); /* left behind */

        char *reply = NULL, error[512];
        assert_int_equal(fc_control_request(d.control, "status", &reply, error, sizeof(error)),
                         -ECONNREFUSED);
        assert_non_null(strstr(error, "not running"));

        assert_int_equal(fc_test_daemon_restart(&d, NULL), 0);
        assert_true(fc_test_daemon_logged(&d, "was left over from a daemon that died; replacing it"));
        json_t *j = request(&d, "status");
        assert_int_equal(json_integer_value(json_object_get(j, "pid")), d.pid);
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

/* Starts a daemon that must fail at start-up: returns its log. */
static char *failed_start(fc_test_daemon_t *daemon, const char *extra, int exit_code) {
        assert_int_not_equal(fc_test_daemon_start(daemon, &redis, extra, NULL), 0);
        assert_true(fc_test_daemon_wait(daemon, 10000));
        assert_int_equal(daemon->exit_code, exit_code);
        return fc_test_daemon_log(daemon);
}

static void test_live_socket_is_refused(void **state) {
        assert_int_equal(fc_test_daemon_start(&d, &redis, NULL, NULL), 0);
        char extra[400];
        snprintf(extra, sizeof(extra), "control:\n  socket: %s\n", d.control);
        char *log = failed_start(&second, extra, 73);
        assert_non_null(strstr(log, d.control));
        assert_non_null(strstr(log, "another flowcorod is running"));
        free(log);
        fc_test_daemon_stop(&second);
        /* The first one still answers, on its own socket. */
        json_t *j = request(&d, "status");
        assert_int_equal(json_integer_value(json_object_get(j, "pid")), d.pid);
        json_decref(j);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

static void test_unusable_socket_paths_fail_start_up_clearly(void **state) {
        char *log = failed_start(&d, "control:\n  socket: /nonexistent-dir/control.sock\n", 73);
        assert_non_null(strstr(log, "the directory /nonexistent-dir does not exist"));
        assert_non_null(strstr(log, "RuntimeDirectory="));
        free(log);
        fc_test_daemon_stop(&d);

        /* A file that is not a socket is never removed. */
        char file[] = "/tmp/fc-control-test-XXXXXX";
        int fd = mkstemp(file);
        assert_true(fd >= 0);
        close(fd);
        char extra[200];
        snprintf(extra, sizeof(extra), "control:\n  socket: %s\n", file);
        log = failed_start(&d, extra, 73);
        assert_non_null(strstr(log, "is not a socket"));
        free(log);
        fc_test_daemon_stop(&d);
        assert_int_equal(access(file, F_OK), 0);
        unlink(file);

        /* A directory it can't write (only meaningful when not root). */
        if (geteuid() != 0) {
                log = failed_start(&d, "control:\n  socket: /proc/control.sock\n", 73);
                assert_non_null(strstr(log, "cannot create it in /proc"));
                free(log);
                fc_test_daemon_stop(&d);
        }

        /* No control socket at all is fine. */
        assert_int_equal(fc_test_daemon_start(&d, &redis, "control:\n  socket: \"\"\n", NULL), 0);
        assert_int_equal(access(d.control, F_OK), -1);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

static void test_concurrency_beyond_max_map_count_fails_start_up(void **state) {
        long max = fc_max_map_count();
        if (max < 0 || max > 1999000) {
                fprintf(stderr, "vm.max_map_count is %ld here: 1,000,000 stacks fit, nothing to test\n", max);
                skip();
        }
        char *log = failed_start(&d, "concurrency: 1000000\n", 78);
        char want[64];
        snprintf(want, sizeof(want), "vm.max_map_count is %ld", max);
        assert_non_null(strstr(log, want));
        assert_non_null(strstr(log, "concurrency 1000000 needs about"));
        assert_non_null(strstr(log, "sysctl -w vm.max_map_count=262144"));
        free(log);
        fc_test_daemon_stop(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_status_answers_with_the_engine_state, stop_daemons),
                cmocka_unit_test_teardown(test_quiet_stops_fetching, stop_daemons),
                cmocka_unit_test_teardown(test_bad_requests_get_errors_and_change_nothing, stop_daemons),
                cmocka_unit_test_teardown(test_client_errors_name_the_socket, stop_daemons),
                cmocka_unit_test_teardown(test_stale_socket_is_replaced, stop_daemons),
                cmocka_unit_test_teardown(test_live_socket_is_refused, stop_daemons),
                cmocka_unit_test_teardown(test_unusable_socket_paths_fail_start_up_clearly, stop_daemons),
                cmocka_unit_test_teardown(test_concurrency_beyond_max_map_count_fails_start_up, stop_daemons),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
