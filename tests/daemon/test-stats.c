/* daemon/stats.c: counts summed over per-thread slots while coroutines on
 * every scheduler thread and plain threads count at once (this program runs
 * under TSan too), the cap on (queue, class) pairs, and the histogram
 * buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flowcoro/core.h"
#include "stats.h"

static fc_stats_counts_t counts_of(const fc_stats_t *s, size_t i) {
        fc_stats_counts_t c = {0};
        fc_stats_add_counts(s, i, &c);
        return c;
}

static fc_stats_counts_t total(const fc_stats_t *s) {
        fc_stats_counts_t c = {0};
        for (size_t i = 0; i < fc_stats_labels(s); i++)
                fc_stats_add_counts(s, i, &c);
        return c;
}

static uint64_t bucket_total(const uint64_t *b) {
        uint64_t n = 0;
        for (size_t i = 0; i <= FC_STATS_BUCKETS; i++)
                n += b[i];
        return n;
}

/* The pair's index, or -1 when it is not kept. */
static long find(const fc_stats_t *s, const char *queue, const char *klass) {
        for (size_t i = 0; i < fc_stats_labels(s); i++) {
                const char *q, *k;
                fc_stats_label(s, i, &q, &k);
                if (strcmp(q, queue) == 0 && strcmp(k, klass) == 0)
                        return (long)i;
        }
        return -1;
}

static void done(fc_stats_t *s, const char *queue, const char *klass, fc_stats_outcome_t outcome,
                 double queued, double ran) {
        double now = 1.7e9;
        fc_stats_job_done(s, &(fc_stats_job_t){.queue = queue,
                                               .klass = klass,
                                               .outcome = outcome,
                                               .enqueued_at = now - queued - ran,
                                               .started_at = now - ran,
                                               .finished_at = now});
}

/* ---- concurrent writers ---------------------------------------------------- */

#define THREADS       4
#define COROS         32
#define PLAIN_THREADS 2
#define PER_WRITER    20000
#define CLASSES       300 /* over the cap: writers race to insert and to fold */

typedef struct writer {
        fc_stats_t *s;
} writer_t;

/* Every writer waits here, so that all of them count at the same time. */
static atomic_bool go;

/* Each writer counts PER_WRITER jobs: one in five fails to retry, one in
 * five to dead; all cycle through the same CLASSES names at once, so they
 * race to insert the same pairs, fold into "other" past the cap, and count
 * in the same counters. */
static void write_jobs(writer_t *w) {
        char klass[32];
        while (!atomic_load(&go))
                if (fc_self())
                        fc_yield();
                else
                        sched_yield();
        for (unsigned i = 0; i < PER_WRITER; i++) {
                snprintf(klass, sizeof(klass), "Class%u", i % CLASSES);
                fc_stats_outcome_t o = i % 5 == 1   ? FC_STATS_RETRIED
                                       : i % 5 == 2 ? FC_STATS_DEAD
                                                    : FC_STATS_SUCCEEDED;
                fc_stats_job_started(w->s);
                done(w->s, i % 2 ? "default" : "critical", klass, o, 0.002, 0.02);
                fc_stats_job_ended(w->s);
                if (i % 64 == 0 && fc_self())
                        fc_yield(); /* let the thread's other writers interleave */
        }
}

static void coro_writer(void *arg) {
        write_jobs(arg);
}

static void *thread_writer(void *arg) {
        write_jobs(arg);
        return NULL;
}

