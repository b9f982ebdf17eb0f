/* core/timer.c: the per-scheduler 4-ary timer heap, checked against a
 * simple model under random arm, re-arm and cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "timer.h"

typedef struct probe {
        fc__timer_t t;
        int id;
} probe_t;

static int fired[4096];
static int n_fired;

static void record(fc__timer_t *t) {
        fired[n_fired++] = ((probe_t *)t)->id;
}

static void test_fires_in_order_and_ties_by_arming_order(void **state) {
        fc__timer_heap_t h = {0};
        probe_t p[5];
        int64_t when[5] = {30, 10, 20, 10, 40};
        n_fired = 0;
        for (int i = 0; i < 5; i++) {
                p[i].id = i;
                fc__timer_init(&p[i].t, record);
                assert_int_equal(fc__timer_arm(&h, &p[i].t, when[i]), 0);
        }
        assert_int_equal(fc__timer_next(&h), 10);
        assert_int_equal(fc__timer_run(&h, 25), 3);
        assert_int_equal(n_fired, 3);
        assert_int_equal(fired[0], 1);
        assert_int_equal(fired[1], 3);
        assert_int_equal(fired[2], 2);
        assert_false(fc__timer_armed(&p[1].t));
        assert_int_equal(fc__timer_next(&h), 30);
        fc__timer_cancel(&h, &p[0].t);
        assert_int_equal(fc__timer_run(&h, 1000), 1);
        assert_int_equal(fired[3], 4);
        assert_int_equal(fc__timer_next(&h), INT64_MAX);
        fc__timer_heap_free(&h);
}

static void test_random_arm_cancel_matches_model(void **state) {
        enum { N = 2000, ROUNDS = 200000 };
        static probe_t p[N];
        static int64_t model[N]; /* -1 = unarmed */
        fc__timer_heap_t h = {0};
        srand(12345);
        for (int i = 0; i < N; i++) {
                p[i].id = i;
                fc__timer_init(&p[i].t, record);
                model[i] = -1;
        }
        int64_t now = 0;
        for (int round = 0; round < ROUNDS; round++) {
                int i = rand() % N;
                switch (rand() % 4) {
                case 0:
                case 1:
                        model[i] = now + rand() % 1000;
                        assert_int_equal(fc__timer_arm(&h, &p[i].t, model[i]), 0);
                        break;
                case 2:
                        fc__timer_cancel(&h, &p[i].t);
                        model[i] = -1;
                        break;
                case 3: {
                        now += rand() % 50;
                        n_fired = 0;
                        size_t expected = 0;
                        for (int k = 0; k < N; k++)
                                expected += model[k] >= 0 && model[k] <= now;
                        assert_int_equal(fc__timer_run(&h, now), expected);
                        int64_t last = INT64_MIN;
                        for (int k = 0; k < n_fired; k++) {
                                int id = fired[k];
                                assert_true(model[id] >= 0 && model[id] <= now);
                                assert_true(model[id] >= last); /* in expiry order */
                                last = model[id];
                                model[id] = -1;
                        }
                        break;
                }
                }
                int64_t min = INT64_MAX;
                size_t armed = 0;
                for (int k = 0; k < N && round % 1000 == 0; k++)
                        if (model[k] >= 0) {
                                armed++;
                                if (model[k] < min)
                                        min = model[k];
                        }
                if (round % 1000 == 0) {
                        assert_int_equal(h.len, armed);
                        assert_int_equal(fc__timer_next(&h), min);
                }
        }
        fc__timer_heap_free(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fires_in_order_and_ties_by_arming_order),
                cmocka_unit_test(test_random_arm_cancel_matches_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
