/* The control socket (see control.h). */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "flowcoro/core.h"
#include "log.h"

/* Clients served at once; more get a refusal at once. */
#define MAX_CLIENTS      16
#define WRITE_TIMEOUT_MS 5000

static int fill_address(struct sockaddr_un *sa, const char *path) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (!*path || strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memcpy(sa->sun_path, path, strlen(path) + 1);
        return 0;
}

/* ---- client ------------------------------------------------------------- */

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd until the deadline. Returns 0, -ETIMEDOUT or -errno. */
static int poll_until(int fd, short events, int64_t deadline) {
        for (;;) {
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

int fc_control_request(const char *socket_path, const char *command, char **reply, char *error,
                       size_t error_size) {
        *reply = NULL;
        size_t len = command ? strlen(command) : 0;
        if (!len || len + 1 > FC_CONTROL_REQUEST_MAX || strchr(command, '\n')) {
                snprintf(error, error_size, "bad control command: expected one word of at most %d characters",
                         FC_CONTROL_REQUEST_MAX - 2);
                return -EINVAL;
        }
        struct sockaddr_un sa;
        if (!socket_path || fill_address(&sa, socket_path) < 0) {
                snprintf(error, error_size, "control socket path \"%s\" is empty or longer than %zu bytes",
                         socket_path ? socket_path : "", sizeof(sa.sun_path) - 1);
                return -EINVAL;
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                int r = -errno;
                snprintf(error, error_size, "cannot create a socket: %s", strerror(-r));
                return r;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                switch (r) {
                case -ENOENT:
                        snprintf(error, error_size,
                                 "%s: no such socket: is flowcorod running, with this control.socket?",
                                 socket_path);
                        break;
                case -ECONNREFUSED:
                        snprintf(error, error_size,
                                 "%s: nobody listens there: flowcorod is not running (the socket is left "
                                 "over)",
                                 socket_path);
                        break;
                case -EACCES:
                case -EPERM:
                        snprintf(error, error_size,
                                 "%s: permission denied: run this as the daemon's user or as root",
                                 socket_path);
                        r = -EACCES;
                        break;
                default:
                        snprintf(error, error_size, "%s: cannot connect: %s", socket_path, strerror(-r));
                }
                return r;
        }
        int64_t deadline = now_ms() + FC_CONTROL_REPLY_TIMEOUT_MS;
        char request[FC_CONTROL_REQUEST_MAX];
        int n = snprintf(request, sizeof(request), "%s\n", command);
        for (int off = 0; off < n;) {
                ssize_t w = send(fd, request + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        int r = -errno;
                        snprintf(error, error_size, "%s: cannot send the command: %s", socket_path,
                                 strerror(-r));
                        return r;
                }
                off += (int)w;
        }
        size_t cap = 4096, got = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf) {
                snprintf(error, error_size, "out of memory");
                return -ENOMEM;
        }
        for (;;) {
                int r = poll_until(fd, POLLIN, deadline);
                if (r < 0) {
                        snprintf(error, error_size, "%s: %s", socket_path,
                                 r == -ETIMEDOUT ? "no complete answer from flowcorod in time"
                                                 : strerror(-r));
                        return r;
                }
                if (got > FC_CONTROL_REPLY_MAX) {
                        snprintf(error, error_size, "%s: the answer is longer than %d bytes", socket_path,
                                 FC_CONTROL_REPLY_MAX);
                        return -EPROTO;
                }
                if (got + 1 == cap) {
                        char *b = realloc(buf, cap * 2);
                        if (!b) {
                                snprintf(error, error_size, "out of memory");
                                return -ENOMEM;
                        }
                        buf = b;
                        cap *= 2;
                }
                ssize_t m = read(fd, buf + got, cap - got - 1);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m < 0) {
                        r = -errno;
                        snprintf(error, error_size, "%s: cannot read the answer: %s", socket_path,
                                 strerror(-r));
                        return r;
                }
                if (m == 0)
                        break;
                got += (size_t)m;
        }
        buf[got] = '\0';
        while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
                buf[--got] = '\0';
        json_error_t jerr;
        json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
        bool is_object = json_is_object(j);
        json_decref(j);
        if (!is_object) {
                snprintf(error, error_size, "%s: the answer is not a JSON object%s%s", socket_path,
                         got ? ": " : " (empty: the daemon closed the connection)", got ? jerr.text : "");
                return -EPROTO;
        }
        *reply = TAKE_PTR(buf);
        return 0;
}

