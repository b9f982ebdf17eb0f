/* The scheduler pool: worker threads, their loop, spawning, parking and
 * waking, timers, fd waits, cancellation and deadlines.
 *
 * Where a runnable coroutine can be, as a worker looks for its next one:
 *   next_slot   the coroutine a running one just woke (at most 3 in a row)
 *   ready list  started coroutines woken on this thread (timers, fds, yields)
 *   inbox       started coroutines woken by other threads (MPSC stack)
 *   runq        coroutines not started yet; other workers may steal them
 *   injection   the pool's shared queue for spawns from outside the pool
 * Started coroutines never leave their worker; only runq and injection feed
 * other workers. An idle worker steals, then sleeps in epoll_wait until its
 * next timer, an fd event, or its eventfd says there is work. */
#include "runtime.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#ifdef FC_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef FC_TSAN
#include <sanitizer/tsan_interface.h>
#endif

_Thread_local fc__worker_t *fc__tls_worker;

/* What other threads read about a worker (fc_sched_stalled, fc_sched_ready),
 * one per worker, in the same allocation as the pool's workers array, right
 * after it (fc_sched_create): sched.c's own, not part of fc__worker_t.
 * The owner writes with plain relaxed (or release) stores, no locked
 * instruction: the loop pays three stores per coroutine run. */
typedef struct sched_watch {
        /* Owner thread writes, any thread reads. */
        _Atomic uint64_t runs;           /* 2 per run: odd while a coroutine runs */
        struct fc_coro *_Atomic running; /* the coroutine of the last odd value of runs */
        _Atomic uint32_t n_ready;        /* length of the ready list */
        /* Written by fc_sched_stalled()'s callers: the value of runs seen
         * and when it was first seen. */
        _Atomic uint64_t seen_runs;
        _Atomic int64_t seen_since_ms;
} __attribute__((aligned(64))) sched_watch_t;

static sched_watch_t *watch_of(const fc_sched_t *s, unsigned i) {
        return (sched_watch_t *)(void *)(s->workers + s->n) + i;
}

static _Thread_local sched_watch_t *tls_watch; /* the worker's own, on its thread */

/* How often a busy worker looks at the injection queue and polls fds, so
 * neither starves (Go's 61: a prime, so it doesn't beat with other cycles). */
#define FAIRNESS_TICKS 61
#define NEXT_SLOT_STREAK 3

int64_t fc_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- context switches, with sanitizer annotations --------------------- */

static void switch_to_coro(fc__worker_t *w, struct fc_coro *co) {
#ifdef FC_ASAN
        __sanitizer_start_switch_fiber(&w->asan_fake_stack, fc__stack_lo(&co->stack), fc__stack_usable(&co->stack));
#endif
#ifdef FC_TSAN
        __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
        fc__ctx_switch(&w->ctx, &co->ctx);
#ifdef FC_ASAN
        __sanitizer_finish_switch_fiber(w->asan_fake_stack, NULL, NULL);
#endif
}

static void switch_to_sched(struct fc_coro *co) {
        fc__worker_t *w = co->owner;
#ifdef FC_ASAN
        /* A finished coroutine's fake stack is destroyed (NULL save slot). */
        __sanitizer_start_switch_fiber(co->switch_reason == FC__SW_EXIT ? NULL : &co->asan_fake_stack,
                                       w->stack_bottom, w->stack_size);
#endif
#ifdef FC_TSAN
        __tsan_switch_to_fiber(w->tsan_fiber, 0);
#endif
        fc__ctx_switch(&co->ctx, &w->ctx);
#ifdef FC_ASAN
        __sanitizer_finish_switch_fiber(co->asan_fake_stack, NULL, NULL);
#endif
}

/* ---- the run queue of unstarted coroutines (Go's runq) ---------------- */

static bool runq_push(fc__runq_t *q, struct fc_coro *co) {
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        if (t - h >= FC__RUNQ_SIZE)
                return false;
        atomic_store_explicit(&q->items[t % FC__RUNQ_SIZE], co, memory_order_relaxed);
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
        return true;
}

static struct fc_coro *runq_pop(fc__runq_t *q) {
        uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        for (;;) {
                uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
                if (t == h)
                        return NULL;
                struct fc_coro *co = atomic_load_explicit(&q->items[h % FC__RUNQ_SIZE], memory_order_relaxed);
                if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
                                                          memory_order_acquire))
                        return co;
        }
}

/* Takes up to half of q (rounded up) into out; any thread. */
static uint32_t runq_grab(fc__runq_t *q, struct fc_coro **out) {
        for (;;) {
                uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
                uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
                uint32_t n = t - h;
                n -= n / 2;
                if (n == 0)
                        return 0;
                if (n > FC__RUNQ_SIZE / 2)
                        continue; /* read head and tail at different times; retry */
                for (uint32_t i = 0; i < n; i++)
                        out[i] = atomic_load_explicit(&q->items[(h + i) % FC__RUNQ_SIZE], memory_order_relaxed);
                if (atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
                                                            memory_order_acquire))
                        return n;
        }
}

/* Sequentially consistent loads: a parking worker's last look for work
 * pairs with the fence in wake_idle_worker. */
static bool runq_empty(fc__runq_t *q) {
        return atomic_load(&q->head) == atomic_load(&q->tail);
}

/* ---- the injection queue ---------------------------------------------- */

static void wake_idle_worker(fc_sched_t *s);

static void inject_list(fc_sched_t *s, struct fc_coro *head, struct fc_coro *tail, size_t n) {
        pthread_mutex_lock(&s->inject_lock);
        tail->next = NULL;
        if (s->inject_tail)
                s->inject_tail->next = head;
        else
                s->inject_head = head;
        s->inject_tail = tail;
        atomic_fetch_add(&s->inject_len, n);
        pthread_mutex_unlock(&s->inject_lock);
}

/* Moves a fair share of the injection queue into w's runq and returns one
 * coroutine to run, or NULL. */
