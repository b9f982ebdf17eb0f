/* bench-core: micro-benchmarks of the coroutine runtime.
 *
 * Prints one line per figure and, with --json, one JSON object on the last
 * line of stdout. Every figure is the median of REPS repetitions inside this
 * run; these machines are shared and noisy, so single runs lie.
 *
 *   switch_ns        one coroutine-to-coroutine switch (raw context switch,
 *                    ping-pong between two stacks, per switch)
 *   swapcontext_ns   the same ping-pong with ucontext's swapcontext
 *   yield_ns         fc_yield between two coroutines of one scheduler
 *                    (per yield: through the scheduler loop)
 *   spawn_ns         fc_spawn + run to completion + reclaim, amortised
 *   wakeup_cross_ns  wake a coroutine parked on the other scheduler until it
 *                    runs (channel ping-pong across threads, per wake)
 *   timer_ns         arm + cancel one timer in a heap of 10,000 armed ones
 *   sleeper_rss_kib  resident memory per coroutine with 20,000 sleeping
 *   idle_cpu_pct     CPU used by an idle two-thread pool over one second
 *   scaling_2v1      throughput of a CPU-bound, spawn-heavy workload with 2
 *                    scheduler threads divided by 1 (64 producers, each with
 *                    32 jobs in flight, as the daemon bounds concurrency) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "ctx.h"
#include "flowcoro/core.h"
#include "timer.h"

#define REPS 7

static double now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static double median(double *v, int n) {
        qsort(v, (size_t)n, sizeof(double), cmp_double);
        return v[n / 2];
}

static fc_sched_t *pool(unsigned threads) {
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = threads};
        int r = fc_sched_create(&o, &s);
        if (r < 0) {
                fprintf(stderr, "bench-core: cannot create pool: %s (%s)\n", strerror(-r), fc_last_error());
                exit(1);
        }
        return s;
}

static void run_joined(fc_sched_t *s, fc_fn_t fn, void *arg) {
        fc_coro_t *co;
        if (fc_spawn(s, fn, arg, &co) < 0 || fc_join(co) < 0) {
                fprintf(stderr, "bench-core: spawn/join failed: %s\n", fc_last_error());
                exit(1);
        }
}

/* ---- raw switch vs swapcontext ---------------------------------------- */

enum { SWITCH_ROUNDS = 2000000 };
static fc__ctx_t main_ctx, other_ctx;
static ucontext_t main_uc, other_uc;

static void bounce(void *arg) {
        for (;;)
                fc__ctx_switch(&other_ctx, &main_ctx);
}

static void uc_bounce(void) {
        for (;;)
                swapcontext(&other_uc, &main_uc);
}

static double bench_switch(void) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        fc__ctx_make(&other_ctx, stack, sizeof(stack), bounce, NULL);
        double t0 = now_ns();
        for (int i = 0; i < SWITCH_ROUNDS; i++)
                fc__ctx_switch(&main_ctx, &other_ctx);
        return (now_ns() - t0) / (2.0 * SWITCH_ROUNDS);
}

static double bench_swapcontext(void) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        enum { ROUNDS = SWITCH_ROUNDS / 20 };
        getcontext(&other_uc);
        other_uc.uc_stack.ss_sp = stack;
        other_uc.uc_stack.ss_size = sizeof(stack);
        makecontext(&other_uc, uc_bounce, 0);
        double t0 = now_ns();
        for (int i = 0; i < ROUNDS; i++)
                swapcontext(&main_uc, &other_uc);
        return (now_ns() - t0) / (2.0 * ROUNDS);
}

/* ---- yield between two coroutines ------------------------------------- */

enum { YIELDS = 1000000 };
static double yield_result;

static void yielder(void *arg) {
        for (int i = 0; i < YIELDS; i++)
                fc_yield();
}

static void yield_pair(void *arg) {
        fc_coro_t *a, *b;
        double t0 = now_ns();
        fc_spawn_here(yielder, NULL, &a);
        fc_spawn_here(yielder, NULL, &b);
        fc_join(a);
        fc_join(b);
        yield_result = (now_ns() - t0) / (2.0 * YIELDS);
}

/* ---- spawn + run + reclaim -------------------------------------------- */

enum { SPAWNS = 1000000, SPAWN_BATCH = 128 };
static long spawn_done;
static double spawn_result;

static void empty_job(void *arg) {
        spawn_done++; /* one scheduler thread: no race */
}

static void spawner(void *arg) {
        fc_sched_t *s = arg;
        spawn_done = 0;
        double t0 = now_ns();
        for (int i = 0; i < SPAWNS; i += SPAWN_BATCH) {
                for (int k = 0; k < SPAWN_BATCH; k++)
                        if (fc_spawn(s, empty_job, NULL, NULL) < 0)
                                abort();
                while (spawn_done < i + SPAWN_BATCH)
                        fc_yield();
        }
        spawn_result = (now_ns() - t0) / SPAWNS;
}

/* ---- cross-scheduler wake-up ------------------------------------------ */

enum { CROSS_ROUNDS = 20000 };

