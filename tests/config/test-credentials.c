/* Redis password lookup: systemd's credential, redis.password_file, the
 * URL; which wins, newline stripping, and clear errors that name the file
 * but never show the secret. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static char *abs_path(const char *name) {
        static char buf[4][4096];
        static int next;
        char *b = buf[next++ % 4];

        snprintf(b, 4096, "%s/%s", cfg_test_dir(), name);
        return b;
}

static fc_config_t *load_with_password_file(const char *url, const char *file) {
        char yaml[8192];

        snprintf(yaml, sizeof(yaml), "redis:\n  url: %s\n  password_file: %s\n", url, file);
        return cfg_load_ok(yaml);
}

static void test_password_file(void **state) {
        fc_config_t *c;

        cfg_write("pw", "filepass\n");
        c = load_with_password_file("redis://h", abs_path("pw"));
        assert_string_equal(c->redis.password, "filepass");
        assert_string_equal(c->redis.password_from, abs_path("pw"));
        assert_string_equal(c->redis.password_file, abs_path("pw"));
        fc_config_free(c);

        /* Only one trailing newline goes (CRLF counts as one). */
        cfg_write("pw", "two\n\n");
        c = load_with_password_file("redis://h", abs_path("pw"));
        assert_string_equal(c->redis.password, "two\n");
        fc_config_free(c);
        cfg_write("pw", "crlf\r\n");
        c = load_with_password_file("redis://h", abs_path("pw"));
        assert_string_equal(c->redis.password, "crlf");
        fc_config_free(c);
        cfg_write("pw", "no-newline");
        c = load_with_password_file("redis://h", abs_path("pw"));
        assert_string_equal(c->redis.password, "no-newline");
        fc_config_free(c);

        /* The file wins over a password in the URL. */
        cfg_write("pw", "filepass\n");
        c = load_with_password_file("redis://user:urlpass@h", abs_path("pw"));
        assert_string_equal(c->redis.password, "filepass");
        assert_string_equal(c->redis.username, "user");
        fc_config_free(c);
}

static void test_credentials_directory_wins(void **state) {
        fc_config_t *c;

        assert_int_equal(mkdir("creds", 0700), 0);
        cfg_write("creds/redis-password", "credpass\n");
        cfg_write("pw", "filepass\n");
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", abs_path("creds"), 1), 0);

        c = load_with_password_file("redis://:urlpass@h", abs_path("pw"));
        assert_string_equal(c->redis.password, "credpass");
        assert_string_equal(c->redis.password_from, abs_path("creds/redis-password"));
        fc_config_free(c);

        /* The credential is used even without password_file, and over the URL's. */
        c = cfg_load_ok("redis:\n  url: redis://:urlpass@h\n");
        assert_string_equal(c->redis.password, "credpass");
        fc_config_free(c);

        /* An empty credential (the unit's SetCredential= fallback when the
         * file is missing) counts as none: password_file, then the URL's. */
        cfg_write("creds/redis-password", "\n");
        c = load_with_password_file("redis://:urlpass@h", abs_path("pw"));
        assert_string_equal(c->redis.password, "filepass");
        assert_string_equal(c->redis.password_from, abs_path("pw"));
        fc_config_free(c);
        c = cfg_load_ok("redis:\n  url: redis://:urlpass@h\n");
        assert_string_equal(c->redis.password, "urlpass");
        fc_config_free(c);

        /* A directory without the credential: password_file again. */
        assert_int_equal(unlink("creds/redis-password"), 0);
        c = load_with_password_file("redis://h", abs_path("pw"));
        assert_string_equal(c->redis.password, "filepass");
        fc_config_free(c);

        /* Nothing at all: the URL's password, or none. */
        c = cfg_load_ok("redis:\n  url: redis://:urlpass@h\n");
        assert_string_equal(c->redis.password, "urlpass");
        assert_string_equal(c->redis.password_from, "url");
        fc_config_free(c);
        c = cfg_load_ok("");
        assert_null(c->redis.password);
        assert_null(c->redis.password_from);
        fc_config_free(c);

        /* An empty variable means no credentials. */
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "", 1), 0);
        c = cfg_load_ok("");
        assert_null(c->redis.password);
        fc_config_free(c);
        unsetenv("CREDENTIALS_DIRECTORY");
}

