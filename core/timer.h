/* Per-scheduler timers: a 4-ary min-heap keyed by expiry time.
 *
 * Each timer knows its slot in the heap, so arming and cancelling are
 * O(log n) and finding the next expiry is O(1). A heap belongs to one
 * scheduler thread and is never locked: only that thread touches it.
 * Timers are embedded in their owner's record (a coroutine), so the heap
 * allocates only when it grows. */
#ifndef FC_TIMER_H
#define FC_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc__timer fc__timer_t;
typedef void (*fc__timer_cb)(fc__timer_t *t);

struct fc__timer {
        int64_t when;      /* expiry, fc_now_ms() clock */
        uint64_t seq;      /* arming order: equal expiries fire first-armed first */
        size_t slot;       /* index in the heap, or FC__TIMER_UNARMED */
        fc__timer_cb cb;
};

#define FC__TIMER_UNARMED ((size_t)-1)

typedef struct fc__timer_heap {
        fc__timer_t **items;
        size_t len, cap;
        uint64_t next_seq;
} fc__timer_heap_t;

/* Prepares t (unarmed). Can't fail. */
void fc__timer_init(fc__timer_t *t, fc__timer_cb cb);

static inline bool fc__timer_armed(const fc__timer_t *t) {
        return t->slot != FC__TIMER_UNARMED;
}

/* Arms t to fire at when, re-arming it if it was armed.
 * Returns 0, or -ENOMEM when the heap could not grow (t stays unarmed). */
int fc__timer_arm(fc__timer_heap_t *h, fc__timer_t *t, int64_t when);

/* Disarms t; harmless when it is not armed. O(log n). */
void fc__timer_cancel(fc__timer_heap_t *h, fc__timer_t *t);

/* Expiry of the earliest timer, or INT64_MAX when none is armed. */
static inline int64_t fc__timer_next(const fc__timer_heap_t *h) {
        return h->len ? h->items[0]->when : INT64_MAX;
}

/* Disarms and calls, in expiry order, every timer due at or before now.
 * Callbacks may arm and cancel timers. Returns how many fired. */
size_t fc__timer_run(fc__timer_heap_t *h, int64_t now);

/* Frees the heap's array. Timers still armed are forgotten, not called. */
void fc__timer_heap_free(fc__timer_heap_t *h);

#endif
