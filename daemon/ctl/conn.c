/* flowcoroctl's configuration and its plain synchronous Redis connection. */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>

#include "cleanup.h"

/* Long enough for a pipelined batch of large jobs on a busy server. */
#define COMMAND_TIMEOUT_S 30
#define CONNECT_TIMEOUT_S 5

int fc_ctl_fail(int code, const char *format, ...) {
        va_list ap;
        fflush(stdout);
        fputs("flowcoroctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

static void print_config_errors(const char *what, const fc_config_errors_t *errors, bool with_position) {
        size_t n = fc_config_errors_count(errors);
        for (size_t i = 0; i < n; i++) {
                const fc_config_error_t *e = fc_config_errors_get(errors, i);
                if (with_position)
                        fprintf(stderr, "flowcoroctl: %s\n", e->text);
                else
                        fprintf(stderr, "flowcoroctl: %s: %s%s%s\n", what, e->key, e->key[0] ? ": " : "",
                                e->message);
        }
        if (n == 0)
                fprintf(stderr, "flowcoroctl: %s: out of memory\n", what);
}

/* Writes text as a YAML double-quoted scalar. */
static void yaml_quote(FILE *f, const char *text) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* --redis URL: parsed by the configuration library itself (the same rules
 * and messages as redis.url), with the file's password_file, so that the
 * password is found exactly as flowcorod finds it (credential, then
 * password_file, then the URL). */
static int load_url_override(fc_ctl_t *c) {
        _cleanup_free_ char *yaml = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&yaml, &size);
        if (!f)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        fputs("redis:\n  url: ", f);
        yaml_quote(f, c->redis_url);
        if (c->config->redis.password_file) {
                fputs("\n  password_file: ", f);
                yaml_quote(f, c->config->redis.password_file);
        }
        fputc('\n', f);
        if (fclose(f) != 0)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        _cleanup_config_errors_ fc_config_errors_t *errors = NULL;
        int r = fc_config_load_data("--redis", yaml, size, &c->url_config, &errors);
        explicit_bzero(yaml, size);
        if (r < 0) {
                print_config_errors("--redis", errors, false);
                return EX_USAGE;
        }
        return 0;
}

int fc_ctl_load_config(fc_ctl_t *c) {
        if (c->config)
                return 0;
        _cleanup_config_errors_ fc_config_errors_t *errors = NULL;
        int r = fc_config_load(c->config_path, &c->config, &errors);
        if (r == -ENOENT && !c->config_given) {
                /* No configuration installed: the defaults (and --redis) serve. */
                fc_config_errors_free(TAKE_PTR(errors));
                r = fc_config_load_data(c->config_path, "", 0, &c->config, &errors);
        }
        if (r < 0) {
                print_config_errors(c->config_path, errors, true);
                return r == -EINVAL ? EX_CONFIG : r == -ENOMEM ? EX_OSERR : EX_NOINPUT;
        }
        if (c->redis_url) {
                r = load_url_override(c);
                if (r != 0)
                        return r;
        }
        const fc_config_t *redis = c->url_config ? c->url_config : c->config;
        c->where = redis->redis.url;
        c->prefix = c->config->redis.prefix;
        return 0;
}

void fc_ctl_done(fc_ctl_t *c) {
        if (c->redis)
                redisFree(c->redis);
        c->redis = NULL;
        fc_config_free(c->url_config);
        fc_config_free(c->config);
        c->url_config = c->config = NULL;
}

char *fc_ctl_key(const fc_ctl_t *c, const char *format, ...) {
        assert(c->prefix); /* fc_ctl_load_config() first */
        va_list ap;
        char *tail = NULL, *key = NULL;
        va_start(ap, format);
        int r = vasprintf(&tail, format, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        if (asprintf(&key, "%s%s", c->prefix, tail) < 0)
                key = NULL;
        free(tail);
        return key;
}

static void drop_connection(fc_ctl_t *c) {
        redisFree(c->redis);
        c->redis = NULL;
}

static int connection_error(fc_ctl_t *c, const char *what) {
        int code = fc_ctl_fail(EX_UNAVAILABLE, "Redis at %s: %s: %s", c->where, what,
                               c->redis->errstr[0] ? c->redis->errstr : "connection lost");
        drop_connection(c);
        return code;
}

/* AUTH and SELECT. Returns 0 or an exit code. */
static int handshake(fc_ctl_t *c, const fc_config_t *cfg) {
        redisReply *reply;
        char db[16];
        if (cfg->redis.password) {
                if (cfg->redis.username)
                        reply = redisCommand(c->redis, "AUTH %s %s", cfg->redis.username,
                                             cfg->redis.password);
                else
                        reply = redisCommand(c->redis, "AUTH %s", cfg->redis.password);
                if (!reply)
                        return connection_error(c, "AUTH");
                bool refused = reply->type == REDIS_REPLY_ERROR;
                int code = refused ? fc_ctl_fail(EX_NOPERM, "Redis at %s refused the password (from %s): %s",
                                                 c->where, cfg->redis.password_from, reply->str)
                                   : 0;
                freeReplyObject(reply);
                if (refused) {
                        drop_connection(c);
                        return code;
                }
        }
        if (cfg->redis.db != 0) {
                snprintf(db, sizeof(db), "%u", cfg->redis.db);
                reply = redisCommand(c->redis, "SELECT %s", db);
                if (!reply)
                        return connection_error(c, "SELECT");
                int code = 0;
                if (reply->type == REDIS_REPLY_ERROR) {
                        bool auth = strncmp(reply->str, "NOAUTH", 6) == 0;
                        code = fc_ctl_fail(auth ? EX_NOPERM : EX_UNAVAILABLE, "Redis at %s: SELECT %s: %s%s",
                                           c->where, db, reply->str,
                                           auth ? " (give the password in redis.url or redis.password_file)"
                                                : "");
                }
                freeReplyObject(reply);
                if (code) {
                        drop_connection(c);
                        return code;
                }
        }
        return 0;
}

int fc_ctl_connect(fc_ctl_t *c) {
        if (c->redis)
                return 0;
        int code = fc_ctl_load_config(c);
        if (code)
                return code;
        const fc_config_t *cfg = c->url_config ? c->url_config : c->config;
        struct timeval connect_timeout = {.tv_sec = CONNECT_TIMEOUT_S};
        struct timeval command_timeout = {.tv_sec = COMMAND_TIMEOUT_S};
        if (cfg->redis.transport == FC_REDIS_UNIX)
                c->redis = redisConnectUnixWithTimeout(cfg->redis.socket_path, connect_timeout);
        else
                c->redis = redisConnectWithTimeout(cfg->redis.host, cfg->redis.port, connect_timeout);
        if (!c->redis)
                return fc_ctl_fail(EX_OSERR, "out of memory");
        if (c->redis->err) {
                code = fc_ctl_fail(EX_UNAVAILABLE,
                                   "cannot connect to Redis at %s: %s (is it running? check %s)", c->where,
                                   c->redis->errstr, c->url_config ? "--redis" : "redis.url");
                drop_connection(c);
                return code;
        }
        redisSetTimeout(c->redis, command_timeout);
        return handshake(c, cfg);
}

int fc_ctl_reply_error(fc_ctl_t *c, const redisReply *reply, const char *command) {
        if (reply->type != REDIS_REPLY_ERROR)
                return 0;
        bool auth = strncmp(reply->str, "NOAUTH", 6) == 0 || strncmp(reply->str, "WRONGPASS", 9) == 0;
        return fc_ctl_fail(auth ? EX_NOPERM : EX_PROTOCOL, "Redis at %s: %s: %s%s", c->where, command,
                           reply->str,
                           auth ? " (give the password in redis.url or redis.password_file)" : "");
}

static int check_reply(fc_ctl_t *c, redisReply *reply, const char *command) {
        return reply ? fc_ctl_reply_error(c, reply, command) : connection_error(c, command);
}

int fc_ctl_call(fc_ctl_t *c, redisReply **ret, int argc, const char **argv, const size_t *lens) {
        *ret = NULL;
        int code = fc_ctl_connect(c);
        if (code)
                return code;
        redisReply *reply = redisCommandArgv(c->redis, argc, argv, lens);
        code = check_reply(c, reply, argv[0]);
        if (code) {
                freeReplyObject(reply);
                return code;
        }
        *ret = reply;
        return 0;
}

#define MAX_WORDS 16

static int collect(const char **argv, const char *arg0, va_list ap) {
        int argc = 0;
        for (const char *a = arg0; a && argc < MAX_WORDS; a = va_arg(ap, const char *))
                argv[argc++] = a;
        return argc;
}

int fc_ctl_callf(fc_ctl_t *c, redisReply **ret, const char *arg0, ...) {
        const char *argv[MAX_WORDS];
        va_list ap;
        va_start(ap, arg0);
        int argc = collect(argv, arg0, ap);
        va_end(ap);
        return fc_ctl_call(c, ret, argc, argv, NULL);
}

void fc_ctl_append(fc_ctl_t *c, int argc, const char **argv, const size_t *lens) {
        /* Out of memory shows as a short pipeline: reading its replies fails. */
        redisAppendCommandArgv(c->redis, argc, argv, lens);
}

void fc_ctl_appendf(fc_ctl_t *c, const char *arg0, ...) {
        const char *argv[MAX_WORDS];
        va_list ap;
        va_start(ap, arg0);
        int argc = collect(argv, arg0, ap);
        va_end(ap);
        fc_ctl_append(c, argc, argv, NULL);
}

int fc_ctl_flush(fc_ctl_t *c) {
        int done = 0;
        while (!done)
                if (redisBufferWrite(c->redis, &done) != REDIS_OK)
                        return connection_error(c, "sending");
        return 0;
}

void fc_ctl_free_replies(redisReply **replies, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (replies[i])
                        freeReplyObject(replies[i]);
                replies[i] = NULL;
        }
}

int fc_ctl_read_replies(fc_ctl_t *c, redisReply **replies, size_t n) {
        for (size_t i = 0; i < n; i++) {
                void *reply = NULL;
                if (redisGetReply(c->redis, &reply) != REDIS_OK || !reply) {
                        fc_ctl_free_replies(replies, i);
                        return connection_error(c, "pipeline");
                }
                replies[i] = reply;
        }
        return 0;
}

long long fc_ctl_reply_int(const redisReply *r) {
        if (!r)
                return 0;
        if (r->type == REDIS_REPLY_INTEGER)
                return r->integer;
        if (r->type == REDIS_REPLY_STRING)
                return strtoll(r->str, NULL, 10);
        return 0;
}
