/* core/sched.c, what other threads can learn about the scheduler threads:
 * fc_self_worker(), fc_sched_ready() (metrics) and fc_sched_stalled() (the
 * service watchdog). The waits are bounded and no assert depends on how
 * fast the machine is: a stall is waited for, never timed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "flowcoro/core.h"

static fc_sched_t *pool(unsigned threads) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = threads};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        return s;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* ---- fc_self_worker ----------------------------------------------------- */

typedef struct where {
        _Atomic int before, after;
} where_t;

static void record_worker(void *arg) {
        where_t *w = arg;
        atomic_store(&w->before, fc_self_worker());
        fc_sleep(1);
        atomic_store(&w->after, fc_self_worker());
}

static void test_self_worker_names_the_thread(void **state) {
        assert_int_equal(fc_self_worker(), -1); /* not a scheduler thread */
        fc_sched_t *s = pool(3);
        enum { N = 64 };
        where_t w[N];
        fc_coro_t *co[N];
        bool seen[3] = {false};
        for (int i = 0; i < N; i++) {
                atomic_init(&w[i].before, -2);
                atomic_init(&w[i].after, -2);
                assert_int_equal(fc_spawn(s, record_worker, &w[i], &co[i]), 0);
        }
        for (int i = 0; i < N; i++) {
                assert_int_equal(fc_join(co[i]), 0);
                int b = atomic_load(&w[i].before);
                assert_in_range(b, 0, 2);
                /* A started coroutine never changes thread. */
                assert_int_equal(atomic_load(&w[i].after), b);
                seen[b] = true;
        }
        assert_true(seen[0] || seen[1] || seen[2]);
        assert_int_equal(fc_self_worker(), -1);
        fc_sched_destroy(s);
}

/* ---- fc_sched_ready ----------------------------------------------------- */

static void nothing(void *arg) {
}

typedef struct ready_probe {
        fc_sched_t *s;
        size_t before, queued, after;
        int worker;
} ready_probe_t;

/* On a one-thread pool: spawns 5 pinned and 7 stealable coroutines without
 * yielding, so all 12 wait for their turn, then lets them run. */
static void spawn_and_count(void *arg) {
        ready_probe_t *p = arg;
        p->worker = fc_self_worker();
        p->before = fc_sched_ready(p->s, 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(fc_spawn_here(nothing, NULL, NULL), 0);
        for (int i = 0; i < 7; i++)
                assert_int_equal(fc_spawn(p->s, nothing, NULL, NULL), 0);
        p->queued = fc_sched_ready(p->s, 0);
        /* Each yield lets the queued ones run; bounded. */
        for (int i = 0; i < 1000 && fc_sched_ready(p->s, 0) > 0; i++)
                fc_yield();
        p->after = fc_sched_ready(p->s, 0);
}

static void test_ready_counts_coroutines_waiting_for_their_turn(void **state) {
        fc_sched_t *s = pool(1);
        ready_probe_t p = {.s = s, .before = 99, .queued = 99, .after = 99};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, spawn_and_count, &p, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(p.worker, 0);
        assert_int_equal(p.before, 0); /* the caller runs: it is not waiting */
        assert_int_equal(p.queued, 12);
        assert_int_equal(p.after, 0);
        assert_int_equal(fc_sched_ready(s, 0), 0);
        assert_int_equal(fc_sched_ready(s, 1), 0); /* no such thread */
        fc_sched_destroy(s);
}

/* ---- fc_sched_stalled --------------------------------------------------- */

typedef struct spinner {
        _Atomic int worker; /* -1 until it runs */
        _Atomic bool release;
} spinner_t;

/* Holds its scheduler thread without ever coming back to the loop. */
static void spin(void *arg) {
        spinner_t *sp = arg;
        atomic_store(&sp->worker, fc_self_worker());
        while (!atomic_load_explicit(&sp->release, memory_order_relaxed))
                ;
}

static void test_stalled_finds_a_spinning_coroutine(void **state) {
        fc_sched_t *s = pool(2);
        spinner_t sp;
        atomic_init(&sp.worker, -1);
        atomic_init(&sp.release, false);
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, spin, &sp, &co), 0);
        for (int i = 0; i < 1000 && atomic_load(&sp.worker) < 0; i++)
                sleep_ms(10);
        assert_in_range(atomic_load(&sp.worker), 0, 1);

        const fc_coro_t *found = NULL;
        int64_t held = -1;
        int r = -1;
        for (int i = 0; i < 1000 && r < 0; i++) { /* at most ~20 s */
                r = fc_sched_stalled(s, 100, &found, &held);
                if (r < 0)
                        sleep_ms(20);
        }
        assert_int_equal(r, atomic_load(&sp.worker)); /* the spinner's thread, not the idle one */
        assert_ptr_equal(found, co);
        assert_true(held > 100);

        atomic_store(&sp.release, true);
        assert_int_equal(fc_join(co), 0);
        /* fc_join() returns as the coroutine ends, maybe a moment before
         * its thread is back in its loop; once there, it is no longer
         * stalled, whatever the interval. */
        for (int i = 0; i < 500 && fc_sched_stalled(s, 100, &found, &held) >= 0; i++)
                sleep_ms(10);
        for (int i = 0; i < 5; i++) {
                assert_int_equal(fc_sched_stalled(s, 100, &found, &held), -1);
                sleep_ms(120);
        }
        fc_sched_destroy(s);
}

typedef struct busy {
        _Atomic bool stop;
        _Atomic uint64_t turns;
} busy_t;

/* Busy, but comes back to the loop at every yield. */
static void keep_yielding(void *arg) {
        busy_t *b = arg;
        while (!atomic_load(&b->stop)) {
                atomic_fetch_add(&b->turns, 1);
                fc_yield();
        }
}

static void sleep_long(void *arg) {
        fc_sleep(FC_FOREVER);
}

static void test_idle_busy_and_sleeping_threads_are_not_stalled(void **state) {
        fc_sched_t *s = pool(3);
        busy_t b;
        atomic_init(&b.stop, false);
        atomic_init(&b.turns, 0);
        fc_coro_t *yielder, *sleeper;
        assert_int_equal(fc_spawn(s, keep_yielding, &b, &yielder), 0);
        assert_int_equal(fc_spawn(s, sleep_long, NULL, &sleeper), 0);
        for (int i = 0; i < 1000 && atomic_load(&b.turns) < 100; i++)
                sleep_ms(10);
        assert_true(atomic_load(&b.turns) >= 100);
        /* Calls more than ms apart: a thread that had not come back would
         * be found by the second one. */
        for (int i = 0; i < 6; i++) {
                const fc_coro_t *found = NULL;
                assert_int_equal(fc_sched_stalled(s, 200, &found, NULL), -1);
                assert_null(found);
                sleep_ms(250);
        }
        atomic_store(&b.stop, true);
        fc_cancel(sleeper);
        assert_int_equal(fc_join(yielder), 0);
        assert_int_equal(fc_join(sleeper), 0);
        fc_sched_destroy(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_self_worker_names_the_thread),
                cmocka_unit_test(test_ready_counts_coroutines_waiting_for_their_turn),
                cmocka_unit_test(test_stalled_finds_a_spinning_coroutine),
                cmocka_unit_test(test_idle_busy_and_sleeping_threads_are_not_stalled),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
