/* The private-Redis harness every integration test relies on: it starts a
 * real redis-server on a port and socket of its own and leaves nothing
 * behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/redis_server.h"

static void test_start_serves_tcp_and_unix_then_stop_cleans_up(void **state) {
        fc_test_redis_t r;
        assert_int_equal(fc_test_redis_start(&r, NULL), 0);
        assert_int_not_equal(r.port, 6379);

        redisContext *tcp = redisConnect("127.0.0.1", r.port);
        assert_non_null(tcp);
        assert_int_equal(tcp->err, 0);
        redisReply *reply = redisCommand(tcp, "SET %s %s", "k", "v");
        assert_non_null(reply);
        assert_int_equal(reply->type, REDIS_REPLY_STATUS);
        freeReplyObject(reply);
        redisFree(tcp);

        redisContext *unix_c = redisConnectUnix(r.socket_path);
        assert_non_null(unix_c);
        assert_int_equal(unix_c->err, 0);
        reply = redisCommand(unix_c, "GET k");
        assert_non_null(reply);
        assert_int_equal(reply->type, REDIS_REPLY_STRING);
        assert_string_equal(reply->str, "v");
        freeReplyObject(reply);
        redisFree(unix_c);

        pid_t pid = r.pid;
        char dir[sizeof(r.dir)];
        strcpy(dir, r.dir);
        fc_test_redis_stop(&r);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        struct stat st;
        assert_int_equal(stat(dir, &st), -1);
        fc_test_redis_stop(&r); /* twice is harmless */
}

static void test_extra_args_reach_the_server(void **state) {
        fc_test_redis_t r;
        const char *const extra[] = {"--maxmemory-policy", "allkeys-lru", NULL};
        assert_int_equal(fc_test_redis_start(&r, extra), 0);
        redisContext *c = redisConnectUnix(r.socket_path);
        assert_non_null(c);
        redisReply *reply = redisCommand(c, "CONFIG GET maxmemory-policy");
        assert_non_null(reply);
        assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
        assert_int_equal(reply->elements, 2);
        assert_string_equal(reply->element[1]->str, "allkeys-lru");
        freeReplyObject(reply);
        redisFree(c);
        fc_test_redis_stop(&r);
}

static void test_bad_option_fails_clearly(void **state) {
        fc_test_redis_t r;
        const char *const extra[] = {"--no-such-option", "1", NULL};
        assert_int_equal(fc_test_redis_start(&r, extra), -ECHILD);
        fc_test_redis_stop(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_serves_tcp_and_unix_then_stop_cleans_up),
                cmocka_unit_test(test_extra_args_reach_the_server),
                cmocka_unit_test(test_bad_option_fails_clearly),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
