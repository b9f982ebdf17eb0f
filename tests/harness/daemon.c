#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static int spawn(fc_test_daemon_t *d, const char *const *args) {
        const char *argv[32];
        int n = 0;
        argv[n++] = FLOWCOROD_PATH;
        argv[n++] = "-c";
        argv[n++] = d->config;
        argv[n++] = "--insecure-plugins";
        for (size_t i = 0; args && args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log < 0)
                return -errno;
        /* Where this start's lines begin: "running" must come from this one. */
        off_t start = lseek(log, 0, SEEK_END);
        pid_t parent = getpid();
        d->pid = fork();
        if (d->pid < 0) {
                close(log);
                return -errno;
        }
        if (d->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                dup2(log, STDOUT_FILENO);
                dup2(log, STDERR_FILENO);
                execv(argv[0], (char *const *)argv);
                fprintf(stderr, "test harness: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(log);
        for (int i = 0; i < 750; i++) {
                char *text = fc_test_daemon_log(d);
                bool up = text && strlen(text) > (size_t)start && strstr(text + start, "notice: running");
                free(text);
                if (up)
                        return 0;
                if (fc_test_daemon_wait(d, 0))
                        break;
                sleep_ms(20);
        }
        char *text = fc_test_daemon_log(d);
        fprintf(stderr, "test harness: flowcorod did not start; its log:\n%s\n", text ? text : "");
        free(text);
        return -ETIMEDOUT;
}

int fc_test_daemon_start(fc_test_daemon_t *d, const fc_test_redis_t *redis, const char *extra,
                         const char *const *args) {
        memset(d, 0, sizeof(*d));
        d->pid = -1;
        snprintf(d->dir, sizeof(d->dir), "%s/fc-daemon-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(d->dir)) {
                d->dir[0] = '\0';
                return -errno;
        }
        snprintf(d->config, sizeof(d->config), "%s/flowcoro.yaml", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/flowcorod.log", d->dir);
        snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
        FILE *f = fopen(d->config, "w");
        if (!f)
                return -errno;
        fprintf(f,
                "redis:\n  url: unix://%s\n"
                "plugins:\n  directory: %s\n  load:\n    - path: examples.so\n      config: { allow_crash: true }\n"
                "%s",
                redis->socket_path, PLUGIN_DIR, extra ? extra : "");
        /* The default (/run/flowcoro/control.sock) is the service's. */
        bool own_control = extra && (strncmp(extra, "control:", 8) == 0 || strstr(extra, "\ncontrol:"));
        if (!own_control)
                fprintf(f, "control:\n  socket: %s\n", d->control);
        fclose(f);
        return spawn(d, args);
}

int fc_test_daemon_restart(fc_test_daemon_t *d, const char *const *args) {
        if (d->pid > 0)
                return -EBUSY;
        return spawn(d, args);
}

void fc_test_daemon_signal(fc_test_daemon_t *d, int sig) {
        if (d->pid > 0)
                kill(d->pid, sig);
}

bool fc_test_daemon_wait(fc_test_daemon_t *d, int timeout_ms) {
        if (d->pid <= 0)
                return true;
        for (int waited = 0;; waited += 10) {
                int status;
                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        d->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        d->pid = -1;
                        return true;
                }
                if (waited >= timeout_ms)
                        return false;
                sleep_ms(10);
        }
}

void fc_test_daemon_kill(fc_test_daemon_t *d) {
        fc_test_daemon_signal(d, SIGKILL);
        fc_test_daemon_wait(d, 10000);
}

void fc_test_daemon_stop(fc_test_daemon_t *d) {
        fc_test_daemon_signal(d, SIGTERM);
        if (!fc_test_daemon_wait(d, 30000))
                fc_test_daemon_kill(d);
        if (d->dir[0]) {
                unlink(d->config);
                unlink(d->log);
                unlink(d->control);
                rmdir(d->dir);
                d->dir[0] = '\0';
        }
}

char *fc_test_daemon_log(const fc_test_daemon_t *d) {
        FILE *f = fopen(d->log, "r");
        if (!f)
                return NULL;
        size_t cap = 65536, n = 0;
        char *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
                n += got;
                if (n + 1 == cap) {
                        char *b = realloc(buf, cap *= 2);
                        if (!b) {
                                free(buf);
                                buf = NULL;
                        }
                        buf = b;
                }
        }
        fclose(f);
        if (buf)
                buf[n] = '\0';
        return buf;
}

bool fc_test_daemon_logged(const fc_test_daemon_t *d, const char *text) {
        char *log = fc_test_daemon_log(d);
        bool found = log && strstr(log, text);
        free(log);
        return found;
}

typedef struct logged {
        const fc_test_daemon_t *d;
        const char *text;
} logged_t;

static bool is_logged(void *arg) {
        logged_t *l = arg;
        return fc_test_daemon_logged(l->d, l->text);
}

bool fc_test_wait_until_logged(const fc_test_daemon_t *d, const char *text, int timeout_ms) {
        logged_t l = {d, text};
        return fc_test_wait_until(is_logged, &l, timeout_ms);
}

redisContext *fc_test_redis_connect(const fc_test_redis_t *redis) {
        struct timeval tv = {.tv_sec = 10};
        redisContext *c = redisConnectUnixWithTimeout(redis->socket_path, tv);
        if (c && c->err) {
                fprintf(stderr, "test harness: cannot connect to %s: %s\n", redis->socket_path, c->errstr);
                redisFree(c);
                return NULL;
        }
        if (c)
                redisSetTimeout(c, tv);
        return c;
}

long long fc_test_redis_int(redisContext *c, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        redisReply *r = redisvCommand(c, format, ap);
        va_end(ap);
        return fc_test_reply_int(r);
}

long long fc_test_reply_int(redisReply *r) {
        long long v = -2;
        if (r && r->type == REDIS_REPLY_INTEGER)
                v = r->integer;
        else if (r && r->type == REDIS_REPLY_ARRAY)
                v = (long long)r->elements;
        else if (r && r->type == REDIS_REPLY_STRING)
                v = strtoll(r->str, NULL, 10);
        else if (r && r->type == REDIS_REPLY_NIL)
                v = -1;
        freeReplyObject(r);
        return v;
}

bool fc_test_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms) {
        for (int waited = 0;; waited += 20) {
                if (cond(arg))
                        return true;
                if (waited >= timeout_ms)
                        return false;
                sleep_ms(20);
        }
}

long fc_test_daemon_rss_kib(const fc_test_daemon_t *d) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
        FILE *f = fopen(path, "re");
        long kib = -1;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        if (f)
                fclose(f);
        return kib;
}
