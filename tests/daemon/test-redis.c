/* daemon/redis.c: the coroutine-native Redis client, against real
 * redis-servers started by the harness. The client runs inside coroutines of
 * a pool; cmocka's asserts longjmp, so coroutines record their first failed
 * check (CHECK*) and the test thread asserts on it after fc_join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "harness/redis_server.h"
#include "redis.h"

/* ---- running a body in a coroutine ------------------------------------- */

typedef struct scene {
        fc_test_redis_t *redis;       /* main server */
        fc_test_redis_t *redis2;      /* a second one, when the test needs it */
        fc_redis_t *conn;             /* a connection kept between coroutines */
        fc_chan_t *to_main, *to_coro; /* hand-offs with the test thread */
        _Atomic long long client_id;
        int result;
        char failed[1024];
} scene_t;

typedef void (*body_fn)(scene_t *sc);

typedef struct job {
        body_fn body;
        scene_t *sc;
} job_t;

static void run_job(void *arg) {
        job_t *j = arg;
        j->body(j->sc);
}

static void check_failed(scene_t *sc, int line, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static void check_failed(scene_t *sc, int line, const char *format, ...) {
        if (sc->failed[0])
                return;
        int n = snprintf(sc->failed, sizeof(sc->failed), "line %d: ", line);
        va_list ap;
        va_start(ap, format);
        vsnprintf(sc->failed + n, sizeof(sc->failed) - (size_t)n, format, ap);
        va_end(ap);
}

#define CHECK(cond)                                                                                          \
        do {                                                                                                 \
                if (!(cond)) {                                                                               \
                        check_failed(sc, __LINE__, "%s", #cond);                                             \
                        return;                                                                              \
                }                                                                                            \
        } while (0)

#define CHECK_INT(a, b)                                                                                      \
        do {                                                                                                 \
                long long a_ = (long long)(a), b_ = (long long)(b);                                          \
                if (a_ != b_) {                                                                              \
                        check_failed(sc, __LINE__, "%s == %lld, expected %s == %lld (last error: %s)", #a,   \
                                     a_, #b, b_, sc->conn ? fc_redis_last_error(sc->conn) : "");             \
                        return;                                                                              \
                }                                                                                            \
        } while (0)

/* Checks that a connection's call returned want, naming c's last error if not. */
#define CHECK_R(c, expr, want)                                                                               \
        do {                                                                                                 \
                int r_ = (expr);                                                                             \
                if (r_ != (want)) {                                                                          \
                        check_failed(sc, __LINE__, "%s returned %d (%s), expected %d; last error: %s",       \
                                     #expr, r_, strerror(-r_), (int)(want), fc_redis_last_error(c));         \
                        return;                                                                              \
                }                                                                                            \
        } while (0)

static fc_sched_t *pool_new(unsigned threads) {
        fc_sched_t *s = NULL;
        fc_sched_options_t o = {.threads = threads};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        return s;
}

static fc_coro_t *spawn_body(fc_sched_t *s, job_t *j) {
        fc_coro_t *co = NULL;
        assert_int_equal(fc_spawn(s, run_job, j, &co), 0);
        return co;
}

static void assert_scene_ok(const scene_t *sc) {
        if (sc->failed[0])
                fail_msg("%s", sc->failed);
}

/* Runs body(sc) in one coroutine of a fresh 2-thread pool and waits. */
static void run_in_pool(body_fn body, scene_t *sc) {
        fc_sched_t *s = pool_new(2);
        job_t j = {body, sc};
        assert_int_equal(fc_join(spawn_body(s, &j)), 0);
        fc_sched_destroy(s);
        assert_scene_ok(sc);
}

/* ---- helpers around the harness and plain hiredis ---------------------- */

static const char *const debug_args[] = {"--enable-debug-command", "yes", NULL};

static void start_redis(fc_test_redis_t *r, const char *const *extra) {
        assert_int_equal(fc_test_redis_start(r, extra), 0);
}

/* A plain blocking hiredis command on the server's unix socket, for setting
 * up and for looking behind the client's back. */
static redisReply *raw(const fc_test_redis_t *r, const char *format, ...) {
        redisContext *c = redisConnectUnix(r->socket_path);
        assert_non_null(c);
        assert_int_equal(c->err, 0);
        va_list ap;
        va_start(ap, format);
        redisReply *reply = redisvCommand(c, format, ap);
        va_end(ap);
        assert_non_null(reply);
        redisFree(c);
        return reply;
}

static void raw_ok(const fc_test_redis_t *r, const char *format, ...) {
        redisContext *c = redisConnectUnix(r->socket_path);
        assert_non_null(c);
        va_list ap;
        va_start(ap, format);
        redisReply *reply = redisvCommand(c, format, ap);
        va_end(ap);
        assert_non_null(reply);
        if (reply->type == REDIS_REPLY_ERROR)
                fail_msg("%s: %s", format, reply->str);
        freeReplyObject(reply);
        redisFree(c);
}

static long long info_number(const fc_test_redis_t *r, const char *section, const char *field) {
        redisReply *reply = raw(r, "INFO %s", section);
        assert_int_equal(reply->type, REDIS_REPLY_STRING);
        char key[64];
        snprintf(key, sizeof(key), "\n%s:", field);
        const char *p = strstr(reply->str, key);
        long long v = p ? strtoll(p + strlen(key), NULL, 10) : -1;
        freeReplyObject(reply);
        return v;
}

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Waits (bounded: 20 s) until the server has n blocked clients. */
static void wait_blocked_clients(const fc_test_redis_t *r, long long n) {
        for (int i = 0; i < 2000; i++) {
                if (info_number(r, "clients", "blocked_clients") == n)
                        return;
                sleep_ms(10);
        }
        fail_msg("the server never had %lld blocked clients", n);
}

/* Options from a redis.url parsed by config/, as the daemon gets them. */
typedef struct url_options {
        fc_config_t *cfg;
        fc_redis_options_t o;
} url_options_t;

static void options_from_url(url_options_t *u, const char *url) {
        char yaml[700];
        snprintf(yaml, sizeof(yaml), "redis:\n  url: \"%s\"\n", url);
        fc_config_errors_t *errors = NULL;
        int r = fc_config_load_data("test.yaml", yaml, strlen(yaml), &u->cfg, &errors);
        if (r < 0 && errors && fc_config_errors_count(errors) > 0)
                fail_msg("%s", fc_config_errors_get(errors, 0)->text);
        fc_config_errors_free(errors);
        assert_int_equal(r, 0);
        fc_redis_options_from_config(&u->o, u->cfg);
}

static fc_redis_t *conn_from_url(const char *format, ...) __attribute__((format(printf, 1, 2)));
static fc_redis_t *conn_from_url(const char *format, ...) {
        char url[600];
        va_list ap;
        va_start(ap, format);
        vsnprintf(url, sizeof(url), format, ap);
        va_end(ap);
        url_options_t u;
        options_from_url(&u, url);
        fc_redis_t *c = NULL;
        assert_int_equal(fc_redis_new(&u.o, &c), 0);
        fc_config_free(u.cfg); /* the connection keeps its own copies */
        return c;
}

static fc_redis_t *conn_tcp(const fc_test_redis_t *r) {
        return conn_from_url("redis://127.0.0.1:%d", r->port);
}

/* ---- URLs, databases, resolution ---------------------------------------- */

static void set_and_read_back(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK(!fc_redis_is_connected(c));
        CHECK_R(c, fc_redis_call(c, &reply, "SET", "url-key", "url-value", NULL), 0);
        CHECK_INT(reply->type, REDIS_REPLY_STATUS);
        freeReplyObject(reply);
        CHECK(fc_redis_is_connected(c));
        CHECK(strcmp(fc_redis_last_error(c), "") == 0);
        CHECK_R(c, fc_redis_call(c, &reply, "GET", "url-key", NULL), 0);
        CHECK_INT(reply->type, REDIS_REPLY_STRING);
        CHECK(strcmp(reply->str, "url-value") == 0);
        freeReplyObject(reply);
}

static void assert_key_in_db(const fc_test_redis_t *r, int db) {
        for (int i = 0; i < 16; i++) {
                redisReply *reply =
                        raw(r, "EVAL %s 1 url-key %d",
                            "redis.call('SELECT', ARGV[1]) return redis.call('EXISTS', KEYS[1])", i);
                assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
                assert_int_equal(reply->integer, i == db ? 1 : 0);
                freeReplyObject(reply);
        }
}

static void test_tcp_url_selects_its_database(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_from_url("redis://127.0.0.1:%d/3", r.port);
        run_in_pool(set_and_read_back, &sc);
        assert_key_in_db(&r, 3);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void test_unix_url_selects_its_database(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_from_url("unix://%s?db=5", r.socket_path);
        run_in_pool(set_and_read_back, &sc);
        assert_key_in_db(&r, 5);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void test_host_name_is_resolved(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_from_url("redis://localhost:%d/0", r.port);
        run_in_pool(set_and_read_back, &sc);
        assert_key_in_db(&r, 0);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void unknown_host_fails(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), -EHOSTUNREACH);
        CHECK(strstr(fc_redis_last_error(c), "no-such-host.invalid") != NULL);
        CHECK(!fc_redis_is_connected(c));
}

static void test_unknown_host_is_reported(void **state) {
        scene_t sc = {0};
        sc.conn = conn_from_url("redis://no-such-host.invalid:6380");
        run_in_pool(unknown_host_fails, &sc);
        fc_redis_free(sc.conn);
}

static void database_out_of_range(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), -EINVAL);
        CHECK(strstr(fc_redis_last_error(c), "SELECT 99") != NULL);
        CHECK(!fc_redis_is_connected(c));
}

static void test_database_out_of_range_is_reported(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_from_url("redis://127.0.0.1:%d/99", r.port);
        run_in_pool(database_out_of_range, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

/* ---- AUTH ----------------------------------------------------------------- */

#define GOOD_PASSWORD "s3cret-good-pass"
#define BAD_PASSWORD  "wr0ng-bad-pass"

typedef struct auth_case {
        fc_redis_t *good, *bad, *none;
        const char *whoami; /* expected ACL WHOAMI */
} auth_case_t;

static auth_case_t auth;

static void auth_cases(scene_t *sc) {
        redisReply *reply = NULL;
        fc_redis_t *c = auth.good;
        sc->conn = c;
        CHECK_R(c, fc_redis_call(c, &reply, "ACL", "WHOAMI", NULL), 0);
        CHECK(strcmp(reply->str, auth.whoami) == 0);
        freeReplyObject(reply);

        c = sc->conn = auth.bad;
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), FC_REDIS_E_AUTH);
        CHECK(reply == NULL);
        CHECK(strstr(fc_redis_last_error(c), "AUTH") != NULL);
        CHECK(strstr(fc_redis_last_error(c), BAD_PASSWORD) == NULL);
        CHECK(strstr(fc_redis_last_error(c), GOOD_PASSWORD) == NULL);
        CHECK(!fc_redis_is_connected(c));

        c = sc->conn = auth.none;
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), FC_REDIS_E_AUTH);
        CHECK(strstr(fc_redis_last_error(c), "requires a password") != NULL);
}

static void test_auth_with_password(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        raw_ok(&r, "CONFIG SET requirepass %s", GOOD_PASSWORD);
        auth.good = conn_from_url("redis://:%s@127.0.0.1:%d", GOOD_PASSWORD, r.port);
        auth.bad = conn_from_url("redis://:%s@127.0.0.1:%d", BAD_PASSWORD, r.port);
        auth.none = conn_tcp(&r);
        auth.whoami = "default";
        scene_t sc = {.redis = &r};
        run_in_pool(auth_cases, &sc);
        fc_redis_free(auth.good);
        fc_redis_free(auth.bad);
        fc_redis_free(auth.none);
        fc_test_redis_stop(&r);
}

static void acl_limits(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), 0);
        CHECK_R(c, fc_redis_call(c, NULL, "GET", "k", NULL), FC_REDIS_E_NOPERM);
        CHECK(fc_redis_is_connected(c)); /* an error reply leaves the stream in step */
}

