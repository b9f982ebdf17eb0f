/* core/chan.c: bounded channels between coroutines on different schedulers
 * and plain threads: order, blocking both ways, timeouts and close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>

#include "flowcoro/core.h"
#include "stress.h"

static fc_sched_t *pool(unsigned threads) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = threads};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        return s;
}

static void test_create_rejects_zero_capacity(void **state) {
        fc_chan_t *ch;
        assert_int_equal(fc_chan_create(0, &ch), -EINVAL);
}

static void test_fifo_and_nonblocking_edges_from_plain_thread(void **state) {
        fc_chan_t *ch;
        void *v;
        assert_int_equal(fc_chan_create(3, &ch), 0);
        assert_int_equal(fc_chan_recv(ch, &v, 0), -ETIMEDOUT);
        for (intptr_t i = 1; i <= 3; i++)
                assert_int_equal(fc_chan_send(ch, (void *)i, 0), 0);
        assert_int_equal(fc_chan_send(ch, (void *)4, 0), -ETIMEDOUT);
        assert_int_equal(fc_chan_send(ch, (void *)4, 10), -ETIMEDOUT); /* a real, short wait */
        for (intptr_t i = 1; i <= 3; i++) {
                assert_int_equal(fc_chan_recv(ch, &v, 0), 0);
                assert_int_equal((intptr_t)v, i);
        }
        fc_chan_close(ch);
        fc_chan_close(ch);
        assert_int_equal(fc_chan_send(ch, (void *)5, 0), -EPIPE);
        assert_int_equal(fc_chan_recv(ch, &v, FC_FOREVER), -EPIPE);
        fc_chan_destroy(ch);
}

/* Ping-pong between coroutines on the two schedulers of a pool: the pinger
 * holds its thread until the ponger has started, which it then can only do
 * on the other scheduler. */
typedef struct pp {
        fc_chan_t *ping, *pong;
        long rounds;
        pthread_t ping_thread, pong_thread;
        _Atomic int pong_started;
        long sum;
} pp_t;

static void pinger(void *arg) {
        pp_t *p = arg;
        p->ping_thread = pthread_self();
        while (!atomic_load(&p->pong_started))
                sched_yield(); /* the OS thread's yield: this scheduler stays busy */
        for (long i = 0; i < p->rounds; i++) {
                void *v;
                assert_int_equal(fc_chan_send(p->ping, (void *)(i + 1), FC_FOREVER), 0);
                assert_int_equal(fc_chan_recv(p->pong, &v, FC_FOREVER), 0);
                assert_int_equal((intptr_t)v, i + 2);
                p->sum += (intptr_t)v;
        }
}

static void ponger(void *arg) {
        pp_t *p = arg;
        void *v;
        p->pong_thread = pthread_self();
        atomic_store(&p->pong_started, 1);
        while (fc_chan_recv(p->ping, &v, FC_FOREVER) == 0)
                assert_int_equal(fc_chan_send(p->pong, (void *)((intptr_t)v + 1), FC_FOREVER), 0);
}

static void test_ping_pong_between_schedulers(void **state) {
        fc_sched_t *s = pool(2);
        pp_t p = {.rounds = STRESS(20000)};
        assert_int_equal(fc_chan_create(1, &p.ping), 0);
        assert_int_equal(fc_chan_create(1, &p.pong), 0);
        fc_coro_t *a, *b;
        assert_int_equal(fc_spawn(s, pinger, &p, &a), 0);
        assert_int_equal(fc_spawn(s, ponger, &p, &b), 0);
        assert_int_equal(fc_join(a), 0);
        fc_chan_close(p.ping);
        assert_int_equal(fc_join(b), 0);
        assert_false(pthread_equal(p.ping_thread, p.pong_thread));
        long expect = 0;
        for (long i = 0; i < p.rounds; i++)
                expect += i + 2;
        assert_int_equal(p.sum, expect);
        fc_chan_destroy(p.ping);
        fc_chan_destroy(p.pong);
        fc_sched_destroy(s);
}

/* Many producers and consumers on both schedulers and plain threads: every
 * value arrives exactly once. */
typedef struct mpmc {
        fc_chan_t *ch;
        long per_producer;
        _Atomic long received_sum, received_n;
        _Atomic int producer_id;
} mpmc_t;

static void produce(void *arg) {
        mpmc_t *m = arg;
        long base = (long)atomic_fetch_add(&m->producer_id, 1) * m->per_producer;
        for (long i = 1; i <= m->per_producer; i++)
                assert_int_equal(fc_chan_send(m->ch, (void *)(base + i), FC_FOREVER), 0);
}

static void consume(void *arg) {
        mpmc_t *m = arg;
        void *v;
        while (fc_chan_recv(m->ch, &v, FC_FOREVER) == 0) {
                atomic_fetch_add(&m->received_sum, (long)(intptr_t)v);
                atomic_fetch_add(&m->received_n, 1);
        }
}

