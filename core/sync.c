/* Joining coroutines and wait groups: both wait, under a mutex, for a
 * condition another thread makes true (see the waiter protocol in runtime.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

void fc__coro_mark_done(struct fc_coro *co) {
        pthread_mutex_lock(&co->lock);
        co->done = true;
        fc__waitq_wake_all(&co->joiners, 0);
        pthread_mutex_unlock(&co->lock);
}

static bool is_done(struct fc_coro *co) {
        pthread_mutex_lock(&co->lock);
        bool done = co->done;
        pthread_mutex_unlock(&co->lock);
        return done;
}

int fc_join_any(fc_coro_t *const *cos, size_t n, int64_t timeout_ms) {
        if (n == 0)
                return -EINVAL;
        fc__wait_entry_t small[8];
        fc__wait_entry_t *entries = n <= 8 ? small : calloc(n, sizeof(*entries));
        if (!entries)
                return -ENOMEM;
        fc__waiter_t *w = fc__current_waiter();
        int r = fc__wait_begin(w, true);
        if (r < 0)
                goto out;

        /* Register with each until one turns out to be done already. */
        size_t registered = 0;
        int found = -1;
        for (size_t i = 0; i < n && found < 0; i++) {
                struct fc_coro *co = cos[i];
                assert(co->joinable);
                pthread_mutex_lock(&co->lock);
                if (co->done) {
                        found = (int)i;
                } else {
                        entries[i] = (fc__wait_entry_t){.waiter = w};
                        fc__waitq_push(&co->joiners, &entries[i]);
                        registered = i + 1;
                }
                pthread_mutex_unlock(&co->lock);
        }
        fc__wake_t why = FC__WAKE_SIGNAL;
        if (found >= 0)
                fc__wait_abort(w);
        else
                why = fc__wait_park(w, timeout_ms);

        for (size_t i = 0; i < registered; i++) {
                pthread_mutex_lock(&cos[i]->lock);
                fc__waitq_remove(&cos[i]->joiners, &entries[i]);
                pthread_mutex_unlock(&cos[i]->lock);
        }
        if (found < 0 && why == FC__WAKE_SIGNAL) {
                for (size_t i = 0; i < n && found < 0; i++)
                        if (is_done(cos[i]))
                                found = (int)i;
                assert(found >= 0);
        }
        r = found >= 0 ? found : fc__wake_result(why);
out:
        if (entries != small)
                free(entries);
        return r;
}

int fc_join(fc_coro_t *co) {
        int r = fc_join_any(&co, 1, FC_FOREVER);
        if (r < 0)
                return r;
        fc__coro_release(co);
        return 0;
}

void fc_detach(fc_coro_t *co) {
        fc__coro_release(co);
}

struct fc_wg {
        pthread_mutex_t lock;
        long count;
        fc__waitq_t waiters;
};

fc_wg_t *fc_wg_create(void) {
        fc_wg_t *wg = calloc(1, sizeof(*wg));
        if (wg)
                pthread_mutex_init(&wg->lock, NULL);
        return wg;
}

void fc_wg_destroy(fc_wg_t *wg) {
        if (!wg)
                return;
        assert(!wg->waiters.head);
        pthread_mutex_destroy(&wg->lock);
        free(wg);
}

void fc_wg_add(fc_wg_t *wg, int n) {
        pthread_mutex_lock(&wg->lock);
        wg->count += n;
        assert(wg->count >= 0);
        if (wg->count == 0)
                fc__waitq_wake_all(&wg->waiters, 0);
        pthread_mutex_unlock(&wg->lock);
}

void fc_wg_done(fc_wg_t *wg) {
        fc_wg_add(wg, -1);
}

int fc_wg_wait(fc_wg_t *wg, int64_t timeout_ms) {
        fc__waiter_t *w = fc__current_waiter();
        fc__wait_entry_t e = {.waiter = w};
        int r = fc__wait_begin(w, true);
        if (r < 0)
                return r;
        pthread_mutex_lock(&wg->lock);
        if (wg->count == 0) {
                pthread_mutex_unlock(&wg->lock);
                fc__wait_abort(w);
                return 0;
        }
        if (timeout_ms == 0) {
                pthread_mutex_unlock(&wg->lock);
                fc__wait_abort(w);
                return -ETIMEDOUT;
        }
        fc__waitq_push(&wg->waiters, &e);
        pthread_mutex_unlock(&wg->lock);
        fc__wake_t why = fc__wait_park(w, timeout_ms);
        pthread_mutex_lock(&wg->lock);
        fc__waitq_remove(&wg->waiters, &e);
        pthread_mutex_unlock(&wg->lock);
        return fc__wake_result(why);
}
