/* The private Redis of flowcorod --dev (see devredis.h). */
#include "devredis.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static bool accepts(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return false;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

int fc_devredis_start(fc_devredis_t *d) {
        const char *tmp = getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : getenv("TMPDIR");
        memset(d, 0, sizeof(*d));
        d->pid = -1;
        snprintf(d->dir, sizeof(d->dir), "%s/flowcoro-dev-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(d->dir)) {
                int r = -errno;
                fprintf(stderr, "flowcorod --dev: cannot create %s: %s\n", d->dir, strerror(errno));
                d->dir[0] = '\0';
                return r;
        }
        snprintf(d->socket_path, sizeof(d->socket_path), "%s/redis.sock", d->dir);
        char logfile[300];
        snprintf(logfile, sizeof(logfile), "%s/redis.log", d->dir);
        const char *argv[] = {"redis-server", "--port", "0", "--unixsocket", d->socket_path, "--unixsocketperm",
                              "700", "--dir", d->dir, "--logfile", logfile, "--save", "", "--appendonly", "no",
                              NULL};
        pid_t parent = getpid();
        d->pid = fork();
        if (d->pid < 0) {
                int r = -errno;
                fprintf(stderr, "flowcorod --dev: fork: %s\n", strerror(errno));
                return r;
        }
        if (d->pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks its signals; Redis must not */
                setpgid(0, 0); /* a terminal's Ctrl-C is for the daemon, which then needs Redis */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);
                execvp("redis-server", (char *const *)argv);
                fprintf(stderr, "flowcorod --dev: cannot run redis-server: %s (install the redis-server "
                                "package)\n", strerror(errno));
                _exit(127);
        }
        for (int i = 0; i < 1000; i++) {
                int status;
                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        fprintf(stderr, "flowcorod --dev: redis-server exited at start; see %s\n", logfile);
                        d->pid = -1;
                        fc_devredis_stop(d);
                        return -ECHILD;
                }
                if (accepts(d->socket_path))
                        return 0;
                sleep_ms(10);
        }
        fprintf(stderr, "flowcorod --dev: redis-server did not open %s within 10 s\n", d->socket_path);
        fc_devredis_stop(d);
        return -ETIMEDOUT;
}

void fc_devredis_stop(fc_devredis_t *d) {
        if (d->pid > 0) {
                int status;
                kill(d->pid, SIGTERM);
                for (int i = 0; i < 500 && waitpid(d->pid, &status, WNOHANG) != d->pid; i++)
                        sleep_ms(10);
                if (kill(d->pid, 0) == 0) {
                        kill(d->pid, SIGKILL);
                        waitpid(d->pid, &status, 0);
                }
                d->pid = -1;
        }
        if (d->dir[0]) {
                /* Only Redis's own files are in it. */
                const char *names[] = {"redis.sock", "redis.log", "dump.rdb"};
                for (size_t i = 0; i < 3; i++) {
                        char path[400];
                        snprintf(path, sizeof(path), "%s/%s", d->dir, names[i]);
                        unlink(path);
                }
                rmdir(d->dir);
                d->dir[0] = '\0';
        }
}