static void test_auth_with_acl_user(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        raw_ok(&r, "ACL SETUSER worker on >%s ~* &* +@all", GOOD_PASSWORD);
        raw_ok(&r, "ACL SETUSER pinger on >%s +ping", GOOD_PASSWORD);
        raw_ok(&r, "ACL SETUSER default off");
        auth.good = conn_from_url("redis://worker:%s@127.0.0.1:%d", GOOD_PASSWORD, r.port);
        auth.bad = conn_from_url("unix://worker:%s@%s", BAD_PASSWORD, r.socket_path);
        auth.none = conn_tcp(&r);
        auth.whoami = "worker";
        scene_t sc = {.redis = &r};
        run_in_pool(auth_cases, &sc);
        fc_redis_free(auth.good);
        fc_redis_free(auth.bad);
        fc_redis_free(auth.none);

        scene_t sc2 = {.redis = &r};
        sc2.conn = conn_from_url("redis://pinger:%s@127.0.0.1:%d", GOOD_PASSWORD, r.port);
        run_in_pool(acl_limits, &sc2);
        fc_redis_free(sc2.conn);
        fc_test_redis_stop(&r);
}

/* ---- pipelining and binary values ---------------------------------------- */

#define PIPELINED 1000

static void pipeline_1000(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        static redisReply *replies[PIPELINED + 1];
        for (int i = 0; i < PIPELINED; i++)
                CHECK_R(c, fc_redis_append(c, 2, (const char *const[]){"INCR", "counter"}, NULL), 0);
        /* an error reply in the middle keeps its place */
        CHECK_R(c, fc_redis_append(c, 3, (const char *const[]){"HSET", "counter", "f"}, NULL), 0);
        CHECK_INT(fc_redis_pending(c), PIPELINED + 1);
        CHECK_R(c, fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, PIPELINED), -EINVAL); /* wrong count */
        CHECK_INT(fc_redis_pending(c), PIPELINED + 1);
        CHECK_R(c, fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, PIPELINED + 1), 0);
        CHECK_INT(fc_redis_pending(c), 0);
        for (int i = 0; i < PIPELINED; i++) {
                CHECK_INT(replies[i]->type, REDIS_REPLY_INTEGER);
                CHECK_INT(replies[i]->integer, i + 1);
                CHECK_INT(fc_redis_reply_result(replies[i]), 0);
        }
        CHECK_INT(replies[PIPELINED]->type, REDIS_REPLY_ERROR);
        CHECK_INT(fc_redis_reply_result(replies[PIPELINED]), FC_REDIS_E_REPLY);
        for (int i = 0; i <= PIPELINED; i++)
                freeReplyObject(replies[i]);
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.commands, PIPELINED + 1);
        CHECK_INT(st.connects, 1);

        /* a single command does not disturb a queue being built */
        CHECK_R(c, fc_redis_append(c, 2, (const char *const[]){"GET", "counter"}, NULL), 0);
        redisReply *one = NULL;
        CHECK_R(c, fc_redis_call(c, &one, "PING", NULL), 0);
        freeReplyObject(one);
        CHECK_R(c, fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, 1), 0);
        CHECK(strcmp(replies[0]->str, "1000") == 0);
        freeReplyObject(replies[0]);
        fc_redis_discard(c);
        CHECK_R(c, fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, 0), 0);
}

