#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Asks the kernel for a free TCP port on 127.0.0.1. Another process could
 * take it before redis binds it; the start then fails clearly, not silently. */
static int pick_free_port(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        close(fd);
        return ntohs(sa.sin_port);
}

static int ping(const char *socket_path) {
        struct timeval tv = {.tv_sec = 1};
        redisContext *c = redisConnectUnixWithTimeout(socket_path, tv);
        int ok = 0;
        if (c && !c->err) {
                redisReply *reply = redisCommand(c, "PING");
                ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
                freeReplyObject(reply);
        }
        redisFree(c);
        return ok;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Runs redis-server on r's port, socket and directory, and waits until it
 * answers PING. */
static int spawn_server(fc_test_redis_t *r, const char *const *extra_args) {
        char port[16], logfile[300];
        const char *argv[64];
        int n = 0;

        snprintf(port, sizeof(port), "%d", r->port);
        snprintf(logfile, sizeof(logfile), "%s/redis.log", r->dir);

        argv[n++] = "redis-server";
        argv[n++] = "--bind";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--port";
        argv[n++] = port;
        argv[n++] = "--unixsocket";
        argv[n++] = r->socket_path;
        argv[n++] = "--dir";
        argv[n++] = r->dir;
        argv[n++] = "--logfile";
        argv[n++] = logfile;
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
        for (size_t i = 0; extra_args && extra_args[i] && n < 62; i++)
                argv[n++] = extra_args[i];
        argv[n] = NULL;

        pid_t parent = getpid();
        r->pid = fork();
        if (r->pid < 0) {
                int e = -errno;
                fprintf(stderr, "redis harness: fork: %s\n", strerror(errno));
                return e;
        }
        if (r->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                execvp("redis-server", (char *const *)argv);
                fprintf(stderr, "redis harness: cannot run redis-server: %s\n", strerror(errno));
                _exit(127);
        }
        for (int i = 0; i < 1000; i++) {
                int status;
                if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
                        fprintf(stderr, "redis harness: redis-server exited early (status %d); see %s\n", status,
                                logfile);
                        r->pid = -1;
                        return -ECHILD;
                }
                if (ping(r->socket_path))
                        return 0;
                sleep_ms(10);
        }
        fprintf(stderr, "redis harness: redis-server did not answer PING within 10 s\n");
        fc_test_redis_stop(r);
        return -ETIMEDOUT;
}

int fc_test_redis_start(fc_test_redis_t *r, const char *const *extra_args) {
        memset(r, 0, sizeof(*r));
        r->pid = -1;
        snprintf(r->dir, sizeof(r->dir), "%s/fc-redis-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(r->dir)) {
                int e = -errno;
                fprintf(stderr, "redis harness: mkdtemp %s: %s\n", r->dir, strerror(errno));
                r->dir[0] = '\0';
                return e;
        }
        r->port = pick_free_port();
        if (r->port < 0) {
                fprintf(stderr, "redis harness: no free port: %s\n", strerror(-r->port));
                return r->port;
        }
        snprintf(r->socket_path, sizeof(r->socket_path), "%s/redis.sock", r->dir);
        return spawn_server(r, extra_args);
}

static void remove_dir(const char *dir) {
        char cmd[600];
        /* The directory is ours (mkdtemp) and holds only redis's files. */
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "redis harness: could not remove %s\n", dir);
}

static void stop_process(fc_test_redis_t *r) {
        if (r->pid > 0) {
                int status;
                kill(r->pid, SIGTERM);
                for (int i = 0; i < 500; i++) {
                        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
                                goto reaped;
                        sleep_ms(10);
                }
                kill(r->pid, SIGKILL);
                waitpid(r->pid, &status, 0);
        reaped:
                r->pid = -1;
        }
}

void fc_test_redis_stop(fc_test_redis_t *r) {
        stop_process(r);
        if (r->dir[0]) {
                remove_dir(r->dir);
                r->dir[0] = '\0';
        }
}

void fc_test_redis_halt(fc_test_redis_t *r) {
        stop_process(r);
}

int fc_test_redis_restart(fc_test_redis_t *r, const char *const *extra_args) {
        if (!r->dir[0])
                return -EINVAL;
        stop_process(r);
        return spawn_server(r, extra_args);
}
