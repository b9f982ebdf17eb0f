/* core/offload.c: blocking work runs on other threads while the scheduler
 * keeps running coroutines; results come back to the caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "flowcoro/core.h"
#include "stress.h"

typedef struct blocker {
        int fd;        /* read end: the blocking call waits on it */
        char got;
        pthread_t ran_on;
} blocker_t;

static void blocking_read(void *arg) {
        blocker_t *b = arg;
        b->ran_on = pthread_self();
        if (read(b->fd, &b->got, 1) != 1)
                b->got = 0;
}

typedef struct scene {
        blocker_t b;
        int release_fd; /* write end */
        pthread_t scheduler;
        _Atomic int other_ran;
} scene_t;

static void offloader(void *arg) {
        scene_t *sc = arg;
        sc->scheduler = pthread_self();
        assert_int_equal(fc_offload(blocking_read, &sc->b), 0);
        assert_true(pthread_equal(pthread_self(), sc->scheduler)); /* resumed where it started */
}

static void other_then_release(void *arg) {
        scene_t *sc = arg;
        atomic_store(&sc->other_ran, 1);
        /* This runs on the same single scheduler thread while the blocking
         * read holds a blocking thread: only then can it unblock it. */
        assert_int_equal(write(sc->release_fd, "k", 1), 1);
}

static void test_offload_frees_the_scheduler_thread(void **state) {
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 1};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        int p[2];
        assert_int_equal(pipe(p), 0);
        scene_t sc = {.b = {.fd = p[0]}, .release_fd = p[1]};
        fc_coro_t *a, *b;
        assert_int_equal(fc_spawn(s, offloader, &sc, &a), 0);
        assert_int_equal(fc_spawn(s, other_then_release, &sc, &b), 0);
        assert_int_equal(fc_join(a), 0);
        assert_int_equal(fc_join(b), 0);
        assert_int_equal(sc.b.got, 'k');
        assert_false(pthread_equal(sc.b.ran_on, sc.scheduler));
        assert_int_equal(atomic_load(&sc.other_ran), 1);
        close(p[0]);
        close(p[1]);
        fc_sched_destroy(s);
}

static void add_one(void *arg) {
        atomic_fetch_add((_Atomic long *)arg, 1);
}

typedef struct load {
        _Atomic long calls;
        fc_wg_t *wg;
} load_t;

static void offload_many(void *arg) {
        load_t *l = arg;
        for (int i = 0; i < 200; i++)
                assert_int_equal(fc_offload(add_one, &l->calls), 0);
        fc_wg_done(l->wg);
}

static void test_offload_under_load(void **state) {
        enum { CALLERS = STRESS(200) };
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 2, .blocking_threads = 4};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        load_t l = {.wg = fc_wg_create()};
        fc_wg_add(l.wg, CALLERS);
        for (int i = 0; i < CALLERS; i++)
                assert_int_equal(fc_spawn(s, offload_many, &l, NULL), 0);
        assert_int_equal(fc_wg_wait(l.wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&l.calls), CALLERS * 200);
        long direct = 0;
        assert_int_equal(fc_offload(add_one, &direct), 0); /* outside a coroutine: runs here */
        assert_int_equal(direct, 1);
        fc_wg_destroy(l.wg);
        fc_sched_destroy(s);
}

/* Two offloaded calls where the first blocks until the second runs: a burst
 * must get a thread each, not queue behind one (which would deadlock). */
typedef struct pair {
        int p[2];
        char got;
} pair_t;

static void blocking_reader(void *arg) {
        pair_t *pr = arg;
        if (read(pr->p[0], &pr->got, 1) != 1)
                pr->got = 0;
}

static void blocking_writer(void *arg) {
        pair_t *pr = arg;
        if (write(pr->p[1], "w", 1) != 1)
                pr->got = '!';
}

static void offload_reader(void *arg) {
        fc_offload(blocking_reader, arg);
}

static void offload_writer(void *arg) {
        fc_offload(blocking_writer, arg);
}

static void test_dependent_offloads_in_a_burst_do_not_deadlock(void **state) {
        for (int round = 0; round < STRESS(200) + 1; round++) {
                fc_sched_t *s;
                fc_sched_options_t o = {.threads = 1, .blocking_threads = 8};
                assert_int_equal(fc_sched_create(&o, &s), 0);
                pair_t pr = {0};
                assert_int_equal(pipe(pr.p), 0);
                fc_coro_t *a, *b;
                assert_int_equal(fc_spawn(s, offload_reader, &pr, &a), 0);
                assert_int_equal(fc_spawn(s, offload_writer, &pr, &b), 0);
                assert_int_equal(fc_join(a), 0);
                assert_int_equal(fc_join(b), 0);
                assert_int_equal(pr.got, 'w');
                close(pr.p[0]);
                close(pr.p[1]);
                fc_sched_destroy(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_offload_frees_the_scheduler_thread),
                cmocka_unit_test(test_offload_under_load),
                cmocka_unit_test(test_dependent_offloads_in_a_burst_do_not_deadlock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
