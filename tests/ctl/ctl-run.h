/* Running the real flowcoroctl from a test: a private directory with a
 * configuration file, the program run with -c that file, its output parsed.
 * The build passes FLOWCOROCTL_PATH. */
#ifndef FC_TEST_CTL_RUN_H
#define FC_TEST_CTL_RUN_H

#include <jansson.h>

#include "harness/run.h"

typedef struct ctl_env {
        char dir[256];    /* temporary directory: the configuration, input files */
        char config[300]; /* flowcoro.yaml in dir */
} ctl_env_t;

/* Makes the directory and writes yaml as its flowcoro.yaml. Asserts. */
void ctl_env_init(ctl_env_t *e, const char *yaml);

/* Removes the directory and every file in it. Safe twice. */
void ctl_env_free(ctl_env_t *e);

/* Writes text to dir/name and returns the path (static buffer, valid until
 * the next call). Asserts. */
const char *ctl_write_file(const ctl_env_t *e, const char *name, const char *text);

/* Runs flowcoroctl -c CONFIG ARG... (NULL-terminated), with standard input
 * from the file in (NULL: /dev/null), at most 60 s. Asserts that it ran. */
void ctl_run(fc_test_output_t *o, const ctl_env_t *e, const char *in, ...) __attribute__((sentinel));

/* Like ctl_run() without -c (the caller gives every option). */
void ctl_run_bare(fc_test_output_t *o, const char *in, ...) __attribute__((sentinel));

/* Parses o->out as one JSON value (a new reference); fails the test, with
 * the output, when it is not JSON. */
json_t *ctl_json(const fc_test_output_t *o);

/* Prints the output (for a failing test's log). */
void ctl_dump(const char *what, const fc_test_output_t *o);

#endif