typedef struct cross {
        fc_chan_t *ab, *ba;
        _Atomic int placed;
        pthread_t a_thread, b_thread;
        _Atomic int ready;
        double result;
} cross_t;

static void cross_b(void *arg) {
        cross_t *c = arg;
        c->b_thread = pthread_self();
        atomic_fetch_add(&c->ready, 1);
        void *v;
        while (fc_chan_recv(c->ab, &v, FC_FOREVER) == 0)
                fc_chan_send(c->ba, v, FC_FOREVER);
}

static void cross_a(void *arg) {
        cross_t *c = arg;
        c->a_thread = pthread_self();
        atomic_fetch_add(&c->ready, 1);
        while (atomic_load(&c->ready) < 2)
                ; /* hold this thread so b starts on the other */
        if (pthread_equal(c->a_thread, c->b_thread)) {
                c->result = -1;
                return;
        }
        void *v;
        double t0 = now_ns();
        for (int i = 0; i < CROSS_ROUNDS; i++) {
                fc_chan_send(c->ab, (void *)1, FC_FOREVER);
                fc_chan_recv(c->ba, &v, FC_FOREVER);
        }
        c->result = (now_ns() - t0) / (2.0 * CROSS_ROUNDS);
}

static double bench_wakeup_cross(fc_sched_t *s) {
        cross_t c = {0};
        fc_chan_create(1, &c.ab);
        fc_chan_create(1, &c.ba);
        fc_coro_t *a, *b;
        fc_spawn(s, cross_a, &c, &a);
        fc_spawn(s, cross_b, &c, &b);
        fc_join(a);
        fc_chan_close(c.ab);
        fc_join(b);
        fc_chan_destroy(c.ab);
        fc_chan_destroy(c.ba);
        return c.result;
}

/* ---- timers ----------------------------------------------------------- */

static void no_cb(fc__timer_t *t) {
}

static double bench_timer(void) {
        enum { BACKGROUND = 10000, OPS = 1000000 };
        static fc__timer_t bg[BACKGROUND];
        fc__timer_heap_t h = {0};
        fc__timer_t t;
        unsigned rng = 1;
        for (int i = 0; i < BACKGROUND; i++) {
                fc__timer_init(&bg[i], no_cb);
                rng = rng * 1103515245u + 12345u;
                fc__timer_arm(&h, &bg[i], rng % 100000);
        }
        fc__timer_init(&t, no_cb);
        double t0 = now_ns();
        for (int i = 0; i < OPS; i++) {
                rng = rng * 1103515245u + 12345u;
                fc__timer_arm(&h, &t, rng % 100000);
                fc__timer_cancel(&h, &t);
        }
        double r = (now_ns() - t0) / OPS;
        fc__timer_heap_free(&h);
        return r;
}

/* ---- memory per sleeping coroutine ------------------------------------ */

