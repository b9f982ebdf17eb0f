/* chaos_memory: steady load, and the daemon's resident memory must stay
 * flat. Record jobs (50 ms each) come at 1,000 a second for 45 s (30 minutes
 * in the full run) while VmRSS is read from /proc/<pid>/status every second
 * (every 10 s in the full run).
 *
 * "Flat": first, three bursts of 2,000 jobs fill the concurrency cap (200;
 * the steady load keeps about 50 running), so the most coroutines, stacks
 * and buffers there can ever be are reached before anything is judged: a
 * later hiccup that lets jobs pile up can't set a new high-water mark. Then
 * the first fifth of the run (a third of the small one) is warm-up (stack
 * caches, malloc arenas and Redis buffers settle) and is not judged. The rest
 * is cut in thirds; the highest sample of the last third may exceed the
 * highest of the first third by at most 10% plus 2 MiB. Maxima, not single
 * samples or averages, so one sample taken mid-burst does not decide;
 * thirds of the run after warm-up, so a leak shows as a rise between two
 * windows far apart. Why those figures: docs/chaos.md. Under AddressSanitizer
 * RSS grows by design (its quarantine holds freed memory, up to 256 MiB),
 * so there the case reports RSS and judges only the jobs. No job may be
 * lost or run twice: nothing here breaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chaos.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define CONCURRENCY 200
#define BURSTS      3
#define BURST       2000

static chaos_redis_t redis;
static fc_test_daemon_t daemon_;
static long *samples;

static int setup(void **state) {
        (void)state;
        return chaos_redis_start(&redis, NULL);
}

static int teardown(void **state) {
        (void)state;
        fc_test_daemon_stop(&daemon_);
        chaos_redis_stop(&redis);
        free(samples);
        samples = NULL;
        return 0;
}

static long max_of(const long *v, long from, long to) {
        long m = 0;
        for (long i = from; i < to; i++)
                m = v[i] > m ? v[i] : m;
        return m;
}

static void test_rss_flat_under_steady_load(void **state) {
        (void)state;
        long seconds = chaos_size(45, 1800), every_ms = chaos_size(1000, 10000);
        long n_samples = seconds * 1000 / every_ms;
        chaos_pacer_t jobs = {
                .key = "seen",
                .prefix = "m",
                .ms = 50,
                .per_second = 1000,
                .total = seconds * 1000,
        };
        samples = calloc((size_t)n_samples, sizeof(*samples));
        assert_non_null(samples);
        char config[64];
        snprintf(config, sizeof(config), "concurrency: %d\n", CONCURRENCY);
        assert_int_equal(fc_test_daemon_start(&daemon_, &redis.server, config, NULL), 0);

        /* Bursts that fill the concurrency cap: the most coroutines (stacks, buffers) there can ever
         * be, reached before anything is judged. */
        for (long b = 0; b < BURSTS; b++) {
                assert_int_equal(fc_test_record_push(chaos_conn(&redis), "seen", "w", b * BURST, BURST, 50),
                                 0);
                int64_t give_up = chaos_now_ms() + 30000;
                while (chaos_jobs_left(&redis) != 0) {
                        assert_true(chaos_now_ms() < give_up);
                        chaos_sleep_ms(10);
                }
        }
        printf("after %d bursts of %d jobs at concurrency %d: RSS %ld KiB\n", BURSTS, BURST, CONCURRENCY,
               fc_test_daemon_rss_kib(&daemon_));

        int64_t start = chaos_now_ms();
        for (long i = 0; i < n_samples;) {
                chaos_pace(&jobs, &redis);
                if (chaos_now_ms() >= start + (i + 1) * every_ms) {
                        samples[i] = fc_test_daemon_rss_kib(&daemon_);
                        assert_true(samples[i] > 0);
                        if ((i + 1) % (n_samples / 15 > 0 ? n_samples / 15 : 1) == 0)
                                printf("%5.0f s: RSS %ld KiB, %ld jobs enqueued, %lld done\n",
                                       (double)(chaos_now_ms() - start) / 1000.0, samples[i], jobs.pushed,
                                       chaos_int(&redis, "HLEN seen"));
                        i++;
                }
                chaos_sleep_ms(10);
        }
        long warm = chaos_full() ? n_samples / 5 : n_samples / 3, third = (n_samples - warm) / 3;
        long first = max_of(samples, warm, warm + third),
             last = max_of(samples, n_samples - third, n_samples);
        long limit = first + first / 10 + 2048;
        printf("RSS after warm-up: first third's max %ld KiB, last third's max %ld KiB (limit %ld KiB)%s\n",
               first, last, limit, UNDER_ASAN ? "; not judged under AddressSanitizer" : "");

        assert_true(chaos_wait_settled(&redis, 60000));
        fc_test_tally_t t = chaos_tally(&redis, "seen", "m", jobs.pushed);
        assert_int_equal(fc_test_record_tally(chaos_conn(&redis), "seen", "w", 0, BURSTS * BURST, &t), 0);
        fc_test_record_print(&t);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.duplicated, 0);
        if (!UNDER_ASAN)
                assert_true(last <= limit);
        assert_false(fc_test_daemon_wait(&daemon_, 0));
}

int main(void) {
        chaos_init();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rss_flat_under_steady_load, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
