/* chaos_poison: Crash jobs (examples.so: abort() in the handler) among many
 * Record jobs, and a restart loop like systemd's Restart=on-failure with
 * RestartSec=100ms. Each Crash job must bring its daemon down three times
 * and then be in dead as FlowCoro::PoisonJob (docs/engine.md, "Poison
 * jobs"), and every Record job must run: none lost, and none run twice
 * unless it was in flight at a crash. */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

/* How many Crash jobs are in dead as poison, charged three times with
 * SIGABRT; prints any other dead entry. */
static long poisoned_in_dead(void) {
        redisReply *dead = redisCommand(chaos_conn(&redis), "ZRANGE dead 0 -1");
        assert_non_null(dead);
        assert_int_equal(dead->type, REDIS_REPLY_ARRAY);
        long n = 0;
        for (size_t i = 0; i < dead->elements; i++) {
                json_t *o = json_loadb(dead->element[i]->str, dead->element[i]->len, 0, NULL);
                const char *klass = json_string_value(json_object_get(o, "class"));
                const char *error_class = json_string_value(json_object_get(o, "error_class"));
                const char *message = json_string_value(json_object_get(o, "error_message"));
                bool poison = klass && strcmp(klass, "Crash") == 0 && error_class &&
                              strcmp(error_class, "FlowCoro::PoisonJob") == 0 &&
                              json_integer_value(json_object_get(o, "recovered_count")) == 3 && message &&
                              strstr(message, "crashed its daemon (last time with SIGABRT) 3 times");
                if (poison)
                        n++;
                else
                        printf("unexpected in dead: %.300s\n", dead->element[i]->str);
                json_decref(o);
        }
        freeReplyObject(dead);
        return n;
}

static void test_poison_jobs_dead_after_three_crashes(void **state) {
        (void)state;
        long n_records = chaos_size(2000, 20000), n_crash = chaos_size(3, 10);
        redisContext *c = chaos_conn(&redis);
        assert_non_null(c);
        /* The Crash jobs spread evenly among the others. */
        long step = n_records / (n_crash + 1);
        for (long k = 0; k <= n_crash; k++) {
                long from = k * step, n = k == n_crash ? n_records - from : step;
                assert_int_equal(fc_test_record_push(c, "seen", "p", from, n, 5), 0);
                if (k < n_crash)
                        assert_true(fc_test_redis_int(
                                            c,
                                            "LPUSH queue:default {\"class\":\"Crash\",\"args\":[],"
                                            "\"queue\":\"default\",\"jid\":\"crash%ld\",\"retry\":true}",
                                            k) > 0);
        }

        int r = fc_test_daemon_start(&daemon_, &redis.server, "concurrency: 50\n", NULL);
        assert_true(r == 0 || daemon_.pid < 0); /* a Crash job may come before "running" */

        /* Restart it whenever it dies, until every job is done or dead. */
        long crashes = 0;
        long long bound = 0;
        int64_t give_up = chaos_now_ms() + chaos_size(120000, 600000);
        for (;;) {
                assert_true(chaos_now_ms() < give_up);
                if (fc_test_daemon_wait(&daemon_, 0)) {
                        assert_int_equal(daemon_.exit_code, 128 + SIGABRT);
                        crashes++;
                        long long in_flight = fc_test_inflight_total(chaos_conn(&redis));
                        assert_true(in_flight >= 0);
                        bound += in_flight;
                        printf("crash %ld: %lld jobs in flight, %lld done\n", crashes, in_flight,
                               chaos_int(&redis, "HLEN seen"));
                        assert_true(crashes <= 3 * n_crash);
                        chaos_sleep_ms(100); /* RestartSec */
                        r = fc_test_daemon_restart(&daemon_, NULL);
                        assert_true(r == 0 || daemon_.pid < 0);
                        continue;
                }
                if (chaos_jobs_left(&redis) == 0)
                        break;
                chaos_sleep_ms(20);
        }
        long poisoned = poisoned_in_dead();
        fc_test_tally_t t = chaos_tally(&redis, "seen", "p", n_records);
        printf("%ld crashes, %ld of %ld Crash jobs in dead as poison; extra runs %ld, bound (jobs in flight "
               "at "
               "the crashes) %lld\n",
               crashes, poisoned, n_crash, t.extra_runs, bound);
        fc_test_record_print(&t);
        assert_int_equal(t.lost, 0);
        assert_true(t.extra_runs <= bound);
        assert_int_equal(poisoned, n_crash);
        assert_int_equal(chaos_int(&redis, "ZCARD dead"), n_crash);
        /* Each crash charges at least one Crash job, and each is charged three times. */
        assert_true(crashes >= 3 && crashes <= 3 * n_crash);
        assert_false(fc_test_daemon_wait(&daemon_, 0));
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_poison_jobs_dead_after_three_crashes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
