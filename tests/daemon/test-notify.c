/* What a real flowcorod tells systemd (daemon/notify.c, daemon/watchdog.c):
 * the test binds its own NOTIFY_SOCKET datagram socket, as systemd does for
 * a Type=notify service, starts the daemon with it (and WATCHDOG_USEC) and
 * reads READY=1, STATUS=, RELOADING=1, STOPPING=1 and WATCHDOG=1; a handler
 * that holds its scheduler thread stops the watchdog pings, and the log
 * names its job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
/* The daemon a test runs; stopped after each test, also one that failed
 * (its pings would run on into the next test). */
static fc_test_daemon_t d;
static int notify_fd = -1;
static char notify_dir[64], notify_path[100];

static int setup(void **state) {
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        snprintf(notify_dir, sizeof(notify_dir), "/tmp/fc-notify-XXXXXX");
        if (!rc || !mkdtemp(notify_dir))
                return -1;
        snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", notify_dir);
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
        if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        /* The daemons this test starts inherit them. */
        setenv("NOTIFY_SOCKET", notify_path, 1);
        setenv("WATCHDOG_USEC", "1000000", 1);
        return 0;
}

static int teardown(void **state) {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        if (notify_fd >= 0)
                close(notify_fd);
        unlink(notify_path);
        rmdir(notify_dir);
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

static long ms_since(const struct timespec *start) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* The next datagram within timeout_ms, NUL-terminated into buf; false when
 * none came. */
static bool next_message(char *buf, size_t size, int timeout_ms) {
        struct pollfd p = {.fd = notify_fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
                return false;
        ssize_t n = recv(notify_fd, buf, size - 1, 0);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return true;
}

/* Reads datagrams for at most timeout_ms until one starts with prefix;
 * copies it into buf when given. */
static bool wait_message(const char *prefix, char *buf, size_t size, int timeout_ms) {
        char msg[1024];
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                long left = timeout_ms - ms_since(&start);
                if (left <= 0 || !next_message(msg, sizeof(msg), (int)left))
                        return false;
                if (strncmp(msg, prefix, strlen(prefix)) == 0) {
                        if (buf)
                                snprintf(buf, size, "%s", msg);
                        return true;
                }
        }
}

static int stop_daemon(void **state) {
        fc_test_daemon_stop(&d);
        return 0;
}

static void drain(void) {
        char msg[1024];
        while (next_message(msg, sizeof(msg), 0))
                ;
}

static void test_ready_status_reload_and_stopping(void **state) {
        drain();
        assert_int_equal(fc_test_daemon_start(&d, &redis, "concurrency: 30\nshutdown_timeout: 2s\n", NULL),
                         0);
        char msg[1024];
        assert_true(wait_message("READY=1", NULL, 0, 10000));
        assert_true(wait_message("WATCHDOG=1", NULL, 0, 10000));
        /* STATUS= says how busy it is against what limit, and Redis's state;
         * Redis may still be connecting in the first one. */
        bool up = false;
        for (int i = 0; i < 10 && !up; i++) {
                assert_true(wait_message("STATUS=", msg, sizeof(msg), 10000));
                if (!strstr(msg, "busy 0/30"))
                        fail_msg("an idle daemon at concurrency 30 said: %s", msg);
                up = strstr(msg, "Redis up") != NULL;
        }
        assert_true(up);

        /* SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1 again. */
        drain();
        fc_test_daemon_signal(&d, SIGHUP);
        assert_true(wait_message("RELOADING=1", msg, sizeof(msg), 10000));
        assert_non_null(strstr(msg, "\nMONOTONIC_USEC="));
        assert_true(wait_message("READY=1", NULL, 0, 10000));
        assert_true(wait_message("STATUS=", msg, sizeof(msg), 10000));
        assert_non_null(strstr(msg, "last reload "));
        assert_non_null(strstr(msg, " OK"));

        /* The same through the control socket. */
        char *reply = NULL, error[512];
        assert_int_equal(fc_control_request(d.control, "reload", &reply, error, sizeof(error)), 0);
        free(reply);
        assert_true(wait_message("RELOADING=1", NULL, 0, 10000));
        assert_true(wait_message("READY=1", NULL, 0, 10000));

        /* SIGTERM: STOPPING=1 with the time the drain may take
         * (shutdown_timeout 2 s + 15 s to put jobs back). */
        fc_test_daemon_signal(&d, SIGTERM);
        assert_true(wait_message("STOPPING=1", msg, sizeof(msg), 10000));
        assert_non_null(strstr(msg, "\nEXTEND_TIMEOUT_USEC=17000000"));
        assert_true(fc_test_daemon_wait(&d, 30000));
        assert_int_equal(d.exit_code, 0);
        fc_test_daemon_stop(&d);
}

static void test_a_held_scheduler_thread_stops_the_watchdog(void **state) {
        drain();
        assert_int_equal(fc_test_daemon_start(&d, &redis, "queues: [spin]\n", NULL), 0);
        assert_true(wait_message("WATCHDOG=1", NULL, 0, 10000));
        /* 10 s without a yield, against a watchdog of 1 s. */
        freeReplyObject(redisCommand(
                rc, "LPUSH queue:spin {\"class\":\"Spin\",\"args\":[10000],\"jid\":\"spinner7\"}"));
        assert_true(fc_test_wait_until_logged(&d, "watchdog: scheduler thread", 20000));
        assert_true(fc_test_daemon_logged(&d, "held by job spinner7 (class Spin, queue spin)"));
        assert_true(fc_test_daemon_logged(&d, "no more watchdog pings"));
        /* From the moment it said so, no ping while the spinner holds on
         * (it has held for about 1 s of its 10 s). */
        drain();
        char msg[1024];
        int pings = 0, others = 0;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (long left; (left = 2000 - ms_since(&start)) > 0;)
                if (next_message(msg, sizeof(msg), (int)left))
                        strncmp(msg, "WATCHDOG=1", 10) == 0 ? pings++ : others++;
        assert_int_equal(pings, 0);
        assert_true(others > 0); /* STATUS= goes on: the service thread itself is fine */
        assert_false(fc_test_daemon_logged(&d, "run again"));

        /* Once the thread is back, pings resume. */
        assert_true(fc_test_wait_until_logged(&d, "the scheduler threads run again", 30000));
        assert_true(wait_message("WATCHDOG=1", NULL, 0, 10000));
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

/* Without NOTIFY_SOCKET nothing is sent and nothing is started for it. */
static void test_nothing_is_sent_outside_systemd(void **state) {
        unsetenv("NOTIFY_SOCKET");
        drain();
        int r = fc_test_daemon_start(&d, &redis, NULL, NULL);
        setenv("NOTIFY_SOCKET", notify_path, 1);
        assert_int_equal(r, 0);
        char msg[1024];
        assert_false(next_message(msg, sizeof(msg), 3000)); /* a status would have come within 2 s */
        assert_false(fc_test_daemon_logged(&d, "watchdog:"));
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        assert_false(next_message(msg, sizeof(msg), 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_ready_status_reload_and_stopping, stop_daemon),
                cmocka_unit_test_teardown(test_a_held_scheduler_thread_stops_the_watchdog, stop_daemon),
                cmocka_unit_test_teardown(test_nothing_is_sent_outside_systemd, stop_daemon),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
