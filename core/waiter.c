/* The waiter protocol (see runtime.h) and lists of wait entries. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

static _Thread_local fc__waiter_t thread_waiter;

static inline uint32_t phase(uint32_t s) {
        return s & FC__W_PHASE;
}

static inline fc__wake_t reason_of(uint32_t s) {
        return (fc__wake_t)(s >> 16);
}

fc__waiter_t *fc__current_waiter(void) {
        fc__worker_t *w = fc__tls_worker;
        if (w) {
                /* On a scheduler thread only coroutines may wait. */
                assert(w->current);
                return &w->current->waiter;
        }
        return &thread_waiter;
}

int fc__wait_begin(fc__waiter_t *w, bool cancellable) {
        assert(phase(atomic_load_explicit(&w->state, memory_order_relaxed)) == FC__W_RUNNING);
        atomic_store(&w->state, FC__W_PARKING | (cancellable ? 0 : FC__W_NOCANCEL));
        /* A canceller stores its flag, then tries to wake us; we publish
         * PARKING, then look at the flag. Both are sequentially consistent,
         * so at least one of us sees the other. */
        if (cancellable && w->co && atomic_load(&w->co->cancel) != FC_CANCEL_NONE) {
                atomic_store(&w->state, FC__W_RUNNING);
                return -ECANCELED;
        }
        return 0;
}

void fc__wait_abort(fc__waiter_t *w) {
        /* A waker may have won meanwhile (PARKING -> WOKEN); since we never
         * suspended, nobody else acts on that, and we just carry on. */
        atomic_store(&w->state, FC__W_RUNNING);
}

int fc__wake_result(fc__wake_t reason) {
        switch (reason) {
        case FC__WAKE_TIMEOUT:
                return -ETIMEDOUT;
        case FC__WAKE_CANCEL:
                return -ECANCELED;
        default:
                return 0;
        }
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t expected, const struct timespec *rel) {
        syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, rel, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr) {
        syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* A plain thread stays PARKING until a waker moves it to WOKEN. */
static fc__wake_t thread_park(fc__waiter_t *w, int64_t timeout_ms) {
        int64_t until = timeout_ms >= 0 ? fc_now_ms() + timeout_ms : 0;
        uint32_t s;
        while (phase(s = atomic_load(&w->state)) == FC__W_PARKING) {
                if (timeout_ms < 0) {
                        futex_wait(&w->state, s, NULL);
                        continue;
                }
                int64_t left = until - fc_now_ms();
                if (left <= 0) {
                        uint32_t woken = FC__W_WOKEN | (uint32_t)FC__WAKE_TIMEOUT << 16;
                        atomic_compare_exchange_strong(&w->state, &s, woken);
                        continue;
                }
                struct timespec rel = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
                futex_wait(&w->state, s, &rel);
        }
        atomic_store(&w->state, FC__W_RUNNING);
        return reason_of(s);
}

fc__wake_t fc__wait_park(fc__waiter_t *w, int64_t timeout_ms) {
        if (w->co)
                return fc__sched_park(w->co, timeout_ms);
        return thread_park(w, timeout_ms);
}

bool fc__waiter_wake(fc__waiter_t *w, fc__wake_t reason) {
        /* Read before the CAS: once it succeeds, a coroutine woken while
         * PARKING may run on, finish and have its record reused. */
        struct fc_coro *co = w->co;
        uint32_t s = atomic_load(&w->state), next;
        do {
                if (reason == FC__WAKE_CANCEL && (s & FC__W_NOCANCEL))
                        return false;
                if (phase(s) == FC__W_PARKING)
                        next = FC__W_WOKEN;
                else if (phase(s) == FC__W_PARKED)
                        next = FC__W_READY;
                else
                        return false;
                next |= (uint32_t)reason << 16;
        } while (!atomic_compare_exchange_weak(&w->state, &s, next));

        if (!co)
                futex_wake_all(&w->state); /* a plain thread's waiter outlives its wait */
        else if (phase(s) == FC__W_PARKED)
                fc__sched_make_ready(co); /* PARKED: it can't run until this queues it */
        /* PARKING -> WOKEN: the scheduler requeues it after the switch. */
        return true;
}

void fc__waitq_push(fc__waitq_t *q, fc__wait_entry_t *e) {
        e->next = NULL;
        e->prev = q->tail;
        if (q->tail)
                q->tail->next = e;
        else
                q->head = e;
        q->tail = e;
        e->linked = true;
}

void fc__waitq_remove(fc__waitq_t *q, fc__wait_entry_t *e) {
        if (!e->linked)
                return;
        if (e->prev)
                e->prev->next = e->next;
        else
                q->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                q->tail = e->prev;
        e->prev = e->next = NULL;
        e->linked = false;
}

fc__wait_entry_t *fc__waitq_pop(fc__waitq_t *q) {
        fc__wait_entry_t *e = q->head;
        if (e)
                fc__waitq_remove(q, e);
        return e;
}

fc__wait_entry_t *fc__waitq_wake_one(fc__waitq_t *q, int result) {
        fc__wait_entry_t *e;
        while ((e = fc__waitq_pop(q))) {
                e->result = result;
                if (fc__waiter_wake(e->waiter, FC__WAKE_SIGNAL))
                        return e;
                /* It is already waking for another reason (timeout,
                 * cancellation): it won't take this. Try the next. */
        }
        return NULL;
}

void fc__waitq_wake_all(fc__waitq_t *q, int result) {
        fc__wait_entry_t *e;
        while ((e = fc__waitq_pop(q))) {
                e->result = result;
                fc__waiter_wake(e->waiter, FC__WAKE_SIGNAL);
        }
}
