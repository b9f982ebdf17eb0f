/* flowcorod's log (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* The journal would record this file and line as every entry's origin. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
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

/* Whether stderr is the journal's stream (systemd sets JOURNAL_STREAM to
 * its "device:inode"; a child that redirected stderr elsewhere keeps the
 * variable but not the file) and the journal's socket is there (libsystemd
 * drops entries silently when it is not). Looked up once. */
static bool to_journal;
static pthread_once_t to_journal_once = PTHREAD_ONCE_INIT;

static void look_up_journal(void) {
        const char *stream = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        to_journal = stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
                     fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                     (unsigned long long)st.st_ino == ino && access("/run/systemd/journal/socket", W_OK) == 0;
}

/* syslog priorities of fc_log_level_t. */
static const int priorities[] = {3, 4, 5, 6, 7};

/* One native entry; returns false when the journal refused it. */
static bool send_to_journal(fc_log_level_t level, const fc_log_fields_t *f, const char *msg, size_t len) {
        char priority[16], message[4200], fields[4][600];
        struct iovec iov[7];
        size_t n = 0;
        iov[n++] = (struct iovec){
                priority, (size_t)snprintf(priority, sizeof(priority), "PRIORITY=%d", priorities[level])};
        iov[n++] =
                (struct iovec){(char *)"SYSLOG_IDENTIFIER=flowcorod", strlen("SYSLOG_IDENTIFIER=flowcorod")};
        iov[n++] = (struct iovec){message,
                                  (size_t)snprintf(message, sizeof(message), "MESSAGE=%.*s", (int)len, msg)};
        if (iov[n - 1].iov_len >= sizeof(message))
                iov[n - 1].iov_len = sizeof(message) - 1;
        const char *names[4] = {"JOB_ID", "JOB_CLASS", "QUEUE", "PLUGIN"};
        const char *values[4] = {f ? f->job_id : NULL, f ? f->job_class : NULL, f ? f->queue : NULL,
                                 f ? f->plugin : NULL};
        for (size_t i = 0; i < 4; i++) {
                if (!values[i])
                        continue;
                int m = snprintf(fields[i], sizeof(fields[i]), "%s=%s", names[i], values[i]);
                iov[n++] = (struct iovec){fields[i],
                                          m < (int)sizeof(fields[i]) ? (size_t)m : sizeof(fields[i]) - 1};
        }
        return sd_journal_sendv(iov, (int)n) >= 0;
}

static void write_line(fc_log_level_t level, const fc_log_fields_t *fields, const char *suffix,
                       const char *format, va_list ap) {
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
        pthread_once(&to_journal_once, look_up_journal);
        /* The journal has the priority in its own field; if it refuses the
         * entry (journald restarting), the stream still takes the line. */
        if (to_journal && send_to_journal(level, fields, line + n, len - (size_t)n))
                return;
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
        write_line(level, NULL, NULL, format, ap);
        va_end(ap);
}

void fc_log_job(fc_log_level_t level, const fc_log_fields_t *fields, const char *format, ...) {
        if (!fc_log_enabled(level))
                return;
        va_list ap;
        va_start(ap, format);
        write_line(level, fields, NULL, format, ap);
        va_end(ap);
}

static uint64_t cause_hash(const char *cause, uint64_t seed) {
        uint64_t h = seed;
        for (const unsigned char *p = (const unsigned char *)cause; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return h ? h : 1;
}

#define CAUSE_SEED 14695981039346656037ull /* FNV-1a's */
#define KIND_SEED  1469598103934665603ull  /* another, so a kind and a cause of the same text differ */

/* The slot of key, its period renewed when over; a new key takes the slot
 * unused longest, other than keep. Under limits_lock. */
static struct limit *limit_slot(uint64_t key, int64_t now, const struct limit *keep) {
        struct limit *slot = NULL;
        for (size_t i = 0; i < LIMIT_SLOTS; i++) {
                if (limits[i].cause == key) {
                        slot = &limits[i];
                        break;
                }
                if (&limits[i] != keep && (!slot || limits[i].last_ms < slot->last_ms))
                        slot = &limits[i];
        }
        if (slot->cause != key)
                *slot = (struct limit){.cause = key, .period_ms = now};
        if (now - slot->period_ms >= LIMIT_PERIOD_MS) {
                slot->period_ms = now;
                slot->written = 0;
        }
        slot->last_ms = now;
        return slot;
}

/* Whether a line for cause may be written now: one per cause per period,
 * and (kind not NULL) at most kind_burst per period for the kind. The
 * cause's limit comes first, so that the repeats it drops anyway don't use
 * up the kind's lines meant for other causes. If allowed, *dropped says how
 * many lines of this cause were dropped before it. */
static bool limits_allow(const char *kind, unsigned kind_burst, const char *cause, uint64_t *dropped) {
        int64_t now = fc_now_ms();
        pthread_mutex_lock(&limits_lock);
        struct limit *c = limit_slot(cause_hash(cause, CAUSE_SEED), now, NULL);
        bool allow = c->written < 1;
        if (allow && kind) {
                struct limit *k = limit_slot(cause_hash(kind, KIND_SEED), now, c);
                allow = k->written < kind_burst;
                if (allow)
                        k->written++;
        }
        *dropped = 0;
        if (allow) {
                c->written++;
                *dropped = c->dropped;
                c->dropped = 0;
        } else {
                c->dropped++;
        }
        pthread_mutex_unlock(&limits_lock);
        return allow;
}

static void vlog_limited(fc_log_level_t level, const fc_log_fields_t *fields, const char *kind,
                         unsigned kind_burst, const char *cause, const char *format, va_list ap) {
        uint64_t dropped;
        if (!fc_log_enabled(level) || !limits_allow(kind, kind_burst, cause, &dropped))
                return;
        char suffix[96];
        if (dropped)
                snprintf(suffix, sizeof(suffix), " (%llu more like this in the last %d s not logged)",
                         (unsigned long long)dropped, LIMIT_PERIOD_MS / 1000);
        write_line(level, fields, dropped ? suffix : NULL, format, ap);
}

void fc_log_job_limited_kind(fc_log_level_t level, const fc_log_fields_t *fields, const char *kind,
                             unsigned kind_burst, const char *cause, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vlog_limited(level, fields, kind, kind_burst, cause, format, ap);
        va_end(ap);
}

void fc_log_limited_kind(fc_log_level_t level, const char *kind, unsigned kind_burst, const char *cause,
                         const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vlog_limited(level, NULL, kind, kind_burst, cause, format, ap);
        va_end(ap);
}

void fc_log_job_limited(fc_log_level_t level, const fc_log_fields_t *fields, const char *cause,
                        const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vlog_limited(level, fields, NULL, 0, cause, format, ap);
        va_end(ap);
}

void fc_log_limited(fc_log_level_t level, const char *cause, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vlog_limited(level, NULL, NULL, 0, cause, format, ap);
        va_end(ap);
}