static void test_pipeline_of_1000_commands(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r, .conn = NULL};
        sc.conn = conn_tcp(&r);
        run_in_pool(pipeline_1000, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

#define BIG (3u << 20)

static void binary_values(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        static const char key[] = {'k', 0, '\r', '\n', (char)0xff, 'y'};
        static const char value[] = {0, 1, '\r', '\n', '$', '*', (char)0x80, (char)0xff, 0, 'z'};
        redisReply *reply = NULL;
        CHECK_R(c,
                fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3,
                                 (const char *const[]){"SET", key, value},
                                 (const size_t[]){3, sizeof(key), sizeof(value)}),
                0);
        freeReplyObject(reply);
        CHECK_R(c,
                fc_redis_command(c, FC_REDIS_TIMEOUT_DEFAULT, &reply, 2, (const char *const[]){"GET", key},
                                 (const size_t[]){3, sizeof(key)}),
                0);
        CHECK_INT(reply->type, REDIS_REPLY_STRING);
        CHECK_INT(reply->len, sizeof(value));
        CHECK(memcmp(reply->str, value, sizeof(value)) == 0);
        freeReplyObject(reply);

        /* a value far bigger than the socket buffers, both ways, pipelined */
        char *big = malloc(BIG);
        CHECK(big != NULL);
        for (size_t i = 0; i < BIG; i++)
                big[i] = (char)(i * 131 + (i >> 9));
        int r = fc_redis_append(c, 3, (const char *const[]){"SET", "big", big}, (const size_t[]){3, 3, BIG});
        if (r == 0)
                r = fc_redis_append(c, 2, (const char *const[]){"GET", "big"}, NULL);
        redisReply *replies[2] = {0};
        if (r == 0)
                r = fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, 2);
        bool same = r == 0 && replies[1]->type == REDIS_REPLY_STRING && replies[1]->len == BIG &&
                    memcmp(replies[1]->str, big, BIG) == 0;
        free(big);
        freeReplyObject(replies[0]);
        freeReplyObject(replies[1]);
        CHECK_INT(r, 0);
        CHECK(same);
}

