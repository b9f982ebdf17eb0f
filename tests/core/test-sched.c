/* core/sched.c: spawning, running on several threads, stealing, sleeping,
 * fd waits, deadlines, cancellation and shutdown. No test depends on how
 * fast the machine is: they wait for events, never for durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <string.h>
#include <unistd.h>

#include "flowcoro/core.h"
#include "stress.h"

#include <sched.h>

static fc_sched_t *the_pool; /* for coroutines that spawn siblings */

static fc_sched_t *pool(unsigned threads) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = threads};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        assert_int_equal(fc_sched_threads(s), threads);
        return s;
}

/* ---- spawn and join --------------------------------------------------- */

static void set_flag(void *arg) {
        atomic_store((_Atomic int *)arg, 1);
}

static void test_spawn_join_from_plain_thread(void **state) {
        fc_sched_t *s = pool(2);
        _Atomic int flag = 0;
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, set_flag, &flag, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(atomic_load(&flag), 1);
        fc_sched_destroy(s);
}

static void test_bad_options_are_refused(void **state) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = 5000};
        assert_int_equal(fc_sched_create(&o, &s), -EINVAL);
        assert_non_null(strstr(fc_last_error(), "threads must be"));
        o = (fc_sched_options_t){.stack_size = 100};
        assert_int_equal(fc_sched_create(&o, &s), -EINVAL);
        assert_null(s);
}

/* Spawners take a token before each spawn and the child gives it back, so
 * at most TOKENS coroutines (and stacks) exist at once: without that, eight
 * spawners outrun two workers and the process runs out of stacks (which is
 * a clean -ENOMEM, tested in test-stack, but not what this test is about). */
enum { TOKENS = 4096 };

typedef struct counter {
        _Atomic long n;
        fc_chan_t *tokens;
        fc_wg_t *wg;
} counter_t;

static void count_and_done(void *arg) {
        counter_t *c = arg;
        atomic_fetch_add(&c->n, 1);
        assert_int_equal(fc_chan_send(c->tokens, (void *)1, FC_FOREVER), 0);
        fc_wg_done(c->wg);
}

typedef struct spawner {
        fc_sched_t *s;
        counter_t *c;
        long n;
} spawner_t;

static void *spawn_many(void *arg) {
        spawner_t *sp = arg;
        for (long i = 0; i < sp->n; i++) {
                void *token;
                assert_int_equal(fc_chan_recv(sp->c->tokens, &token, FC_FOREVER), 0);
                assert_int_equal(fc_spawn(sp->s, count_and_done, sp->c, NULL), 0);
        }
        return NULL;
}

static void spawn_many_coro(void *arg) {
        spawn_many(arg);
}

/* A million spawns from four plain threads and four coroutines at once. */
static void test_million_spawns_from_several_threads(void **state) {
        enum { THREADS = 4, CORO_SPAWNERS = 4, PER = STRESS(125000) };
        fc_sched_t *s = pool(2);
        counter_t c = {.wg = fc_wg_create()};
        assert_int_equal(fc_chan_create(TOKENS, &c.tokens), 0);
        for (int i = 0; i < TOKENS; i++)
                assert_int_equal(fc_chan_send(c.tokens, (void *)1, 0), 0);
        fc_wg_add(c.wg, (THREADS + CORO_SPAWNERS) * PER);
        spawner_t sp = {.s = s, .c = &c, .n = PER};
        pthread_t t[THREADS];
        for (int i = 0; i < CORO_SPAWNERS; i++)
                assert_int_equal(fc_spawn(s, spawn_many_coro, &sp, NULL), 0);
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, spawn_many, &sp), 0);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(fc_wg_wait(c.wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&c.n), (THREADS + CORO_SPAWNERS) * PER);
        fc_wg_destroy(c.wg);
        fc_sched_destroy(s);
        fc_chan_destroy(c.tokens);
}

/* ---- both threads work, and started coroutines never move ------------- */