static void test_counts_from_every_thread_add_up(void **state) {
        (void)state;
        fc_sched_t *sched;
        fc_stats_t *s;
        assert_int_equal(fc_sched_create(&(fc_sched_options_t){.threads = THREADS}, &sched), 0);
        assert_int_equal(fc_stats_new(fc_sched_threads(sched), &s), 0);

        writer_t w[COROS + PLAIN_THREADS];
        fc_coro_t *co[COROS];
        pthread_t th[PLAIN_THREADS];
        for (unsigned i = 0; i < COROS + PLAIN_THREADS; i++)
                w[i] = (writer_t){.s = s};
        for (unsigned i = 0; i < COROS; i++)
                assert_int_equal(fc_spawn(sched, coro_writer, &w[i], &co[i]), 0);
        for (unsigned i = 0; i < PLAIN_THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, thread_writer, &w[COROS + i]), 0);

        atomic_store(&go, true);
        /* Scrapes meanwhile: each sum only grows, and never past the end. */
        uint64_t last = 0;
        const uint64_t all = (uint64_t)(COROS + PLAIN_THREADS) * PER_WRITER;
        for (int i = 0; i < 200; i++) {
                fc_stats_counts_t c = total(s);
                assert_true(c.processed >= last);
                assert_true(c.processed <= all);
                assert_true(fc_stats_busy(s) <= COROS + PLAIN_THREADS);
                last = c.processed;
        }

        for (unsigned i = 0; i < COROS; i++)
                assert_int_equal(fc_join(co[i]), 0);
        for (unsigned i = 0; i < PLAIN_THREADS; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);

        fc_stats_counts_t c = total(s);
        assert_int_equal(c.processed, all);
        assert_int_equal(c.retried, all / 5);
        assert_int_equal(c.dead, all / 5);
        assert_int_equal(c.failed, 2 * all / 5);
        assert_int_equal(bucket_total(c.duration), all);
        assert_int_equal(bucket_total(c.latency), all);
        assert_int_equal(fc_stats_busy(s), 0);
        /* The cap held under racing inserts, and the rest went to "other". */
        assert_int_equal(fc_stats_labels(s), FC_STATS_MAX_LABELS);
        assert_true(counts_of(s, 0).processed > 0);

        fc_stats_free(s);
        fc_sched_destroy(sched);
}

/* ---- the label cap ------------------------------------------------------------ */

static void test_a_flood_of_classes_folds_into_other_and_costs_no_memory(void **state) {
        (void)state;
        fc_stats_t *s;
        char klass[64];
        assert_int_equal(fc_stats_new(2, &s), 0);
        done(s, "default", "Kept", FC_STATS_SUCCEEDED, 0, 0);

        /* Fill the registry up to the cap ... */
        unsigned i = 0;
        while (fc_stats_labels(s) < FC_STATS_MAX_LABELS) {
                snprintf(klass, sizeof(klass), "Bogus::Class%06u::padding-padding-padding", i++);
                done(s, "default", klass, FC_STATS_SUCCEEDED, 0, 0);
        }
        assert_int_equal(i, FC_STATS_MAX_LABELS - 2); /* "other" and "Kept" came first */
        size_t memory = fc_stats_memory(s);
        struct mallinfo2 before = mallinfo2();

        /* ... then 100,000 distinct classes more. */
        for (; i < 100000; i++) {
                snprintf(klass, sizeof(klass), "Bogus::Class%06u::padding-padding-padding", i);
                done(s, "default", klass, FC_STATS_DEAD, 0, 0);
        }
        done(s, "default", "Kept", FC_STATS_SUCCEEDED, 0, 0);

        struct mallinfo2 after = mallinfo2();
        assert_int_equal(fc_stats_labels(s), FC_STATS_MAX_LABELS);
        assert_int_equal(fc_stats_memory(s), memory);
        /* 100,000 interned names would be megabytes; a leak per job too. */
        assert_true(after.uordblks < before.uordblks + 64 * 1024);

        const uint64_t folded = 100000 - (FC_STATS_MAX_LABELS - 2);
        fc_stats_counts_t other = counts_of(s, 0);
        assert_int_equal(other.processed, folded);
        assert_int_equal(other.dead, folded);
        assert_int_equal(other.failed, folded);
        long kept = find(s, "default", "Kept");
        assert_true(kept > 0);
        assert_int_equal(counts_of(s, (size_t)kept).processed, 2); /* kept before the cap: still counted */
        assert_int_equal(total(s).processed, 100000 + 2);
        fc_stats_free(s);
}

