/* core/sync.c: join, join_any and wait groups, from coroutines and from
 * plain threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

#include "flowcoro/core.h"

static fc_sched_t *pool(unsigned threads) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = threads};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        return s;
}

static fc_sched_t *the_pool;

static void wait_on_pipe(void *arg) {
        char b;
        int fd = *(int *)arg;
        fc_wait_fd(fd, 1 /* EPOLLIN */, FC_FOREVER);
        if (read(fd, &b, 1) != 1)
                b = 0;
}

typedef struct any_probe {
        int pipes[3][2];
        int first;
        int timeout_r;
} any_probe_t;

/* Three children each wait for their own pipe; the test releases the
 * second one only, and join_any must name it. */
static void join_any_parent(void *arg) {
        any_probe_t *p = arg;
        fc_coro_t *kids[3];
        for (int i = 0; i < 3; i++)
                assert_int_equal(fc_spawn(the_pool, wait_on_pipe, &p->pipes[i][0], &kids[i]), 0);
        p->timeout_r = fc_join_any(kids, 3, 10);
        assert_int_equal(write(p->pipes[1][1], "x", 1), 1);
        p->first = fc_join_any(kids, 3, FC_FOREVER);
        assert_int_equal(write(p->pipes[0][1], "x", 1), 1);
        assert_int_equal(write(p->pipes[2][1], "x", 1), 1);
        for (int i = 0; i < 3; i++)
                assert_int_equal(fc_join(kids[i]), 0);
}

static void test_join_any_names_the_first_to_finish(void **state) {
        fc_sched_t *s = the_pool = pool(2);
        any_probe_t p;
        for (int i = 0; i < 3; i++)
                assert_int_equal(pipe(p.pipes[i]), 0);
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, join_any_parent, &p, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(p.timeout_r, -ETIMEDOUT);
        assert_int_equal(p.first, 1);
        assert_int_equal(fc_join_any(NULL, 0, 0), -EINVAL);
        for (int i = 0; i < 3; i++)
                close(p.pipes[i][0]), close(p.pipes[i][1]);
        fc_sched_destroy(s);
}

typedef struct join_cancel {
        int pipe[2];
        int join_r;
        fc_coro_t *child;
} join_cancel_t;

static void joiner(void *arg) {
        join_cancel_t *j = arg;
        assert_int_equal(fc_spawn(the_pool, wait_on_pipe, &j->pipe[0], &j->child), 0);
        j->join_r = fc_join(j->child); /* cancelled while waiting */
}

static void test_cancelled_join_keeps_the_handle(void **state) {
        fc_sched_t *s = the_pool = pool(2);
        join_cancel_t j = {0};
        assert_int_equal(pipe(j.pipe), 0);
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, joiner, &j, &co), 0);
        fc_cancel(co);
        assert_int_equal(fc_join(co), 0);
        /* Cancelled either before or while joining: the join failed... */
        assert_int_equal(j.join_r, -ECANCELED);
        /* ...and the child's handle is still ours to join. */
        assert_int_equal(write(j.pipe[1], "x", 1), 1);
        assert_int_equal(fc_join(j.child), 0);
        close(j.pipe[0]);
        close(j.pipe[1]);
        fc_sched_destroy(s);
}

typedef struct wg_probe {
        fc_wg_t *wg;
        _Atomic int done;
} wg_probe_t;

static void work_then_done(void *arg) {
        wg_probe_t *p = arg;
        fc_sleep(1);
        atomic_fetch_add(&p->done, 1);
        fc_wg_done(p->wg);
}

static void wg_waiter(void *arg) {
        wg_probe_t *p = arg;
        assert_int_equal(fc_wg_wait(p->wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&p->done), 100);
}

static void test_wait_group_from_coroutines_and_threads(void **state) {
        fc_sched_t *s = pool(2);
        wg_probe_t p = {.wg = fc_wg_create()};
        assert_non_null(p.wg);
        assert_int_equal(fc_wg_wait(p.wg, 0), 0); /* count 0: no wait */
        fc_wg_add(p.wg, 100);
        assert_int_equal(fc_wg_wait(p.wg, 0), -ETIMEDOUT);
        fc_coro_t *w;
        assert_int_equal(fc_spawn(s, wg_waiter, &p, &w), 0);
        for (int i = 0; i < 100; i++)
                assert_int_equal(fc_spawn(s, work_then_done, &p, NULL), 0);
        assert_int_equal(fc_wg_wait(p.wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&p.done), 100);
        assert_int_equal(fc_join(w), 0);
        fc_wg_destroy(p.wg);
        fc_sched_destroy(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_join_any_names_the_first_to_finish),
                cmocka_unit_test(test_cancelled_join_keeps_the_handle),
                cmocka_unit_test(test_wait_group_from_coroutines_and_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
