/* The daemon's Redis client: coroutine-native, on hiredis 0.14.
 *
 * A command suspends only the coroutine that sends it: the socket is
 * non-blocking and every wait is core's fc_wait_fd() or fc_sleep() with a
 * timeout, so the scheduler thread runs other coroutines meanwhile. Host
 * names are resolved with getaddrinfo() through fc_offload(), off the
 * scheduler threads; hiredis then connects to the numeric address.
 *
 * Ownership and threads: a connection (fc_redis_t) is used by ONE coroutine
 * at a time. It holds no lock; it may be handed from one coroutine to another
 * (on any scheduler thread) between calls, but two coroutines calling into the
 * same connection at once is a bug that the connection detects and refuses
 * with -EBUSY. The daemon gives each coroutine that talks to Redis its own
 * connection (they are cheap: one socket and two buffers). Every function that
 * talks to Redis must be called from a coroutine (-EPERM otherwise).
 *
 * Replies are hiredis's own redisReply objects: the caller owns every reply a
 * function hands out and frees it with freeReplyObject().
 *
 * Errors are negative errno values; the ones with a Redis meaning are named
 * below. Whatever the error, fc_redis_last_error() gives a sentence for a
 * person (never the password). A connection whose reply stream may be out of
 * step with its commands (timeout, cancellation, dead socket, protocol error)
 * is closed at once and reconnected by the next call; one the server closed
 * while it was idle between calls is reopened before the next call sends
 * anything, so that call does not fail; reconnect attempts after
 * repeated failures are spaced by a capped exponential backoff with jitter.
 *
 * See docs/redis-client.md for the design and the error table. */
#ifndef FC_DAEMON_REDIS_H
#define FC_DAEMON_REDIS_H

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowcoro/config.h"

/* ---- error mapping ------------------------------------------------------ */

/* Error replies, classified by their first word. Connection-level results are
 * plain errno values: -ETIMEDOUT (the call's timeout passed; connection
 * closed), -ECANCELED (the coroutine was cancelled; connection closed),
 * -ECONNRESET (the socket died: EOF, ECONNRESET, EPIPE, ...; connection
 * closed, the command may or may not have run, retry if it is safe),
 * -ECONNREFUSED / -ENOENT / -EHOSTUNREACH / ... (connecting failed),
 * -ENOTCONN (not connected and the next reconnect attempt is further away
 * than the call's timeout), -EPROTO (the server sent something that is not
 * RESP; connection closed), -ENOMEM. */
#define FC_REDIS_E_REPLY     (-EREMOTEIO) /* any other error reply (ERR, WRONGTYPE, ...) */
#define FC_REDIS_E_NOSCRIPT  (-ENOENT)    /* NOSCRIPT: the script is not cached; load it */
#define FC_REDIS_E_READONLY  (-EROFS)     /* READONLY: a replica; connection closed */
#define FC_REDIS_E_LOADING   (-EAGAIN)    /* LOADING / MASTERDOWN: retried until the timeout */
#define FC_REDIS_E_UNBLOCKED (-EINTR)     /* UNBLOCKED: a blocking command was cut short */
#define FC_REDIS_E_AUTH      (-EACCES)    /* NOAUTH / WRONGPASS: credentials missing or wrong */
#define FC_REDIS_E_NOPERM    (-EPERM)     /* NOPERM: the ACL user may not run this */
#define FC_REDIS_E_BUSY      (-EBUSY)     /* BUSY: a script runs too long on the server */

/* Pass as timeout_ms to use the connection's command timeout. */
#define FC_REDIS_TIMEOUT_DEFAULT ((int64_t)-2)

/* ---- connections ------------------------------------------------------- */

typedef struct fc_redis fc_redis_t;

/* Where and how to connect. Strings are copied by fc_redis_new(); the caller
 * keeps its own. Zero means "the default" for every number. */
typedef struct fc_redis_options {
        fc_redis_transport_t transport; /* FC_REDIS_TCP or FC_REDIS_UNIX (config.h) */
        const char *host;               /* TCP: name or numeric address (IPv6 without []) */
        uint16_t port;                  /* TCP: 0 = 6379 */
        const char *socket_path;        /* unix */
        uint32_t db;                    /* SELECTed after connecting when not 0 */
        const char *username;           /* ACL user, NULL for none (needs a password) */
        const char *password;           /* SECRET, NULL for none: AUTH after connecting */
        const char *client_name;        /* CLIENT SETNAME after connecting, NULL for none */
        int64_t command_timeout_ms;     /* per call, everything included; 0 = 5000,
                                           FC_FOREVER = none */
        int64_t connect_timeout_ms;     /* per connection attempt; 0 = 2000 */
        int64_t backoff_min_ms;         /* first reconnect delay; 0 = 50 */
        int64_t backoff_max_ms;         /* cap; 0 = 5000 */
} fc_redis_options_t;