static void test_binary_safe_keys_and_values(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(binary_values, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

/* ---- timeouts, reconnects ---------------------------------------------- */

static void command_timeouts(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_command(c, 100, &reply, 3, (const char *const[]){"BLPOP", "nothing", "0"}, NULL),
                -ETIMEDOUT);
        CHECK(reply == NULL);
        CHECK(!fc_redis_is_connected(c));
        CHECK(strstr(fc_redis_last_error(c), "within 100 ms") != NULL);
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), 0); /* reconnected */
        CHECK(strcmp(reply->str, "PONG") == 0);
        freeReplyObject(reply);

        /* the server itself stalls; the connection's own default timeout */
        CHECK_R(c, fc_redis_set_timeout(c, 100), 0);
        CHECK_R(c, fc_redis_call(c, NULL, "DEBUG", "SLEEP", "0.5", NULL), -ETIMEDOUT);
        CHECK_R(c, fc_redis_set_timeout(c, 10000), 0);
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), 0);
        freeReplyObject(reply);
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.timeouts, 2);
        CHECK_INT(st.connects, 3);
        CHECK_INT(fc_redis_set_timeout(c, -5), -EINVAL);
}

static void test_command_timeout_closes_and_reconnects(void **state) {
        fc_test_redis_t r;
        start_redis(&r, debug_args);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(command_timeouts, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void killed_connection(scene_t *sc) {
        fc_redis_t *c = sc->conn, *killer = NULL;
        fc_redis_options_t o = {.transport = FC_REDIS_UNIX, .socket_path = sc->redis->socket_path};
        CHECK_INT(fc_redis_new(&o, &killer), 0);
        redisReply *reply = NULL;
        int r = fc_redis_call(c, &reply, "CLIENT", "ID", NULL);
        if (r == 0) {
                char id[32];
                snprintf(id, sizeof(id), "%lld", reply->integer);
                freeReplyObject(reply);
                r = fc_redis_call(killer, &reply, "CLIENT", "KILL", "ID", id, NULL);
                if (r == 0 && reply->integer != 1)
                        r = -ESRCH;
                freeReplyObject(reply);
        }
        fc_redis_free(killer);
        CHECK_INT(r, 0);

        /* the server closed c while it sat idle (its end of file has
           arrived): the next call reopens it before sending and succeeds */
        CHECK(fc_wait_fd(fc_redis_fd(c), EPOLLIN, 5000) > 0);
        CHECK(fc_redis_is_connected(c));
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), 0);
        CHECK(strcmp(reply->str, "PONG") == 0);
        freeReplyObject(reply);
        CHECK(fc_redis_is_connected(c));
        CHECK(fc_redis_last_error(c)[0] == '\0');
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.connects, 2);
        CHECK_INT(st.disconnects, 1);
}

static void test_reconnect_after_client_kill(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(killed_connection, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void socket_dies_mid_call(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), 0);
        /* SHUTDOWN ends the server without a reply: the socket dies after the
           command went out, so it may have run and the call must fail */
        CHECK_R(c, fc_redis_call(c, NULL, "SHUTDOWN", "NOSAVE", NULL), -ECONNRESET);
        CHECK(!fc_redis_is_connected(c));
        CHECK(strstr(fc_redis_last_error(c), "reopened on the next call") != NULL);
}