typedef struct stay {
        _Atomic int moved;
        _Atomic int on[2];
        _Atomic int started;
        pthread_t ids[2];
        fc_wg_t *wg;
} stay_t;

static int thread_index(stay_t *st) {
        pthread_t me = pthread_self();
        return pthread_equal(me, st->ids[0]) ? 0 : pthread_equal(me, st->ids[1]) ? 1 : -1;
}

static void learn_thread(void *arg) {
        stay_t *st = arg;
        /* Holds its thread until the other one has reported too, so the
         * two run on different threads. */
        int slot = atomic_fetch_add(&st->started, 1);
        st->ids[slot] = pthread_self();
        while (atomic_load(&st->started) < 2)
                sched_yield(); /* holds this thread: the other must come from the other worker */
}

static void hop_and_check(void *arg) {
        stay_t *st = arg;
        int where = thread_index(st);
        assert_true(where >= 0);
        atomic_fetch_add(&st->on[where], 1);
        for (int i = 0; i < 20; i++) {
                if (i % 2)
                        fc_yield();
                else
                        fc_sleep(1);
                if (thread_index(st) != where)
                        atomic_store(&st->moved, 1);
        }
        fc_wg_done(st->wg);
}

static void test_work_spreads_and_started_coroutines_never_migrate(void **state) {
        enum { N = STRESS(2000) };
        fc_sched_t *s = pool(2);
        stay_t st = {.wg = fc_wg_create()};
        fc_coro_t *a, *b;
        assert_int_equal(fc_spawn(s, learn_thread, &st, &a), 0);
        assert_int_equal(fc_spawn(s, learn_thread, &st, &b), 0);
        assert_int_equal(fc_join(a), 0);
        assert_int_equal(fc_join(b), 0);
        assert_false(pthread_equal(st.ids[0], st.ids[1]));

        fc_wg_add(st.wg, N);
        for (int i = 0; i < N; i++)
                assert_int_equal(fc_spawn(s, hop_and_check, &st, NULL), 0);
        assert_int_equal(fc_wg_wait(st.wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&st.moved), 0);
        assert_int_equal(atomic_load(&st.on[0]) + atomic_load(&st.on[1]), N);
        fc_wg_destroy(st.wg);
        fc_sched_destroy(s);
}

/* A coroutine spawns children onto its own worker and then holds that
 * thread without yielding: the children can only run if the idle worker is
 * woken and steals them. If stealing were broken this test would hang (and
 * ctest's timeout would fail it). */
typedef struct steal_probe {
        pthread_t parent_thread;
        _Atomic int ran, elsewhere;
        fc_wg_t *wg;
} steal_probe_t;

static void child_note_thread(void *arg) {
        steal_probe_t *p = arg;
        if (!pthread_equal(pthread_self(), p->parent_thread))
                atomic_fetch_add(&p->elsewhere, 1);
        atomic_fetch_add(&p->ran, 1);
        fc_wg_done(p->wg);
}

static void parent_spawns_and_hogs(void *arg) {
        steal_probe_t *p = arg;
        p->parent_thread = pthread_self();
        for (int i = 0; i < 100; i++)
                assert_int_equal(fc_spawn(the_pool, child_note_thread, p, NULL), 0);
        while (atomic_load(&p->elsewhere) == 0)
                sched_yield(); /* the OS thread's yield: this worker stays busy */
}

static void test_idle_worker_steals_unstarted_coroutines(void **state) {
        fc_sched_t *s = pool(2);
        steal_probe_t p = {.wg = fc_wg_create()};
        fc_wg_add(p.wg, 100);
        the_pool = s;
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, parent_spawns_and_hogs, &p, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(fc_wg_wait(p.wg, FC_FOREVER), 0);
        assert_int_equal(atomic_load(&p.ran), 100);
        assert_true(atomic_load(&p.elsewhere) > 0);
        fc_wg_destroy(p.wg);
        fc_sched_destroy(s);
}

/* ---- spawn_here, yield, sleep ------------------------------------------ */

typedef struct order {
        int log[16];
        int n;
} order_t;