/* Fills *o from a loaded configuration's redis section (the URL already parsed
 * by config/: redis://[user:password@]host[:port][/db], unix:///path[?db=N]),
 * password included, other fields zero. The strings stay borrowed from cfg,
 * which must outlive *o (fc_redis_new() copies them). Can't fail. */
void fc_redis_options_from_config(fc_redis_options_t *o, const fc_config_t *cfg);

/* Creates a connection object; it connects lazily, on the first call that
 * needs the server (or with fc_redis_connect()). Returns 0 and sets *ret, or
 * -EINVAL (no host / socket path, socket path too long, user without
 * password, negative timeout other than FC_FOREVER) or -ENOMEM. Any thread.
 * The caller frees it with fc_redis_free(). */
int fc_redis_new(const fc_redis_options_t *o, fc_redis_t **ret);

/* Closes the connection (if any), wipes the password and frees everything,
 * including appended commands never executed. NULL is allowed. Any thread, as
 * long as no coroutine is using c. */
void fc_redis_free(fc_redis_t *c);

/* Connects now (resolving, AUTH, SELECT, CLIENT SETNAME) unless already
 * connected, waiting out a reconnect backoff first when one is running.
 * timeout_ms: FC_REDIS_TIMEOUT_DEFAULT, FC_FOREVER or milliseconds.
 * Returns 0, FC_REDIS_E_AUTH (wrong or missing credentials), -EINVAL (SELECT
 * refused: no such database), a connection error (see above), -ETIMEDOUT,
 * -ECANCELED or -ENOTCONN. From a coroutine only. */
int fc_redis_connect(fc_redis_t *c, int64_t timeout_ms);

/* Closes the connection now; the next call reconnects without backoff.
 * Appended commands are kept. Can't fail. */
void fc_redis_disconnect(fc_redis_t *c);

/* Whether a connection is established right now (a dead socket is noticed
 * only by the next command). Any thread; the answer may be stale at once. */
bool fc_redis_is_connected(const fc_redis_t *c);

/* The connection's socket, or -1 when not connected. Only for the crash
 * reporter (crash.h), which writes one raw command on it from a signal
 * handler; everything else goes through the calls here. Read by the owning
 * coroutine. */
int fc_redis_fd(const fc_redis_t *c);

/* A sentence saying what the last failed call on c went wrong with, where
 * (the server's address, never the password) and, when it can, what to do;
 * "" when the last call succeeded. Borrowed: valid until the next call on c. */
const char *fc_redis_last_error(const fc_redis_t *c);

/* Sets the default timeout of later calls (FC_FOREVER or > 0 ms). Returns 0
 * or -EINVAL. */
int fc_redis_set_timeout(fc_redis_t *c, int64_t timeout_ms);

/* Counters since fc_redis_new(); read by the owning coroutine. */
typedef struct fc_redis_stats {
        uint64_t commands;         /* commands sent (handshake excluded) */
        uint64_t connects;         /* connections established */
        uint64_t connect_failures; /* attempts that failed (resolution, connect, AUTH, SELECT) */
        uint64_t disconnects;      /* connections closed because of an error */
        uint64_t timeouts;         /* calls that returned -ETIMEDOUT */
        uint64_t loading_retries;  /* commands resent after LOADING / MASTERDOWN */
        uint64_t script_loads;     /* fc_redis_eval() falling back to EVAL after NOSCRIPT */
} fc_redis_stats_t;

void fc_redis_get_stats(const fc_redis_t *c, fc_redis_stats_t *ret);

/* Totals over every connection of this process, for metrics. Any thread. */
typedef struct fc_redis_totals {
        uint64_t open;       /* connections established now */
        uint64_t reconnects; /* connections established by an fc_redis_t that had one before */
} fc_redis_totals_t;

void fc_redis_get_totals(fc_redis_totals_t *ret);