static void test_connection_lost_mid_call_fails(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(socket_dies_mid_call, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

/* The coroutine and the test thread take turns through two channels. */
static int hand_to_main(scene_t *sc) {
        return fc_chan_send(sc->to_main, NULL, FC_FOREVER);
}

static int wait_for_main(scene_t *sc) {
        void *v;
        return fc_chan_recv(sc->to_coro, &v, FC_FOREVER);
}

static void restarted_server(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_call(c, NULL, "SET", "before", "1", NULL), 0);
        CHECK_INT(hand_to_main(sc), 0);
        CHECK_INT(wait_for_main(sc), 0); /* the server is down */
        /* it closed c on its way out: the call tries to reopen it, and cannot */
        int r = fc_redis_call(c, NULL, "PING", NULL);
        CHECK(r == -ECONNREFUSED || r == -ENOENT);
        CHECK(strstr(fc_redis_last_error(c), "cannot connect") != NULL);
        CHECK(!fc_redis_is_connected(c));
        CHECK_INT(hand_to_main(sc), 0);
        CHECK_INT(wait_for_main(sc), 0); /* the server is back */
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), 0);
        CHECK(strcmp(reply->str, "PONG") == 0);
        freeReplyObject(reply);
        CHECK(fc_redis_is_connected(c));
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.connects, 2);
        CHECK(st.connect_failures >= 1);
}

static void restart_under_client(const char *kind) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = strcmp(kind, "tcp") == 0 ? conn_tcp(&r) : conn_from_url("unix://%s", r.socket_path);
        assert_int_equal(fc_chan_create(1, &sc.to_main), 0);
        assert_int_equal(fc_chan_create(1, &sc.to_coro), 0);
        fc_sched_t *s = pool_new(2);
        job_t j = {restarted_server, &sc};
        fc_coro_t *co = spawn_body(s, &j);
        void *v;
        if (fc_chan_recv(sc.to_main, &v, 30000) == 0) {
                fc_test_redis_halt(&r);
                assert_int_equal(fc_chan_send(sc.to_coro, NULL, FC_FOREVER), 0);
                if (fc_chan_recv(sc.to_main, &v, 30000) == 0) {
                        assert_int_equal(fc_test_redis_restart(&r, NULL), 0);
                        assert_int_equal(fc_chan_send(sc.to_coro, NULL, FC_FOREVER), 0);
                }
        }
        fc_chan_close(sc.to_coro); /* frees a coroutine that failed to get here */
        assert_int_equal(fc_join(co), 0);
        fc_sched_destroy(s);
        fc_chan_destroy(sc.to_main);
        fc_chan_destroy(sc.to_coro);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
        assert_scene_ok(&sc);
}

static void test_reconnect_after_server_restart_tcp(void **state) {
        restart_under_client("tcp");
}

static void test_reconnect_after_server_restart_unix(void **state) {
        restart_under_client("unix");
}

static void backoff_and_not_connected(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        /* nothing listens any more: the first failures come quickly, then
         * attempts are spaced; a call whose timeout is shorter than the wait
         * gets -ENOTCONN at once */
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), -ECONNREFUSED);
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), -ECONNREFUSED);
        CHECK_R(c, fc_redis_call(c, NULL, "PING", NULL), -ECONNREFUSED);
        CHECK_R(c, fc_redis_command(c, 1, &(redisReply *){NULL}, 1, (const char *const[]){"PING"}, NULL),
                -ENOTCONN);
        CHECK(strstr(fc_redis_last_error(c), "next attempt in") != NULL);
        CHECK(strstr(fc_redis_last_error(c), "refused") != NULL);
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.connect_failures, 3);
}

static void test_backoff_when_server_is_down(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        fc_redis_options_t o = {.transport = FC_REDIS_TCP,
                                .host = "127.0.0.1",
                                .port = (uint16_t)r.port,
                                .backoff_min_ms = 300,
                                .backoff_max_ms = 4000};
        fc_test_redis_stop(&r);
        assert_int_equal(fc_redis_new(&o, &sc.conn), 0);
        run_in_pool(backoff_and_not_connected, &sc);
        fc_redis_free(sc.conn);
}

/* ---- READONLY, LOADING, UNBLOCKED, NOSCRIPT -------------------------------- */

static void write_to_replica(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_call(c, &reply, "SET", "k", "v", NULL), FC_REDIS_E_READONLY);
        CHECK(!fc_redis_is_connected(c));
        CHECK(strstr(fc_redis_last_error(c), "replica") != NULL);
        CHECK_R(c, fc_redis_call(c, &reply, "GET", "from-master", NULL), 0); /* reads still work */
        freeReplyObject(reply);
        CHECK(fc_redis_is_connected(c));
        /* in a pipeline: the replies come back, then the connection is closed */
        redisReply *replies[2];
        CHECK_R(c, fc_redis_append(c, 1, (const char *const[]){"PING"}, NULL), 0);
        CHECK_R(c, fc_redis_append(c, 3, (const char *const[]){"SET", "k", "v"}, NULL), 0);
        CHECK_R(c, fc_redis_exec(c, FC_REDIS_TIMEOUT_DEFAULT, replies, 2), 0);
        CHECK_INT(fc_redis_reply_result(replies[0]), 0);
        CHECK_INT(fc_redis_reply_result(replies[1]), FC_REDIS_E_READONLY);
        freeReplyObject(replies[0]);
        freeReplyObject(replies[1]);
        CHECK(!fc_redis_is_connected(c));
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.connects, 2);
}