static struct fc_coro *inject_take(fc__worker_t *w) {
        fc_sched_t *s = w->pool;
        if (atomic_load_explicit(&s->inject_len, memory_order_relaxed) == 0)
                return NULL;
        pthread_mutex_lock(&s->inject_lock);
        size_t len = atomic_load(&s->inject_len);
        uint32_t room = FC__RUNQ_SIZE - (atomic_load(&w->runq.tail) - atomic_load(&w->runq.head));
        size_t n = len / s->n + 1; /* a fair share, not everything */
        if (n > len)
                n = len;
        if (n > (size_t)room + 1)
                n = (size_t)room + 1;
        struct fc_coro *first = s->inject_head;
        struct fc_coro *co = first;
        for (size_t i = 0; i < n; i++) {
                s->inject_head = co->next;
                if (i > 0)
                        runq_push(&w->runq, co); /* fits: n - 1 <= room */
                co = s->inject_head;
        }
        if (!s->inject_head)
                s->inject_tail = NULL;
        size_t left = atomic_fetch_sub(&s->inject_len, n) - n;
        pthread_mutex_unlock(&s->inject_lock);
        if (n > 1 || left > 0)
                wake_idle_worker(s); /* more is waiting: let a sleeper share it (Go's wakep) */
        return n ? first : NULL;
}

/* ---- waking idle workers ---------------------------------------------- */

static void worker_signal(fc__worker_t *w) {
        if (atomic_exchange(&w->sleeping, false)) {
                uint64_t one = 1;
                ssize_t r = write(w->evfd, &one, sizeof(one));
                (void)r; /* EAGAIN: the counter is already non-zero, it will wake */
        }
}

/* There is new stealable work: make sure a sleeping worker comes to look,
 * unless one was woken and has not come up yet (pool->waking, Go's
 * "spinning" idea without its bookkeeping), so a burst of spawns costs one
 * wake-up, not one per spawn.
 *
 * No wake-up is lost: a parker sets its sleeping flag, then looks for work;
 * a waker publishes work, then looks at sleeping flags (all sequentially
 * consistent). A waker that skips because waking is set knows the woken
 * worker clears it before it looks for work, and so will see this work. */
static void wake_idle_worker(fc_sched_t *s) {
        /* The work was published with a release store (or a mutex unlock);
         * without this fence the load of nidle below could be satisfied
         * before that store is visible (x86 reorders a store with a later
         * load), and a worker parking at that moment would miss both. */
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load(&s->nidle) == 0 || atomic_load(&s->waking))
                return;
        bool expected = false;
        if (!atomic_compare_exchange_strong(&s->waking, &expected, true))
                return;
        for (unsigned i = 0; i < s->n; i++) {
                fc__worker_t *w = &s->workers[i];
                if (atomic_load(&w->sleeping) && atomic_exchange(&w->sleeping, false)) {
                        uint64_t one = 1;
                        ssize_t r = write(w->evfd, &one, sizeof(one));
                        (void)r;
                        return; /* it clears waking when it comes up */
                }
        }
        atomic_store(&s->waking, false);
}

/* Wakes every worker, sleeping or not (shutdown). Writes each eventfd
 * without touching the sleeping flags, which belong to wake_idle_worker's
 * protocol; a running worker finds the count at its next epoll_wait. */
static void wake_all_workers(fc_sched_t *s) {
        uint64_t one = 1;
        for (unsigned i = 0; i < s->n; i++) {
                ssize_t r = write(s->workers[i].evfd, &one, sizeof(one));
                (void)r;
        }
        atomic_store(&s->waking, false);
}

/* ---- counting live coroutines ----------------------------------------- */

/* Each worker counts the coroutines it spawned and finished in counters only
 * it writes (a plain load and store, no locked instruction on the spawn
 * path); spawns from outside the pool use shared counters. */
static void counter_inc(_Atomic uint64_t *c) {
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_release);
}

/* Coroutines spawned and not finished. Reads every "finished" counter
 * before any "spawned" one: the counters only grow, and a coroutine is
 * counted spawned before it can run, so the result is never below the true
 * number at the moment the spawned counters are read. Once it reads 0 while
 * the pool is stopping, nothing can spawn again (no coroutine is left, and
 * outside spawns are refused), so 0 stays 0. */
static uint64_t pool_live(fc_sched_t *s) {
        uint64_t finished = atomic_load(&s->abandoned_outside), spawned;
        for (unsigned i = 0; i < s->n; i++)
                finished += atomic_load(&s->workers[i].finished_here);
        spawned = atomic_load(&s->spawned_outside);
        for (unsigned i = 0; i < s->n; i++)
                spawned += atomic_load(&s->workers[i].spawned_here);
        return spawned - finished;
}

/* An outside spawn that was counted but will not run. During shutdown the
 * workers may be asleep waiting for exactly this count to settle. */
static void abandon_outside_spawn(fc_sched_t *s) {
        atomic_fetch_add(&s->abandoned_outside, 1);
        if (atomic_load(&s->stopping))
                wake_all_workers(s);
}

/* ---- coroutine records ------------------------------------------------ */

static struct fc_coro *coro_alloc(fc__worker_t *w) {
        struct fc_coro *co;
        if (w && w->free_coros) {
                co = w->free_coros;
                w->free_coros = co->next;
                w->n_free_coros--;
        } else {
                co = malloc(sizeof(*co));
                if (!co)
                        return NULL;
#ifdef FC_TSAN
                co->tsan_fiber = __tsan_create_fiber(0);
#endif
        }
        return co;
}

static void coro_free_record(struct fc_coro *co) {
        fc__worker_t *w = fc__tls_worker;
        if (co->joinable)
                pthread_mutex_destroy(&co->lock);
        if (w && w->n_free_coros < FC__CORO_CACHE) {
                co->next = w->free_coros;
                w->free_coros = co;
                w->n_free_coros++;
                return;
        }
#ifdef FC_TSAN
        __tsan_destroy_fiber(co->tsan_fiber);
#endif
        free(co);
}