/* ---- server ------------------------------------------------------------- */

int fc_control_listen(const char *path, fc_control_socket_t *out, char *error, size_t error_size) {
        *out = (fc_control_socket_t){.fd = -1};
        struct sockaddr_un sa;
        if (fill_address(&sa, path) < 0) {
                snprintf(error, error_size, "control.socket \"%s\" is empty or longer than %zu bytes", path,
                         sizeof(sa.sun_path) - 1);
                return -ENAMETOOLONG;
        }
        char dir_buf[sizeof(sa.sun_path)];
        memcpy(dir_buf, path, strlen(path) + 1);
        const char *dir = dirname(dir_buf);

        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        snprintf(error, error_size,
                                 "control socket %s: a file that is not a socket is in the way: remove it, "
                                 "or set "
                                 "control.socket to another path",
                                 path);
                        return -EEXIST;
                }
                /* Someone answers: another daemon. Refused: left by a daemon
                 * that died, so ours replaces it. */
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (probe < 0) {
                        int r = -errno;
                        snprintf(error, error_size, "cannot create a socket: %s", strerror(-r));
                        return r;
                }
                if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
                        snprintf(error, error_size,
                                 "control socket %s: another flowcorod is running and listening there; stop "
                                 "it "
                                 "first, or give this daemon another control.socket",
                                 path);
                        return -EADDRINUSE;
                }
                if (errno != ECONNREFUSED) {
                        int r = -errno;
                        snprintf(error, error_size,
                                 "control socket %s exists and can't be checked (%s): remove it if no "
                                 "flowcorod "
                                 "uses it",
                                 path, strerror(-r));
                        return r;
                }
                if (unlink(path) < 0 && errno != ENOENT) {
                        int r = -errno;
                        snprintf(error, error_size,
                                 "control socket %s is left over from a daemon that died, and can't be "
                                 "removed: %s",
                                 path, strerror(-r));
                        return r;
                }
                fc_log(FC_LOG_INFO, "control socket %s was left over from a daemon that died; replacing it",
                       path);
        }

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                int r = -errno;
                snprintf(error, error_size, "cannot create a socket: %s", strerror(-r));
                return r;
        }
        /* Owner-only from the start: bind creates the file with the umask
         * applied, and a chmod afterwards would leave a window. Start-up is
         * single-threaded, so changing the umask for a moment is safe. */
        mode_t old_mask = umask(0177);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old_mask);
        if (r == -EADDRINUSE) {
                snprintf(error, error_size,
                         "control socket %s: another flowcorod created it at the same moment; stop it first, "
                         "or "
                         "give this daemon another control.socket",
                         path);
                return r;
        }
        if (r == -ENOENT || r == -ENOTDIR) {
                snprintf(error, error_size,
                         "control socket %s: the directory %s does not exist: create it (systemd's "
                         "RuntimeDirectory= does, for the service), or set control.socket to a path in an "
                         "existing directory (\"\" for no control socket)",
                         path, dir);
                return -ENOENT;
        }
        if (r == -EACCES || r == -EPERM || r == -EROFS) {
                snprintf(error, error_size,
                         "control socket %s: cannot create it in %s (%s): make the directory writable by the "
                         "user flowcorod runs as (uid %u), or set control.socket to a path in a directory it "
                         "can write (\"\" for no control socket)",
                         path, dir, strerror(-r), (unsigned)geteuid());
                return r;
        }
        if (r < 0) {
                snprintf(error, error_size, "control socket %s: cannot bind: %s", path, strerror(-r));
                return r;
        }
        if (listen(fd, MAX_CLIENTS) < 0 || stat(path, &st) < 0) {
                r = -errno;
                unlink(path);
                snprintf(error, error_size, "control socket %s: cannot listen: %s", path, strerror(-r));
                return r;
        }
        out->path = strdup(path);
        if (!out->path) {
                unlink(path);
                snprintf(error, error_size, "out of memory");
                return -ENOMEM;
        }
        out->dev = st.st_dev;
        out->ino = st.st_ino;
        out->fd = TAKE_FD(fd);
        return 0;
}