static void *produce_thread(void *arg) {
        produce(arg);
        return NULL;
}

static void *consume_thread(void *arg) {
        consume(arg);
        return NULL;
}

static void test_many_producers_and_consumers_each_value_once(void **state) {
        enum { CORO_PRODUCERS = 6, THREAD_PRODUCERS = 2, CORO_CONSUMERS = 5, PER = STRESS(20000) };
        fc_sched_t *s = pool(2);
        mpmc_t m = {.per_producer = PER};
        assert_int_equal(fc_chan_create(16, &m.ch), 0);
        fc_coro_t *prod[CORO_PRODUCERS], *cons[CORO_CONSUMERS];
        pthread_t tp[THREAD_PRODUCERS], tc;
        for (int i = 0; i < CORO_CONSUMERS; i++)
                assert_int_equal(fc_spawn(s, consume, &m, &cons[i]), 0);
        assert_int_equal(pthread_create(&tc, NULL, consume_thread, &m), 0);
        for (int i = 0; i < CORO_PRODUCERS; i++)
                assert_int_equal(fc_spawn(s, produce, &m, &prod[i]), 0);
        for (int i = 0; i < THREAD_PRODUCERS; i++)
                assert_int_equal(pthread_create(&tp[i], NULL, produce_thread, &m), 0);
        for (int i = 0; i < CORO_PRODUCERS; i++)
                assert_int_equal(fc_join(prod[i]), 0);
        for (int i = 0; i < THREAD_PRODUCERS; i++)
                pthread_join(tp[i], NULL);
        fc_chan_close(m.ch);
        for (int i = 0; i < CORO_CONSUMERS; i++)
                assert_int_equal(fc_join(cons[i]), 0);
        pthread_join(tc, NULL);
        long total = (long)(CORO_PRODUCERS + THREAD_PRODUCERS) * PER;
        assert_int_equal(atomic_load(&m.received_n), total);
        assert_int_equal(atomic_load(&m.received_sum), total * (total + 1) / 2);
        fc_chan_destroy(m.ch);
        fc_sched_destroy(s);
}

/* Close while coroutines wait on both sides of (two) channels. */
typedef struct closing {
        fc_chan_t *full, *empty;
        _Atomic int senders_epipe, receivers_epipe, waiting;
} closing_t;

static void blocked_sender(void *arg) {
        closing_t *c = arg;
        atomic_fetch_add(&c->waiting, 1);
        if (fc_chan_send(c->full, (void *)2, FC_FOREVER) == -EPIPE)
                atomic_fetch_add(&c->senders_epipe, 1);
}

static void blocked_receiver(void *arg) {
        closing_t *c = arg;
        void *v;
        atomic_fetch_add(&c->waiting, 1);
        if (fc_chan_recv(c->empty, &v, FC_FOREVER) == -EPIPE)
                atomic_fetch_add(&c->receivers_epipe, 1);
}

static void test_close_wakes_waiters_on_both_sides(void **state) {
        enum { N = 50 };
        fc_sched_t *s = pool(2);
        closing_t c = {0};
        assert_int_equal(fc_chan_create(1, &c.full), 0);
        assert_int_equal(fc_chan_create(1, &c.empty), 0);
        assert_int_equal(fc_chan_send(c.full, (void *)1, 0), 0);
        fc_coro_t *cos[2 * N];
        for (int i = 0; i < N; i++) {
                assert_int_equal(fc_spawn(s, blocked_sender, &c, &cos[i]), 0);
                assert_int_equal(fc_spawn(s, blocked_receiver, &c, &cos[N + i]), 0);
        }
        while (atomic_load(&c.waiting) < 2 * N)
                fc_sleep(1);
        fc_chan_close(c.full);
        fc_chan_close(c.empty);
        for (int i = 0; i < 2 * N; i++)
                assert_int_equal(fc_join(cos[i]), 0);
        assert_int_equal(atomic_load(&c.senders_epipe), N);
        assert_int_equal(atomic_load(&c.receivers_epipe), N);
        void *v;
        assert_int_equal(fc_chan_recv(c.full, &v, 0), 0); /* buffered before close: still there */
        assert_int_equal((intptr_t)v, 1);
        assert_int_equal(fc_chan_recv(c.full, &v, 0), -EPIPE);
        fc_chan_destroy(c.full);
        fc_chan_destroy(c.empty);
        fc_sched_destroy(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_rejects_zero_capacity),
                cmocka_unit_test(test_fifo_and_nonblocking_edges_from_plain_thread),
                cmocka_unit_test(test_ping_pong_between_schedulers),
                cmocka_unit_test(test_many_producers_and_consumers_each_value_once),
                cmocka_unit_test(test_close_wakes_waiters_on_both_sides),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