void fc__coro_release(struct fc_coro *co) {
        /* A detached coroutine has one reference, dropped by its worker
         * once it has run: no atomic read-modify-write needed. */
        if (!co->joinable || atomic_fetch_sub(&co->refs, 1) == 1)
                coro_free_record(co);
}

static int stack_take(fc_sched_t *s, fc__worker_t *w, fc__stack_t *out) {
        if (w && w->n_stacks) {
                *out = w->stacks[--w->n_stacks];
                return 0;
        }
        pthread_mutex_lock(&s->stack_lock);
        if (s->n_spare) {
                *out = s->spare_stacks[--s->n_spare];
                pthread_mutex_unlock(&s->stack_lock);
                return 0;
        }
        pthread_mutex_unlock(&s->stack_lock);
        return fc__stack_alloc(s->stack_size, out);
}

/* A stack no cache has room for is unmapped later, when its worker has
 * nothing to run: munmap costs ~15 us here (a TLB shootdown across the
 * pool's threads), which after a burst of thousands of coroutines would
 * otherwise delay the work still running. Returns false when it can't be
 * kept for later (out of memory): then free it now. */
static bool doom_stack(fc__worker_t *w, fc__stack_t *st) {
        if (w->n_doomed == w->cap_doomed) {
                unsigned cap = w->cap_doomed ? 2 * w->cap_doomed : 64;
                fc__stack_t *a = realloc(w->doomed, cap * sizeof(*a));
                if (!a)
                        return false;
                w->doomed = a;
                w->cap_doomed = cap;
        }
        w->doomed[w->n_doomed++] = *st;
        return true;
}

/* Unmaps up to n doomed stacks. */
static void free_doomed(fc__worker_t *w, unsigned n) {
        while (n-- && w->n_doomed)
                fc__stack_free(&w->doomed[--w->n_doomed]);
}

static void stack_give(fc_sched_t *s, fc__worker_t *w, fc__stack_t *st) {
#ifdef FC_ASAN
        /* Frames of the finished coroutine left poison behind. */
        __asan_unpoison_memory_region(fc__stack_lo(st), fc__stack_usable(st));
#endif
        if (w && w->n_stacks < FC__STACK_CACHE) {
                w->stacks[w->n_stacks++] = *st;
                return;
        }
        pthread_mutex_lock(&s->stack_lock);
        if (s->n_spare == s->cap_spare && s->cap_spare < 4096) {
                size_t cap = s->cap_spare ? s->cap_spare * 2 : 64;
                fc__stack_t *a = realloc(s->spare_stacks, cap * sizeof(*a));
                if (a) {
                        s->spare_stacks = a;
                        s->cap_spare = cap;
                }
        }
        if (s->n_spare < s->cap_spare) {
                s->spare_stacks[s->n_spare++] = *st;
                st = NULL;
        }
        pthread_mutex_unlock(&s->stack_lock);
        if (st && w && doom_stack(w, st))
                st = NULL;
        if (st)
                fc__stack_free(st);
}

static void wait_timer_fired(fc__timer_t *t);
static void deadline_fired(fc__timer_t *t);
static void coro_entry(void *arg);
static void ready_push(fc__worker_t *w, struct fc_coro *co);

/* ---- spawning --------------------------------------------------------- */

static int spawn(fc_sched_t *s, fc_fn_t fn, void *arg, fc_coro_t **handle, bool pinned) {
        fc__worker_t *w = fc__tls_worker;
        if (w && w->pool != s)
                w = NULL; /* a coroutine of another pool: treat as outside */

        if (!w) {
                /* Counted before the check, so fc_sched_destroy either sees
                 * this spawn or we see it stopping (and count it finished). */
                atomic_fetch_add(&s->spawned_outside, 1);
                if (atomic_load(&s->stopping)) {
                        abandon_outside_spawn(s);
                        return -ESHUTDOWN;
                }
        }
        struct fc_coro *co = coro_alloc(w);
        int r = co ? stack_take(s, w, &co->stack) : -ENOMEM;
        if (r < 0) {
                if (co) {
                        co->joinable = false;
                        coro_free_record(co);
                } else {
                        fc__set_last_error("cannot allocate a coroutine record: out of memory");
                }
                if (!w)
                        abandon_outside_spawn(s);
                return r;
        }
        if (w)
                counter_inc(&w->spawned_here);
        co->waiter.co = co;
        atomic_init(&co->waiter.state, FC__W_RUNNING);
        co->next = NULL;
        co->pool = s;
        co->owner = NULL;
        co->fn = fn;
        co->arg = arg;
        /* Unique in the pool without a shared counter on the hot path. */
        co->id = w ? ++w->spawned * (s->n + 1) + w->index + 1
                   : (atomic_fetch_add_explicit(&s->next_id, 1, memory_order_relaxed) + 1) * (s->n + 1);
        co->live_prev = co->live_next = NULL;
        fc__timer_init(&co->wait_timer, wait_timer_fired);
        fc__timer_init(&co->deadline_timer, deadline_fired);
        co->deadline = FC_FOREVER;
        co->pinned = pinned;
        co->started = false;
        atomic_init(&co->cancel, FC_CANCEL_NONE);
        co->joinable = handle != NULL;
        atomic_init(&co->refs, handle ? 2 : 1);
        if (handle) {
                pthread_mutex_init(&co->lock, NULL);
                co->done = false;
                co->joiners.head = co->joiners.tail = NULL;
                *handle = co;
        }
#ifdef FC_ASAN
        co->asan_fake_stack = NULL;
#endif
        fc__ctx_make(&co->ctx, fc__stack_lo(&co->stack), fc__stack_usable(&co->stack), coro_entry, co);

        if (pinned) {
                co->owner = w;
                ready_push(w, co);
                return 0;
        }
        if (w) {
                if (!runq_push(&w->runq, co)) {
                        /* Full: move half of it, plus this one, to the pool. */
                        struct fc_coro *batch[FC__RUNQ_SIZE / 2 + 1];
                        uint32_t n = runq_grab(&w->runq, batch);
                        batch[n++] = co;
                        for (uint32_t i = 0; i + 1 < n; i++)
                                batch[i]->next = batch[i + 1];
                        inject_list(s, batch[0], batch[n - 1], n);
                }
        } else {
                inject_list(s, co, co, 1);
        }
        wake_idle_worker(s);
        return 0;
}

