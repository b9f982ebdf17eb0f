/* Internals shared by core's modules: the coroutine record, the scheduler
 * thread (worker), the pool, and the waiter protocol every wait builds on.
 *
 * Waiting, in one place:
 *   Every wait goes through a waiter: the running coroutine's own, or a
 *   thread-local one for a plain thread. Its state word holds a phase and,
 *   once woken, the reason:
 *     RUNNING -> PARKING            fc__wait_begin (before registering anywhere)
 *     PARKING -> PARKED             the scheduler, once the coroutine's stack is saved
 *     PARKING -> WOKEN(reason)      a waker that came before the switch finished;
 *                                   the scheduler then requeues it itself
 *     PARKED  -> READY(reason)      a waker; it queues the coroutine on its owner
 *     READY/WOKEN -> RUNNING        the coroutine, on resuming
 *   Only the waker whose compare-and-swap succeeds queues the coroutine, so
 *   timers, fd events, channels and cancellation can race freely. Wake sources
 *   that are shared between threads (channels, joins, wait groups) keep their
 *   wait entries in lists guarded by a mutex, and wake while holding it; the
 *   waiting side unlinks its entry under the same mutex before it returns, so
 *   a waker never touches a waiter that has moved on. */
#ifndef FC_RUNTIME_H
#define FC_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "flowcoro/core.h"
#include "stack.h"
#include "timer.h"

#if defined(__SANITIZE_ADDRESS__)
#define FC_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define FC_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FC_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define FC_TSAN 1
#endif
#endif

/* ---- waiters ---------------------------------------------------------- */

enum {
        FC__W_RUNNING = 0,
        FC__W_PARKING = 1,
        FC__W_PARKED = 2,
        FC__W_WOKEN = 3,
        FC__W_READY = 4,
        FC__W_PHASE = 0xff,
        FC__W_NOCANCEL = 0x100, /* this wait ignores cancellation */
};

typedef enum fc__wake {
        FC__WAKE_NONE = 0,
        FC__WAKE_SIGNAL, /* the awaited condition holds */
        FC__WAKE_TIMEOUT,
        FC__WAKE_CANCEL,
        FC__WAKE_IO,
} fc__wake_t;

typedef struct fc__waiter {
        _Atomic uint32_t state;  /* phase | flags | reason << 16 */
        struct fc_coro *co;      /* NULL: a plain thread, woken by futex */
} fc__waiter_t;

/* An entry in a mutex-guarded list of waiters (channel, join, wait group). */
typedef struct fc__wait_entry {
        struct fc__wait_entry *prev, *next;
        fc__waiter_t *waiter;
        void *value;  /* channel: the value handed over */
        int result;   /* set by the waker before it wakes */
        bool linked;
} fc__wait_entry_t;

typedef struct fc__waitq {
        fc__wait_entry_t *head, *tail;
} fc__waitq_t;

void fc__waitq_push(fc__waitq_t *q, fc__wait_entry_t *e);
void fc__waitq_remove(fc__waitq_t *q, fc__wait_entry_t *e);
fc__wait_entry_t *fc__waitq_pop(fc__waitq_t *q);

/* Pops entries until one is woken with result; returns it, or NULL when the
 * list had no waiter left that could still be woken. Caller holds the lock. */
fc__wait_entry_t *fc__waitq_wake_one(fc__waitq_t *q, int result);

/* Wakes every entry with result. Caller holds the lock. */
void fc__waitq_wake_all(fc__waitq_t *q, int result);

/* The waiter of the running coroutine, or of the calling plain thread. */
fc__waiter_t *fc__current_waiter(void);

/* Starts a wait: RUNNING -> PARKING. Returns 0, or -ECANCELED (state back to
 * RUNNING) when the caller is a cancelled coroutine and cancellable. */
int fc__wait_begin(fc__waiter_t *w, bool cancellable);

/* Gives up a wait begun with fc__wait_begin without suspending (the awaited
 * condition already held). */
void fc__wait_abort(fc__waiter_t *w);

/* Suspends until woken or until timeout_ms passes (FC_FOREVER: no limit).
 * Returns the reason; the waiter is RUNNING again. */
fc__wake_t fc__wait_park(fc__waiter_t *w, int64_t timeout_ms);

/* Wakes w for reason if it is still waiting; returns whether this call did
 * it. Any thread. */
bool fc__waiter_wake(fc__waiter_t *w, fc__wake_t reason);

/* Maps a wake reason to a wait's result: SIGNAL/IO 0, TIMEOUT -ETIMEDOUT,
 * CANCEL -ECANCELED. */
int fc__wake_result(fc__wake_t reason);

/* ---- coroutines ------------------------------------------------------- */

typedef struct fc__worker fc__worker_t;

typedef enum fc__switch {
        FC__SW_PARK,
        FC__SW_YIELD,
        FC__SW_EXIT,
} fc__switch_t;

struct fc_coro {
        fc__ctx_t ctx;
        fc__waiter_t waiter;
        struct fc_coro *next;          /* link in exactly one queue or free list */
        fc_sched_t *pool;
        fc__worker_t *owner;           /* set when it starts; never changes after */
        fc_fn_t fn;
        void *arg;
        fc__stack_t stack;
        uint64_t id;

