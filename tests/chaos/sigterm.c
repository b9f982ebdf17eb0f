/* chaos_sigterm: SIGTERM while jobs run, over and over. Each round enqueues
 * short (10 ms), medium (1 s) and long (5 s) Record jobs, waits until the
 * daemon has fetched them all, and stops it: with shutdown_timeout 3 s the
 * medium ones finish and the long ones are cancelled and go back to the
 * front of their queue (one round sends a second SIGTERM, which cancels at
 * once). After each stop every job ran or is back in the queue, exactly one
 * of the two, and nothing is left in flight; the last restart runs
 * everything. A job runs twice only if it was cancelled in the middle of its
 * HINCRBY, so the jobs the daemon says it cancelled bound the extra runs. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chaos.h"

static chaos_redis_t redis;
static fc_test_daemon_t daemon_;

static int setup(void **state) {
        (void)state;
        return chaos_redis_start(&redis, NULL);
}

static int teardown(void **state) {
        (void)state;
        fc_test_daemon_stop(&daemon_);
        chaos_redis_stop(&redis);
        return 0;
}

/* Jobs the daemon's log says it cancelled at shutdown, over all its runs. */
static long cancelled_in_log(void) {
        char *log = fc_test_daemon_log(&daemon_);
        long n = 0;
        for (const char *p = log; p && (p = strstr(p, "notice: cancelled ")); p++)
                n += strtol(p + strlen("notice: cancelled "), NULL, 10);
        free(log);
        return n;
}

static int compare_long(const void *a, const void *b) {
        long x = *(const long *)a, y = *(const long *)b;
        return (x > y) - (x < y);
}

/* After a stop: whether each of jids t0 .. t<pushed-1> ran or is queued, and
 * how many did both; fails the test on anything else. */
static long check_after_stop(long pushed) {
        assert_int_equal(fc_test_inflight_total(chaos_conn(&redis)), 0);
        redisReply *queue = redisCommand(chaos_conn(&redis), "LRANGE queue:default 0 -1");
        assert_non_null(queue);
        assert_int_equal(queue->type, REDIS_REPLY_ARRAY);
        size_t n = queue->elements;
        long *jids = calloc(n + 1, sizeof(*jids));
        assert_non_null(jids);
        for (size_t i = 0; i < n; i++) {
                const char *jid = strstr(queue->element[i]->str, "\"jid\":\"t");
                assert_non_null(jid);
                jids[i] = strtol(jid + strlen("\"jid\":\"t"), NULL, 10);
        }
        freeReplyObject(queue);
        qsort(jids, n, sizeof(*jids), compare_long);
        long ran_and_queued = 0;
        for (size_t i = 0; i < n; i++) {
                assert_true(i == 0 || jids[i] != jids[i - 1]); /* queued once */
                ran_and_queued += chaos_int(&redis, "HEXISTS seen t%ld", jids[i]) == 1;
        }
        free(jids);
        /* Every job that never ran is in the queue. */
        fc_test_tally_t t = chaos_tally(&redis, "seen", "t", pushed);
        assert_int_equal(t.lost, (long)n - ran_and_queued);
        printf("  after the stop: %ld ran, %zu back in the queue (%ld of them ran too), %ld ran twice\n",
               t.completed, n, ran_and_queued, t.duplicated);
        return ran_and_queued + t.extra_runs;
}

static void test_sigterm_with_long_jobs_running(void **state) {
        (void)state;
        int rounds = (int)chaos_size(3, 20);
        assert_int_equal(fc_test_daemon_start(&daemon_, &redis.server,
                                              "concurrency: 1000\nshutdown_timeout: 3s\n", NULL),
                         0);
        redisContext *c = chaos_conn(&redis);
        long pushed = 0;
        for (int round = 0; round < rounds; round++) {
                bool twice = round % 3 == 1;
                assert_int_equal(fc_test_record_push(c, "seen", "t", pushed, 30, 5000), 0);
                assert_int_equal(fc_test_record_push(c, "seen", "t", pushed + 30, 100, 1000), 0);
                assert_int_equal(fc_test_record_push(c, "seen", "t", pushed + 130, 300, 10), 0);
                pushed += 430;
                int64_t give_up = chaos_now_ms() + 30000;
                while (chaos_int(&redis, "LLEN queue:default") != 0) {
                        assert_true(chaos_now_ms() < give_up);
                        chaos_sleep_ms(10);
                }
                long long done = chaos_int(&redis, "HLEN seen"), in_flight = fc_test_inflight_total(c);
                fc_test_daemon_signal(&daemon_, SIGTERM);
                if (twice) {
                        chaos_sleep_ms(100);
                        fc_test_daemon_signal(&daemon_, SIGTERM);
                }
                assert_true(fc_test_daemon_wait(&daemon_, 30000));
                long long done_after = chaos_int(&redis, "HLEN seen");
                printf("round %d: SIGTERM%s with %lld jobs in flight, %lld done; exit %d, %lld done\n",
                       round + 1, twice ? " twice" : "", in_flight, done, daemon_.exit_code, done_after);
                if (daemon_.exit_code != 0)
                        chaos_print_log_tail(&daemon_, "it did not exit 0", 3000);
                /* Asked twice, it skips the wait for running jobs, not the one for
                 * cancelled jobs to unwind (their coroutines still use the engine). */
                assert_int_equal(daemon_.exit_code, 0);
                assert_false(fc_test_daemon_logged(&daemon_, "ignored cancellation"));
                long extra = check_after_stop(pushed);
                assert_true(extra <= cancelled_in_log());
                if (!twice)
                        assert_true(done_after > done); /* the medium ones finished during the stop */
                assert_int_equal(fc_test_daemon_restart(&daemon_, NULL), 0);
        }
        assert_true(chaos_wait_settled(&redis, 60000));
        fc_test_tally_t t = chaos_tally(&redis, "seen", "t", pushed);
        long cancelled = cancelled_in_log();
        printf("%d stops; extra runs %ld, bound (jobs cancelled at the stops) %ld\n", rounds, t.extra_runs,
               cancelled);
        fc_test_record_print(&t);
        assert_int_equal(t.lost, 0);
        assert_true(t.extra_runs <= cancelled);
        assert_int_equal(chaos_int(&redis, "ZCARD retry") + chaos_int(&redis, "ZCARD dead"), 0);
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sigterm_with_long_jobs_running, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