int fc_spawn(fc_sched_t *s, fc_fn_t fn, void *arg, fc_coro_t **handle) {
        fc__worker_t *w = fc__tls_worker;
        if (w && w->pool == s)
                return spawn(s, fn, arg, handle, false);
        /* From outside the pool: counted, so that a call made while
         * fc_sched_destroy runs finishes before the pool is freed. */
        atomic_fetch_add(&s->outside_calls, 1);
        int r = spawn(s, fn, arg, handle, false);
        atomic_fetch_sub(&s->outside_calls, 1);
        return r;
}

int fc_spawn_here(fc_fn_t fn, void *arg, fc_coro_t **handle) {
        fc__worker_t *w = fc__tls_worker;
        if (!w || !w->current)
                return -EPERM;
        return spawn(w->pool, fn, arg, handle, true);
}

/* ---- running coroutines ----------------------------------------------- */

static _Noreturn void coro_exit(struct fc_coro *co) {
        if (co->joinable)
                fc__coro_mark_done(co);
        co->switch_reason = FC__SW_EXIT;
        switch_to_sched(co);
        abort(); /* a finished coroutine is never resumed */
}

static void coro_entry(void *arg) {
        struct fc_coro *co = arg;
#ifdef FC_ASAN
        fc__worker_t *w = co->owner;
        __sanitizer_finish_switch_fiber(NULL, &w->stack_bottom, &w->stack_size);
#endif
        co->fn(co->arg);
        coro_exit(co);
}

/* Owner only: a plain load and store, for fc_sched_ready(). */
static void ready_count(int delta) {
        sched_watch_t *wt = tls_watch;
        atomic_store_explicit(&wt->n_ready,
                              atomic_load_explicit(&wt->n_ready, memory_order_relaxed) + (uint32_t)delta,
                              memory_order_relaxed);
}

static void ready_push(fc__worker_t *w, struct fc_coro *co) {
        co->next = NULL;
        if (w->ready_tail)
                w->ready_tail->next = co;
        else
                w->ready_head = co;
        w->ready_tail = co;
        ready_count(1);
}

static struct fc_coro *ready_pop(fc__worker_t *w) {
        struct fc_coro *co = w->ready_head;
        if (co) {
                w->ready_head = co->next;
                if (!w->ready_head)
                        w->ready_tail = NULL;
                ready_count(-1);
        }
        return co;
}

void fc__sched_make_ready(struct fc_coro *co) {
        fc__worker_t *owner = co->owner, *self = fc__tls_worker;
        if (self == owner) {
                if (self->current) {
                        /* Woken by a running coroutine (channel hand-off,
                         * join): run it next, while its data is warm. */
                        if (self->next_slot)
                                ready_push(self, self->next_slot);
                        self->next_slot = co;
                } else {
                        ready_push(self, co);
                }
                return;
        }
        /* Counted, so fc_sched_destroy can't free the worker between our
         * push and our signal (the coroutine may run and the pool drain in
         * that window). */
        fc_sched_t *pool = owner->pool;
        atomic_fetch_add(&pool->outside_calls, 1);
        struct fc_coro *head = atomic_load_explicit(&owner->inbox, memory_order_relaxed);
        do
                co->next = head;
        while (!atomic_compare_exchange_weak_explicit(&owner->inbox, &head, co, memory_order_seq_cst,
                                                      memory_order_relaxed));
        worker_signal(owner);
        atomic_fetch_sub(&pool->outside_calls, 1);
}

static void inbox_drain(fc__worker_t *w) {
        struct fc_coro *list = atomic_exchange_explicit(&w->inbox, NULL, memory_order_acquire);
        struct fc_coro *fifo = NULL;
        while (list) { /* the stack holds newest first: reverse it */
                struct fc_coro *next = list->next;
                list->next = fifo;
                fifo = list;
                list = next;
        }
        while (fifo) {
                struct fc_coro *next = fifo->next;
                ready_push(w, fifo);
                fifo = next;
        }
}

static void live_add(fc__worker_t *w, struct fc_coro *co) {
        co->live_prev = NULL;
        co->live_next = w->live;
        if (w->live)
                w->live->live_prev = co;
        w->live = co;
}

static void live_remove(fc__worker_t *w, struct fc_coro *co) {
        if (co->live_prev)
                co->live_prev->live_next = co->live_next;
        else
                w->live = co->live_next;
        if (co->live_next)
                co->live_next->live_prev = co->live_prev;
}

static void cancel_coro(struct fc_coro *co, fc_cancel_reason_t why) {
        int none = FC_CANCEL_NONE;
        atomic_compare_exchange_strong(&co->cancel, &none, (int)why);
        fc__waiter_wake(&co->waiter, FC__WAKE_CANCEL);
}

static void reclaim(fc__worker_t *w, struct fc_coro *co) {
        fc_sched_t *s = w->pool;
        live_remove(w, co);
        fc__timer_cancel(&w->timers, &co->deadline_timer);
        stack_give(s, w, &co->stack);
        co->stack.map = NULL;
        fc__coro_release(co);
        counter_inc(&w->finished_here);
        if (atomic_load(&s->stopping) && pool_live(s) == 0)
                wake_all_workers(s);
}

