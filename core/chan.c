/* Bounded channels of pointers between coroutines on any scheduler and
 * plain threads. One mutex guards the ring and both waiter lists; wakes
 * happen under it (see the waiter protocol in runtime.h). A receiver waits
 * only while the ring is empty and a sender only while it is full, so a
 * value handed straight to a waiting receiver keeps FIFO order. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

struct fc_chan {
        pthread_mutex_t lock;
        size_t cap, head, len;
        bool closed;
        fc__waitq_t senders, receivers;
        void *items[];
};

int fc_chan_create(size_t capacity, fc_chan_t **out) {
        if (capacity == 0 || capacity > (SIZE_MAX - sizeof(fc_chan_t)) / sizeof(void *))
                return -EINVAL;
        fc_chan_t *ch = calloc(1, sizeof(*ch) + capacity * sizeof(void *));
        if (!ch)
                return -ENOMEM;
        pthread_mutex_init(&ch->lock, NULL);
        ch->cap = capacity;
        *out = ch;
        return 0;
}

void fc_chan_destroy(fc_chan_t *ch) {
        if (!ch)
                return;
        assert(!ch->senders.head && !ch->receivers.head);
        pthread_mutex_destroy(&ch->lock);
        free(ch);
}

/* Parks on q with entry e (already filled), having begun the wait; unlocks
 * meanwhile and unlinks afterwards. Returns the wait's result. */
static int park_on(fc_chan_t *ch, fc__waitq_t *q, fc__wait_entry_t *e, int64_t timeout_ms) {
        fc__waitq_push(q, e);
        pthread_mutex_unlock(&ch->lock);
        fc__wake_t why = fc__wait_park(e->waiter, timeout_ms);
        pthread_mutex_lock(&ch->lock);
        fc__waitq_remove(q, e);
        pthread_mutex_unlock(&ch->lock);
        return why == FC__WAKE_SIGNAL ? e->result : fc__wake_result(why);
}

int fc_chan_send(fc_chan_t *ch, void *value, int64_t timeout_ms) {
        fc__waiter_t *w = fc__current_waiter();
        int r = fc__wait_begin(w, true);
        if (r < 0)
                return r;
        pthread_mutex_lock(&ch->lock);
        if (ch->closed) {
                r = -EPIPE;
                goto done;
        }
        for (fc__wait_entry_t *e; (e = fc__waitq_pop(&ch->receivers));) {
                e->value = value;
                e->result = 0;
                if (fc__waiter_wake(e->waiter, FC__WAKE_SIGNAL))
                        goto done; /* handed straight over */
        }
        if (ch->len < ch->cap) {
                ch->items[(ch->head + ch->len++) % ch->cap] = value;
                goto done;
        }
        if (timeout_ms == 0) {
                r = -ETIMEDOUT;
                goto done;
        }
        fc__wait_entry_t e = {.waiter = w, .value = value};
        return park_on(ch, &ch->senders, &e, timeout_ms);
done:
        pthread_mutex_unlock(&ch->lock);
        fc__wait_abort(w);
        return r;
}

int fc_chan_recv(fc_chan_t *ch, void **value, int64_t timeout_ms) {
        fc__waiter_t *w = fc__current_waiter();
        int r = fc__wait_begin(w, true);
        if (r < 0)
                return r;
        pthread_mutex_lock(&ch->lock);
        if (ch->len > 0) {
                *value = ch->items[ch->head];
                ch->head = (ch->head + 1) % ch->cap;
                ch->len--;
                /* Room now: take the first waiting sender's value in. */
                fc__wait_entry_t *e = fc__waitq_wake_one(&ch->senders, 0);
                if (e)
                        ch->items[(ch->head + ch->len++) % ch->cap] = e->value;
                goto done;
        }
        if (ch->closed) {
                r = -EPIPE;
                goto done;
        }
        if (timeout_ms == 0) {
                r = -ETIMEDOUT;
                goto done;
        }
        fc__wait_entry_t e = {.waiter = w};
        r = park_on(ch, &ch->receivers, &e, timeout_ms);
        if (r == 0)
                *value = e.value;
        return r;
done:
        pthread_mutex_unlock(&ch->lock);
        fc__wait_abort(w);
        return r;
}

void fc_chan_close(fc_chan_t *ch) {
        pthread_mutex_lock(&ch->lock);
        ch->closed = true;
        fc__waitq_wake_all(&ch->receivers, -EPIPE);
        fc__waitq_wake_all(&ch->senders, -EPIPE);
        pthread_mutex_unlock(&ch->lock);
}