static void test_readonly_replica_reconnects(void **state) {
        fc_test_redis_t master, replica;
        start_redis(&master, NULL);
        start_redis(&replica, NULL);
        raw_ok(&master, "SET from-master yes");
        raw_ok(&replica, "REPLICAOF 127.0.0.1 %d", master.port);
        scene_t sc = {.redis = &replica};
        sc.conn = conn_tcp(&replica);
        run_in_pool(write_to_replica, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&replica);
        fc_test_redis_stop(&master);
}

static void *debug_reload(void *arg) {
        const fc_test_redis_t *r = arg;
        redisContext *c = redisConnectUnix(r->socket_path);
        redisReply *reply = c ? redisCommand(c, "DEBUG RELOAD") : NULL;
        void *ok = reply && reply->type == REDIS_REPLY_STATUS ? arg : NULL;
        freeReplyObject(reply);
        redisFree(c);
        return ok;
}

static void read_while_loading(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        /* a short timeout: still loading when it passes */
        CHECK_R(c, fc_redis_command(c, 300, &reply, 2, (const char *const[]){"GET", "mykey"}, NULL),
                FC_REDIS_E_LOADING);
        CHECK(strstr(fc_redis_last_error(c), "LOADING") != NULL);
        CHECK(fc_redis_is_connected(c)); /* LOADING leaves the stream in step */
        /* a long one: retried until the data is there */
        CHECK_R(c, fc_redis_command(c, 60000, &reply, 2, (const char *const[]){"GET", "mykey"}, NULL), 0);
        CHECK_INT(reply->type, REDIS_REPLY_STRING);
        CHECK(strcmp(reply->str, "hello") == 0);
        freeReplyObject(reply);
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK(st.loading_retries >= 2);
}

static void test_loading_is_retried(void **state) {
        fc_test_redis_t r;
        start_redis(&r, debug_args);
        raw_ok(&r, "DEBUG POPULATE 50000");
        raw_ok(&r, "SET mykey hello");
        /* make DEBUG RELOAD's load last seconds and answer LOADING meanwhile */
        raw_ok(&r, "CONFIG SET key-load-delay 100");
        raw_ok(&r, "CONFIG SET loading-process-events-interval-bytes 1024");
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, debug_reload, &r), 0);
        for (int i = 0; i < 2000 && info_number(&r, "persistence", "loading") != 1; i++)
                sleep_ms(5);
        assert_int_equal(info_number(&r, "persistence", "loading"), 1);

        scene_t sc = {.redis = &r};
        fc_redis_options_t o = {
                .transport = FC_REDIS_UNIX, .socket_path = r.socket_path, .backoff_max_ms = 400};
        assert_int_equal(fc_redis_new(&o, &sc.conn), 0);
        run_in_pool(read_while_loading, &sc);
        void *ok;
        pthread_join(t, &ok);
        assert_non_null(ok);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void blocked_then_unblocked(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_call(c, &reply, "CLIENT", "ID", NULL), 0);
        atomic_store(&sc->client_id, reply->integer);
        freeReplyObject(reply);
        CHECK_R(c,
                fc_redis_command(c, FC_FOREVER, &reply, 3, (const char *const[]){"BLPOP", "empty", "0"},
                                 NULL),
                FC_REDIS_E_UNBLOCKED);
        CHECK(fc_redis_is_connected(c));
        CHECK(strstr(fc_redis_last_error(c), "UNBLOCKED") != NULL);
        CHECK_R(c, fc_redis_call(c, &reply, "PING", NULL), 0);
        freeReplyObject(reply);
}

static void test_unblocked_is_reported(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        fc_sched_t *s = pool_new(2);
        job_t j = {blocked_then_unblocked, &sc};
        fc_coro_t *co = spawn_body(s, &j);
        wait_blocked_clients(&r, 1);
        raw_ok(&r, "CLIENT UNBLOCK %lld ERROR", (long long)atomic_load(&sc.client_id));
        assert_int_equal(fc_join(co), 0);
        fc_sched_destroy(s);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
        assert_scene_ok(&sc);
}

static const char script_source[] =
        "-- a script longer than one SHA-1 block, to test the local SHA-1 on more than one block\n"
        "local v = redis.call('GET', KEYS[1]) or ''\n"
        "return ARGV[1] .. v\n";