static void test_names_that_cant_be_labels_count_as_other(void **state) {
        (void)state;
        fc_stats_t *s;
        char longest[FC_STATS_LABEL_MAX + 2];
        assert_int_equal(fc_stats_new(1, &s), 0);
        const char *q, *k;
        fc_stats_label(s, 0, &q, &k);
        assert_string_equal(q, "other");
        assert_string_equal(k, "other");

        done(s, "default", NULL, FC_STATS_DEAD, 0, 0);
        done(s, "default", "", FC_STATS_DEAD, 0, 0);
        done(s, "", "Noop", FC_STATS_DEAD, 0, 0);
        done(s, "default", "New\nLine", FC_STATS_DEAD, 0, 0);
        done(s, "default", "Del\x7f", FC_STATS_DEAD, 0, 0);
        memset(longest, 'x', sizeof(longest));
        longest[FC_STATS_LABEL_MAX + 1] = '\0'; /* one byte too long */
        done(s, "default", longest, FC_STATS_DEAD, 0, 0);
        assert_int_equal(fc_stats_labels(s), 1);
        assert_int_equal(counts_of(s, 0).processed, 6);

        longest[FC_STATS_LABEL_MAX] = '\0'; /* just long enough */
        done(s, "default", longest, FC_STATS_SUCCEEDED, 0, 0);
        done(s, "default", "Quote\"and\\backslash", FC_STATS_SUCCEEDED, 0, 0);
        /* Real names equal to the overflow's: one series. */
        done(s, "other", "other", FC_STATS_SUCCEEDED, 0, 0);
        assert_int_equal(fc_stats_labels(s), 3);
        assert_true(find(s, "default", longest) > 0);
        assert_true(find(s, "default", "Quote\"and\\backslash") > 0);
        assert_int_equal(counts_of(s, 0).processed, 7);
        /* ("ab", "c") and ("a", "bc") are two pairs. */
        done(s, "ab", "c", FC_STATS_SUCCEEDED, 0, 0);
        done(s, "a", "bc", FC_STATS_SUCCEEDED, 0, 0);
        assert_int_equal(counts_of(s, (size_t)find(s, "ab", "c")).processed, 1);
        assert_int_equal(counts_of(s, (size_t)find(s, "a", "bc")).processed, 1);
        fc_stats_free(s);
}

/* ---- outcomes and histograms ------------------------------------------------------ */

static void test_each_outcome_counts_where_it_should(void **state) {
        (void)state;
        fc_stats_t *s;
        assert_int_equal(fc_stats_new(1, &s), 0);
        done(s, "q", "C", FC_STATS_SUCCEEDED, 0, 0);
        done(s, "q", "C", FC_STATS_SNOOZED, 0, 0);
        done(s, "q", "C", FC_STATS_RETRIED, 0, 0);
        done(s, "q", "C", FC_STATS_RETRIED, 0, 0);
        done(s, "q", "C", FC_STATS_DEAD, 0, 0);
        done(s, "q", "C", FC_STATS_DROPPED, 0, 0);
        fc_stats_counts_t c = counts_of(s, (size_t)find(s, "q", "C"));
        assert_int_equal(c.processed, 6);
        assert_int_equal(c.failed, 4);
        assert_int_equal(c.retried, 2);
        assert_int_equal(c.dead, 1);
        fc_stats_free(s);
}

static void sample(fc_stats_t *s, double enqueued_at, double started_at, double finished_at) {
        fc_stats_job_done(s, &(fc_stats_job_t){.queue = "q",
                                               .klass = "C",
                                               .enqueued_at = enqueued_at,
                                               .started_at = started_at,
                                               .finished_at = finished_at});
}

