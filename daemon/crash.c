/* Naming the job that crashed the daemon (see crash.h). Everything the
 * signal handler does is async-signal-safe: reads of plain variables set
 * before, a walk of the running list without its lock (the process is
 * dying; the previous handler is back in place first, so a torn read that
 * crashes this handler only ends in it), one write(2), sigaction(2),
 * raise(3).
 *
 * It runs on the alternate signal stack (SA_ONSTACK; core gives each
 * scheduler thread one), so a coroutine's stack overflow is named too, and
 * then hands the signal on to whoever had it before (core's overflow report,
 * a sanitizer, the default action): a fault repeats when the handler
 * returns, a signal that was sent is raised again. */
#include "crash.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "decimal.h"

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static struct sigaction previous[sizeof(fatal_signals) / sizeof(fatal_signals[0])];
static fc_running_t *crash_running;
static char crash_key[600];
static size_t crash_key_len;
static _Atomic int crash_fd = -1;

void fc_crash_set_fd(int fd) {
        atomic_store(&crash_fd, fd);
}

static char *put(char *p, const char *s, size_t n) {
        memcpy(p, s, n);
        return p + n;
}

static const fc_coro_t *_Atomic blamed;

void fc_crash_blame(const fc_coro_t *coro) {
        atomic_store(&blamed, coro);
}

/* The in-flight id of the job coro runs, or 0. */
static uint64_t job_of(const fc_coro_t *coro) {
        if (crash_running && coro)
                for (fc_running_job_t *j = crash_running->head.next; j && j != &crash_running->head; j = j->next)
                        if (j->coro == coro)
                                return j->id;
        return 0;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uctx) {
        (void)uctx;
        int saved = errno;
        for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
                if (fatal_signals[i] == sig)
                        sigaction(sig, &previous[i], NULL);
        int fd = atomic_load(&crash_fd);
        uint64_t id = job_of(fc_self());
        if (!id)
                id = job_of(atomic_load(&blamed));
        if (fd >= 0 && id) {
                /* *3 $5 RPUSH $<key> <key> $<value> "<id> <signal>" */
                char value[48], *v = fc_put_u64(value, id);
                *v++ = ' ';
                v = fc_put_u64(v, (uint64_t)sig);
                char cmd[800], *p = cmd;
                p = put(p, "*3\r\n$5\r\nRPUSH\r\n$", 16);
                p = fc_put_u64(p, crash_key_len);
                p = put(p, "\r\n", 2);
                p = put(p, crash_key, crash_key_len);
                p = put(p, "\r\n$", 3);
                p = fc_put_u64(p, (uint64_t)(v - value));
                p = put(p, "\r\n", 2);
                p = put(p, value, (size_t)(v - value));
                p = put(p, "\r\n", 2);
                ssize_t w = write(fd, cmd, (size_t)(p - cmd));
                (void)w;
        }
        errno = saved;
        if (info->si_code <= 0) /* sent (kill, raise, abort): not a fault that repeats */
                raise(sig);
}

int fc_crash_setup(fc_running_t *running, const char *key) {
        size_t n = strlen(key);
        if (n >= sizeof(crash_key))
                return -ENAMETOOLONG;
        memcpy(crash_key, key, n + 1);
        crash_key_len = n;
        crash_running = running;
        struct sigaction sa = {.sa_sigaction = on_fatal_signal, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER};
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
                sigaction(fatal_signals[i], &sa, &previous[i]);
        return 0;
}

void fc_crash_teardown(void) {
        for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
                sigaction(fatal_signals[i], &previous[i], NULL);
        atomic_store(&crash_fd, -1);
        crash_running = NULL;
}