static void scripts(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        fc_redis_script_t s, empty;
        fc_redis_script_init(&s, script_source);
        fc_redis_script_init(&empty, "");
        CHECK(strcmp(empty.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);

        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_call(c, &reply, "SCRIPT", "LOAD", script_source, NULL), 0);
        CHECK(strcmp(reply->str, s.sha1) == 0); /* our SHA-1 is Redis's */
        freeReplyObject(reply);
        CHECK_R(c, fc_redis_call(c, NULL, "SET", "sk", "-tail", NULL), 0);
        CHECK_R(c, fc_redis_call(c, NULL, "SCRIPT", "FLUSH", NULL), 0);

        CHECK_R(c, fc_redis_call(c, &reply, "EVALSHA", s.sha1, "0", NULL), FC_REDIS_E_NOSCRIPT);
        CHECK(strstr(fc_redis_last_error(c), "NOSCRIPT") != NULL);

        for (int i = 0; i < 3; i++) {
                CHECK_R(c,
                        fc_redis_eval(c, &s, FC_REDIS_TIMEOUT_DEFAULT, &reply, 1, 2,
                                      (const char *const[]){"sk", "head"}, NULL),
                        0);
                CHECK(strcmp(reply->str, "head-tail") == 0);
                freeReplyObject(reply);
        }
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.script_loads, 1); /* EVAL once, then EVALSHA found it */

        /* a failing script is an error reply, with Redis's message */
        fc_redis_script_t bad;
        fc_redis_script_init(&bad, "return redis.call('NOSUCHCOMMAND')");
        CHECK_R(c, fc_redis_eval(c, &bad, FC_REDIS_TIMEOUT_DEFAULT, &reply, 0, 0, NULL, NULL),
                FC_REDIS_E_REPLY);
        CHECK(fc_redis_is_connected(c));
        CHECK_INT(fc_redis_eval(c, &s, FC_REDIS_TIMEOUT_DEFAULT, &reply, 3, 1, (const char *const[]){"x"},
                                NULL),
                  -EINVAL);
}