static void run(fc__worker_t *w, struct fc_coro *co) {
        if (!co->started) {
                co->started = true;
                co->owner = w;
                live_add(w, co);
                if (atomic_load_explicit(&w->pool->stopping, memory_order_relaxed))
                        cancel_coro(co, FC_CANCEL_REQUESTED);
        }
        w->current = co;
        /* For fc_sched_stalled(): the pointer first, then the odd count that
         * publishes it. A thread that is really stalled stores nothing more,
         * so a reader that sees the same odd count twice has a stable
         * pointer. */
        sched_watch_t *wt = tls_watch;
        uint64_t runs = atomic_load_explicit(&wt->runs, memory_order_relaxed);
        atomic_store_explicit(&wt->running, co, memory_order_relaxed);
        atomic_store_explicit(&wt->runs, runs + 1, memory_order_release);
        switch_to_coro(w, co);
        atomic_store_explicit(&wt->runs, runs + 2, memory_order_relaxed);
        w->current = NULL;

        switch (co->switch_reason) {
        case FC__SW_EXIT:
                reclaim(w, co);
                break;
        case FC__SW_YIELD:
                ready_push(w, co);
                break;
        case FC__SW_PARK: {
                /* Its stack is saved now: let wakers queue it. The flag bits
                 * (NOCANCEL) stay as the coroutine set them. */
                uint32_t expect = atomic_load(&co->waiter.state);
                uint32_t flags = expect & ~(uint32_t)FC__W_PHASE;
                expect = flags | FC__W_PARKING;
                if (!atomic_compare_exchange_strong(&co->waiter.state, &expect, flags | FC__W_PARKED)) {
                        /* Woken while switching out: PARKING -> WOKEN. */
                        assert((expect & FC__W_PHASE) == FC__W_WOKEN);
                        atomic_store(&co->waiter.state, (expect & ~(uint32_t)FC__W_PHASE) | FC__W_READY);
                        ready_push(w, co);
                }
                break;
        }
        }
}

fc__wake_t fc__sched_park(struct fc_coro *co, int64_t timeout_ms) {
        fc__worker_t *w = co->owner;
        assert(w == fc__tls_worker && w->current == co);
        /* Without memory for the timer, time out at once rather than wait
         * forever: waking ourselves makes the scheduler requeue us. */
        /* +1: fc_now_ms() truncates, so "now" may be up to 1 ms in the past;
         * a wait never ends before its full length. */
        if (timeout_ms >= 0 && fc__timer_arm(&w->timers, &co->wait_timer, fc_now_ms() + timeout_ms + 1) < 0)
                fc__waiter_wake(&co->waiter, FC__WAKE_TIMEOUT);
        co->switch_reason = FC__SW_PARK;
        switch_to_sched(co);
        uint32_t s = atomic_load(&co->waiter.state);
        atomic_store(&co->waiter.state, FC__W_RUNNING);
        fc__timer_cancel(&w->timers, &co->wait_timer);
        return (fc__wake_t)(s >> 16);
}

static void wait_timer_fired(fc__timer_t *t) {
        struct fc_coro *co = (struct fc_coro *)((char *)t - offsetof(struct fc_coro, wait_timer));
        fc__waiter_wake(&co->waiter, FC__WAKE_TIMEOUT);
}

static void deadline_fired(fc__timer_t *t) {
        struct fc_coro *co = (struct fc_coro *)((char *)t - offsetof(struct fc_coro, deadline_timer));
        cancel_coro(co, FC_CANCEL_DEADLINE);
}

/* ---- the worker loop -------------------------------------------------- */

/* fd waits. The epoll data of a registration names a slot of the worker's
 * table and the slot's generation, not the waiting coroutine's stack: if an
 * fd is closed while waited on and a dup keeps its file open, the kernel
 * keeps the registration after our EPOLL_CTL_DEL fails, and a late event
 * must find a stale generation, not a dead stack frame. EPOLLONESHOT makes
 * such a leftover fire at most once. The eventfd's data is all ones. */
#define EVENTFD_TOKEN UINT64_MAX

static uint32_t fd_slot_take(fc__worker_t *w, struct fc_coro *co) {
        uint32_t i;
        if (w->fd_free != UINT32_MAX) {
                i = w->fd_free;
                w->fd_free = w->fd_slots[i].next_free;
        } else {
                if (w->n_fd_slots == w->cap_fd_slots) {
                        uint32_t cap = w->cap_fd_slots ? w->cap_fd_slots * 2 : 64;
                        fc__fd_slot_t *a = realloc(w->fd_slots, cap * sizeof(*a));
                        if (!a)
                                return UINT32_MAX;
                        w->fd_slots = a;
                        w->cap_fd_slots = cap;
                }
                i = w->n_fd_slots++;
                w->fd_slots[i].gen = 0;
        }
        w->fd_slots[i].co = co;
        w->fd_slots[i].revents = 0;
        return i;
}

static void fd_slot_give(fc__worker_t *w, uint32_t i) {
        w->fd_slots[i].co = NULL;
        w->fd_slots[i].gen++;
        w->fd_slots[i].next_free = w->fd_free;
        w->fd_free = i;
}

static void poll_events(fc__worker_t *w, int timeout_ms) {
        struct epoll_event ev[64];
        int n = epoll_wait(w->epfd, ev, 64, timeout_ms);
        for (int i = 0; i < n; i++) {
                uint64_t token = ev[i].data.u64;
                if (token == EVENTFD_TOKEN) {
                        uint64_t v;
                        ssize_t r = read(w->evfd, &v, sizeof(v));
                        (void)r;
                        continue;
                }
                uint32_t slot = (uint32_t)token, gen = (uint32_t)(token >> 32);
                if (slot >= w->n_fd_slots || w->fd_slots[slot].gen != gen || !w->fd_slots[slot].co)
                        continue; /* a leftover of a wait that has ended */
                w->fd_slots[slot].revents = ev[i].events;
                fc__waiter_wake(&w->fd_slots[slot].co->waiter, FC__WAKE_IO);
        }
}

static void run_timers(fc__worker_t *w) {
        if (w->timers.len)
                fc__timer_run(&w->timers, fc_now_ms());
}