void fc_control_close(fc_control_socket_t *sock) {
        if (sock->fd >= 0)
                close(sock->fd);
        struct stat st;
        if (sock->path && stat(sock->path, &st) == 0 && st.st_dev == sock->dev && st.st_ino == sock->ino)
                unlink(sock->path);
        free(sock->path);
        *sock = (fc_control_socket_t){.fd = -1};
}

typedef struct client {
        int fd;
        const fc_control_command_t *commands;
        size_t n;
        void *ctx;
        fc_coro_t *coro;
        bool done;
        struct client *next;
} client_t;

/* Writes all of text within WRITE_TIMEOUT_MS; a client that went away or
 * reads nothing just loses its answer. */
static void send_all(int fd, const char *text, size_t len) {
        int64_t deadline = fc_now_ms() + WRITE_TIMEOUT_MS;
        while (len) {
                ssize_t w = send(fd, text, len, MSG_NOSIGNAL);
                if (w > 0) {
                        text += w;
                        len -= (size_t)w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                int64_t left = deadline - fc_now_ms();
                if (w == 0 || errno != EAGAIN || left <= 0 || fc_wait_fd(fd, EPOLLOUT, left) < 0)
                        return;
        }
}

static void send_reply(int fd, json_t *reply) {
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        if (!text) {
                static const char oom[] = "{\"ok\":false,\"errors\":[\"out of memory\"]}\n";
                send_all(fd, oom, sizeof(oom) - 1);
                return;
        }
        send_all(fd, text, strlen(text));
        send_all(fd, "\n", 1);
        free(text);
}

static json_t *error_reply(const char *format, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_reply(const char *format, ...) {
        char text[512];
        va_list ap;
        va_start(ap, format);
        vsnprintf(text, sizeof(text), format, ap);
        va_end(ap);
        return json_pack("{s:b,s:[s]}", "ok", false, "errors", text);
}

/* Reads one line (or everything up to EOF) into buf. Returns its length,
 * -EMSGSIZE when it does not fit, -ETIMEDOUT, -ECANCELED or -errno. */
static int read_request(int fd, char *buf, size_t size) {
        int64_t deadline = fc_now_ms() + FC_CONTROL_READ_TIMEOUT_MS;
        size_t got = 0;
        for (;;) {
                ssize_t m = read(fd, buf + got, size - 1 - got);
                if (m > 0) {
                        got += (size_t)m;
                        char *nl = memchr(buf, '\n', got);
                        if (nl) {
                                *nl = '\0';
                                return (int)(nl - buf);
                        }
                        if (got == size - 1)
                                return -EMSGSIZE;
                        continue;
                }
                if (m == 0) {
                        buf[got] = '\0';
                        return (int)got;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                int64_t left = deadline - fc_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                int r = fc_wait_fd(fd, EPOLLIN, left);
                if (r < 0)
                        return r;
        }
}

/* The request as a person can read it in an error: printable ASCII only. */
static void printable(const char *in, char *out, size_t size) {
        size_t o = 0;
        for (; *in && o + 1 < size; in++)
                out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
        out[o] = '\0';
}

static json_t *answer(client_t *c, char *request, int len) {
        if (len == -EMSGSIZE)
                return error_reply("request too long: send one command word of at most %d characters and a "
                                   "newline",
                                   FC_CONTROL_REQUEST_MAX - 2);
        if (len == -ETIMEDOUT)
                return error_reply("no request within %d s: send one command word and a newline",
                                   FC_CONTROL_READ_TIMEOUT_MS / 1000);
        /* Trailing blanks and a \r (a client using CRLF) are tolerated. */
        while (len > 0 && (request[len - 1] == '\r' || request[len - 1] == ' ' || request[len - 1] == '\t'))
                request[--len] = '\0';
        char names[128] = "", shown[FC_CONTROL_REQUEST_MAX];
        for (size_t i = 0; i < c->n; i++) {
                if (strcmp(request, c->commands[i].name) == 0)
                        return c->commands[i].run(c->ctx);
                size_t at = strlen(names);
                snprintf(names + at, sizeof(names) - at, "%s%s",
                         i == 0          ? ""
                         : i + 1 == c->n ? " or "
                                         : ", ",
                         c->commands[i].name);
        }
        printable(request, shown, sizeof(shown));
        if (!*request)
                return error_reply("empty request: expected %s", names);
        return error_reply("unknown command '%s' (expected %s)", shown, names);
}

static void client_main(void *arg) {
        client_t *c = arg;
        char request[FC_CONTROL_REQUEST_MAX];
        int len = read_request(c->fd, request, sizeof(request));
        if (len >= 0 || len == -EMSGSIZE || len == -ETIMEDOUT) {
                json_t *reply = answer(c, request, len);
                send_reply(c->fd, reply);
                json_decref(reply);
        }
        close(c->fd);
        c->fd = -1;
        c->done = true;
}

/* Lets go of the clients that have finished (all: cancels the others and
 * waits for them). done is a client's last store, so a finished one's
 * record is free to go; waiting is by yielding, because the caller may be
 * cancelled, and then every other wait fails at once (a client may be in
 * a reload's fc_offload(), which cancellation does not cut short). */
static void reap(client_t **list, size_t *count, bool all) {
        for (client_t **p = list; *p;) {
                client_t *c = *p;
                if (!c->done && !all) {
                        p = &c->next;
                        continue;
                }
                if (!c->done)
                        fc_cancel(c->coro);
                while (!c->done)
                        fc_yield();
                fc_detach(c->coro);
                *p = c->next;
                free(c);
                (*count)--;
        }
}

int fc_control_serve(int fd, const fc_control_command_t *commands, size_t n, void *ctx) {
        client_t *clients = NULL;
        size_t count = 0;
        int result = 0;
        for (;;) {
                reap(&clients, &count, false);
                int r = fc_wait_fd(fd, EPOLLIN, FC_FOREVER);
                if (r == -ECANCELED)
                        break;
                if (r < 0) {
                        result = r;
                        fc_log(FC_LOG_ERROR,
                               "control socket: cannot wait for connections: %s; the control "
                               "socket stops",
                               strerror(-r));
                        break;
                }
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                fc_log_limited(FC_LOG_WARNING, "control accept",
                                               "control socket: cannot accept a connection: %s; retrying",
                                               strerror(errno));
                                if (fc_sleep(100) == -ECANCELED)
                                        break;
                                continue;
                        }
                        result = -errno;
                        fc_log(FC_LOG_ERROR, "control socket: accept failed: %s; the control socket stops",
                               strerror(errno));
                        break;
                }
                client_t *c = count < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
                if (c) {
                        *c = (client_t){.fd = cfd, .commands = commands, .n = n, .ctx = ctx};
                        if (fc_spawn_here(client_main, c, &c->coro) == 0) {
                                c->next = clients;
                                clients = c;
                                count++;
                                continue;
                        }
                        free(c);
                }
                json_t *busy =
                        error_reply("busy: %zu control connections are open already; try again", count);
                send_reply(cfd, busy);
                json_decref(busy);
                close(cfd);
        }
        reap(&clients, &count, true);
        return result;
}
