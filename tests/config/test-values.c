/* config/values.c: durations, sizes and the Redis URL forms, including
 * that a password in the URL never shows in a message. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

static void test_durations(void **state) {
        uint64_t v = 7;

        assert_int_equal(fc_config_parse_duration("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(fc_config_parse_duration("250ms", &v), 0);
        assert_int_equal(v, 250);
        assert_int_equal(fc_config_parse_duration("30s", &v), 0);
        assert_int_equal(v, 30000);
        assert_int_equal(fc_config_parse_duration("5m", &v), 0);
        assert_int_equal(v, 300000);
        assert_int_equal(fc_config_parse_duration("2h", &v), 0);
        assert_int_equal(v, 7200000);
        assert_int_equal(fc_config_parse_duration("180d", &v), 0);
        assert_int_equal(v, 180ULL * 86400000);
        assert_int_equal(fc_config_parse_duration("0s", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(fc_config_parse_duration("007s", &v), 0);
        assert_int_equal(v, 7000);

        /* No unit (except 0), unknown units, signs, spaces, fractions. */
        assert_int_equal(fc_config_parse_duration("30", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("30sec", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("30S", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("-1s", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("+1s", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration(" 1s", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("1 s", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("1.5s", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("1h30m", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("", &v), -EINVAL);
        assert_int_equal(fc_config_parse_duration("s", &v), -EINVAL);

        /* Overflow: of the number itself, and of the multiplication. */
        assert_int_equal(fc_config_parse_duration("18446744073709551615ms", &v), 0);
        assert_int_equal(v, UINT64_MAX);
        assert_int_equal(fc_config_parse_duration("18446744073709551616ms", &v), -ERANGE);
        assert_int_equal(fc_config_parse_duration("18446744073709551615s", &v), -ERANGE);
        assert_int_equal(fc_config_parse_duration("213503982334d", &v), 0);
        assert_int_equal(fc_config_parse_duration("213503982335d", &v), -ERANGE);
        assert_int_equal(fc_config_parse_duration(NULL, &v), -EINVAL);
}

static void test_sizes(void **state) {
        uint64_t v;

        assert_int_equal(fc_config_parse_size("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(fc_config_parse_size("512B", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(fc_config_parse_size("64KiB", &v), 0);
        assert_int_equal(v, 65536);
        assert_int_equal(fc_config_parse_size("1MiB", &v), 0);
        assert_int_equal(v, 1048576);
        assert_int_equal(fc_config_parse_size("3GiB", &v), 0);
        assert_int_equal(v, 3ULL << 30);

        assert_int_equal(fc_config_parse_size("64", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("64K", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("64KB", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("64kib", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("-1KiB", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("1.5MiB", &v), -EINVAL);
        assert_int_equal(fc_config_parse_size("17179869184GiB", &v), -ERANGE);
        assert_int_equal(fc_config_parse_size("17179869183GiB", &v), 0);
        assert_int_equal(fc_config_parse_size("99999999999999999999B", &v), -ERANGE);
}

static fc_config_t *load_url(const char *url) {
        char yaml[512];

        snprintf(yaml, sizeof(yaml), "redis:\n  url: \"%s\"\n", url);
        return cfg_load_ok(yaml);
}

static void expect_url_error(const char *url, const char *message) {
        char yaml[512], want[1024];

        snprintf(yaml, sizeof(yaml), "redis:\n  url: '%s'\n", url);
        snprintf(want, sizeof(want), "flowcoro.yaml:2:8: redis.url: %s", message);
        cfg_expect_error(yaml, want);
}

static void test_tcp_urls(void **state) {
        fc_config_t *c = load_url("redis://localhost");
        assert_string_equal(c->redis.host, "localhost");
        assert_int_equal(c->redis.port, 6379);
        assert_int_equal(c->redis.db, 0);
        assert_null(c->redis.password);
        fc_config_free(c);

        c = load_url("redis://bob:s3cret@redis.example.com:6380/2");
        assert_int_equal(c->redis.transport, FC_REDIS_TCP);
        assert_string_equal(c->redis.host, "redis.example.com");
        assert_int_equal(c->redis.port, 6380);
        assert_int_equal(c->redis.db, 2);
        assert_string_equal(c->redis.username, "bob");
        assert_string_equal(c->redis.password, "s3cret");
        assert_string_equal(c->redis.password_from, "url");
        assert_string_equal(c->redis.url, "redis://bob:***@redis.example.com:6380/2");
        fc_config_free(c);

        c = load_url("redis://:p%40ss%2Fw@[::1]:7000/");
        assert_string_equal(c->redis.host, "::1");
        assert_int_equal(c->redis.port, 7000);
        assert_null(c->redis.username);
        assert_string_equal(c->redis.password, "p@ss/w");
        assert_string_equal(c->redis.url, "redis://:***@[::1]:7000/");
        fc_config_free(c);

        /* An unescaped "@" in the password: the last "@" ends the user info. */
        c = load_url("redis://:a@b@host/1");
        assert_string_equal(c->redis.password, "a@b");
        assert_string_equal(c->redis.host, "host");
        assert_int_equal(c->redis.db, 1);
        fc_config_free(c);
}

static void test_unix_urls(void **state) {
        fc_config_t *c = load_url("unix:///run/redis/redis.sock");
        assert_int_equal(c->redis.transport, FC_REDIS_UNIX);
        assert_string_equal(c->redis.socket_path, "/run/redis/redis.sock");
        assert_null(c->redis.host);
        assert_int_equal(c->redis.db, 0);
        fc_config_free(c);

        c = load_url("unix:///run/redis/redis.sock?db=5");
        assert_int_equal(c->redis.db, 5);
        fc_config_free(c);

        c = load_url("unix://worker:pw@/run/r.sock?db=1");
        assert_string_equal(c->redis.username, "worker");
        assert_string_equal(c->redis.password, "pw");
        assert_string_equal(c->redis.socket_path, "/run/r.sock");
        assert_string_equal(c->redis.url, "unix://worker:***@/run/r.sock?db=1");
        fc_config_free(c);
}

static void test_url_errors(void **state) {
        expect_url_error("localhost:6379", "expected a URL starting with redis:// or unix://, got \"localhost:6379\"");
        expect_url_error("rediss://h", "TLS (rediss://) is not supported; use redis:// or unix://, got \"rediss://h\"");
        expect_url_error("redis://", "expected a host name or address, got \"redis://\"");
        expect_url_error("redis://h:0", "expected a port from 1 to 65535 after \":\", got \"redis://h:0\"");
        expect_url_error("redis://h:65536", "expected a port from 1 to 65535 after \":\", got \"redis://h:65536\"");
        expect_url_error("redis://h:", "expected a port from 1 to 65535 after \":\", got \"redis://h:\"");
        expect_url_error("redis://h/x",
                         "expected a database number from 0 to 2147483647 after the \"/\", got \"redis://h/x\"");
        expect_url_error("redis://h/-1",
                         "expected a database number from 0 to 2147483647 after the \"/\", got \"redis://h/-1\"");
        expect_url_error("redis://h?db=1", "expected no \"?\" options in a redis:// URL; give the database as "
                                           "redis://host:port/DB, got \"redis://h?db=1\"");
        expect_url_error("redis://h o", "expected a host name or address (letters, digits, \"-\", \".\"), found "
                                        "\"?\" in it, got \"redis://h o\"");
        expect_url_error("redis://[::1", "expected \"]\" after an IPv6 address, got \"redis://[::1\"");
        expect_url_error("unix://run/r.sock", "expected an absolute socket path, as in unix:///run/redis/redis.sock, "
                                              "got \"unix://run/r.sock\"");
        expect_url_error("unix:///r.sock?database=1",
                         "expected \"?db=N\" as the only option, got \"unix:///r.sock?database=1\"");
        expect_url_error("unix:///r.sock?db=x",
                         "expected a database number from 0 to 2147483647 after \"?db=\", got \"unix:///r.sock?db=x\"");
        cfg_expect_error("redis:\n  url: 6379\n",
                         "flowcoro.yaml:2:8: redis.url: expected a URL starting with redis:// or unix://, got \"6379\"");
        cfg_expect_error("redis:\n  url: [a]\n",
                         "flowcoro.yaml:2:8: redis.url: expected a redis:// or unix:// URL, got a list");
}

/* Whatever is wrong with a URL holding a password, the password stays out
 * of every message. */
static void test_password_never_in_messages(void **state) {
        static const char *const bad[] = {
                "redis://bob:hunter2pw@h:99999/0",
                "redis://bob:hunter2pw@h/notadb",
                "redis://bob:hunter2pw@",
                "redis://hunter2pw@host",
                "redis://:hunter2pw%zz@host",
                "redis://:hunter2pw@h?x=1",
                "redis://:hunter2pw@h o",
                "rediss://:hunter2pw@host",
                "http://:hunter2pw@host",
                "unix://u:hunter2pw@relative",
                "unix://u:hunter2pw@/r.sock?db=x",
                "redis://u:hunter2pw@[::1/0",
        };
        char yaml[512];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(yaml, sizeof(yaml), "redis:\n  url: \"%s\"\nscheduler:\n  threads: x\nbogus: 1\n", bad[i]);
                fc_config_errors_t *errs = cfg_load_fail(yaml);
                assert_int_equal(fc_config_errors_count(errs), 3);
                cfg_assert_not_in_errors(errs, "hunter2");
                fc_config_errors_free(errs);
        }

        /* A valid URL with a password, next to other errors. */
        fc_config_errors_t *errs = cfg_load_fail("redis:\n  url: redis://u:hunter2pw@h/0\n  url: redis://u:hunter2pw@h/0\n");
        cfg_assert_not_in_errors(errs, "hunter2");
        fc_config_errors_free(errs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_sizes),
                cmocka_unit_test(test_tcp_urls),
                cmocka_unit_test(test_unix_urls),
                cmocka_unit_test(test_url_errors),
                cmocka_unit_test(test_password_never_in_messages),
        };
        return cmocka_run_group_tests(tests, cfg_test_setup, cfg_test_teardown);
}