static order_t order_log;

static void log_a(void *arg) {
        order_log.log[order_log.n++] = 1;
        fc_yield();
        order_log.log[order_log.n++] = 3;
}

static void log_b(void *arg) {
        order_log.log[order_log.n++] = 2;
        fc_yield();
        order_log.log[order_log.n++] = 4;
}

static void spawn_pinned_pair(void *arg) {
        fc_coro_t *a, *b;
        pthread_t me = pthread_self();
        assert_int_equal(fc_spawn_here(log_a, NULL, &a), 0);
        assert_int_equal(fc_spawn_here(log_b, NULL, &b), 0);
        assert_int_equal(fc_join(a), 0);
        assert_int_equal(fc_join(b), 0);
        assert_true(pthread_equal(me, pthread_self()));
}

static void test_spawn_here_and_yield_interleave_on_one_thread(void **state) {
        fc_sched_t *s = pool(2);
        fc_coro_t *co;
        order_log.n = 0;
        assert_int_equal(fc_spawn(s, spawn_pinned_pair, NULL, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(order_log.n, 4);
        for (int i = 0; i < 4; i++)
                assert_int_equal(order_log.log[i], i + 1);
        assert_int_equal(fc_spawn_here(log_a, NULL, NULL), -EPERM);
        fc_sched_destroy(s);
}

/* One thread: a coroutine that spawns a child and then yields until the
 * child has run. It would spin forever if yielding coroutines always went
 * before unstarted ones. */
static void set_flag_coro(void *arg) {
        atomic_store((_Atomic int *)arg, 1);
}

static void spawn_then_yield_until_child_ran(void *arg) {
        _Atomic int flag = 0;
        assert_int_equal(fc_spawn(the_pool, set_flag_coro, &flag, NULL), 0);
        long yields = 0;
        while (!atomic_load(&flag))
                yields++, fc_yield();
        *(long *)arg = yields;
}

static void test_yielding_coroutine_does_not_starve_new_ones(void **state) {
        fc_sched_t *s = the_pool = pool(1);
        long yields = -1;
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, spawn_then_yield_until_child_ran, &yields, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_true(yields >= 1 && yields <= 2);
        fc_sched_destroy(s);
}

typedef struct sleeper {
        int64_t ms;
        int64_t woke_at;
        int r;
} sleeper_t;

static void sleep_for(void *arg) {
        sleeper_t *sl = arg;
        sl->r = fc_sleep(sl->ms);
        sl->woke_at = fc_now_ms();
}

static void test_sleep_lasts_at_least_its_time(void **state) {
        fc_sched_t *s = pool(2);
        sleeper_t sl = {.ms = 30};
        fc_coro_t *co;
        int64_t start = fc_now_ms();
        assert_int_equal(fc_spawn(s, sleep_for, &sl, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(sl.r, 0);
        assert_true(sl.woke_at - start >= 30); /* a lower bound, never an upper one */
        fc_sched_destroy(s);
}

/* ---- fd waits ---------------------------------------------------------- */

typedef struct fdw {
        int fd;
        int64_t timeout;
        int r;
        char byte;
} fdw_t;

static void wait_readable(void *arg) {
        fdw_t *f = arg;
        f->r = fc_wait_fd(f->fd, EPOLLIN, f->timeout);
        if (f->r > 0)
                f->byte = read(f->fd, &f->byte, 1) == 1 ? f->byte : 0;
}

static void test_wait_fd_wakes_on_data_and_times_out(void **state) {
        fc_sched_t *s = pool(2);
        int p[2];
        assert_int_equal(pipe(p), 0);
        fdw_t f = {.fd = p[0], .timeout = FC_FOREVER};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, wait_readable, &f, &co), 0);
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(fc_join(co), 0);
        assert_true(f.r & EPOLLIN);
        assert_int_equal(f.byte, 'x');

        f = (fdw_t){.fd = p[0], .timeout = 20};
        assert_int_equal(fc_spawn(s, wait_readable, &f, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(f.r, -ETIMEDOUT);

        f = (fdw_t){.fd = 12345, .timeout = 20}; /* not open */
        assert_int_equal(fc_spawn(s, wait_readable, &f, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(f.r, -EBADF);
        close(p[0]);
        close(p[1]);
        assert_int_equal(fc_wait_fd(0, EPOLLIN, 0), -EPERM);
        fc_sched_destroy(s);
}

static void wait_ready_fd_without_timeout(void *arg) {
        int *p = arg;
        p[2] = fc_wait_fd(p[0], EPOLLIN, 0);  /* nothing to read yet */
        assert_int_equal(write(p[1], "x", 1), 1);
        p[3] = fc_wait_fd(p[0], EPOLLIN, 0);  /* readable now: no suspension needed */
        p[4] = fc_wait_fd(p[1], EPOLLOUT, 0);
}

static void test_wait_fd_with_zero_timeout_looks_once(void **state) {
        fc_sched_t *s = pool(1);
        int p[5];
        assert_int_equal(pipe(p), 0);
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, wait_ready_fd_without_timeout, p, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(p[2], -ETIMEDOUT);
        assert_true(p[3] > 0 && (p[3] & EPOLLIN));
        assert_true(p[4] > 0 && (p[4] & EPOLLOUT));
        close(p[0]);
        close(p[1]);
        fc_sched_destroy(s);
}

/* An fd closed while a coroutine waits on it, its file kept open by a dup:
 * the kernel keeps the epoll registration after the wait ends, and a later
 * event on it must be ignored, not delivered to a stack frame that is gone. */
typedef struct closing_fd {
        int fd, r;
        _Atomic int waiting;
} closing_fd_t;

static void wait_on_closing_fd(void *arg) {
        closing_fd_t *c = arg;
        atomic_store(&c->waiting, 1);
        c->r = fc_wait_fd(c->fd, EPOLLIN, 200);
}

static void sleep_a_little(void *arg) {
        *(int *)arg = fc_sleep(20);
}

static __attribute__((unused)) void test_event_after_a_wait_on_a_closed_fd_is_ignored(void **state) {
        fc_sched_t *s = pool(1);
        int p[2];
        assert_int_equal(pipe(p), 0);
        int keep = dup(p[0]);
        closing_fd_t c = {.fd = p[0]};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, wait_on_closing_fd, &c, &co), 0);
        while (!atomic_load(&c.waiting))
                sched_yield();
        close(p[0]);
        assert_int_equal(fc_join(co), 0);
        assert_true(c.r == -ETIMEDOUT || c.r == -EBADF); /* closed before or while it waited */
        /* Make the still-open file readable, then let the worker poll. */
        assert_int_equal(write(p[1], "x", 1), 1);
        int slept = -1;
        assert_int_equal(fc_spawn(s, sleep_a_little, &slept, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(slept, 0);
        close(keep);
        close(p[1]);
        fc_sched_destroy(s);
}

/* Plain threads spawning while fc_sched_destroy runs get -ESHUTDOWN, and
 * those refused spawns don't keep the pool from stopping. A coroutine keeps
 * the pool alive (in an uncancellable offload) until the spawners are done,
 * so no spawn can come after fc_sched_destroy returns. */
typedef struct late {
        fc_sched_t *s;
        _Atomic int shutdown_seen, refused, accepted;
        pthread_barrier_t done;
} late_t;

static void hold_until_spawners_done(void *arg) {
        pthread_barrier_wait(&((late_t *)arg)->done);
}

static void keeper(void *arg) {
        late_t *l = arg;
        assert_int_equal(fc_sleep(FC_FOREVER), -ECANCELED); /* destroy has begun */
        atomic_store(&l->shutdown_seen, 1);
        fc_offload(hold_until_spawners_done, l);
}

static void nothing(void *arg) {
}

static void *late_spawner(void *arg) {
        late_t *l = arg;
        while (!atomic_load(&l->shutdown_seen))
                sched_yield();
        for (int i = 0; i < 200; i++) {
                int r = fc_spawn(l->s, nothing, NULL, NULL);
                atomic_fetch_add(r == -ESHUTDOWN ? &l->refused : &l->accepted, 1);
        }
        pthread_barrier_wait(&l->done);
        return NULL;
}

static void test_spawns_during_shutdown_are_refused_and_do_not_hang_it(void **state) {
        enum { SPAWNERS = 3 };
        late_t l = {.s = pool(2)};
        pthread_barrier_init(&l.done, NULL, SPAWNERS + 1);
        pthread_t t[SPAWNERS];
        assert_int_equal(fc_spawn(l.s, keeper, &l, NULL), 0);
        for (int i = 0; i < SPAWNERS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, late_spawner, &l), 0);
        fc_sched_destroy(l.s);
        for (int i = 0; i < SPAWNERS; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(atomic_load(&l.refused), SPAWNERS * 200);
        assert_int_equal(atomic_load(&l.accepted), 0);
        pthread_barrier_destroy(&l.done);
}

/* ---- deadlines and cancellation ---------------------------------------- */

typedef struct cancel_probe {
        int r1, r2;
        fc_cancel_reason_t why;
        int64_t left_before;
        int started_fd;
} cancel_probe_t;

static void sleep_past_deadline(void *arg) {
        cancel_probe_t *c = arg;
        assert_int_equal(fc_set_deadline(20), 0);
        c->left_before = fc_deadline_left();
        c->r1 = fc_sleep(FC_FOREVER);
        c->r2 = fc_sleep(1); /* every later wait fails too */
        c->why = fc_cancelled();
}

static void test_deadline_cancels_current_and_later_waits(void **state) {
        fc_sched_t *s = pool(1);
        cancel_probe_t c = {0};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, sleep_past_deadline, &c, &co), 0);
        assert_int_equal(fc_join(co), 0);
        assert_true(c.left_before > 0 && c.left_before <= 20);
        assert_int_equal(c.r1, -ECANCELED);
        assert_int_equal(c.r2, -ECANCELED);
        assert_int_equal(c.why, FC_CANCEL_DEADLINE);
        assert_int_equal(fc_set_deadline(5), -EPERM);
        assert_int_equal(fc_deadline_left(), FC_FOREVER);
        fc_sched_destroy(s);
}

static void sleep_until_cancelled(void *arg) {
        cancel_probe_t *c = arg;
        char b = 1;
        assert_int_equal(write(c->started_fd, &b, 1), 1);
        c->r1 = fc_sleep(FC_FOREVER);
        c->r2 = fc_yield();
        c->why = fc_cancelled();
}

static void test_cancel_wakes_a_sleeper_from_another_thread(void **state) {
        fc_sched_t *s = pool(2);
        int p[2];
        assert_int_equal(pipe(p), 0);
        cancel_probe_t c = {.started_fd = p[1]};
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, sleep_until_cancelled, &c, &co), 0);
        char b;
        assert_int_equal(read(p[0], &b, 1), 1);
        fc_cancel(co);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(c.r1, -ECANCELED);
        assert_int_equal(c.r2, -ECANCELED);
        assert_int_equal(c.why, FC_CANCEL_REQUESTED);
        close(p[0]);
        close(p[1]);
        fc_sched_destroy(s);
}

/* Cancellation racing with an ordinary wake-up: each wait ends exactly once,
 * with one of the two results, and nothing hangs or runs twice. */
typedef struct race {
        fc_chan_t *ch;
        _Atomic int got_value, got_cancel, runs;
} race_t;

static void recv_once(void *arg) {
        race_t *r = arg;
        void *v;
        atomic_fetch_add(&r->runs, 1);
        int rc = fc_chan_recv(r->ch, &v, FC_FOREVER);
        if (rc == 0)
                atomic_fetch_add(&r->got_value, 1);
        else if (rc == -ECANCELED)
                atomic_fetch_add(&r->got_cancel, 1);
}

static void test_cancel_racing_with_wakeup(void **state) {
        enum { N = STRESS(3000) };
        fc_sched_t *s = pool(2);
        race_t r = {0};
        assert_int_equal(fc_chan_create(N, &r.ch), 0);
        fc_coro_t **cos = calloc(N, sizeof(*cos));
        for (int i = 0; i < N; i++)
                assert_int_equal(fc_spawn(s, recv_once, &r, &cos[i]), 0);
        for (int i = 0; i < N; i++) {
                /* Send to whoever waits, and cancel someone, concurrently. */
                fc_chan_send(r.ch, (void *)1, FC_FOREVER);
                fc_cancel(cos[i]);
        }
        for (int i = 0; i < N; i++)
                assert_int_equal(fc_join(cos[i]), 0);
        assert_int_equal(atomic_load(&r.runs), N);
        assert_int_equal(atomic_load(&r.got_value) + atomic_load(&r.got_cancel), N);
        /* Values not taken by cancelled receivers are still in the channel. */
        int left = 0;
        void *v;
        while (fc_chan_recv(r.ch, &v, 0) == 0)
                left++;
        assert_int_equal(left + atomic_load(&r.got_value), N);
        free(cos);
        fc_chan_destroy(r.ch);
        fc_sched_destroy(s);
}

/* ---- shutdown ---------------------------------------------------------- */

typedef struct shut {
        _Atomic int returned, cancelled;
} shut_t;

static void sleep_long(void *arg) {
        shut_t *sh = arg;
        if (fc_sleep(3600 * 1000) == -ECANCELED)
                atomic_fetch_add(&sh->cancelled, 1);
        /* A coroutine spawned during shutdown starts cancelled. */
        atomic_fetch_add(&sh->returned, 1);
}

static void test_shutdown_with_sleeping_coroutines(void **state) {
        enum { N = STRESS(5000) };
        fc_sched_t *s = pool(2);
        shut_t sh = {0};
        fc_coro_t *kept;
        for (int i = 0; i < N; i++)
                assert_int_equal(fc_spawn(s, sleep_long, &sh, i == 0 ? &kept : NULL), 0);
        fc_sched_destroy(s); /* must return: every sleeper gets -ECANCELED */
        assert_int_equal(atomic_load(&sh.returned), N);
        assert_int_equal(atomic_load(&sh.cancelled), N);
        assert_int_equal(fc_join(kept), 0); /* the handle outlives the pool */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spawn_join_from_plain_thread),
                cmocka_unit_test(test_bad_options_are_refused),
                cmocka_unit_test(test_million_spawns_from_several_threads),
                cmocka_unit_test(test_work_spreads_and_started_coroutines_never_migrate),
                cmocka_unit_test(test_idle_worker_steals_unstarted_coroutines),
                cmocka_unit_test(test_spawn_here_and_yield_interleave_on_one_thread),
                cmocka_unit_test(test_yielding_coroutine_does_not_starve_new_ones),
                cmocka_unit_test(test_sleep_lasts_at_least_its_time),
                cmocka_unit_test(test_wait_fd_wakes_on_data_and_times_out),
                cmocka_unit_test(test_wait_fd_with_zero_timeout_looks_once),
#if !defined(__SANITIZE_THREAD__)
                /* This case closes an fd while another thread waits on it, a
                 * misuse that core.h forbids and TSan rightly reports; it
                 * checks the runtime survives that misuse, so it runs in the
                 * other builds. */
                cmocka_unit_test(test_event_after_a_wait_on_a_closed_fd_is_ignored),
#endif
                cmocka_unit_test(test_spawns_during_shutdown_are_refused_and_do_not_hang_it),
                cmocka_unit_test(test_deadline_cancels_current_and_later_waits),
                cmocka_unit_test(test_cancel_wakes_a_sleeper_from_another_thread),
                cmocka_unit_test(test_cancel_racing_with_wakeup),
                cmocka_unit_test(test_shutdown_with_sleeping_coroutines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