static long rss_kib(void) {
        FILE *f = fopen("/proc/self/statm", "r");
        long size, resident = -1;
        if (f) {
                if (fscanf(f, "%ld %ld", &size, &resident) != 2)
                        resident = -1;
                fclose(f);
        }
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static _Atomic long sleepers_started;

static void sleeper(void *arg) {
        atomic_fetch_add(&sleepers_started, 1);
        fc_sleep(FC_FOREVER);
}

static double bench_sleeper_rss(void) {
        enum { SLEEPERS = 20000 };
        fc_sched_t *s = pool(2);
        atomic_store(&sleepers_started, 0);
        long before = rss_kib();
        for (int i = 0; i < SLEEPERS; i++)
                if (fc_spawn(s, sleeper, NULL, NULL) < 0) {
                        fprintf(stderr, "bench-core: %s\n", fc_last_error());
                        exit(1);
                }
        while (atomic_load(&sleepers_started) < SLEEPERS)
                usleep(1000);
        long after = rss_kib();
        fc_sched_destroy(s);
        return (double)(after - before) / SLEEPERS;
}

/* ---- idle CPU --------------------------------------------------------- */

static double cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double bench_idle_cpu(void) {
        fc_sched_t *s = pool(2);
        usleep(100 * 1000); /* let it settle */
        double c0 = cpu_ns(), t0 = now_ns();
        usleep(1000 * 1000);
        double pct = 100.0 * (cpu_ns() - c0) / (now_ns() - t0);
        fc_sched_destroy(s);
        return pct;
}

/* ---- scaling: CPU-bound spawn-heavy work ------------------------------ */

/* Like the daemon: many producers, each keeping a bounded window of jobs in
 * flight (64 x 32 = 2,048 at most), each job a couple of microseconds of
 * arithmetic. */
enum { SCALE_JOBS = 400000, SCALE_SPAWNERS = 64, SCALE_WINDOW = 32 };
static _Atomic long scale_sink;

static void cpu_job(void *arg) {
        fc_wg_t *window = arg;
        unsigned x = (unsigned)(uintptr_t)window;
        for (int i = 0; i < 2000; i++)
                x = x * 1664525u + 1013904223u;
        atomic_fetch_add_explicit(&scale_sink, x & 1, memory_order_relaxed);
        fc_wg_done(window);
}

typedef struct scale_spawner {
        fc_sched_t *s;
        fc_wg_t *all;
} scale_spawner_t;

static void scale_spawn(void *arg) {
        scale_spawner_t *sp = arg;
        fc_wg_t *window = fc_wg_create();
        for (int i = 0; i < SCALE_JOBS / SCALE_SPAWNERS; i += SCALE_WINDOW) {
                fc_wg_add(window, SCALE_WINDOW);
                for (int k = 0; k < SCALE_WINDOW; k++)
                        if (fc_spawn(sp->s, cpu_job, window, NULL) < 0)
                                abort();
                fc_wg_wait(window, FC_FOREVER);
        }
        fc_wg_destroy(window);
        fc_wg_done(sp->all);
}

static double scale_run(unsigned threads) {
        fc_sched_t *s = pool(threads);
        scale_spawner_t sp = {.s = s, .all = fc_wg_create()};
        fc_wg_add(sp.all, SCALE_SPAWNERS);
        double t0 = now_ns();
        for (int i = 0; i < SCALE_SPAWNERS; i++)
                fc_spawn(s, scale_spawn, &sp, NULL);
        fc_wg_wait(sp.all, FC_FOREVER);
        double secs = (now_ns() - t0) / 1e9;
        fc_sched_destroy(s);
        fc_wg_destroy(sp.all);
        return SCALE_JOBS / secs;
}

int main(int argc, char **argv) {
        int json = argc > 1 && strcmp(argv[1], "--json") == 0;
        if (argc > 1 && strcmp(argv[1], "--spawn-only") == 0) {
                /* For profilers (perf, callgrind): the spawn figure alone. */
                fc_sched_t *one = pool(1);
                run_joined(one, spawner, one);
                printf("spawn_ns %.2f\n", spawn_result);
                fc_sched_destroy(one);
                return 0;
        }
        if (argc > 1 && !json) {
                fprintf(stderr, "usage: bench-core [--json | --spawn-only]\n");
                return 64;
        }
        double v[REPS], sw, uc, yl, sp, wc, tm, rss, idle, s1[REPS], s2[REPS], ratio[REPS];

        for (int i = 0; i < REPS; i++)
                v[i] = bench_switch();
        sw = median(v, REPS);
        for (int i = 0; i < REPS; i++)
                v[i] = bench_swapcontext();
        uc = median(v, REPS);

        fc_sched_t *one = pool(1);
        for (int i = 0; i < REPS; i++) {
                run_joined(one, yield_pair, NULL);
                v[i] = yield_result;
        }
        yl = median(v, REPS);
        for (int i = 0; i < REPS; i++) {
                run_joined(one, spawner, one);
                v[i] = spawn_result;
        }
        sp = median(v, REPS);
        fc_sched_destroy(one);

        fc_sched_t *two = pool(2);
        int n = 0;
        for (int i = 0; i < REPS * 3 && n < REPS; i++) {
                double r = bench_wakeup_cross(two);
                if (r > 0)
                        v[n++] = r; /* both ended on one thread: not this figure, retry */
        }
        wc = n ? median(v, n) : -1;
        fc_sched_destroy(two);

        for (int i = 0; i < REPS; i++)
                v[i] = bench_timer();
        tm = median(v, REPS);
        for (int i = 0; i < 3; i++)
                v[i] = bench_sleeper_rss();
        rss = median(v, 3);
        for (int i = 0; i < 3; i++)
                v[i] = bench_idle_cpu();
        idle = median(v, 3);
        for (int i = 0; i < REPS; i++) {
                /* Interleave 1 and 2 threads so both see the same noise. */
                s1[i] = scale_run(1);
                s2[i] = scale_run(2);
                ratio[i] = s2[i] / s1[i];
        }
        double scaling = median(ratio, REPS);

        printf("switch_ns        %8.2f\n", sw);
        printf("swapcontext_ns   %8.2f  (%.0fx the switch)\n", uc, uc / sw);
        printf("yield_ns         %8.2f\n", yl);
        printf("spawn_ns         %8.2f\n", sp);
        printf("wakeup_cross_ns  %8.0f\n", wc);
        printf("timer_ns         %8.2f\n", tm);
        printf("sleeper_rss_kib  %8.2f\n", rss);
        printf("idle_cpu_pct     %8.3f\n", idle);
        printf("scaling_2v1      %8.2f  (1 thread %.0f jobs/s, 2 threads %.0f jobs/s, medians)\n", scaling,
               median(s1, REPS), median(s2, REPS));
        if (json)
                printf("{\"switch_ns\":%.2f,\"swapcontext_ns\":%.2f,\"yield_ns\":%.2f,\"spawn_ns\":%.2f,"
                       "\"wakeup_cross_ns\":%.0f,\"timer_ns\":%.2f,\"sleeper_rss_kib\":%.2f,"
                       "\"idle_cpu_pct\":%.3f,\"scaling_2v1\":%.3f,\"reps\":%d}\n",
                       sw, uc, yl, sp, wc, tm, rss, idle, scaling, REPS);
        return 0;
}
