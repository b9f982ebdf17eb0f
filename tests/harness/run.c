#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void append(int fd, char *buf, size_t cap, size_t *len, int *open) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0) {
                *open = 0;
                return;
        }
        size_t room = cap - 1 - *len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + *len, tmp, take);
        *len += take;
        buf[*len] = '\0';
}

int fc_test_run(const char *const *argv, int timeout_s, fc_test_output_t *o) {
        int out[2], err[2];
        memset(o, 0, sizeof(*o));
        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(err, O_CLOEXEC) < 0) {
                int e = -errno;
                close(out[0]);
                close(out[1]);
                return e;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = -errno;
                close(out[0]), close(out[1]), close(err[0]), close(err[1]);
                return e;
        }
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDONLY);
                dup2(devnull, 0);
                dup2(out[1], 1);
                dup2(err[1], 2);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);

        size_t out_len = 0, err_len = 0;
        int out_open = 1, err_open = 1, killed = 0;
        time_t give_up = time(NULL) + timeout_s;
        while (out_open || err_open) {
                struct pollfd p[2] = {{.fd = out_open ? out[0] : -1, .events = POLLIN},
                                      {.fd = err_open ? err[0] : -1, .events = POLLIN}};
                if (poll(p, 2, 100) < 0 && errno != EINTR)
                        break;
                if (p[0].revents)
                        append(out[0], o->out, sizeof(o->out), &out_len, &out_open);
                if (p[1].revents)
                        append(err[0], o->err, sizeof(o->err), &err_len, &err_open);
                if (!killed && time(NULL) > give_up) {
                        kill(pid, SIGKILL);
                        killed = 1;
                }
        }
        close(out[0]);
        close(err[0]);

        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        o->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return 0;
}
