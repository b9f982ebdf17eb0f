/* chaos_redis: Redis misbehaves under a running daemon while Record jobs
 * flow in, every few seconds, in turn:
 *   - restarted cleanly (SIGTERM), its data kept in the AOF;
 *   - CLIENT KILL TYPE normal: every connection but the test's own closed;
 *   - DEBUG SLEEP: the server stalls, the small run's 6 s stall past the
 *     daemon's 5 s command timeout;
 *   - killed with SIGKILL and restarted: with appendfsync always, every
 *     write Redis acknowledged is in the AOF.
 * No job may be lost, and the daemon must ride it all out (same process).
 * A job runs twice only when an event took the reply of its HINCRBY (the
 * job fails, is retried and counts again), so each event can add at most
 * `concurrency` extra runs. FLOWCORO_TEST_RETRY_DELAY_MS makes those retries
 * due after 200 ms instead of Sidekiq's 15 s and more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "chaos.h"

#define CONCURRENCY 100

static const char *const redis_args[] = {
        "--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "yes", NULL};
static chaos_redis_t redis;
static fc_test_daemon_t daemon_;

static int setup(void **state) {
        (void)state;
        return chaos_redis_start(&redis, redis_args);
}

static int teardown(void **state) {
        (void)state;
        fc_test_daemon_stop(&daemon_);
        chaos_redis_stop(&redis);
        unsetenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        return 0;
}

/* Does event number i (they take turns) and says what it did. */
static void misbehave(int i, long sleep_s) {
        long long done = chaos_int(&redis, "HLEN seen");
        switch (i % 4) {
        case 0:
                assert_int_equal(chaos_redis_restart(&redis, false), 0);
                printf("event %d: Redis restarted (SIGTERM) with %lld jobs done\n", i + 1, done);
                break;
        case 1: {
                long long killed = chaos_int(&redis, "CLIENT KILL TYPE normal");
                printf("event %d: CLIENT KILL closed %lld connections with %lld jobs done\n", i + 1, killed,
                       done);
                assert_true(killed > 0);
                break;
        }
        case 2: {
                redisReply *r = redisCommand(chaos_conn(&redis), "DEBUG SLEEP %ld", sleep_s);
                assert_non_null(r);
                if (r->type == REDIS_REPLY_ERROR)
                        printf("DEBUG SLEEP: %s\n", r->str);
                assert_int_equal(r->type, REDIS_REPLY_STATUS);
                freeReplyObject(r);
                printf("event %d: DEBUG SLEEP %ld with %lld jobs done\n", i + 1, sleep_s, done);
                break;
        }
        default:
                assert_int_equal(chaos_redis_restart(&redis, true), 0);
                printf("event %d: Redis killed (SIGKILL) and restarted with %lld jobs done\n", i + 1, done);
                break;
        }
}

static void test_redis_restarts_kills_and_stalls_lose_nothing(void **state) {
        (void)state;
        chaos_pacer_t jobs = {
                .key = "seen",
                .prefix = "r",
                .ms = 20,
                .per_second = (double)chaos_size(300, 1000),
                .total = chaos_size(6000, 100000),
        };
        int n_events = (int)chaos_size(4, 24);
        setenv("FLOWCORO_TEST_RETRY_DELAY_MS", "200", 1);
        char config[64];
        snprintf(config, sizeof(config), "concurrency: %d\n", CONCURRENCY);
        assert_int_equal(fc_test_daemon_start(&daemon_, &redis.server, config, NULL), 0);
        pid_t pid = daemon_.pid;

        int events = 0;
        int64_t next = chaos_now_ms() + 3000;
        while (events < n_events || !chaos_paced_all(&jobs)) {
                chaos_pace(&jobs, &redis);
                if (events < n_events && chaos_now_ms() >= next) {
                        /* Stalls alternate between short ones and ones past the command timeout. */
                        misbehave(events, chaos_full() && events % 8 == 2 ? 2 : 6);
                        events++;
                        next = chaos_now_ms() + chaos_size(3000, 4000);
                }
                chaos_sleep_ms(10);
        }
        assert_true(chaos_wait_settled(&redis, (int)chaos_size(120000, 600000)));
        fc_test_tally_t t = chaos_tally(&redis, "seen", "r", jobs.total);
        long bound = (long)events * CONCURRENCY;
        printf("%d events; extra runs %ld, bound (events x concurrency) %ld; retried %lld; dead %lld\n",
               events, t.extra_runs, bound, chaos_int(&redis, "GET stat:failed"),
               chaos_int(&redis, "ZCARD dead"));
        fc_test_record_print(&t);
        assert_int_equal(t.lost, 0);
        assert_true(t.extra_runs <= bound);
        assert_false(fc_test_daemon_wait(&daemon_, 0)); /* it rode it out */
        assert_int_equal(daemon_.pid, pid);
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_redis_restarts_kills_and_stalls_lose_nothing, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