/* ---- commands ----------------------------------------------------------- */

/* Sends one command (argc words; argvlen[i] bytes each, binary safe; argvlen
 * NULL = NUL-terminated strings) and waits for its reply, at most timeout_ms
 * for everything (reconnect and backoff included).
 * Returns 0 and stores the reply in *reply (never an error reply; the caller
 * frees it), or a negative errno and *reply = NULL: an error reply is
 * classified (FC_REDIS_E_*, message in fc_redis_last_error()). LOADING is
 * retried with backoff until the timeout, then FC_REDIS_E_LOADING. -EINVAL
 * when argc < 1 or a word is NULL. Commands queued with fc_redis_append()
 * stay queued, untouched. From a coroutine only. */
int fc_redis_command(fc_redis_t *c, int64_t timeout_ms, redisReply **reply, int argc, const char *const *argv,
                     const size_t *argvlen);

/* fc_redis_command() with the default timeout and NUL-terminated words given
 * as arguments, ended by NULL: fc_redis_call(c, &r, "GET", key, NULL).
 * reply may be NULL when the caller does not want it (it is freed). */
int fc_redis_call(fc_redis_t *c, redisReply **reply, const char *arg0, ...) __attribute__((sentinel));

/* Pipelining: fc_redis_append() queues a command in c's buffer without
 * sending it (returns 0, -EINVAL for argc < 1, -ENOMEM); fc_redis_exec() sends
 * every queued command in one go and reads their replies in order into
 * replies[0..n), n being the number queued (fc_redis_pending()).
 * exec returns 0 with every reply stored (error replies included, as
 * REDIS_REPLY_ERROR objects: check each with fc_redis_reply_result()), or a
 * negative errno with no reply stored (all freed). When every reply is LOADING
 * the whole batch is resent after backoff, until the timeout. When a reply is
 * READONLY the connection is closed after the batch. The queue is empty after
 * exec whatever the result; -EINVAL (n differs from the number queued) leaves
 * it as it was. From a coroutine only. */
int fc_redis_append(fc_redis_t *c, int argc, const char *const *argv, const size_t *argvlen);
int fc_redis_exec(fc_redis_t *c, int64_t timeout_ms, redisReply **replies, size_t n);

/* Number of commands appended and not executed yet. */
size_t fc_redis_pending(const fc_redis_t *c);

/* Drops the appended commands. */
void fc_redis_discard(fc_redis_t *c);

/* 0 for a reply that is not an error, else its FC_REDIS_E_* class. NULL is
 * -EINVAL. Pure function, any thread. */
int fc_redis_reply_result(const redisReply *reply);

/* ---- Lua scripts ------------------------------------------------------ */

typedef struct fc_redis_script {
        const char *source; /* borrowed: must outlive the script */
        size_t length;
        char sha1[41]; /* hex SHA-1 of the source, as Redis computes it */
} fc_redis_script_t;

/* Fills *s for source (NUL-terminated, borrowed) and computes its SHA-1
 * locally, so one script may be shared read-only by any number of
 * connections on any threads. Can't fail. */
void fc_redis_script_init(fc_redis_script_t *s, const char *source);

/* Runs the script: EVALSHA, and on NOSCRIPT (script cache flushed, server
 * restarted, failover) EVAL with the source, which caches it again.
 * words: numkeys keys then the arguments (argc words in all, argvlen like
 * fc_redis_command()). Returns like fc_redis_command() (a script error is
 * FC_REDIS_E_REPLY with Redis's message in fc_redis_last_error()). */
int fc_redis_eval(fc_redis_t *c, const fc_redis_script_t *s, int64_t timeout_ms, redisReply **reply,
                  int numkeys, int argc, const char *const *argv, const size_t *argvlen);

/* ---- start-up check ---------------------------------------------------- */

/* Reads the server's maxmemory-policy and persistence settings (CONFIG GET,
 * or INFO where CONFIG is renamed away or not permitted) and describes what
 * may lose jobs: a maxmemory-policy other than noeviction, no persistence at
 * all, or settings it could not read. Returns the number of warnings (0 or
 * more) and sets *warnings to a malloc'd text of that many lines, each ended
 * by '\n' (NULL when there is none; the caller frees it); or a negative errno
 * from the commands, with *warnings NULL. From a coroutine only. */
int fc_redis_check_server(fc_redis_t *c, char **warnings);

#endif
