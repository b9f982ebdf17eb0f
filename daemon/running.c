/* The list of running jobs (see running.h). */
#include "running.h"

void fc_running_init(fc_running_t *r) {
        pthread_mutex_init(&r->lock, NULL);
        r->head.prev = r->head.next = &r->head;
        r->count = 0;
        r->cancelling = false;
}

void fc_running_destroy(fc_running_t *r) {
        pthread_mutex_destroy(&r->lock);
}

bool fc_running_add(fc_running_t *r, fc_running_job_t *job) {
        pthread_mutex_lock(&r->lock);
        if (r->cancelling) {
                pthread_mutex_unlock(&r->lock);
                return false;
        }
        job->next = &r->head;
        job->prev = r->head.prev;
        job->prev->next = job;
        r->head.prev = job;
        r->count++;
        pthread_mutex_unlock(&r->lock);
        return true;
}

void fc_running_remove(fc_running_t *r, fc_running_job_t *job) {
        pthread_mutex_lock(&r->lock);
        job->prev->next = job->next;
        job->next->prev = job->prev;
        job->prev = job->next = NULL;
        r->count--;
        pthread_mutex_unlock(&r->lock);
}

static void cancel_one(fc_running_job_t *job, void *arg) {
        (void)arg;
        fc_cancel(job->coro);
}

size_t fc_running_cancel_all(fc_running_t *r) {
        size_t n;
        pthread_mutex_lock(&r->lock);
        r->cancelling = true;
        n = r->count;
        pthread_mutex_unlock(&r->lock);
        fc_running_foreach(r, cancel_one, NULL);
        return n;
}

void fc_running_foreach(fc_running_t *r, void (*fn)(fc_running_job_t *job, void *arg), void *arg) {
        pthread_mutex_lock(&r->lock);
        for (fc_running_job_t *j = r->head.next; j != &r->head; j = j->next)
                fn(j, arg);
        pthread_mutex_unlock(&r->lock);
}