static struct fc_coro *steal(fc__worker_t *w) {
        fc_sched_t *s = w->pool;
        if (s->n < 2)
                return NULL;
        struct fc_coro *batch[FC__RUNQ_SIZE / 2];
        w->rng = w->rng * 1103515245u + 12345u;
        unsigned start = (w->rng >> 16) % s->n;
        for (unsigned k = 0; k < s->n; k++) {
                fc__worker_t *victim = &s->workers[(start + k) % s->n];
                if (victim == w)
                        continue;
                uint32_t n = runq_grab(&victim->runq, batch);
                if (n == 0)
                        continue;
                for (uint32_t i = 1; i < n; i++)
                        runq_push(&w->runq, batch[i]);
                if (n > 1 || !runq_empty(&victim->runq))
                        wake_idle_worker(s);
                return batch[0];
        }
        return NULL;
}

static struct fc_coro *find_local(fc__worker_t *w) {
        struct fc_coro *co;
        w->tick++;
        if (w->tick % FAIRNESS_TICKS == 0) {
                if (w->fd_waits)
                        poll_events(w, 0);
                if ((co = inject_take(w)))
                        return co;
        }
        if (w->next_slot && w->next_streak < NEXT_SLOT_STREAK) {
                co = w->next_slot;
                w->next_slot = NULL;
                w->next_streak++;
                return co;
        }
        w->next_streak = 0;
        if (w->next_slot) {
                ready_push(w, w->next_slot);
                w->next_slot = NULL;
        }
        /* Alternate which of the two local queues goes first, so neither a
         * coroutine that keeps yielding nor a flood of spawns starves the
         * other. */
        if (w->tick & 1) {
                if ((co = ready_pop(w)) || (co = runq_pop(&w->runq)))
                        return co;
        } else {
                if ((co = runq_pop(&w->runq)) || (co = ready_pop(w)))
                        return co;
        }
        return inject_take(w);
}

static bool pool_has_work(fc__worker_t *w) {
        fc_sched_t *s = w->pool;
        if (atomic_load(&w->inbox) || atomic_load(&s->inject_len))
                return true;
        for (unsigned i = 0; i < s->n; i++)
                if (!runq_empty(&s->workers[i].runq))
                        return true;
        return false;
}

/* Sleeps in epoll_wait until the next timer, an fd event or a signal on the
 * eventfd (see wake_idle_worker for why no wake-up is lost). */
static void park_worker(fc__worker_t *w) {
        fc_sched_t *s = w->pool;
        atomic_fetch_add(&s->nidle, 1);
        atomic_store(&w->sleeping, true);
        bool stop_pending = atomic_load(&s->stopping) && (!w->stop_seen || pool_live(s) == 0);
        if (!pool_has_work(w) && !stop_pending) {
                int timeout = -1;
                int64_t next = fc__timer_next(&w->timers);
                if (next != INT64_MAX) {
                        int64_t left = next - fc_now_ms();
                        timeout = left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
                }
                poll_events(w, timeout);
        }
        atomic_fetch_sub(&s->nidle, 1);
        /* Someone took our sleeping flag: we were signalled, possibly by
         * wake_idle_worker, which waits for us to clear waking. */
        if (!atomic_exchange(&w->sleeping, false))
                atomic_store(&s->waking, false);
}

static void cancel_all_live(fc__worker_t *w) {
        for (struct fc_coro *co = w->live; co; co = co->live_next)
                cancel_coro(co, FC_CANCEL_REQUESTED);
}

static void overflow_handler(int sig, siginfo_t *info, void *uctx);

static void *worker_main(void *arg) {
        fc__worker_t *w = arg;
        fc_sched_t *s = w->pool;
        fc__tls_worker = w;
        tls_watch = watch_of(s, w->index);
#ifdef FC_TSAN
        w->tsan_fiber = __tsan_get_current_fiber();
#endif
        /* The overflow handler needs an alternate signal stack. Keep one
         * that is already there (sanitizer runtimes install their own and
         * free it at thread exit); otherwise install ours. */
        stack_t old, ss = {.ss_sp = w->altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
        bool own_altstack = sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE);
        if (own_altstack)
                sigaltstack(&ss, NULL);

        for (;;) {
                if (atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
                        if (!w->stop_seen) {
                                w->stop_seen = true;
                                cancel_all_live(w);
                        }
                        if (pool_live(s) == 0) {
                                wake_all_workers(s); /* others may have read our counters stale */
                                break;
                        }
                }
                run_timers(w);
                if (atomic_load_explicit(&w->inbox, memory_order_relaxed))
                        inbox_drain(w);
                struct fc_coro *co = find_local(w);
                if (!co) {
                        if (w->fd_waits)
                                poll_events(w, 0);
                        inbox_drain(w);
                        co = ready_pop(w);
                }
                if (!co)
                        co = steal(w);
                if (co) {
                        run(w, co);
                        continue;
                }
                if (w->n_doomed) {
                        free_doomed(w, 32); /* a few, then look for work again */
                        continue;
                }
                park_worker(w);
        }
        if (own_altstack) {
                ss.ss_flags = SS_DISABLE;
                sigaltstack(&ss, NULL);
        }
        fc__tls_worker = NULL;
        tls_watch = NULL;
        return NULL;
}

/* ---- stack overflow reporting ----------------------------------------- */

static struct sigaction previous_segv;

static void write_str(const char *s) {
        ssize_t r = write(STDERR_FILENO, s, strlen(s));
        (void)r;
}

static void write_num(uint64_t v) {
        char buf[24];
        int i = sizeof(buf);
        buf[--i] = '\0';
        do
                buf[--i] = (char)('0' + v % 10);
        while ((v /= 10) && i > 0);
        write_str(buf + i);
}

/* Runs on the worker's alternate signal stack, so it works after the
 * coroutine's own stack is exhausted. Only async-signal-safe calls. */
