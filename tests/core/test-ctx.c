/* core/ctx_*: the raw context switch: control flow, values across switches,
 * and that each context keeps its own floating-point control state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fenv.h>
#include <stdlib.h>

#include "ctx.h"

static fc__ctx_t main_ctx, coro_ctx;
static int trace[16], n_trace;
static int coro_rounding;

static void entry(void *arg) {
        int *counter = arg;
        for (;;) {
                trace[n_trace++] = ++*counter;
                fc__ctx_switch(&coro_ctx, &main_ctx);
        }
}

static void test_ping_pong_keeps_locals_and_order(void **state) {
        size_t size = 64 * 1024;
        void *stack = malloc(size);
        int counter = 100;
        n_trace = 0;
        fc__ctx_make(&coro_ctx, stack, size, entry, &counter);
        volatile int local = 7; /* lives across switches in main's frame */
        for (int i = 0; i < 5; i++) {
                fc__ctx_switch(&main_ctx, &coro_ctx);
                trace[n_trace++] = -i;
        }
        assert_int_equal(local, 7);
        int expect[10] = {101, 0, 102, -1, 103, -2, 104, -3, 105, -4};
        assert_int_equal(n_trace, 10);
        for (int i = 0; i < 10; i++)
                assert_int_equal(trace[i], expect[i]);
        free(stack);
}

static void fp_entry(void *arg) {
        fesetround(FE_UPWARD);
        for (;;) {
                coro_rounding = fegetround();
                volatile double x = 1.0, y = 3.0;
                *(double *)arg = x / y;
                fc__ctx_switch(&coro_ctx, &main_ctx);
        }
}

static void test_each_context_keeps_its_rounding_mode(void **state) {
        size_t size = 64 * 1024;
        void *stack = malloc(size);
        double up = 0, near;
        fesetround(FE_TONEAREST);
        fc__ctx_make(&coro_ctx, stack, size, fp_entry, &up);
        for (int i = 0; i < 3; i++) {
                fc__ctx_switch(&main_ctx, &coro_ctx);
                assert_int_equal(coro_rounding, FE_UPWARD);
                assert_int_equal(fegetround(), FE_TONEAREST);
                volatile double x = 1.0, y = 3.0;
                near = x / y;
                assert_true(up > near); /* rounded up in the coroutine only */
        }
        free(stack);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ping_pong_keeps_locals_and_order),
                cmocka_unit_test(test_each_context_keeps_its_rounding_mode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
