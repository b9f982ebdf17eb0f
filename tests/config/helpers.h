/* Helpers shared by the configuration tests: a private temporary directory
 * (the tests chdir into it, so messages show "flowcoro.yaml" as given),
 * writing files into it, and loading with assertions. */
#ifndef FC_TEST_CONFIG_HELPERS_H
#define FC_TEST_CONFIG_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "flowcoro/config.h"

/* Creates the directory, chdirs into it and clears CREDENTIALS_DIRECTORY.
 * Use as the group setup; cfg_test_teardown removes it and all it holds. */
int cfg_test_setup(void **state);
int cfg_test_teardown(void **state);

/* The temporary directory's absolute path. */
const char *cfg_test_dir(void);

/* Writes content to name (relative to the directory) with mode 0600. */
void cfg_write(const char *name, const char *content);

/* Loads "flowcoro.yaml" written with yaml; asserts success. */
fc_config_t *cfg_load_ok(const char *yaml);

/* Loads "flowcoro.yaml" written with yaml; asserts -EINVAL and returns the errors. */
fc_config_errors_t *cfg_load_fail(const char *yaml);

/* Asserts the file yields exactly the given error lines (NULL-terminated). */
void cfg_expect_errors(const char *yaml, ...);

/* Asserts exactly one error, with this text. */
#define cfg_expect_error(yaml, text) cfg_expect_errors(yaml, text, (const char *)NULL)

/* Asserts no error message of errs contains needle. */
void cfg_assert_not_in_errors(const fc_config_errors_t *errs, const char *needle);

#endif
