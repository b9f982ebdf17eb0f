/* flowcorod's log (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flowcoro/core.h"

#define LIMIT_SLOTS     64
#define LIMIT_PERIOD_MS 10000

static _Atomic int log_level = FC_LOG_INFO;

/* The causes seen lately, each with the start of its current period, the
 * lines written in it and the lines dropped since the last one written. A
 * new cause takes the slot unused longest. Bad input can repeat a line once
 * per job, so this is not a hot path worth more than a mutex. */
static struct limit {
        uint64_t cause; /* 64-bit hash of the cause text; 0 = free */
        int64_t period_ms, last_ms;
        unsigned written;
        uint64_t dropped;
} limits[LIMIT_SLOTS];
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

void fc_log_set_level(fc_log_level_t level) {
        atomic_store(&log_level, (int)level);
}

bool fc_log_enabled(fc_log_level_t level) {
        return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void write_line(fc_log_level_t level, const char *suffix, const char *format, va_list ap) {
        char line[4096];
        int n = snprintf(line, sizeof(line), "%s: ", level_names[level]);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, format, ap);
        size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof(line) - 2)
                len = sizeof(line) - 2; /* cut: keep room for the newline */
        if (suffix) {
                size_t s = strlen(suffix);
                if (len + s > sizeof(line) - 2)
                        s = sizeof(line) - 2 - len;
                memcpy(line + len, suffix, s);
                len += s;
        }
        line[len++] = '\n';
        /* A short write to a pipe or the journal's socket is not worth a
         * loop: the log must never block the caller for long. */
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
}

void fc_log(fc_log_level_t level, const char *format, ...) {
        if (!fc_log_enabled(level))
                return;
        va_list ap;
        va_start(ap, format);
        write_line(level, NULL, format, ap);
        va_end(ap);
}

static uint64_t cause_hash(const char *cause) {
        uint64_t h = 14695981039346656037ull; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *)cause; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return h ? h : 1;
}

/* Whether a line for cause may be written now (at most burst lines per
 * period); if so, *dropped says how many were dropped before it. */
static bool limit_allows(const char *cause, unsigned burst, uint64_t *dropped) {
        uint64_t key = cause_hash(cause);
        int64_t now = fc_now_ms();
        bool allow;
        pthread_mutex_lock(&limits_lock);
        struct limit *slot = &limits[0];
        for (size_t i = 0; i < LIMIT_SLOTS; i++) {
                if (limits[i].cause == key) {
                        slot = &limits[i];
                        break;
                }
                if (limits[i].last_ms < slot->last_ms)
                        slot = &limits[i]; /* the least recently used, if cause is new */
        }
        if (slot->cause != key)
                *slot = (struct limit){.cause = key, .period_ms = now};
        if (now - slot->period_ms >= LIMIT_PERIOD_MS) {
                slot->period_ms = now;
                slot->written = 0;
        }
        slot->last_ms = now;
        allow = slot->written < burst;
        *dropped = 0;
        if (allow) {
                slot->written++;
                *dropped = slot->dropped;
                slot->dropped = 0;
        } else {
                slot->dropped++;
        }
        pthread_mutex_unlock(&limits_lock);
        return allow;
}

static void write_limited(fc_log_level_t level, uint64_t dropped, const char *format, va_list ap) {
        char suffix[96];
        if (dropped)
                snprintf(suffix, sizeof(suffix), " (%llu more like this in the last %d s not logged)",
                         (unsigned long long)dropped, LIMIT_PERIOD_MS / 1000);
        write_line(level, dropped ? suffix : NULL, format, ap);
}

void fc_log_limited_kind(fc_log_level_t level, const char *kind, unsigned kind_burst, const char *cause,
                         const char *format, ...) {
        uint64_t dropped, kind_dropped;
        if (!fc_log_enabled(level) || !limit_allows(kind, kind_burst, &kind_dropped) ||
            !limit_allows(cause, 1, &dropped))
                return;
        va_list ap;
        va_start(ap, format);
        write_limited(level, dropped, format, ap);
        va_end(ap);
}

void fc_log_limited(fc_log_level_t level, const char *cause, const char *format, ...) {
        uint64_t dropped;
        if (!fc_log_enabled(level) || !limit_allows(cause, 1, &dropped))
                return;
        va_list ap;
        va_start(ap, format);
        write_limited(level, dropped, format, ap);
        va_end(ap);
}
