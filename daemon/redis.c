/* The daemon's Redis client on hiredis 0.14, driven by core's fd waits.
 *
 * hiredis does two jobs here: it opens the non-blocking socket
 * (redisConnectNonBlock / redisConnectUnixNonBlock, always to a numeric
 * address: we resolve names ourselves through fc_offload, because hiredis
 * calls a blocking getaddrinfo) and it parses replies (the context's
 * redisReader). Commands are formatted and sent here, with
 * send(MSG_NOSIGNAL): hiredis's redisBufferWrite uses write(), which raises
 * SIGPIPE on a dead socket and would kill the daemon. Replies are read here
 * too, so that we see EAGAIN and wait only when the socket is really empty. */
#include "redis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "decimal.h"
#include "flowcoro/core.h"

#define DEFAULT_PORT               6379
#define DEFAULT_COMMAND_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_BACKOFF_MIN_MS     50
#define DEFAULT_BACKOFF_MAX_MS     5000
#define READ_CHUNK                 16384
#define MAX_CALL_WORDS             64

typedef struct outbuf {
        char *data;
        size_t len, cap;
} outbuf_t;

/* Everything belongs to the coroutine using the connection (one at a time,
 * enforced by in_use), except connected and in_use, which any thread may
 * read. */
struct fc_redis {
        /* options, fixed at creation */
        fc_redis_transport_t transport;
        char *host;
        uint16_t port;
        char *socket_path;
        uint32_t db;
        char *username;
        char *password; /* SECRET: wiped on free, never in a message */
        char *client_name;
        int64_t timeout_ms; /* FC_FOREVER or > 0 */
        int64_t connect_timeout_ms;
        int64_t backoff_min_ms, backoff_max_ms;
        char where[300]; /* "host:port" or the socket path, for messages */

        redisContext *ctx; /* NULL when not connected; owns the fd and the reply reader */
        _Atomic bool connected;
        _Atomic bool in_use;

        outbuf_t queue; /* fc_redis_append()ed commands */
        size_t n_queued;
        outbuf_t scratch; /* the single command being sent */
        char *ibuf;       /* READ_CHUNK bytes */

        unsigned failures; /* consecutive connection failures since the last good reply */
        int64_t retry_at;  /* no reconnect attempt before this (fc_now_ms) */
        uint64_t rng;      /* jitter */
        char cause[512];   /* why the last connection failed, for -ENOTCONN */

        fc_redis_stats_t stats;
        char error[512]; /* same size as cause */
};

/* Totals over every connection of the process (fc_redis_get_totals()). */
static _Atomic uint64_t total_open, total_reconnects;

/* ---- small helpers ------------------------------------------------------ */

