/* The AArch64 context switch and the runtime on it, built with the cross
 * compiler and run under qemu-aarch64 (test-core-aarch64 in ctest). No
 * cmocka here: it is not installed for arm64, so failures print and exit 1.
 *
 * Checks: ping-pong control flow, callee-saved FP registers (d8-d15) and
 * general registers across switches, FPCR kept per context, and a pool
 * running coroutines that sleep, yield and use channels. */
#include <fenv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctx.h"
#include "flowcoro/core.h"

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond)) {                                                       \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        exit(1);                                                     \
                }                                                                    \
        } while (0)

static fc__ctx_t main_ctx, other_ctx;
static volatile double other_sum;
static int other_rounding;

static void other(void *arg) {
        double a = 1.5, b = 2.25; /* live in callee-saved registers across switches */
        fesetround(FE_UPWARD);
        for (;;) {
                a += 1.0;
                b *= 1.0;
                other_sum = a + b;
                other_rounding = fegetround();
                fc__ctx_switch(&other_ctx, &main_ctx);
        }
}

static void test_raw_switch(void) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        register double keep1 = 3.0, keep2 = 7.0;
        long counter = 0;
        fesetround(FE_TONEAREST);
        fc__ctx_make(&other_ctx, stack, sizeof(stack), other, NULL);
        for (int i = 0; i < 1000; i++) {
                fc__ctx_switch(&main_ctx, &other_ctx);
                counter++;
                keep1 += 1.0;
                keep2 -= 1.0;
                CHECK(other_sum == 1.5 + (i + 1) + 2.25);
                CHECK(other_rounding == FE_UPWARD);
                CHECK(fegetround() == FE_TONEAREST);
        }
        CHECK(counter == 1000);
        CHECK(keep1 == 1003.0 && keep2 == -993.0);
}

static _Atomic long done;
static fc_chan_t *ch;

static void worker(void *arg) {
        long id = (long)arg;
        fc_sleep(id % 3);
        fc_yield();
        fc_chan_send(ch, (void *)(id + 1), FC_FOREVER);
        atomic_fetch_add(&done, 1);
}

static void test_pool(void) {
        enum { N = 2000 };
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 2};
        CHECK(fc_sched_create(&o, &s) == 0);
        CHECK(fc_chan_create(16, &ch) == 0);
        for (long i = 0; i < N; i++)
                CHECK(fc_spawn(s, worker, (void *)i, NULL) == 0);
        long sum = 0;
        for (int i = 0; i < N; i++) {
                void *v;
                CHECK(fc_chan_recv(ch, &v, FC_FOREVER) == 0);
                sum += (long)v;
        }
        CHECK(sum == (long)N * (N + 1) / 2);
        fc_sched_destroy(s);
        CHECK(atomic_load(&done) == N);
        fc_chan_destroy(ch);
}

int main(void) {
        test_raw_switch();
        test_pool();
        printf("aarch64: context switch and pool OK\n");
        return 0;
}
