/* The blocking-work pool: plain threads that run functions which would
 * block a scheduler thread (file I/O, getaddrinfo, heavy computation) while
 * the calling coroutine is suspended. Threads start on demand, up to a
 * limit, and stay until the pool is destroyed. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

typedef struct offload_job {
        struct offload_job *next;
        fc_fn_t fn;
        void *arg;
        fc__waiter_t *waiter;
} offload_job_t;

struct fc__offload_pool {
        pthread_mutex_t lock;
        pthread_cond_t work;
        offload_job_t *head, *tail;
        unsigned threads, idle, max;
        unsigned queued; /* jobs not yet taken by a thread */
        bool stopping;
        pthread_t *tids;
};

static void *blocking_main(void *arg) {
        fc__offload_pool_t *p = arg;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->head && !p->stopping) {
                        p->idle++;
                        pthread_cond_wait(&p->work, &p->lock);
                        p->idle--;
                }
                if (!p->head)
                        break; /* stopping and nothing left */
                offload_job_t *job = p->head;
                p->queued--;
                p->head = job->next;
                if (!p->head)
                        p->tail = NULL;
                pthread_mutex_unlock(&p->lock);
                job->fn(job->arg);
                /* job lives on the waiting coroutine's stack: after the
                 * wake it may be gone, so read nothing from it afterwards. */
                fc__waiter_wake(job->waiter, FC__WAKE_SIGNAL);
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int fc__offload_create(fc_sched_t *s, unsigned max_threads) {
        fc__offload_pool_t *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->tids = calloc(max_threads, sizeof(pthread_t));
        if (!p->tids) {
                free(p);
                return -ENOMEM;
        }
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        p->max = max_threads;
        s->offload = p;
        return 0;
}

void fc__offload_destroy(fc_sched_t *s) {
        fc__offload_pool_t *p = s->offload;
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->work);
        unsigned n = p->threads;
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < n; i++)
                pthread_join(p->tids[i], NULL);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->lock);
        free(p->tids);
        free(p);
        s->offload = NULL;
}

int fc_offload(fc_fn_t fn, void *arg) {
        fc__worker_t *w = fc__tls_worker;
        if (!w || !w->current) {
                fn(arg);
                return 0;
        }
        fc__offload_pool_t *p = w->pool->offload;
        struct fc_coro *co = w->current;
        offload_job_t job = {.fn = fn, .arg = arg, .waiter = &co->waiter};

        pthread_mutex_lock(&p->lock);
        /* A thread signalled but not yet awake still counts as idle, so
         * compare with the jobs already waiting, not with zero: otherwise a
         * burst queues behind one thread (and deadlocks if one job waits
         * for another). */
        if (p->queued >= p->idle && p->threads < p->max) {
                int r = pthread_create(&p->tids[p->threads], NULL, blocking_main, p);
                if (r == 0)
                        p->threads++;
                else if (p->threads == 0) {
                        pthread_mutex_unlock(&p->lock);
                        fc__set_last_error("cannot start a blocking-work thread: error %d", r);
                        return -r;
                }
                /* Otherwise the busy threads will get to it. */
        }
        fc__wait_begin(&co->waiter, false); /* can't fail: not cancellable */
        if (p->tail)
                p->tail->next = &job;
        else
                p->head = &job;
        p->tail = &job;
        p->queued++;
        pthread_cond_signal(&p->work);
        pthread_mutex_unlock(&p->lock);

        fc__wake_t why = fc__wait_park(&co->waiter, FC_FOREVER);
        assert(why == FC__WAKE_SIGNAL);
        (void)why;
        return 0;
}