static int fail(fc_redis_t *c, int r, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int fail(fc_redis_t *c, int r, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vsnprintf(c->error, sizeof(c->error), format, ap);
        va_end(ap);
        return r;
}

static int enter(fc_redis_t *c) {
        if (!fc_self())
                return -EPERM;
        bool expected = false;
        if (!atomic_compare_exchange_strong(&c->in_use, &expected, true))
                return -EBUSY;
        c->error[0] = '\0';
        return 0;
}

static void leave(fc_redis_t *c) {
        atomic_store(&c->in_use, false);
}

/* A call's time: the timeout it was given (the connection's default
 * resolved) and the deadline that follows from it. */
typedef struct budget {
        int64_t timeout_ms; /* FC_FOREVER or >= 0 */
        int64_t deadline;   /* fc_now_ms() clock, or FC_FOREVER */
} budget_t;

static int make_budget(const fc_redis_t *c, int64_t timeout_ms, budget_t *b) {
        if (timeout_ms == FC_REDIS_TIMEOUT_DEFAULT)
                timeout_ms = c->timeout_ms;
        if (timeout_ms < 0 && timeout_ms != FC_FOREVER)
                return -EINVAL;
        b->timeout_ms = timeout_ms;
        b->deadline = timeout_ms == FC_FOREVER ? FC_FOREVER : fc_now_ms() + timeout_ms;
        return 0;
}

/* Claims the connection for one call and works out its budget; on failure
 * the connection is not claimed. */
static int begin_call(fc_redis_t *c, int64_t timeout_ms, budget_t *b) {
        int r = enter(c);
        if (r < 0)
                return r;
        if (make_budget(c, timeout_ms, b) < 0) {
                leave(c);
                return -EINVAL;
        }
        return 0;
}

static int64_t time_left(int64_t deadline) {
        if (deadline == FC_FOREVER)
                return FC_FOREVER;
        int64_t left = deadline - fc_now_ms();
        return left > 0 ? left : 0;
}

static uint64_t next_random(fc_redis_t *c) {
        /* xorshift64*: jitter only, no need for more */
        c->rng ^= c->rng >> 12;
        c->rng ^= c->rng << 25;
        c->rng ^= c->rng >> 27;
        return c->rng * 0x2545F4914F6CDD1DULL;
}

/* base << step, capped, then +-20% jitter */
static int64_t backoff_delay(fc_redis_t *c, unsigned step) {
        int64_t d = c->backoff_min_ms;
        for (unsigned i = 0; i < step && d < c->backoff_max_ms; i++)
                d *= 2;
        if (d > c->backoff_max_ms)
                d = c->backoff_max_ms;
        return d * (80 + (int64_t)(next_random(c) % 41)) / 100;
}

static void close_connection(fc_redis_t *c) {
        if (c->ctx) {
                redisFree(c->ctx);
                c->ctx = NULL;
        }
        if (atomic_exchange(&c->connected, false))
                atomic_fetch_sub_explicit(&total_open, 1, memory_order_relaxed);
}

/* The first reconnect after a failure is immediate (a killed connection or a
 * restarted server should cost nothing); later ones wait 50, 100, 200, ...
 * capped, with jitter so that many connections don't come back in step. */
static void note_failure(fc_redis_t *c) {
        c->failures++;
        c->retry_at = fc_now_ms() + (c->failures == 1 ? 0 : backoff_delay(c, c->failures - 2));
}

static void close_after_failure(fc_redis_t *c) {
        if (c->ctx)
                c->stats.disconnects++;
        close_connection(c);
        note_failure(c);
}

static bool word_is(const char *s, size_t len, const char *word) {
        size_t n = strlen(word);
        return len >= n && memcmp(s, word, n) == 0 && (len == n || s[n] == ' ');
}

int fc_redis_reply_result(const redisReply *reply) {
        if (!reply)
                return -EINVAL;
        if (reply->type != REDIS_REPLY_ERROR)
                return 0;
        const char *s = reply->str ? reply->str : "";
        size_t len = reply->str ? reply->len : 0;
        if (word_is(s, len, "NOSCRIPT"))
                return FC_REDIS_E_NOSCRIPT;
        if (word_is(s, len, "READONLY"))
                return FC_REDIS_E_READONLY;
        if (word_is(s, len, "LOADING") || word_is(s, len, "MASTERDOWN"))
                return FC_REDIS_E_LOADING;
        if (word_is(s, len, "UNBLOCKED"))
                return FC_REDIS_E_UNBLOCKED;
        if (word_is(s, len, "NOAUTH") || word_is(s, len, "WRONGPASS"))
                return FC_REDIS_E_AUTH;
        /* Redis < 6 and AUTH sent to a server without a password */
        if (len >= 20 &&
            (memcmp(s, "ERR invalid password", 20) == 0 || memcmp(s, "ERR AUTH <password>", 19) == 0))
                return FC_REDIS_E_AUTH;
        if (word_is(s, len, "NOPERM"))
                return FC_REDIS_E_NOPERM;
        if (word_is(s, len, "BUSY"))
                return FC_REDIS_E_BUSY;
        return FC_REDIS_E_REPLY;
}

/* ---- formatting (RESP arrays of bulk strings) --------------------------- */

static int outbuf_reserve(outbuf_t *b, size_t more) {
        if (b->cap - b->len >= more)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < more) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

static void outbuf_wipe(outbuf_t *b) {
        if (b->data)
                explicit_bzero(b->data, b->cap);
        b->len = 0;
}

static void outbuf_free(outbuf_t *b) {
        free(b->data);
        *b = (outbuf_t){0};
}

static int format_command(outbuf_t *b, int argc, const char *const *argv, const size_t *argvlen) {
        if (argc < 1 || !argv)
                return -EINVAL;
        size_t need = 32;
        for (int i = 0; i < argc; i++) {
                if (!argv[i])
                        return -EINVAL;
                size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
                if (len > SIZE_MAX - need - 32)
                        return -ENOMEM;
                need += len + 32;
        }
        int r = outbuf_reserve(b, need);
        if (r < 0)
                return r;
        char *p = b->data + b->len;
        *p++ = '*';
        p = fc_put_u64(p, (uint64_t)argc);
        *p++ = '\r';
        *p++ = '\n';
        for (int i = 0; i < argc; i++) {
                size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
                *p++ = '$';
                p = fc_put_u64(p, len);
                *p++ = '\r';
                *p++ = '\n';
                memcpy(p, argv[i], len);
                p += len;
                *p++ = '\r';
                *p++ = '\n';
        }
        b->len = (size_t)(p - b->data);
        return 0;
}

static void free_replies(redisReply **replies, size_t n) {
        for (size_t i = 0; i < n; i++) {
                freeReplyObject(replies[i]);
                replies[i] = NULL;
        }
}

/* ---- the I/O loop ------------------------------------------------------ */

static int lost(fc_redis_t *c, const char *doing, int err) {
        close_after_failure(c);
        if (err == 0)
                fail(c, -ECONNRESET,
                     "Redis at %s closed the connection while %s; it will be reopened on the next call",
                     c->where, doing);
        else
                fail(c, -ECONNRESET,
                     "lost the connection to Redis at %s while %s: %s; it will be reopened on the next call",
                     c->where, doing, strerror(err));
        memcpy(c->cause, c->error, sizeof(c->cause));
        return -ECONNRESET;
}

static int wait_failed(fc_redis_t *c, int r, int64_t timeout_ms) {
        close_connection(c);
        if (r == -ETIMEDOUT) {
                c->stats.timeouts++;
                return fail(
                        c, r,
                        "no reply from Redis at %s within %lld ms; the connection was closed (its replies "
                        "would be out of step) and will be reopened on the next call",
                        c->where, (long long)timeout_ms);
        }
        if (r == -ECANCELED)
                return fail(c, r, "cancelled while waiting for Redis at %s; the connection was closed",
                            c->where);
        return fail(c, r, "cannot wait for the socket of Redis at %s: %s", c->where, strerror(-r));
}

/* Sends buf[0..len) and reads n replies into replies[], until deadline.
 * On failure every reply read so far is freed and the connection is closed
 * (its stream is out of step). */
static int io_run(fc_redis_t *c, const char *buf, size_t len, redisReply **replies, size_t n,
                  int64_t deadline, int64_t timeout_ms) {
        size_t off = 0, got = 0;
        int fd = c->ctx->fd;
        int r;

        for (;;) {
                while (off < len) {
                        ssize_t k = send(fd, buf + off, len - off, MSG_NOSIGNAL);
                        if (k >= 0) {
                                off += (size_t)k;
                                continue;
                        }
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        r = lost(c, "sending", errno);
                        goto fail;
                }
                while (got < n) {
                        void *reply = NULL;
                        if (redisReaderGetReply(c->ctx->reader, &reply) != REDIS_OK) {
                                r = c->ctx->reader->err == REDIS_ERR_OOM ? -ENOMEM : -EPROTO;
                                fail(c, r,
                                     "Redis at %s sent a reply that cannot be read (%s); the connection was "
                                     "closed",
                                     c->where, c->ctx->reader->errstr);
                                close_after_failure(c);
                                goto fail;
                        }
                        if (!reply)
                                break;
                        replies[got++] = reply;
                }
                if (got == n && off == len)
                        return 0;

                int64_t left = time_left(deadline);
                if (left == 0) {
                        r = wait_failed(c, -ETIMEDOUT, timeout_ms);
                        goto fail;
                }
                r = fc_wait_fd(fd, EPOLLIN | (off < len ? EPOLLOUT : 0), left);
                if (r < 0) {
                        r = wait_failed(c, r, timeout_ms);
                        goto fail;
                }
                if (!(r & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                        continue;
                for (;;) {
                        ssize_t k = recv(fd, c->ibuf, READ_CHUNK, 0);
                        if (k > 0) {
                                if (redisReaderFeed(c->ctx->reader, c->ibuf, (size_t)k) != REDIS_OK) {
                                        r = fail(c, -ENOMEM, "out of memory reading from Redis at %s",
                                                 c->where);
                                        close_after_failure(c);
                                        goto fail;
                                }
                                if (k < READ_CHUNK)
                                        break;
                                continue;
                        }
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                                break;
                        r = lost(c, "reading", k == 0 ? 0 : errno);
                        goto fail;
                }
        }
fail:
        free_replies(replies, got);
        return r;
}

/* ---- connecting ---------------------------------------------------------- */

typedef struct resolve_job {
        const char *host;
        struct addrinfo *res;
        int gai;
        int err;
} resolve_job_t;

static void resolve(void *arg) {
        resolve_job_t *j = arg;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        j->gai = getaddrinfo(j->host, NULL, &hints, &j->res);
        j->err = j->gai == EAI_SYSTEM ? errno : 0;
}

/* Waits until the non-blocking connect of c->ctx completes. */
static int finish_connect(fc_redis_t *c, const char *addr, int64_t deadline) {
        if (c->ctx->err) {
                int e = errno && errno != EINPROGRESS ? errno : ECONNREFUSED;
                int r = fail(c, -e, "cannot connect to Redis at %s (%s): %s", c->where, addr, c->ctx->errstr);
                close_connection(c);
                return r;
        }
        int64_t wait = time_left(deadline);
        if (wait == FC_FOREVER || wait > c->connect_timeout_ms)
                wait = c->connect_timeout_ms;
        int r = wait == 0 ? -ETIMEDOUT : fc_wait_fd(c->ctx->fd, EPOLLOUT, wait);
        if (r < 0) {
                close_connection(c);
                if (r == -ETIMEDOUT)
                        return fail(c, r, "connecting to Redis at %s (%s) timed out after %lld ms", c->where,
                                    addr, (long long)wait);
                if (r == -ECANCELED)
                        return fail(c, r, "cancelled while connecting to Redis at %s", c->where);
                return fail(c, r, "cannot wait for the socket of Redis at %s: %s", c->where, strerror(-r));
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err) {
                close_connection(c);
                return fail(c, -err, "cannot connect to Redis at %s (%s): %s%s", c->where, addr,
                            strerror(err),
                            err == ECONNREFUSED ? "; is redis-server running and listening there?" : "");
        }
        /* hiredis 0.14 opens sockets without close-on-exec; the daemon starts
         * programs (--dev's redis-server) that must not inherit them. */
        int flags = fcntl(c->ctx->fd, F_GETFD);
        if (flags >= 0)
                (void)fcntl(c->ctx->fd, F_SETFD, flags | FD_CLOEXEC);
        return 0;
}

static int open_tcp(fc_redis_t *c, int64_t deadline) {
        unsigned char probe[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, c->host, probe) == 1 || inet_pton(AF_INET6, c->host, probe) == 1) {
                c->ctx = redisConnectNonBlock(c->host, c->port);
                if (!c->ctx)
                        return fail(c, -ENOMEM, "out of memory connecting to Redis at %s", c->where);
                return finish_connect(c, c->host, deadline);
        }

        /* getaddrinfo blocks (DNS, files, NSS modules): keep it off the scheduler threads */
        resolve_job_t j = {.host = c->host};
        int r = fc_offload(resolve, &j);
        if (r < 0)
                return fail(c, r, "cannot resolve \"%s\": no thread to run getaddrinfo on (%s)", c->host,
                            strerror(-r));
        if (j.gai != 0)
                return fail(c, -EHOSTUNREACH, "cannot resolve the Redis host \"%s\": %s; check redis.url",
                            c->host, j.gai == EAI_SYSTEM ? strerror(j.err) : gai_strerror(j.gai));
        r = -EHOSTUNREACH;
        fail(c, r, "the Redis host \"%s\" has no address", c->host);
        for (struct addrinfo *ai = j.res; ai; ai = ai->ai_next) {
                char addr[INET6_ADDRSTRLEN];
                const void *in_addr = NULL;
                if (ai->ai_family == AF_INET)
                        in_addr = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
                else if (ai->ai_family == AF_INET6)
                        in_addr = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
                if (!in_addr || !inet_ntop(ai->ai_family, in_addr, addr, sizeof(addr)))
                        continue;
                c->ctx = redisConnectNonBlock(addr, c->port);
                if (!c->ctx) {
                        r = fail(c, -ENOMEM, "out of memory connecting to Redis at %s", c->where);
                        break;
                }
                r = finish_connect(c, addr, deadline);
                if (r == 0 || r == -ECANCELED || time_left(deadline) == 0)
                        break;
        }
        freeaddrinfo(j.res);
        return r;
}

static int open_unix(fc_redis_t *c, int64_t deadline) {
        c->ctx = redisConnectUnixNonBlock(c->socket_path);
        if (!c->ctx)
                return fail(c, -ENOMEM, "out of memory connecting to Redis at %s", c->where);
        return finish_connect(c, "unix socket", deadline);
}

/* AUTH, SELECT and CLIENT SETNAME in one round trip. */
static int handshake(fc_redis_t *c, int64_t deadline, int64_t timeout_ms) {
        outbuf_t b = {0};
        redisReply *replies[3];
        const char *what[3];
        size_t n = 0;
        char db[16];
        int r = 0;

        if (c->password) {
                const char *argv[3] = {"AUTH", c->username ? c->username : c->password, c->password};
                r = format_command(&b, c->username ? 3 : 2, argv, NULL);
                what[n++] = "AUTH";
        }
        if (r == 0 && c->db != 0) {
                snprintf(db, sizeof(db), "%" PRIu32, c->db);
                r = format_command(&b, 2, (const char *const[]){"SELECT", db}, NULL);
                what[n++] = "SELECT";
        }
        if (r == 0 && c->client_name) {
                r = format_command(&b, 3, (const char *const[]){"CLIENT", "SETNAME", c->client_name}, NULL);
                what[n++] = "CLIENT SETNAME";
        }
        if (r < 0) {
                outbuf_wipe(&b);
                outbuf_free(&b);
                return fail(c, r, "out of memory connecting to Redis at %s", c->where);
        }
        if (n == 0)
                return 0;
        r = io_run(c, b.data, b.len, replies, n, deadline, timeout_ms);
        outbuf_wipe(&b); /* it held the password */
        outbuf_free(&b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                int e = fc_redis_reply_result(replies[i]);
                if (e == 0)
                        continue;
                const char *msg = replies[i]->str;
                if (strcmp(what[i], "AUTH") == 0) {
                        if (c->username)
                                r = fail(c, FC_REDIS_E_AUTH,
                                         "Redis at %s refused AUTH as user \"%s\": %s; check the user name "
                                         "and "
                                         "password (redis.url, redis.password_file)",
                                         c->where, c->username, msg);
                        else
                                r = fail(c, FC_REDIS_E_AUTH,
                                         "Redis at %s refused AUTH with the password given: %s; check the "
                                         "password "
                                         "(redis.url, redis.password_file)",
                                         c->where, msg);
                } else if (e == FC_REDIS_E_AUTH) {
                        r = fail(c, e,
                                 "Redis at %s requires a password (%s); give one in redis.url or "
                                 "redis.password_file",
                                 c->where, msg);
                } else if (strcmp(what[i], "SELECT") == 0) {
                        r = fail(c, e == FC_REDIS_E_REPLY ? -EINVAL : e,
                                 "Redis at %s refused SELECT %s: %s; the database number in redis.url must "
                                 "be below "
                                 "the server's 'databases' setting",
                                 c->where, db, msg);
                } else {
                        r = fail(c, e, "Redis at %s refused %s: %s", c->where, what[i], msg);
                }
        }
        free_replies(replies, n);
        return r;
}

/* Whether the server closed the connection while it sat idle between calls
 * (a restart, CLIENT KILL, Redis's `timeout` for idle clients): end of file
 * or an error is waiting on the socket. Then nothing of the next command can
 * have reached the server, so the connection is reopened and the command
 * sent on the new one, instead of the call failing with -ECONNRESET. Costs
 * one non-blocking peek per call, and calls carry batches, not single jobs. */
static bool closed_while_idle(const fc_redis_t *c) {
        char byte;
        ssize_t k;
        do
                k = recv(c->ctx->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        while (k < 0 && errno == EINTR);
        return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int connect_locked(fc_redis_t *c, int64_t deadline, int64_t timeout_ms) {
        if (c->ctx) {
                if (!closed_while_idle(c))
                        return 0;
                c->stats.disconnects++;
                close_connection(c); /* no failure: the reconnect is immediate */
        }
        if (c->failures > 1) {
                int64_t wait = c->retry_at - fc_now_ms();
                if (wait > 0) {
                        int64_t left = time_left(deadline);
                        if (left != FC_FOREVER && wait > left)
                                return fail(c, -ENOTCONN,
                                            "not connected to Redis at %s; next attempt in %lld ms (after %u "
                                            "failures; "
                                            "last: %s)",
                                            c->where, (long long)wait, c->failures, c->cause);
                        int r = fc_sleep(wait);
                        if (r < 0)
                                return fail(c, r, "cancelled while waiting to reconnect to Redis at %s",
                                            c->where);
                }
        }
        unsigned failures = c->failures;
        int r = c->transport == FC_REDIS_UNIX ? open_unix(c, deadline) : open_tcp(c, deadline);
        if (r == 0)
                r = handshake(c, deadline, timeout_ms);
        if (r < 0) {
                close_connection(c);
                if (r != -ECANCELED) {
                        c->stats.connect_failures++;
                        if (c->failures == failures) /* a socket lost during the handshake counted already */
                                note_failure(c);
                        memcpy(c->cause, c->error, sizeof(c->cause));
                }
                return r;
        }
        if (c->stats.connects++ > 0)
                atomic_fetch_add_explicit(&total_reconnects, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&total_open, 1, memory_order_relaxed);
        atomic_store(&c->connected, true);
        c->error[0] = '\0'; /* addresses that failed before one worked are no error */
        return 0;
}

/* ---- running commands ---------------------------------------------------- */

static bool all_loading(redisReply **replies, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (fc_redis_reply_result(replies[i]) != FC_REDIS_E_LOADING)
                        return false;
        return n > 0;
}

/* Connects if needed, sends buf (n commands) and reads n replies; resends
 * the whole batch after backoff while every reply is LOADING. */
static int run_batch(fc_redis_t *c, const char *buf, size_t len, redisReply **replies, size_t n,
                     int64_t deadline, int64_t timeout_ms) {
        for (unsigned attempt = 0;; attempt++) {
                if (fc_cancelled() != FC_CANCEL_NONE)
                        return fail(c, -ECANCELED, "cancelled before sending to Redis at %s", c->where);
                int r = connect_locked(c, deadline, timeout_ms);
                if (r < 0)
                        return r;
                c->stats.commands += n;
                r = io_run(c, buf, len, replies, n, deadline, timeout_ms);
                if (r < 0)
                        return r;
                c->failures = 0;
                if (!all_loading(replies, n)) {
                        for (size_t i = 0; i < n; i++)
                                if (fc_redis_reply_result(replies[i]) == FC_REDIS_E_READONLY) {
                                        /* a replica (failover, or the URL points at one):
                                           reconnect, in case the name now leads to the master */
                                        close_after_failure(c);
                                        break;
                                }
                        return 0;
                }
                char msg[128];
                snprintf(msg, sizeof(msg), "%s", replies[0]->str);
                free_replies(replies, n);
                int64_t wait = backoff_delay(c, attempt);
                int64_t left = time_left(deadline);
                if (left != FC_FOREVER && wait >= left)
                        return fail(c, FC_REDIS_E_LOADING,
                                    "Redis at %s is not ready (%s) and was still not ready when the timeout "
                                    "came; try again later",
                                    c->where, msg);
                c->stats.loading_retries++;
                r = fc_sleep(wait);
                if (r < 0)
                        return fail(c, r, "cancelled while waiting for Redis at %s to load its data",
                                    c->where);
        }
}

static int single_locked(fc_redis_t *c, int64_t timeout_ms, redisReply **reply, int argc,
                         const char *const *argv, const size_t *argvlen) {
        budget_t b;
        int r = make_budget(c, timeout_ms, &b);
        if (r < 0)
                return fail(c, r, "bad timeout %lld ms", (long long)timeout_ms);
        c->scratch.len = 0;
        r = format_command(&c->scratch, argc, argv, argvlen);
        if (r < 0)
                return fail(c, r,
                            r == -EINVAL ? "a command needs at least its name, and no NULL word"
                                         : "out of memory formatting a command");
        redisReply *got = NULL;
        r = run_batch(c, c->scratch.data, c->scratch.len, &got, 1, b.deadline, b.timeout_ms);
        if (c->scratch.cap > 65536) { /* don't keep a big value's buffer */
                outbuf_free(&c->scratch);
        }
        if (r < 0)
                return r;
        r = fc_redis_reply_result(got);
        if (r < 0) {
                char name[33];
                size_t len = argvlen ? argvlen[0] : strlen(argv[0]);
                snprintf(name, sizeof(name), "%.*s", (int)(len < 32 ? len : 32), argv[0]);
                if (r == FC_REDIS_E_AUTH && word_is(got->str, got->len, "NOAUTH"))
                        fail(c, r,
                             "Redis at %s requires a password (%s); give one in redis.url or "
                             "redis.password_file",
                             c->where, got->str);
                else if (r == FC_REDIS_E_READONLY)
                        fail(c, r,
                             "Redis at %s is a read-only replica (%s); the connection was closed and will be "
                             "reopened on the next call",
                             c->where, got->str);
                else
                        fail(c, r, "Redis at %s replied to %s: %s", c->where, name, got->str);
                freeReplyObject(got);
                got = NULL;
        }
        *reply = got;
        return r;
}

/* ---- public API ----------------------------------------------------------- */

void fc_redis_options_from_config(fc_redis_options_t *o, const fc_config_t *cfg) {
        *o = (fc_redis_options_t){
                .transport = cfg->redis.transport,
                .host = cfg->redis.host,
                .port = cfg->redis.port,
                .socket_path = cfg->redis.socket_path,
                .db = cfg->redis.db,
                .username = cfg->redis.username,
                .password = cfg->redis.password,
        };
}

static int dup_opt(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int fc_redis_new(const fc_redis_options_t *o, fc_redis_t **ret) {
        *ret = NULL;
        if (o->transport == FC_REDIS_TCP && (!o->host || !o->host[0]))
                return -EINVAL;
        if (o->transport == FC_REDIS_UNIX &&
            (!o->socket_path || !o->socket_path[0] ||
             strlen(o->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
                return -EINVAL;
        if (o->transport != FC_REDIS_TCP && o->transport != FC_REDIS_UNIX)
                return -EINVAL;
        if (o->username && !o->password)
                return -EINVAL;
        if ((o->command_timeout_ms < 0 && o->command_timeout_ms != FC_FOREVER) ||
            (o->connect_timeout_ms < 0 && o->connect_timeout_ms != FC_FOREVER) || o->backoff_min_ms < 0 ||
            o->backoff_max_ms < 0)
                return -EINVAL;

        fc_redis_t *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->transport = o->transport;
        c->port = o->port ? o->port : DEFAULT_PORT;
        c->db = o->db;
        c->timeout_ms = o->command_timeout_ms ? o->command_timeout_ms : DEFAULT_COMMAND_TIMEOUT_MS;
        c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
        if (c->connect_timeout_ms == FC_FOREVER)
                c->connect_timeout_ms = INT64_MAX;
        c->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
        c->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
        if (c->backoff_max_ms < c->backoff_min_ms)
                c->backoff_max_ms = c->backoff_min_ms;
        c->rng = ((uint64_t)fc_now_ms() << 20) ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ULL;
        c->ibuf = malloc(READ_CHUNK);
        if (!c->ibuf || dup_opt(o->host, &c->host) < 0 || dup_opt(o->socket_path, &c->socket_path) < 0 ||
            dup_opt(o->username, &c->username) < 0 || dup_opt(o->password, &c->password) < 0 ||
            dup_opt(o->client_name, &c->client_name) < 0) {
                fc_redis_free(c);
                return -ENOMEM;
        }
        if (c->transport == FC_REDIS_UNIX)
                snprintf(c->where, sizeof(c->where), "%s", c->socket_path);
        else if (strchr(c->host, ':'))
                snprintf(c->where, sizeof(c->where), "[%s]:%u", c->host, (unsigned)c->port);
        else
                snprintf(c->where, sizeof(c->where), "%s:%u", c->host, (unsigned)c->port);
        *ret = c;
        return 0;
}

void fc_redis_free(fc_redis_t *c) {
        if (!c)
                return;
        close_connection(c);
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        free(c->host);
        free(c->socket_path);
        free(c->username);
        free(c->client_name);
        outbuf_free(&c->queue);
        outbuf_free(&c->scratch);
        free(c->ibuf);
        free(c);
}

int fc_redis_connect(fc_redis_t *c, int64_t timeout_ms) {
        budget_t b;
        int r = begin_call(c, timeout_ms, &b);
        if (r < 0)
                return r;
        r = connect_locked(c, b.deadline, b.timeout_ms);
        leave(c);
        return r;
}

void fc_redis_disconnect(fc_redis_t *c) {
        close_connection(c);
        c->failures = 0;
}

bool fc_redis_is_connected(const fc_redis_t *c) {
        return atomic_load(&c->connected);
}

int fc_redis_fd(const fc_redis_t *c) {
        return c->ctx && atomic_load(&c->connected) ? c->ctx->fd : -1;
}

const char *fc_redis_last_error(const fc_redis_t *c) {
        return c->error;
}

int fc_redis_set_timeout(fc_redis_t *c, int64_t timeout_ms) {
        if (timeout_ms <= 0 && timeout_ms != FC_FOREVER)
                return -EINVAL;
        c->timeout_ms = timeout_ms;
        return 0;
}

void fc_redis_get_stats(const fc_redis_t *c, fc_redis_stats_t *ret) {
        *ret = c->stats;
}

void fc_redis_get_totals(fc_redis_totals_t *ret) {
        ret->open = atomic_load_explicit(&total_open, memory_order_relaxed);
        ret->reconnects = atomic_load_explicit(&total_reconnects, memory_order_relaxed);
}

int fc_redis_command(fc_redis_t *c, int64_t timeout_ms, redisReply **reply, int argc, const char *const *argv,
                     const size_t *argvlen) {
        *reply = NULL;
        int r = enter(c);
        if (r < 0)
                return r;
        r = single_locked(c, timeout_ms, reply, argc, argv, argvlen);
        leave(c);
        return r;
}

int fc_redis_call(fc_redis_t *c, redisReply **reply, const char *arg0, ...) {
        const char *argv[MAX_CALL_WORDS];
        int argc = 0;
        va_list ap;
        va_start(ap, arg0);
        for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
                if (argc == MAX_CALL_WORDS) {
                        va_end(ap);
                        return -E2BIG;
                }
                argv[argc++] = a;
        }
        va_end(ap);
        redisReply *got = NULL;
        int r = fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &got, argc, argv, NULL);
        if (reply)
                *reply = got;
        else
                freeReplyObject(got);
        return r;
}

int fc_redis_append(fc_redis_t *c, int argc, const char *const *argv, const size_t *argvlen) {
        int r = format_command(&c->queue, argc, argv, argvlen);
        if (r == 0)
                c->n_queued++;
        return r;
}

size_t fc_redis_pending(const fc_redis_t *c) {
        return c->n_queued;
}

void fc_redis_discard(fc_redis_t *c) {
        c->queue.len = 0;
        c->n_queued = 0;
        if (c->queue.cap > 1 << 20) {
                outbuf_free(&c->queue);
        }
}

int fc_redis_exec(fc_redis_t *c, int64_t timeout_ms, redisReply **replies, size_t n) {
        if (n != c->n_queued)
                return -EINVAL;
        if (n == 0)
                return 0;
        budget_t b;
        int r = begin_call(c, timeout_ms, &b);
        if (r < 0)
                return r;
        r = run_batch(c, c->queue.data, c->queue.len, replies, n, b.deadline, b.timeout_ms);
        fc_redis_discard(c);
        leave(c);
        return r;
}

/* ---- scripts ----------------------------------------------------------------- */

/* SHA-1 (FIPS 180-4), only to name scripts the way Redis does. */
static uint32_t rol(uint32_t x, int n) {
        return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
                       (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 80; i++)
                w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], cc = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
                uint32_t f, k;
                if (i < 20) {
                        f = (b & cc) | (~b & d);
                        k = 0x5A827999;
                } else if (i < 40) {
                        f = b ^ cc ^ d;
                        k = 0x6ED9EBA1;
                } else if (i < 60) {
                        f = (b & cc) | (b & d) | (cc & d);
                        k = 0x8F1BBCDC;
                } else {
                        f = b ^ cc ^ d;
                        k = 0xCA62C1D6;
                }
                uint32_t t = rol(a, 5) + f + e + k + w[i];
                e = d;
                d = cc;
                cc = rol(b, 30);
                b = a;
                a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += cc;
        h[3] += d;
        h[4] += e;
}

static void sha1_hex(const void *data, size_t len, char out[41]) {
        uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
        const unsigned char *p = data;
        size_t left = len;
        for (; left >= 64; left -= 64, p += 64)
                sha1_block(h, p);
        unsigned char tail[128] = {0};
        memcpy(tail, p, left);
        tail[left] = 0x80;
        size_t tail_len = left + 1 + 8 <= 64 ? 64 : 128;
        uint64_t bits = (uint64_t)len * 8;
        for (int i = 0; i < 8; i++)
                tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
        sha1_block(h, tail);
        if (tail_len == 128)
                sha1_block(h, tail + 64);
        for (int i = 0; i < 5; i++)
                sprintf(out + 8 * i, "%08x", h[i]);
}

void fc_redis_script_init(fc_redis_script_t *s, const char *source) {
        s->source = source;
        s->length = strlen(source);
        sha1_hex(source, s->length, s->sha1);
}

int fc_redis_eval(fc_redis_t *c, const fc_redis_script_t *s, int64_t timeout_ms, redisReply **reply,
                  int numkeys, int argc, const char *const *argv, const size_t *argvlen) {
        *reply = NULL;
        if (numkeys < 0 || argc < numkeys || (argc > 0 && !argv) || argc > INT32_MAX - 3)
                return -EINVAL;
        budget_t b;
        int r = begin_call(c, timeout_ms, &b);
        if (r < 0)
                return r;
        _cleanup_free_ const char **words = malloc(sizeof(*words) * ((size_t)argc + 3));
        _cleanup_free_ size_t *lens = malloc(sizeof(*lens) * ((size_t)argc + 3));
        if (!words || !lens) {
                leave(c);
                return -ENOMEM;
        }
        char nk[16];
        snprintf(nk, sizeof(nk), "%d", numkeys);
        words[0] = "EVALSHA";
        lens[0] = 7;
        words[1] = s->sha1;
        lens[1] = 40;
        words[2] = nk;
        lens[2] = strlen(nk);
        for (int i = 0; i < argc; i++) {
                words[i + 3] = argv[i];
                lens[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
        }
        /* one deadline for both attempts */
        int64_t left = time_left(b.deadline);
        r = single_locked(c, left, reply, argc + 3, words, lens);
        if (r == FC_REDIS_E_NOSCRIPT) {
                words[0] = "EVAL";
                lens[0] = 4;
                words[1] = s->source;
                lens[1] = s->length;
                c->stats.script_loads++;
                left = time_left(b.deadline);
                c->error[0] = '\0';
                r = left == 0 ? fail(c, -ETIMEDOUT,
                                     "the timeout passed before the script could be loaded into Redis at %s",
                                     c->where)
                              : single_locked(c, left, reply, argc + 3, words, lens);
        }
        leave(c);
        return r;
}

/* ---- start-up check ------------------------------------------------------ */

/* The value of a CONFIG GET reply, NULL when the reply is not one. */
static const char *config_value(const redisReply *r) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING)
                return NULL;
        return r->element[1]->str;
}

/* Copies the value of "field:" from an INFO text into out; false if absent. */
static bool info_field(const redisReply *r, const char *field, char *out, size_t size) {
        if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
                return false;
        size_t flen = strlen(field);
        for (const char *line = r->str; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
                        const char *v = line + flen + 1;
                        size_t n = strcspn(v, "\r\n");
                        snprintf(out, size, "%.*s", (int)n, v);
                        return true;
                }
        }
        return false;
}

static int check_locked(fc_redis_t *c, FILE *out) {
        static const char *const cmds[3][3] = {
                {"CONFIG", "GET", "maxmemory-policy"},
                {"CONFIG", "GET", "appendonly"},
                {"CONFIG", "GET", "save"},
        };
        outbuf_t b = {0};
        redisReply *rep[3] = {0};
        budget_t t;
        int r = make_budget(c, FC_REDIS_TIMEOUT_DEFAULT, &t);
        for (int i = 0; i < 3 && r == 0; i++)
                r = format_command(&b, 3, cmds[i], NULL);
        if (r == 0)
                r = run_batch(c, b.data, b.len, rep, 3, t.deadline, t.timeout_ms);
        outbuf_free(&b);
        if (r < 0)
                return r;

        int warnings = 0;
        const char *policy = config_value(rep[0]), *aof = config_value(rep[1]), *save = config_value(rep[2]);
        if (policy && aof && save) {
                if (strcmp(policy, "noeviction") != 0) {
                        fprintf(out,
                                "Redis at %s has maxmemory-policy %s, not noeviction: Redis may silently "
                                "drop queued "
                                "jobs when it runs out of memory; set 'maxmemory-policy noeviction'\n",
                                c->where, policy);
                        warnings++;
                }
                if (strcmp(aof, "no") == 0 && save[0] == '\0') {
                        fprintf(out,
                                "Redis at %s keeps no persistence (save \"\" and appendonly no): a restart "
                                "of Redis "
                                "loses every queued job; set 'appendonly yes' (or RDB snapshots with "
                                "'save')\n",
                                c->where);
                        warnings++;
                }
                free_replies(rep, 3);
                return warnings;
        }

        /* CONFIG renamed away (rename-command) or not permitted (ACL): INFO tells part of it */
        char why[160];
        snprintf(why, sizeof(why), "%s",
                 rep[0]->type == REDIS_REPLY_ERROR ? rep[0]->str : "unexpected reply");
        free_replies(rep, 3);
        b = (outbuf_t){0};
        r = format_command(&b, 2, (const char *const[]){"INFO", "memory"}, NULL);
        if (r == 0)
                r = format_command(&b, 2, (const char *const[]){"INFO", "persistence"}, NULL);
        if (r == 0)
                r = run_batch(c, b.data, b.len, rep, 2, t.deadline, t.timeout_ms);
        outbuf_free(&b);
        if (r < 0)
                return r;
        char value[64];
        if (!info_field(rep[0], "maxmemory_policy", value, sizeof(value))) {
                fprintf(out,
                        "cannot read maxmemory-policy of Redis at %s (CONFIG GET: %s; INFO has no "
                        "maxmemory_policy): "
                        "make sure it is noeviction, or Redis may silently drop queued jobs\n",
                        c->where, why);
                warnings++;
        } else if (strcmp(value, "noeviction") != 0) {
                fprintf(out,
                        "Redis at %s has maxmemory-policy %s, not noeviction: Redis may silently drop queued "
                        "jobs "
                        "when it runs out of memory; set 'maxmemory-policy noeviction'\n",
                        c->where, value);
                warnings++;
        }
        if (!info_field(rep[1], "aof_enabled", value, sizeof(value)) || strcmp(value, "1") != 0) {
                fprintf(out,
                        "cannot tell whether Redis at %s keeps its data (CONFIG GET: %s) and its append-only "
                        "file is "
                        "off: make sure 'save' or 'appendonly yes' is set in its redis.conf, or a restart of "
                        "Redis "
                        "loses every queued job\n",
                        c->where, why);
                warnings++;
        }
        free_replies(rep, 2);
        return warnings;
}

int fc_redis_check_server(fc_redis_t *c, char **warnings) {
        *warnings = NULL;
        int r = enter(c);
        if (r < 0)
                return r;
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        if (!out) {
                leave(c);
                return -ENOMEM;
        }
        r = check_locked(c, out);
        if (fclose(out) != 0 && r >= 0)
                r = -ENOMEM;
        leave(c);
        if (r <= 0) {
                free(text);
                return r;
        }
        *warnings = text;
        return r;
}