static void overflow_handler(int sig, siginfo_t *info, void *uctx) {
        fc__worker_t *w = fc__tls_worker;
        struct fc_coro *co = w ? w->current : NULL;
        if (co && fc__stack_guard_hit(&co->stack, info->si_addr)) {
                write_str("flowcoro: coroutine ");
                write_num(co->id);
                write_str(" overflowed its stack of ");
                write_num(fc__stack_usable(&co->stack) / 1024);
                write_str(" KiB (on scheduler thread ");
                write_num(w->index);
                write_str("); raise the stack size (scheduler.stack_size) or use less stack\n");
                signal(SIGABRT, SIG_DFL);
                abort();
        }
        /* Not ours: hand it to whoever handled SIGSEGV before us, leaving
         * our handler in place. With no handler before us the default
         * action ends the process: restore it and re-raise, which also
         * works for a SIGSEGV sent with kill. */
        if (previous_segv.sa_flags & SA_SIGINFO) {
                if (previous_segv.sa_sigaction)
                        previous_segv.sa_sigaction(sig, info, uctx);
                return;
        }
        if (previous_segv.sa_handler == SIG_IGN)
                return;
        if (previous_segv.sa_handler != SIG_DFL) {
                previous_segv.sa_handler(sig);
                return;
        }
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
}

static void install_overflow_handler(void) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = overflow_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous_segv);
}

/* ---- creating and destroying the pool --------------------------------- */

static void worker_free(fc_sched_t *s, fc__worker_t *w) {
        for (unsigned i = 0; i < w->n_stacks; i++)
                fc__stack_free(&w->stacks[i]);
        w->n_stacks = 0;
        free_doomed(w, UINT_MAX);
        free(w->doomed);
        w->doomed = NULL;
        while (w->free_coros) {
                struct fc_coro *co = w->free_coros;
                w->free_coros = co->next;
#ifdef FC_TSAN
                __tsan_destroy_fiber(co->tsan_fiber);
#endif
                free(co);
        }
        fc__timer_heap_free(&w->timers);
        free(w->fd_slots);
        if (w->epfd >= 0)
                close(w->epfd);
        if (w->evfd >= 0)
                close(w->evfd);
        free(w->altstack);
}

static int worker_init(fc_sched_t *s, fc__worker_t *w, unsigned index) {
        memset(w, 0, sizeof(*w));
        w->pool = s;
        w->index = index;
        w->rng = 0x9e3779b9u * (index + 1);
        w->evfd = -1;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0)
                return -errno;
        w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->evfd < 0)
                return -errno;
        w->fd_free = UINT32_MAX;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EVENTFD_TOKEN};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
                return -errno;
        w->altstack = malloc(SIGSTKSZ * 4);
        if (!w->altstack)
                return -ENOMEM;
        return 0;
}

int fc_sched_create(const fc_sched_options_t *opts, fc_sched_t **out) {
        fc_sched_options_t o = opts ? *opts : (fc_sched_options_t){0};
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (o.threads == 0)
                o.threads = cpus > 0 ? (unsigned)cpus : 1;
        if (o.threads > 1024 || (o.stack_size && o.stack_size < 16 * 1024) || o.stack_size > (1ul << 30)) {
                fc__set_last_error("scheduler options: threads must be 1..1024 and stack_size 16 KiB..1 GiB");
                return -EINVAL;
        }
        fc_sched_t *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n = o.threads;
        s->stack_size = fc__stack_round(o.stack_size);
        pthread_mutex_init(&s->inject_lock, NULL);
        pthread_mutex_init(&s->stack_lock, NULL);
        /* The workers, then their watches (sched_watch_t). */
        s->workers = aligned_alloc(64, (sizeof(fc__worker_t) + sizeof(sched_watch_t)) * s->n);
        int r = s->workers ? 0 : -ENOMEM;
        if (r == 0) {
                int64_t now = fc_now_ms();
                for (unsigned i = 0; i < s->n; i++) {
                        sched_watch_t *wt = watch_of(s, i);
                        memset(wt, 0, sizeof(*wt));
                        atomic_init(&wt->seen_since_ms, now);
                }
        }
        unsigned made = 0;
        for (; r == 0 && made < s->n; made++)
                r = worker_init(s, &s->workers[made], made);
        if (r == 0)
                r = fc__offload_create(s, o.blocking_threads ? o.blocking_threads : 64);
        if (r < 0) {
                for (unsigned i = 0; i < made; i++)
                        worker_free(s, &s->workers[i]);
                free(s->workers);
                free(s);
                return r;
        }

        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, install_overflow_handler);

        for (unsigned i = 0; i < s->n; i++) {
                r = -pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
                if (r < 0) {
                        atomic_store(&s->stopping, true);
                        wake_all_workers(s);
                        for (unsigned j = 0; j < i; j++)
                                pthread_join(s->workers[j].thread, NULL);
                        fc__offload_destroy(s);
                        for (unsigned j = 0; j < s->n; j++)
                                worker_free(s, &s->workers[j]);
                        free(s->workers);
                        free(s);
                        return r;
                }
        }
        *out = s;
        return 0;
}

void fc_sched_destroy(fc_sched_t *s) {
        assert(!fc__tls_worker || fc__tls_worker->pool != s);
        atomic_store(&s->stopping, true);
        wake_all_workers(s);
        for (unsigned i = 0; i < s->n; i++)
                pthread_join(s->workers[i].thread, NULL);
        while (atomic_load(&s->outside_calls))
                sched_yield(); /* a spawn or wake from another thread is still using the pool */
        /* Every coroutine has returned; blocking threads may still be idle. */
        fc__offload_destroy(s);
        for (unsigned i = 0; i < s->n; i++)
                worker_free(s, &s->workers[i]);
        for (size_t i = 0; i < s->n_spare; i++)
                fc__stack_free(&s->spare_stacks[i]);
        free(s->spare_stacks);
        pthread_mutex_destroy(&s->inject_lock);
        pthread_mutex_destroy(&s->stack_lock);
        free(s->workers);
        free(s);
}

unsigned fc_sched_threads(const fc_sched_t *s) {
        return s->n;
}

int fc_self_worker(void) {
        fc__worker_t *w = fc__tls_worker;
        return w ? (int)w->index : -1;
}

