/* Jobs through a running flowcorod: enqueue -> processed, counted as Sidekiq
 * counts them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/daemon.h"

static fc_test_redis_t redis;
static redisContext *rc;
/* The daemon a test runs; stopped after each test, also one that failed
 * (it would take the next test's jobs from queue:default). */
static fc_test_daemon_t d;

static int setup(void **state) {
        (void)state;
        if (fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        redisFree(rc);
        fc_test_redis_stop(&redis);
        return 0;
}

static int stop_daemon(void **state) {
        (void)state;
        fc_test_daemon_stop(&d);
        return 0;
}

static bool processed_reaches(void *arg) {
        return fc_test_redis_int(rc, "GET stat:processed") >= *(long long *)arg;
}

static void test_enqueued_jobs_run_once_and_are_counted(void **state) {
        (void)state;
        assert_int_equal(fc_test_daemon_start(&d, &redis, "concurrency: 50\n", NULL), 0);
        for (int i = 0; i < 500; i++)
                freeReplyObject(redisCommand(rc, "LPUSH queue:default {\"class\":\"Record\",\"args\":[\"seen\"],"
                                                 "\"jid\":\"job%d\"}", i));
        long long want = 500;
        /* stat:processed is flushed with the heartbeat (every 5 s). */
        assert_true(fc_test_wait_until(processed_reaches, &want, 20000));
        assert_int_equal(fc_test_redis_int(rc, "HLEN seen"), 500);
        for (int i = 0; i < 500; i += 97)
                assert_int_equal(fc_test_redis_int(rc, "HGET seen job%d", i), 1);
        assert_int_equal(fc_test_redis_int(rc, "LLEN queue:default"), 0);
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
        /* It left Sidekiq's process set and its in-flight hash is gone. */
        assert_int_equal(fc_test_redis_int(rc, "SCARD processes"), 0);
        assert_int_equal(fc_test_redis_int(rc, "GET stat:failed"), -1);
}

/* A handler that never yields can't be cancelled at its deadline (the
 * timer runs on its own thread): the log names it instead. */
static void test_a_handler_that_blocks_its_thread_past_its_deadline_is_named(void **state) {
        (void)state;
        assert_int_equal(fc_test_daemon_start(&d, &redis, NULL, NULL), 0);
        freeReplyObject(redisCommand(rc, "LPUSH queue:default {\"class\":\"Spin\",\"args\":[3000],"
                                         "\"jid\":\"spinner\",\"timeout\":0.2}"));
        assert_true(fc_test_wait_until_logged(&d, "job spinner (class Spin, queue default) is", 20000));
        assert_true(fc_test_daemon_logged(&d, "past its deadline and has not given its scheduler thread back"));
        fc_test_daemon_stop(&d);
        assert_int_equal(d.exit_code, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_enqueued_jobs_run_once_and_are_counted, stop_daemon),
                cmocka_unit_test_teardown(test_a_handler_that_blocks_its_thread_past_its_deadline_is_named,
                                          stop_daemon),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
