/* chaos_kill9: flowcorod is killed with SIGKILL every few seconds while
 * Record jobs flow in at a steady rate, and restarted each time (as systemd
 * would). No job may be lost. A job can run twice only if it was in the
 * dead daemon's in-flight hash (it ran, but its acknowledgement did not
 * reach Redis), so the jobs in that hash just after each kill, summed over
 * the kills, bound the extra runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
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

static void test_kill9_while_jobs_flow(void **state) {
        (void)state;
        chaos_pacer_t jobs = {
                .key = "seen",
                .prefix = "k",
                .ms = 20,
                .per_second = (double)chaos_size(500, 1000),
                .total = chaos_size(8000, 100000),
        };
        assert_int_equal(fc_test_daemon_start(&daemon_, &redis.server, "concurrency: 200\n", NULL), 0);

        /* Kill every 2-4 s while jobs are still being enqueued. */
        srand((unsigned)getpid());
        int kills = 0;
        long long bound = 0;
        int64_t next_kill = chaos_now_ms() + 2000 + rand() % 2000;
        while (!chaos_paced_all(&jobs)) {
                chaos_pace(&jobs, &redis);
                if (chaos_now_ms() >= next_kill) {
                        fc_test_daemon_kill(&daemon_);
                        /* Frozen until the restart recovers it: exactly what may run again. */
                        long long in_flight = fc_test_inflight_total(chaos_conn(&redis));
                        assert_true(in_flight >= 0);
                        bound += in_flight;
                        kills++;
                        printf("kill %d: %ld jobs enqueued, %lld done, %lld in flight\n", kills, jobs.pushed,
                               chaos_int(&redis, "HLEN seen"), in_flight);
                        assert_int_equal(fc_test_daemon_restart(&daemon_, NULL), 0);
                        next_kill = chaos_now_ms() + 2000 + rand() % 2000;
                }
                chaos_sleep_ms(10);
        }
        assert_true(chaos_wait_settled(&redis, (int)chaos_size(120000, 600000)));
        fc_test_tally_t t = chaos_tally(&redis, "seen", "k", jobs.total);
        printf("%d kills; extra runs %ld, bound (jobs in flight at the kills) %lld; dead %lld\n", kills,
               t.extra_runs, bound, chaos_int(&redis, "ZCARD dead"));
        fc_test_record_print(&t);
        assert_true(kills >= (int)chaos_size(3, 20));
        assert_int_equal(t.lost, 0);
        assert_true(t.extra_runs <= bound);
        assert_false(fc_test_daemon_wait(&daemon_, 0)); /* the last one still runs */
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kill9_while_jobs_flow, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
