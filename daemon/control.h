/* The control socket: how flowcoroctl (and systemd's ExecReload=) talk to a
 * running flowcorod.
 *
 * A unix stream socket at control.socket, mode 0600 (the daemon's user and
 * root only). A client connects, sends one line holding one command word
 * ("reload", "quiet", "status"; at most FC_CONTROL_REQUEST_MAX bytes with
 * the newline, within FC_CONTROL_READ_TIMEOUT_MS), and the daemon answers
 * with one JSON object followed by a newline, then closes:
 *   {"ok":true,"message":"..."}                        reload, quiet: done
 *   {"ok":false,"errors":["file:line:col: key: ...", ...]}  failed (reload: the
 *                                 configuration's or plugins' errors; the daemon
 *                                 goes on with what it ran before)
 *   status: {"ok":true, "version":"0.1.0", "pid":N, "identity":"host:pid:hex",
 *            "config":"/etc/flowcoro/flowcoro.yaml", "busy":N, "concurrency":N,
 *            "processed":N, "failed":N, "quiet":bool, "stopping":bool,
 *            "redis_up":bool, "queues":["name",...], "plugins":N, "job_classes":N,
 *            "last_reload":null | {"time":"2026-11-30T10:02:11Z","ok":bool,
 *                                  "message":"..." (on failure: the first error)}}
 * A bad request (unknown word, line too long, no line in time) gets
 * {"ok":false,"errors":["unknown command 'x' (expected reload, quiet or status)"]}
 * or the like. The end of the stream ends a request without a newline too.
 *
 * The server side runs on a coroutine (fc_wait_fd): no thread of its own. */
#ifndef FC_DAEMON_CONTROL_H
#define FC_DAEMON_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define FC_CONTROL_REQUEST_MAX     256
#define FC_CONTROL_READ_TIMEOUT_MS 5000
/* How long fc_control_request() waits for the answer: a reload loads every
 * plugin (their init may connect somewhere), so this is generous, and still
 * below systemd's default TimeoutSec= of 90 s for ExecReload=. */
#define FC_CONTROL_REPLY_TIMEOUT_MS 60000
/* The longest answer a client accepts. */
#define FC_CONTROL_REPLY_MAX (1024 * 1024)

/* ---- client ------------------------------------------------------------ */

/* Sends command (a word such as "reload", "quiet", "status"; no newline) to
 * the daemon listening at socket_path and waits up to
 * FC_CONTROL_REPLY_TIMEOUT_MS for its answer. Blocking: for plain programs
 * (flowcoroctl), not for coroutines.
 *
 * Returns 0 and stores in *reply the answer (a JSON object as text,
 * NUL-terminated, without the trailing newline; malloc'd, the caller frees
 * it), whatever its "ok" says: the caller decides what a failed command
 * means. Otherwise returns a negative errno, leaves *reply NULL and writes
 * a message for a person into error (NUL-terminated, truncated to
 * error_size), naming the socket and saying what to do:
 *   -ENOENT        no socket there (daemon not running, or another control.socket)
 *   -ECONNREFUSED  a socket nobody listens on (the daemon died)
 *   -EACCES        not allowed (run as the daemon's user or root)
 *   -ETIMEDOUT     no complete answer in time
 *   -EPROTO        the answer is not one JSON object, or larger than FC_CONTROL_REPLY_MAX
 *   -EINVAL        bad arguments (empty command, path too long for a unix socket)
 *   others         the errno of socket/connect/read/write
 * Any thread. */
int fc_control_request(const char *socket_path, const char *command, char **reply, char *error,
                       size_t error_size);

/* ---- server (flowcorod) ----------------------------------------------- */

/* One command the daemon answers. run returns the answer object (a new
 * reference; it should hold "ok"), or NULL when out of memory (the client
 * then gets {"ok":false,"errors":["out of memory"]}). It runs on the
 * control socket's coroutine, may wait (fc_offload for blocking work), and
 * answers one client at a time only if it serialises itself: each client
 * has its own coroutine. */
typedef struct fc_control_command {
        const char *name;
        json_t *(*run)(void *ctx);
} fc_control_command_t;

/* A listening control socket. */
typedef struct fc_control_socket {
        int fd;     /* -1 when none */
        char *path; /* malloc'd */
        dev_t dev;  /* the socket file's identity, to remove only our own */
        ino_t ino;
} fc_control_socket_t;

/* Creates the listening socket at path in *out, mode 0600, non-blocking and
 * close-on-exec. A socket file left by a daemon that died (connecting to it
 * is refused) is replaced; a live one (another daemon answers) is an error,
 * and so is any other kind of file at path. Returns 0, or a negative errno
 * with a message saying what to do in error (out->fd is then -1):
 * -EADDRINUSE (another daemon), -EEXIST (not a socket), -ENOENT / -EACCES /
 * -EROFS (the directory is missing or not writable), -ENAMETOOLONG, -ENOMEM.
 * Plain thread (start-up). */
int fc_control_listen(const char *path, fc_control_socket_t *out, char *error, size_t error_size);

/* Serves the listening socket fd with commands[0..n) until the calling
 * coroutine is cancelled; each client gets its own coroutine on the
 * caller's scheduler thread (fc_spawn_here), and the ones still talking are
 * cancelled and joined before this returns. Does not close fd. commands and
 * ctx are borrowed and must outlive the call. Returns 0 when cancelled, or
 * a negative errno when accept(2) fails for good. Only from a coroutine. */
int fc_control_serve(int fd, const fc_control_command_t *commands, size_t n, void *ctx);

/* Closes the socket and removes its file if it is still the one created
 * by fc_control_listen() (a newer daemon may have replaced it). Harmless
 * on a socket that is already closed or was never opened (fd -1). */
void fc_control_close(fc_control_socket_t *sock);

#endif