static void test_noscript_falls_back_to_eval(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(scripts, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

/* ---- start-up check --------------------------------------------------------- */

static void startup_check(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        char *w = NULL;
        /* the harness's default: no persistence */
        CHECK_R(c, fc_redis_check_server(c, &w), 1);
        CHECK(w && strstr(w, "no persistence") != NULL);
        free(w);
        CHECK_R(c, fc_redis_call(c, NULL, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru", NULL), 0);
        CHECK_R(c, fc_redis_check_server(c, &w), 2);
        CHECK(w && strstr(w, "maxmemory-policy allkeys-lru, not noeviction") != NULL);
        CHECK(w && strstr(w, "drop queued jobs") != NULL);
        free(w);
        CHECK_R(c, fc_redis_call(c, NULL, "CONFIG", "SET", "maxmemory-policy", "noeviction", NULL), 0);
        CHECK_R(c, fc_redis_call(c, NULL, "CONFIG", "SET", "appendonly", "yes", NULL), 0);
        CHECK_R(c, fc_redis_check_server(c, &w), 0);
        CHECK(w == NULL);
}

static void test_startup_check_warns(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(startup_check, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void startup_check_without_config(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        char *w = NULL;
        CHECK_R(c, fc_redis_check_server(c, &w), 2);
        CHECK(w && strstr(w, "maxmemory-policy allkeys-lru, not noeviction") != NULL);
        CHECK(w && strstr(w, "cannot tell whether") != NULL);
        CHECK(w && strstr(w, "unknown command") != NULL); /* says why CONFIG was not used */
        free(w);
        CHECK(fc_redis_is_connected(c));
}

static void test_startup_check_with_config_renamed(void **state) {
        fc_test_redis_t r;
        const char *const extra[] = {"--rename-command",   "CONFIG",      "",
                                     "--maxmemory-policy", "allkeys-lru", NULL};
        start_redis(&r, extra);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        run_in_pool(startup_check_without_config, &sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

/* ---- many coroutines, cancellation, misuse -------------------------------- */

#define WORKERS 64
#define INCRS   100
#define BATCH   50

typedef struct worker {
        scene_t *sc;
        fc_redis_t *conn;
        int r;
        char error[512];
} worker_t;

static void worker_body(void *arg) {
        worker_t *w = arg;
        redisReply *reply = NULL, *replies[BATCH];
        for (int i = 0; i < INCRS && w->r == 0; i++) {
                w->r = fc_redis_call(w->conn, &reply, "INCR", "shared", NULL);
                freeReplyObject(reply);
        }
        for (int i = 0; i < BATCH && w->r == 0; i++)
                w->r = fc_redis_append(w->conn, 2, (const char *const[]){"INCR", "shared"}, NULL);
        if (w->r == 0)
                w->r = fc_redis_exec(w->conn, FC_REDIS_TIMEOUT_DEFAULT, replies, BATCH);
        if (w->r == 0)
                for (int i = 0; i < BATCH; i++)
                        freeReplyObject(replies[i]);
        if (w->r != 0)
                snprintf(w->error, sizeof(w->error), "%s", fc_redis_last_error(w->conn));
}

static void test_many_coroutines_each_with_its_connection(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        static worker_t workers[WORKERS];
        fc_coro_t *cos[WORKERS];
        fc_sched_t *s = pool_new(2);
        for (int i = 0; i < WORKERS; i++) {
                workers[i] = (worker_t){0};
                workers[i].conn = i % 2 ? conn_tcp(&r) : conn_from_url("unix://%s", r.socket_path);
                assert_int_equal(fc_spawn(s, worker_body, &workers[i], &cos[i]), 0);
        }
        for (int i = 0; i < WORKERS; i++)
                assert_int_equal(fc_join(cos[i]), 0);
        fc_sched_destroy(s);
        for (int i = 0; i < WORKERS; i++) {
                if (workers[i].r != 0)
                        fail_msg("worker %d: %d: %s", i, workers[i].r, workers[i].error);
                fc_redis_free(workers[i].conn);
        }
        redisReply *reply = raw(&r, "GET shared");
        assert_string_equal(reply->str, "9600"); /* WORKERS * (INCRS + BATCH) */
        freeReplyObject(reply);
        fc_test_redis_stop(&r);
}

static void blocked_forever(scene_t *sc) {
        redisReply *reply = NULL;
        sc->result = fc_redis_command(sc->conn, FC_FOREVER, &reply, 3,
                                      (const char *const[]){"BLPOP", "q", "0"}, NULL);
        CHECK(reply == NULL);
        CHECK(!fc_redis_is_connected(sc->conn));
        CHECK(strstr(fc_redis_last_error(sc->conn), "cancelled") != NULL);
        /* still cancelled: the next call refuses at once and sends nothing */
        CHECK_R(sc->conn, fc_redis_call(sc->conn, NULL, "LPUSH", "q", "must-not-arrive", NULL), -ECANCELED);
}

static void after_cancel(scene_t *sc) {
        fc_redis_t *c = sc->conn;
        redisReply *reply = NULL;
        CHECK_R(c, fc_redis_call(c, &reply, "LLEN", "q", NULL), 0);
        CHECK_INT(reply->integer, 0);
        freeReplyObject(reply);
        fc_redis_stats_t st;
        fc_redis_get_stats(c, &st);
        CHECK_INT(st.connects, 2);
}

static void test_cancellation_mid_command(void **state) {
        fc_test_redis_t r;
        start_redis(&r, NULL);
        scene_t sc = {.redis = &r};
        sc.conn = conn_tcp(&r);
        fc_sched_t *s = pool_new(2);
        job_t j = {blocked_forever, &sc};
        fc_coro_t *co = spawn_body(s, &j);
        wait_blocked_clients(&r, 1);
        fc_cancel(co);
        assert_int_equal(fc_join(co), 0);
        assert_scene_ok(&sc);
        assert_int_equal(sc.result, -ECANCELED);
        wait_blocked_clients(&r, 0); /* the server saw the connection go */
        job_t j2 = {after_cancel, &sc};
        assert_int_equal(fc_join(spawn_body(s, &j2)), 0);
        fc_sched_destroy(s);
        assert_scene_ok(&sc);
        fc_redis_free(sc.conn);
        fc_test_redis_stop(&r);
}

static void test_options_and_threads_are_checked(void **state) {
        fc_redis_t *c = NULL;
        fc_redis_options_t o = {.transport = FC_REDIS_TCP};
        assert_int_equal(fc_redis_new(&o, &c), -EINVAL); /* no host */
        o = (fc_redis_options_t){.transport = FC_REDIS_UNIX, .socket_path = ""};
        assert_int_equal(fc_redis_new(&o, &c), -EINVAL);
        char longpath[200];
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[sizeof(longpath) - 1] = '\0';
        o.socket_path = longpath;
        assert_int_equal(fc_redis_new(&o, &c), -EINVAL);
        o = (fc_redis_options_t){.transport = FC_REDIS_TCP, .host = "h", .username = "u"};
        assert_int_equal(fc_redis_new(&o, &c), -EINVAL); /* user without password */
        o = (fc_redis_options_t){.transport = FC_REDIS_TCP, .host = "h", .command_timeout_ms = -7};
        assert_int_equal(fc_redis_new(&o, &c), -EINVAL);
        assert_null(c);
        o = (fc_redis_options_t){.transport = FC_REDIS_TCP, .host = "127.0.0.1", .port = 1};
        assert_int_equal(fc_redis_new(&o, &c), 0);
        /* outside a coroutine */
        assert_int_equal(fc_redis_call(c, NULL, "PING", NULL), -EPERM);
        assert_int_equal(fc_redis_connect(c, 100), -EPERM);
        assert_false(fc_redis_is_connected(c));
        fc_redis_free(c);
        fc_redis_free(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tcp_url_selects_its_database),
                cmocka_unit_test(test_unix_url_selects_its_database),
                cmocka_unit_test(test_host_name_is_resolved),
                cmocka_unit_test(test_unknown_host_is_reported),
                cmocka_unit_test(test_database_out_of_range_is_reported),
                cmocka_unit_test(test_auth_with_password),
                cmocka_unit_test(test_auth_with_acl_user),
                cmocka_unit_test(test_pipeline_of_1000_commands),
                cmocka_unit_test(test_binary_safe_keys_and_values),
                cmocka_unit_test(test_command_timeout_closes_and_reconnects),
                cmocka_unit_test(test_reconnect_after_client_kill),
                cmocka_unit_test(test_connection_lost_mid_call_fails),
                cmocka_unit_test(test_reconnect_after_server_restart_tcp),
                cmocka_unit_test(test_reconnect_after_server_restart_unix),
                cmocka_unit_test(test_backoff_when_server_is_down),
                cmocka_unit_test(test_readonly_replica_reconnects),
                cmocka_unit_test(test_loading_is_retried),
                cmocka_unit_test(test_unblocked_is_reported),
                cmocka_unit_test(test_noscript_falls_back_to_eval),
                cmocka_unit_test(test_startup_check_warns),
                cmocka_unit_test(test_startup_check_with_config_renamed),
                cmocka_unit_test(test_many_coroutines_each_with_its_connection),
                cmocka_unit_test(test_cancellation_mid_command),
                cmocka_unit_test(test_options_and_threads_are_checked),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
