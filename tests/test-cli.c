/* The command-line surface of flowcorod and flowcoroctl: --version, --help and
 * clear errors for bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "flowcoro/version.h"
#include "harness/run.h"

static fc_test_output_t o;

static void run(const char *const *argv) {
        assert_int_equal(fc_test_run(argv, 10, &o), 0);
}

static void test_flowcorod_version(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "--version", NULL});
        assert_int_equal(o.exit_code, 0);
        assert_string_equal(o.out, "flowcorod " FC_VERSION_STRING "\n");
        assert_string_equal(o.err, "");
}

static void test_flowcorod_help(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "-h", NULL});
        assert_int_equal(o.exit_code, 0);
        assert_non_null(strstr(o.out, "Usage: flowcorod"));
        assert_non_null(strstr(o.out, "--config FILE"));
}

static void test_flowcorod_unknown_option(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "--bogus", NULL});
        assert_int_equal(o.exit_code, EX_USAGE);
        assert_string_equal(o.out, "");
        assert_string_equal(o.err, "flowcorod: unknown option '--bogus' (see flowcorod --help)\n");
}

static void test_flowcorod_missing_argument(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "-c", NULL});
        assert_int_equal(o.exit_code, EX_USAGE);
        assert_string_equal(o.err, "flowcorod: option '-c' needs an argument\n");
}

static void test_flowcorod_stray_argument(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "extra", NULL});
        assert_int_equal(o.exit_code, EX_USAGE);
        assert_string_equal(o.err, "flowcorod: unexpected argument 'extra' (see flowcorod --help)\n");
}

/* ---- --check-config ---------------------------------------------------- */

static char yaml_path[256];

static const char *write_yaml(const char *text) {
        snprintf(yaml_path, sizeof(yaml_path), "%s/flowcoro-cli-test-%d.yaml",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        FILE *f = fopen(yaml_path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return yaml_path;
}

static void test_check_config_accepts_a_good_file_with_plugins(void **state) {
        const char *path = write_yaml("plugins:\n  directory: " PLUGIN_DIR "\n  load:\n    - examples.so\n");
        run((const char *const[]){FLOWCOROD_PATH, "--check-config", "--insecure-plugins", "-c", path, NULL});
        unlink(path);
        assert_int_equal(o.exit_code, 0);
        assert_non_null(strstr(o.out, "configuration OK (1 plugins, 8 job classes)"));
        assert_string_equal(o.err, "");
}

static void test_check_config_prints_every_error_and_exits_78(void **state) {
        const char *path = write_yaml("scheduler:\n  threads: four\nqueus: []\n");
        run((const char *const[]){FLOWCOROD_PATH, "--check-config", "-c", path, NULL});
        assert_int_equal(o.exit_code, EX_CONFIG);
        char expect[512];
        snprintf(expect, sizeof(expect), "%s:2:12: scheduler.threads: expected a whole number from 0 to 1024, got \"four\"",
                 path);
        assert_non_null(strstr(o.err, expect));
        assert_non_null(strstr(o.err, "unknown key \"queus\" (did you mean \"queues\"?)"));

        /* Starting (not just checking) with a bad file does the same. */
        run((const char *const[]){FLOWCOROD_PATH, "-c", path, NULL});
        assert_int_equal(o.exit_code, EX_CONFIG);
        assert_non_null(strstr(o.err, expect));
        unlink(path);
}

static void test_check_config_reports_plugin_errors(void **state) {
        const char *path = write_yaml("plugins:\n  directory: " PLUGIN_DIR "\n  load:\n    - path: examples.so\n"
                                      "      config: { allow_crash: perhaps }\n    - missing.so\n");
        run((const char *const[]){FLOWCOROD_PATH, "--check-config", "--insecure-plugins", "-c", path, NULL});
        assert_int_equal(o.exit_code, EX_CONFIG);
        assert_non_null(strstr(o.err, ":5:30: plugins.load[0].config.allow_crash: expected true or false"));
        assert_non_null(strstr(o.err, ":6:7: plugins.load: cannot open " PLUGIN_DIR "/missing.so"));
        unlink(path);
}

static void test_check_config_missing_file(void **state) {
        run((const char *const[]){FLOWCOROD_PATH, "--check-config", "-c", "/nonexistent/flowcoro.yaml", NULL});
        assert_int_equal(o.exit_code, EX_CONFIG);
        assert_non_null(strstr(o.err, "/nonexistent/flowcoro.yaml"));
        assert_non_null(strstr(o.err, "No such file or directory"));
}

static void test_flowcoroctl_version(void **state) {
        run((const char *const[]){FLOWCOROCTL_PATH, "-V", NULL});
        assert_int_equal(o.exit_code, 0);
        assert_string_equal(o.out, "flowcoroctl " FC_VERSION_STRING "\n");
}

static void test_flowcoroctl_help(void **state) {
        run((const char *const[]){FLOWCOROCTL_PATH, "--help", NULL});
        assert_int_equal(o.exit_code, 0);
        assert_non_null(strstr(o.out, "Usage: flowcoroctl"));
}

static void test_flowcoroctl_no_command(void **state) {
        run((const char *const[]){FLOWCOROCTL_PATH, NULL});
        assert_int_equal(o.exit_code, EX_USAGE);
        assert_string_equal(o.err, "flowcoroctl: missing command (see flowcoroctl --help)\n");
}

static void test_flowcoroctl_unknown_command(void **state) {
        run((const char *const[]){FLOWCOROCTL_PATH, "frobnicate", NULL});
        assert_int_equal(o.exit_code, EX_USAGE);
        assert_string_equal(o.err, "flowcoroctl: unknown command 'frobnicate' (see flowcoroctl --help)\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flowcorod_version),
                cmocka_unit_test(test_flowcorod_help),
                cmocka_unit_test(test_flowcorod_unknown_option),
                cmocka_unit_test(test_flowcorod_missing_argument),
                cmocka_unit_test(test_flowcorod_stray_argument),
                cmocka_unit_test(test_check_config_accepts_a_good_file_with_plugins),
                cmocka_unit_test(test_check_config_prints_every_error_and_exits_78),
                cmocka_unit_test(test_check_config_reports_plugin_errors),
                cmocka_unit_test(test_check_config_missing_file),
                cmocka_unit_test(test_flowcoroctl_version),
                cmocka_unit_test(test_flowcoroctl_help),
                cmocka_unit_test(test_flowcoroctl_no_command),
                cmocka_unit_test(test_flowcoroctl_unknown_command),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
