#include "chaos.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cmocka.h>

bool chaos_full(void) {
        const char *full = getenv("FLOWCORO_CHAOS_FULL");
        return full && strcmp(full, "1") == 0;
}

long chaos_size(long ci, long full) {
        return chaos_full() ? full : ci;
}

void chaos_init(void) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines show up as they come, also in a file */
        printf("size: %s (FLOWCORO_CHAOS_FULL=%s)\n", chaos_full() ? "full" : "small",
               chaos_full() ? "1" : "unset");
        fflush(stdout);
}

int64_t chaos_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chaos_sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

void chaos_print_log_tail(const fc_test_daemon_t *d, const char *why, size_t bytes) {
        char *log = fc_test_daemon_log(d);
        size_t len = log ? strlen(log) : 0;
        printf("%s; the daemon's log ends:\n%s\n", why,
               log ? log + (len > bytes ? len - bytes : 0) : "(none)");
        free(log);
}

int chaos_redis_start(chaos_redis_t *r, const char *const *args) {
        r->args = args;
        r->c = NULL;
        int e = fc_test_redis_start(&r->server, args);
        if (e == 0 && !chaos_conn(r))
                e = -EIO;
        if (e < 0)
                chaos_redis_stop(r);
        return e;
}

int chaos_redis_restart(chaos_redis_t *r, bool hard) {
        redisFree(r->c);
        r->c = NULL;
        if (hard && r->server.pid > 0)
                kill(r->server.pid, SIGKILL); /* the restart reaps it */
        int e = fc_test_redis_restart(&r->server, r->args);
        if (e < 0)
                return e;
        return chaos_conn(r) ? 0 : -EIO;
}

void chaos_redis_stop(chaos_redis_t *r) {
        redisFree(r->c);
        r->c = NULL;
        fc_test_redis_stop(&r->server);
}

redisContext *chaos_conn(chaos_redis_t *r) {
        if (r->c && !r->c->err)
                return r->c;
        redisFree(r->c);
        r->c = fc_test_redis_connect(&r->server);
        return r->c;
}

long long chaos_int(chaos_redis_t *r, const char *format, ...) {
        redisContext *c = chaos_conn(r);
        if (!c)
                return -3;
        va_list ap;
        va_start(ap, format);
        redisReply *reply = redisvCommand(c, format, ap);
        va_end(ap);
        return fc_test_reply_int(reply);
}

static const char jobs_left_lua[] =
        "local n = redis.call('LLEN', 'queue:default') + redis.call('ZCARD', 'retry') + "
        "redis.call('ZCARD', 'schedule')\n"
        "for _, k in ipairs(redis.call('KEYS', 'flowcoro:inflight:*')) do n = n + redis.call('HLEN', k) end\n"
        "return n\n";

long long chaos_jobs_left(chaos_redis_t *r) {
        long long n = chaos_int(r, "EVAL %s 0", jobs_left_lua);
        return n >= 0 ? n : -EIO;
}

bool chaos_wait_settled(chaos_redis_t *r, int timeout_ms) {
        int64_t give_up = chaos_now_ms() + timeout_ms;
        for (;;) {
                if (chaos_jobs_left(r) == 0)
                        return true;
                if (chaos_now_ms() >= give_up)
                        return false;
                chaos_sleep_ms(50);
        }
}

fc_test_tally_t chaos_tally(chaos_redis_t *r, const char *key, const char *prefix, long n) {
        fc_test_tally_t t = {0};
        redisContext *c = chaos_conn(r);
        assert_non_null(c);
        assert_int_equal(fc_test_record_tally(c, key, prefix, 0, n, &t), 0);
        return t;
}

long chaos_pace(chaos_pacer_t *p, chaos_redis_t *r) {
        int64_t now = chaos_now_ms();
        if (!p->start_ms)
                p->start_ms = now;
        long due = (long)((double)(now - p->start_ms) * p->per_second / 1000.0) + 1;
        if (due > p->total)
                due = p->total;
        long n = due - p->pushed;
        if (n <= 0)
                return 0;
        if (n > 2000)
                n = 2000;
        redisContext *c = chaos_conn(r);
        assert_non_null(c);
        assert_int_equal(fc_test_record_push(c, p->key, p->prefix, p->pushed, n, p->ms), 0);
        p->pushed += n;
        return n;
}

bool chaos_paced_all(const chaos_pacer_t *p) {
        return p->pushed >= p->total;
}
