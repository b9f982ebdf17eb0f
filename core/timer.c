#include "timer.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

/* A 4-ary heap is shallower than a binary one and its four children share a
 * cache line or two, which is why Go's runtime uses it for its timers. */
#define ARITY 4

static bool earlier(const fc__timer_t *a, const fc__timer_t *b) {
        return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(fc__timer_heap_t *h, size_t i, fc__timer_t *t) {
        h->items[i] = t;
        t->slot = i;
}

static void sift_up(fc__timer_heap_t *h, size_t i, fc__timer_t *t) {
        while (i > 0) {
                size_t parent = (i - 1) / ARITY;
                if (!earlier(t, h->items[parent]))
                        break;
                place(h, i, h->items[parent]);
                i = parent;
        }
        place(h, i, t);
}

static void sift_down(fc__timer_heap_t *h, size_t i, fc__timer_t *t) {
        for (;;) {
                size_t first = i * ARITY + 1, best = i;
                fc__timer_t *best_t = t;
                for (size_t c = first; c < first + ARITY && c < h->len; c++)
                        if (earlier(h->items[c], best_t)) {
                                best = c;
                                best_t = h->items[c];
                        }
                if (best == i)
                        break;
                place(h, i, best_t);
                i = best;
        }
        place(h, i, t);
}

void fc__timer_init(fc__timer_t *t, fc__timer_cb cb) {
        t->when = 0;
        t->seq = 0;
        t->slot = FC__TIMER_UNARMED;
        t->cb = cb;
}

int fc__timer_arm(fc__timer_heap_t *h, fc__timer_t *t, int64_t when) {
        fc__timer_cancel(h, t);
        if (h->len == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 64;
                fc__timer_t **items = realloc(h->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                h->items = items;
                h->cap = cap;
        }
        t->when = when;
        t->seq = h->next_seq++;
        sift_up(h, h->len++, t);
        return 0;
}

void fc__timer_cancel(fc__timer_heap_t *h, fc__timer_t *t) {
        size_t i = t->slot;
        if (i == FC__TIMER_UNARMED)
                return;
        assert(i < h->len && h->items[i] == t);
        t->slot = FC__TIMER_UNARMED;
        fc__timer_t *last = h->items[--h->len];
        if (last == t)
                return;
        /* The moved timer may belong above or below the hole. */
        if (i > 0 && earlier(last, h->items[(i - 1) / ARITY]))
                sift_up(h, i, last);
        else
                sift_down(h, i, last);
}

size_t fc__timer_run(fc__timer_heap_t *h, int64_t now) {
        size_t fired = 0;
        while (h->len && h->items[0]->when <= now) {
                fc__timer_t *t = h->items[0];
                fc__timer_cancel(h, t);
                t->cb(t);
                fired++;
        }
        return fired;
}

void fc__timer_heap_free(fc__timer_heap_t *h) {
        for (size_t i = 0; i < h->len; i++)
                h->items[i]->slot = FC__TIMER_UNARMED;
        free(h->items);
        h->items = NULL;
        h->len = h->cap = 0;
}
