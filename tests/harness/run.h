/* Running a program from a test and capturing what it printed. */
#ifndef FC_TEST_RUN_H
#define FC_TEST_RUN_H

#include <stddef.h>

typedef struct fc_test_output {
        int exit_code;     /* exit status, or 128 + signal number when killed */
        char out[8192];    /* stdout, NUL-terminated, cut at the buffer's size */
        char err[8192];    /* stderr, likewise */
} fc_test_output_t;

/* Runs argv[0] (a path) with argv and no standard input, waits at most
 * timeout_s seconds (then kills it and reports 128 + SIGKILL).
 * Returns 0 when the program ran, or a negative errno when it could not be
 * started. */
int fc_test_run(const char *const *argv, int timeout_s, fc_test_output_t *o);

#endif