size_t fc_sched_ready(const fc_sched_t *s, unsigned i) {
        if (i >= s->n)
                return 0;
        fc__worker_t *w = &s->workers[i];
        /* Started ones woken on that thread, plus its unstarted ones (which
         * another thread may still steal). Woken by other threads and not
         * yet moved from the inbox: not counted, they move at its next
         * turn of the loop. */
        uint32_t unstarted = atomic_load_explicit(&w->runq.tail, memory_order_relaxed) -
                             atomic_load_explicit(&w->runq.head, memory_order_relaxed);
        if (unstarted > FC__RUNQ_SIZE)
                unstarted = 0; /* head and tail read at different moments */
        return (size_t)atomic_load_explicit(&watch_of(s, i)->n_ready, memory_order_relaxed) + unstarted;
}

/* The thread's run count says whether it is in a coroutine (odd) and
 * whether it has come back to its loop since the last call (changed). The
 * time a run has lasted is measured from the first call that saw its count,
 * so it is at most the interval between calls short: call this at least
 * every ms / 2 (the watchdog does) and a thread held for more than ms is
 * found by the call that follows it by at most one interval. */
int fc_sched_stalled(fc_sched_t *s, int64_t ms, const fc_coro_t **coro, int64_t *held_ms) {
        int64_t now = fc_now_ms();
        int found = -1;
        for (unsigned i = 0; i < s->n; i++) {
                sched_watch_t *wt = watch_of(s, i);
                uint64_t runs = atomic_load_explicit(&wt->runs, memory_order_acquire);
                uint64_t seen = atomic_load_explicit(&wt->seen_runs, memory_order_relaxed);
                if (runs != seen) {
                        atomic_store_explicit(&wt->seen_runs, runs, memory_order_relaxed);
                        atomic_store_explicit(&wt->seen_since_ms, now, memory_order_relaxed);
                        continue;
                }
                int64_t held = now - atomic_load_explicit(&wt->seen_since_ms, memory_order_relaxed);
                if (!(runs & 1) || held <= ms || found >= 0)
                        continue;
                const struct fc_coro *co = atomic_load_explicit(&wt->running, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&wt->runs, memory_order_relaxed) != runs)
                        continue; /* it has just come back */
                found = (int)i;
                if (coro)
                        *coro = co;
                if (held_ms)
                        *held_ms = held;
        }
        return found;
}

/* ---- the API for running coroutines ----------------------------------- */

static struct fc_coro *self(void) {
        fc__worker_t *w = fc__tls_worker;
        return w ? w->current : NULL;
}

fc_coro_t *fc_self(void) {
        return self();
}

uint64_t fc_self_id(void) {
        struct fc_coro *co = self();
        return co ? co->id : 0;
}

fc_cancel_reason_t fc_cancelled(void) {
        struct fc_coro *co = self();
        return co ? (fc_cancel_reason_t)atomic_load(&co->cancel) : FC_CANCEL_NONE;
}

void fc_cancel(fc_coro_t *co) {
        cancel_coro(co, FC_CANCEL_REQUESTED);
}

int fc_yield(void) {
        struct fc_coro *co = self();
        if (!co)
                return sched_yield() < 0 ? -errno : 0;
        co->switch_reason = FC__SW_YIELD;
        switch_to_sched(co);
        return atomic_load(&co->cancel) ? -ECANCELED : 0;
}

int fc_sleep(int64_t ms) {
        fc__waiter_t *w = fc__current_waiter();
        int r = fc__wait_begin(w, true);
        if (r < 0)
                return r;
        if (ms == 0) {
                fc__wait_abort(w);
                return fc_yield();
        }
        fc__wake_t why = fc__wait_park(w, ms < 0 ? FC_FOREVER : ms);
        return why == FC__WAKE_TIMEOUT ? 0 : fc__wake_result(why);
}

int fc_wait_fd(int fd, uint32_t events, int64_t timeout_ms) {
        struct fc_coro *co = self();
        if (!co)
                return -EPERM;
        fc__worker_t *w = co->owner;
        int r = fc__wait_begin(&co->waiter, true);
        if (r < 0)
                return r;
        if (timeout_ms == 0) {
                /* "Don't wait": look once. */
                struct pollfd pfd = {.fd = fd, .events = (short)events};
                fc__wait_abort(&co->waiter);
                r = poll(&pfd, 1, 0);
                if (r < 0)
                        return -errno;
                if (pfd.revents & POLLNVAL)
                        return -EBADF;
                return r > 0 ? (int)pfd.revents : -ETIMEDOUT;
        }
        uint32_t slot = fd_slot_take(w, co);
        if (slot == UINT32_MAX) {
                fc__wait_abort(&co->waiter);
                return -ENOMEM;
        }
        struct epoll_event ev = {.events = events | EPOLLONESHOT,
                                 .data.u64 = (uint64_t)w->fd_slots[slot].gen << 32 | slot};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                r = -errno;
                fd_slot_give(w, slot);
                fc__wait_abort(&co->waiter);
                return r;
        }
        w->fd_waits++;
        fc__wake_t why = fc__wait_park(&co->waiter, timeout_ms);
        w->fd_waits--;
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
        uint32_t revents = w->fd_slots[slot].revents;
        fd_slot_give(w, slot);
        if (why == FC__WAKE_IO)
                return (int)revents;
        return fc__wake_result(why);
}

int fc_set_deadline(int64_t ms) {
        struct fc_coro *co = self();
        if (!co)
                return -EPERM;
        fc__worker_t *w = co->owner;
        if (ms < 0) {
                co->deadline = FC_FOREVER;
                fc__timer_cancel(&w->timers, &co->deadline_timer);
                return 0;
        }
        int64_t deadline = fc_now_ms() + ms;
        if (fc__timer_arm(&w->timers, &co->deadline_timer, deadline) < 0)
                return -ENOMEM;
        co->deadline = deadline;
        return 0;
}

int64_t fc_deadline_left(void) {
        struct fc_coro *co = self();
        if (!co || co->deadline == FC_FOREVER)
                return FC_FOREVER;
        int64_t left = co->deadline - fc_now_ms();
        return left > 0 ? left : 0;
}