static void expect_password_file_error(const char *file, const char *why) {
        char yaml[8192], want[16384];

        snprintf(yaml, sizeof(yaml), "redis:\n  password_file: %s\n", file);
        snprintf(want, sizeof(want), "flowcoro.yaml:2:18: redis.password_file: %s", why);
        cfg_expect_error(yaml, want);
}

static void test_password_file_errors(void **state) {
        char why[8192], big[5000];

        snprintf(why, sizeof(why), "cannot open \"%s\": No such file or directory", abs_path("missing"));
        expect_password_file_error(abs_path("missing"), why);

        assert_int_equal(mkdir("adir", 0700), 0);
        snprintf(why, sizeof(why), "\"%s\" is not a regular file", abs_path("adir"));
        expect_password_file_error(abs_path("adir"), why);

        cfg_write("empty", "\n");
        snprintf(why, sizeof(why), "\"%s\" is empty; it should hold the password", abs_path("empty"));
        expect_password_file_error(abs_path("empty"), why);

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cfg_write("big", big);
        snprintf(why, sizeof(why), "\"%s\" is larger than 4096 bytes; it should hold only the password",
                 abs_path("big"));
        expect_password_file_error(abs_path("big"), why);

        if (geteuid() != 0) { /* root reads anything */
                cfg_write("locked", "secret\n");
                assert_int_equal(chmod("locked", 0), 0);
                snprintf(why, sizeof(why), "cannot open \"%s\": Permission denied", abs_path("locked"));
                expect_password_file_error(abs_path("locked"), why);
        }
}

static void test_credential_errors(void **state) {
        char want[8192];

        assert_int_equal(mkdir("creds2", 0700), 0);
        assert_int_equal(mkdir("creds2/redis-password", 0700), 0);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", abs_path("creds2"), 1), 0);
        snprintf(want, sizeof(want), "flowcoro.yaml: redis: systemd credential: \"%s\" is not a regular file",
                 abs_path("creds2/redis-password"));
        cfg_expect_error("concurrency: 5\n", want);
        fc_config_errors_t *errs = cfg_load_fail("concurrency: 5\n");
        assert_int_equal(fc_config_errors_get(errs, 0)->line, 0);
        fc_config_errors_free(errs);
        unsetenv("CREDENTIALS_DIRECTORY");
}

/* The secret's content is never part of a message, whatever goes wrong. */
static void test_secret_not_in_messages(void **state) {
        char yaml[8192];

        cfg_write("pwbad", "hunter2pw\0rest");
        FILE *f = fopen("pwnul", "w");
        assert_non_null(f);
        fwrite("hunter2pw\0x\n", 1, 12, f);
        fclose(f);
        snprintf(yaml, sizeof(yaml), "redis:\n  url: redis://:hunter2pw@h:0\n  password_file: %s\nlog: x\n",
                 abs_path("pwnul"));
        fc_config_errors_t *errs = cfg_load_fail(yaml);
        assert_int_equal(fc_config_errors_count(errs), 3);
        cfg_assert_not_in_errors(errs, "hunter2");
        char want[8192];
        snprintf(want, sizeof(want),
                 "flowcoro.yaml:3:18: redis.password_file: \"%s\" contains a NUL byte; it should hold only the "
                 "password",
                 abs_path("pwnul"));
        assert_string_equal(fc_config_errors_get(errs, 1)->text, want);
        fc_config_errors_free(errs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_password_file),
                cmocka_unit_test(test_credentials_directory_wins),
                cmocka_unit_test(test_password_file_errors),
                cmocka_unit_test(test_credential_errors),
                cmocka_unit_test(test_secret_not_in_messages),
        };
        return cmocka_run_group_tests(tests, cfg_test_setup, cfg_test_teardown);
}