static void test_histograms_put_each_sample_in_its_bucket(void **state) {
        (void)state;
        fc_stats_t *s;
        assert_int_equal(fc_stats_new(1, &s), 0);
        sample(s, 100, 100.25, 100.5);     /* 0.25 s each: bounds are inclusive (le), bucket 0.25 */
        sample(s, 100, 100.0005, 100.001); /* ~0.5 ms each: bucket 0.001 */
        sample(s, 100, 160, 220);          /* 60 s each: the last bucket */
        sample(s, 100, 161, 3761);         /* 61 s and an hour: +Inf */
        sample(s, 200, 100, 100.375);      /* enqueued_at from a clock ahead: latency 0; 0.375 s */
        sample(s, 0, 100, 100.01);         /* 0.01000000000000512 s in doubles: still le 0.01 */
        fc_stats_counts_t c = counts_of(s, (size_t)find(s, "q", "C"));
        uint64_t want_latency[FC_STATS_BUCKETS + 1] = {[0] = 2, [7] = 1, [14] = 1, [15] = 1};
        uint64_t want_duration[FC_STATS_BUCKETS + 1] = {
                [0] = 1, [3] = 1, [7] = 1, [8] = 1, [14] = 1, [15] = 1};
        assert_memory_equal(c.latency, want_latency, sizeof(want_latency));
        assert_memory_equal(c.duration, want_duration, sizeof(want_duration));
        assert_float_equal(c.duration_sum, 0.25 + 0.0005 + 60 + 3600 + 0.375 + 0.01, 1e-5);
        assert_float_equal(c.latency_sum, 0.25 + 0.0005 + 60 + 61, 1e-5);

        /* No enqueued_at: no latency sample. Never ran: no sample at all. */
        sample(s, 0, 100, 100.5);
        sample(s, 99, 0, 100.5);
        c = counts_of(s, (size_t)find(s, "q", "C"));
        assert_int_equal(c.processed, 8);
        assert_int_equal(bucket_total(c.duration), 7);
        assert_int_equal(c.duration[8], 2); /* 0.5 s: le 0.5 */
        assert_int_equal(bucket_total(c.latency), 5);
        assert_float_equal(fc_stats_bucket_bounds[7], 0.25, 0);
        assert_float_equal(fc_stats_bucket_bounds[8], 0.5, 0);
        assert_float_equal(fc_stats_bucket_bounds[FC_STATS_BUCKETS - 1], 60, 0);
        for (size_t b = 1; b < FC_STATS_BUCKETS; b++)
                assert_true(fc_stats_bucket_bounds[b] > fc_stats_bucket_bounds[b - 1]);
        fc_stats_free(s);
}

/* The clock fc_stats_new() reads. Not time(NULL): glibc takes it from the
 * coarse clock, up to a tick behind CLOCK_REALTIME, so just past a second
 * boundary time(NULL) + 1 can be below a start time read before it. */
static double wall_seconds(void) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void test_reloads_start_time_and_bad_arguments(void **state) {
        (void)state;
        fc_stats_t *s = (fc_stats_t *)1;
        assert_int_equal(fc_stats_new(0, &s), -EINVAL);
        assert_null(s);
        double before = wall_seconds();
        assert_int_equal(fc_stats_new(3, &s), 0);
        double after = wall_seconds();
        assert_true(fc_stats_start_time(s) >= before && fc_stats_start_time(s) <= after);
        fc_stats_reload(s, true);
        fc_stats_reload(s, true);
        fc_stats_reload(s, false);
        uint64_t ok, failed;
        fc_stats_reloads(s, &ok, &failed);
        assert_int_equal(ok, 2);
        assert_int_equal(failed, 1);
        fc_stats_free(s);
        fc_stats_free(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts_from_every_thread_add_up),
                cmocka_unit_test(test_a_flood_of_classes_folds_into_other_and_costs_no_memory),
                cmocka_unit_test(test_names_that_cant_be_labels_count_as_other),
                cmocka_unit_test(test_each_outcome_counts_where_it_should),
                cmocka_unit_test(test_histograms_put_each_sample_in_its_bucket),
                cmocka_unit_test(test_reloads_start_time_and_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
