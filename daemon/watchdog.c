/* The service thread (see watchdog.h). */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "log.h"
#include "notify.h"

struct fc_watchdog {
        fc_watchdog_options_t o;
        int64_t watchdog_ms; /* 0: no watchdog */
        int64_t tick_ms;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* CLOCK_MONOTONIC */
        bool stop;           /* under lock */
};

/* "3400" -> "3,400". */
static void with_commas(uint64_t v, char *buf, size_t size) {
        char digits[24];
        int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
        size_t o = 0;
        for (int i = 0; i < n && o + 1 < size; i++) {
                if (i > 0 && (n - i) % 3 == 0 && o + 2 < size)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
}

/* The text of STATUS=; rate_per_s < 0 leaves the rate out. */
static void status_line(const fc_engine_status_t *st, double rate_per_s, const char *reload, char *buf,
                        size_t size) {
        char busy[32], limit[32], rate[48] = "";
        with_commas(st->busy, busy, sizeof(busy));
        with_commas(st->concurrency, limit, sizeof(limit));
        if (rate_per_s >= 0) {
                char r[32];
                with_commas((uint64_t)(rate_per_s + 0.5), r, sizeof(r));
                snprintf(rate, sizeof(rate), ", %s jobs/s", r);
        }
        snprintf(buf, size, "%sbusy %s/%s%s, Redis %s%s%s",
                 st->stopping ? "stopping: "
                 : st->quiet  ? "quiet: "
                              : "",
                 busy, limit, rate, st->redis_up ? "up" : "down", reload && *reload ? ", " : "",
                 reload ? reload : "");
}

/* Waits up to ms or until stopped. Returns whether to go on. */
static bool nap(fc_watchdog_t *w, int64_t ms) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->lock);
        while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
                ;
        bool go_on = !w->stop;
        pthread_mutex_unlock(&w->lock);
        return go_on;
}

static void send_status(fc_watchdog_t *w, uint64_t *last_processed, int64_t *last_ms) {
        fc_engine_status_t st;
        fc_engine_status(w->o.engine, &st);
        int64_t now = fc_now_ms();
        double rate = -1;
        if (*last_ms && now > *last_ms && st.processed >= *last_processed)
                rate = (double)(st.processed - *last_processed) * 1000.0 / (double)(now - *last_ms);
        *last_processed = st.processed;
        *last_ms = now;
        char reload[160] = "", line[400];
        if (w->o.describe_reload)
                w->o.describe_reload(w->o.ctx, reload, sizeof(reload));
        status_line(&st, rate, reload, line, sizeof(line));
        fc_notify_status(line);
}

/* Pings unless a scheduler thread is stalled; logs each change. */
static void check_stall(fc_watchdog_t *w, bool *stalled) {
        const fc_coro_t *coro = NULL;
        int64_t held = 0;
        int thread = fc_sched_stalled(w->o.sched, w->watchdog_ms, &coro, &held);
        if (thread < 0) {
                fc_crash_blame(NULL);
                if (*stalled)
                        fc_log(FC_LOG_NOTICE,
                               "watchdog: the scheduler threads run again; pinging systemd again");
                *stalled = false;
                fc_notify_watchdog();
                return;
        }
        if (*stalled)
                return;
        *stalled = true;
        fc_crash_blame(coro); /* the SIGABRT that ends us names this job */
        char who[512];
        if (!fc_engine_describe_coro(w->o.engine, coro, who, sizeof(who)))
                snprintf(who, sizeof(who), "a coroutine that runs no job");
        fc_log(FC_LOG_ERROR,
               "watchdog: scheduler thread %d has been held by %s for %lld ms without coming back to its "
               "loop "
               "(a handler that blocks or computes without yielding); no more watchdog pings, so systemd "
               "restarts flowcorod and the next one takes the jobs back",
               thread, who, (long long)held);
}

static void *watchdog_main(void *arg) {
        fc_watchdog_t *w = arg;
        uint64_t last_processed = 0;
        int64_t last_ms = 0, last_status = 0;
        bool stalled = false;
        do {
                int64_t now = fc_now_ms();
                if (now - last_status >= FC_WATCHDOG_STATUS_MS - w->tick_ms / 2) {
                        send_status(w, &last_processed, &last_ms);
                        last_status = now;
                }
                if (w->watchdog_ms)
                        check_stall(w, &stalled);
        } while (nap(w, w->tick_ms));
        return NULL;
}

int fc_watchdog_start(const fc_watchdog_options_t *o, fc_watchdog_t **out) {
        *out = NULL;
        if (!fc_notify_enabled())
                return 0;
        fc_watchdog_t *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->o = *o;
        w->watchdog_ms = (int64_t)(fc_notify_watchdog_usec() / 1000);
        w->tick_ms = FC_WATCHDOG_STATUS_MS;
        if (w->watchdog_ms && w->watchdog_ms / 2 < w->tick_ms)
                w->tick_ms = w->watchdog_ms / 2 > 0 ? w->watchdog_ms / 2 : 1;
        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = -pthread_create(&w->thread, NULL, watchdog_main, w);
        if (r < 0) {
                pthread_cond_destroy(&w->cond);
                pthread_mutex_destroy(&w->lock);
                free(w);
                return r;
        }
        if (w->watchdog_ms)
                fc_log(FC_LOG_INFO,
                       "watchdog: pinging systemd every %lld ms while no scheduler thread is held "
                       "longer than %lld ms",
                       (long long)w->tick_ms, (long long)w->watchdog_ms);
        *out = w;
        return 0;
}

void fc_watchdog_stop(fc_watchdog_t *w) {
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
}
