/* The command-line surface of flowcorod and flowcoroctl: --version, --help and
 * clear errors for bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sysexits.h>

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
                cmocka_unit_test(test_flowcoroctl_version),
                cmocka_unit_test(test_flowcoroctl_help),
                cmocka_unit_test(test_flowcoroctl_no_command),
                cmocka_unit_test(test_flowcoroctl_unknown_command),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
