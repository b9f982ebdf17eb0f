/* daemon/log.c's limits for lines that bad input can repeat without bound:
 * one line per cause per period, and at most a burst per kind of causes.
 * stderr goes to a file here and the test reads back what was written.
 * Every case runs well inside one 10 s period. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char path[] = "/tmp/fc-test-log-XXXXXX";
static int saved_stderr = -1;

/* From here until captured(), stderr is an empty file. */
static void capture(void) {
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(saved_stderr >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        close(fd);
}

/* stderr back, and what was written to it meanwhile (the caller frees). */
static char *captured(void) {
        assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
        close(saved_stderr);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        static char text[65536];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        unlink(path);
        strcpy(path, "/tmp/fc-test-log-XXXXXX");
        return strdup(text);
}

static size_t count(const char *text, const char *needle) {
        size_t n = 0;
        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void test_a_cause_is_written_once_per_period(void **state) {
        capture();
        for (int i = 0; i < 50; i++)
                fc_log_limited(FC_LOG_WARNING, "repeated cause", "the same problem again (%d)", i);
        char *text = captured();
        assert_int_equal(count(text, "the same problem again"), 1);
        assert_non_null(strstr(text, "warning: the same problem again (0)\n"));
        free(text);
}

/* A flood of one cause is dropped by its own limit before it reaches the
 * kind's: the kind's lines stay for other causes (a flood of one malformed
 * payload must not hide the first line of every other kind of bad payload). */
static void test_repeats_of_one_cause_leave_the_kind_to_others(void **state) {
        capture();
        for (int i = 0; i < 200; i++)
                fc_log_limited_kind(FC_LOG_WARNING, "bad input A", 3, "flood", "bad: flood %d", i);
        fc_log_limited_kind(FC_LOG_WARNING, "bad input A", 3, "second", "bad: second cause");
        fc_log_limited_kind(FC_LOG_WARNING, "bad input A", 3, "third", "bad: third cause");
        char *text = captured();
        assert_int_equal(count(text, "bad: flood"), 1);
        assert_non_null(strstr(text, "bad: second cause"));
        assert_non_null(strstr(text, "bad: third cause"));
        free(text);
}

/* Causes that all differ still write at most the kind's burst. */
static void test_a_kind_caps_distinct_causes(void **state) {
        capture();
        char cause[32];
        for (int i = 0; i < 20; i++) {
                snprintf(cause, sizeof(cause), "distinct %d", i);
                fc_log_limited_kind(FC_LOG_WARNING, "bad input B", 3, cause, "odd: %s", cause);
        }
        char *text = captured();
        assert_int_equal(count(text, "odd: distinct"), 3);
        assert_non_null(strstr(text, "odd: distinct 0\n"));
        assert_non_null(strstr(text, "odd: distinct 2\n"));
        free(text);
}

int main(void) {
        unsetenv("JOURNAL_STREAM"); /* lines on stderr, not journal entries */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_a_cause_is_written_once_per_period),
                cmocka_unit_test(test_repeats_of_one_cause_leave_the_kind_to_others),
                cmocka_unit_test(test_a_kind_caps_distinct_causes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
