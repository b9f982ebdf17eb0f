/* flowcorod's log (see log.h). */
#include "log.h"

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

/* One slot per cause hash: when it last wrote, and how many lines it has
 * dropped since. */
static struct {
        _Atomic int64_t last_ms;
        _Atomic uint64_t dropped;
} limits[LIMIT_SLOTS];

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

static unsigned cause_slot(const char *cause) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *)cause; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h % LIMIT_SLOTS;
}

void fc_log_limited(fc_log_level_t level, const char *cause, const char *format, ...) {
        if (!fc_log_enabled(level))
                return;
        unsigned slot = cause_slot(cause);
        int64_t now = fc_now_ms(), last = atomic_load(&limits[slot].last_ms);
        if ((last != 0 && now - last < LIMIT_PERIOD_MS) ||
            !atomic_compare_exchange_strong(&limits[slot].last_ms, &last, now)) {
                atomic_fetch_add(&limits[slot].dropped, 1);
                return;
        }
        uint64_t dropped = atomic_exchange(&limits[slot].dropped, 0);
        char suffix[96] = "";
        if (dropped)
                snprintf(suffix, sizeof(suffix), " (%llu more like this in the last %d s not logged)",
                         (unsigned long long)dropped, LIMIT_PERIOD_MS / 1000);
        va_list ap;
        va_start(ap, format);
        write_line(level, dropped ? suffix : NULL, format, ap);
        va_end(ap);
}