        /* Owner thread only. */
        struct fc_coro *live_prev, *live_next; /* owner's list of started coroutines */
        fc__timer_t wait_timer;        /* timeout of the current wait */
        fc__timer_t deadline_timer;
        int64_t deadline;              /* fc_now_ms() clock, or FC_FOREVER */
        fc__switch_t switch_reason;
        bool pinned;                   /* spawned with fc_spawn_here: never stolen */
        bool started;

        _Atomic int cancel;            /* fc_cancel_reason_t */
        _Atomic int refs;              /* 1 for the run, +1 while a handle is held */
        bool joinable;

        /* Joinable coroutines only, under lock. */
        pthread_mutex_t lock;
        bool done;
        fc__waitq_t joiners;

#ifdef FC_ASAN
        void *asan_fake_stack;
#endif
#ifdef FC_TSAN
        void *tsan_fiber;
#endif
};

/* ---- scheduler threads ------------------------------------------------ */

/* Bounded run queue of coroutines that have not started: the owner pushes
 * and pops, idle schedulers steal half (Go's runq). */
#define FC__RUNQ_SIZE 256
typedef struct fc__runq {
        _Atomic uint32_t head; /* consumers (owner and thieves) advance it by CAS */
        _Atomic uint32_t tail; /* only the owner writes it */
        struct fc_coro *_Atomic items[FC__RUNQ_SIZE];
} fc__runq_t;

/* One fd wait in progress (sched.c, fc_wait_fd). */
typedef struct fc__fd_slot {
        struct fc_coro *co; /* NULL when free */
        uint32_t revents;
        uint32_t gen;       /* bumped when freed: late events are ignored */
        uint32_t next_free;
} fc__fd_slot_t;

#define FC__STACK_CACHE 256
#define FC__CORO_CACHE 1024

struct fc__worker {
        fc_sched_t *pool;
        unsigned index;
        pthread_t thread;

        /* Owner thread only. */
        fc__ctx_t ctx;                 /* the scheduler loop's own context */
        struct fc_coro *current;
        struct fc_coro *next_slot;     /* coroutine just woken by a running one */
        unsigned next_streak;
        struct fc_coro *ready_head, *ready_tail; /* started and ready */
        struct fc_coro *live;          /* started, not finished */
        uint64_t tick;
        uint64_t spawned;              /* for coroutine ids: spawned * n + index */
        uint32_t rng;
        fc__timer_heap_t timers;
        int epfd;
        unsigned fd_waits;             /* coroutines waiting on an fd: poll only if any */
        fc__fd_slot_t *fd_slots;       /* fd waits in progress, named by epoll data */
        uint32_t n_fd_slots, cap_fd_slots, fd_free;
        bool stop_seen;
        fc__stack_t stacks[FC__STACK_CACHE];
        unsigned n_stacks;
        fc__stack_t *doomed;           /* stacks to unmap when this worker is idle */
        unsigned n_doomed, cap_doomed;
        struct fc_coro *free_coros;
        unsigned n_free_coros;
        void *altstack;
#ifdef FC_ASAN
        const void *stack_bottom;
        size_t stack_size;
        void *asan_fake_stack;
#endif
#ifdef FC_TSAN
        void *tsan_fiber;
#endif

        /* Shared with other threads. */
        _Atomic uint64_t spawned_here;              /* written by the owner only */
        _Atomic uint64_t finished_here;             /* written by the owner only */
        int evfd;                                   /* wakes epoll_wait */
        _Alignas(64) fc__runq_t runq;
        _Alignas(64) struct fc_coro *_Atomic inbox; /* woken elsewhere, MPSC stack */
        _Atomic bool sleeping;                      /* in (or about to enter) epoll_wait */
};

typedef struct fc__offload_pool fc__offload_pool_t;

struct fc_sched {
        unsigned n;
        fc__worker_t *workers;
        size_t stack_size; /* usable bytes, page-rounded */

        pthread_mutex_t inject_lock;
        struct fc_coro *inject_head, *inject_tail;
        _Atomic size_t inject_len;

        _Atomic unsigned nidle;  /* workers parked or about to park */
        _Atomic bool waking;     /* a worker was signalled and has not come up yet */

        _Atomic unsigned outside_calls;     /* spawns and wakes from other threads in progress */
        _Atomic uint64_t spawned_outside;   /* spawns from outside the pool */
        _Atomic uint64_t abandoned_outside; /* ... refused after counting */
        _Atomic bool stopping;
        _Atomic uint64_t next_id;

        pthread_mutex_t stack_lock; /* spare stacks shared by all threads */
        fc__stack_t *spare_stacks;
        size_t n_spare, cap_spare;

        fc__offload_pool_t *offload;
};

/* The worker running on this thread, or NULL on a plain thread. */
extern _Thread_local fc__worker_t *fc__tls_worker;

/* Suspends the running coroutine (its waiter is PARKING) until woken or the
 * timeout passes (sched.c). Returns the wake reason. */
fc__wake_t fc__sched_park(struct fc_coro *co, int64_t timeout_ms);

/* Queues a woken coroutine on its owner (sched.c). Any thread. */
void fc__sched_make_ready(struct fc_coro *co);

/* Frees a coroutine record after its last reference is dropped. */
void fc__coro_release(struct fc_coro *co);

/* Marks a joinable coroutine done and wakes its joiners (sync.c). */
void fc__coro_mark_done(struct fc_coro *co);

int fc__offload_create(fc_sched_t *s, unsigned max_threads);
void fc__offload_destroy(fc_sched_t *s);

#endif
