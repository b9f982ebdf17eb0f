#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char old_cwd[PATH_MAX];

int cfg_test_setup(void **state) {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof(dir), "%s/fc-config-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                return -1;
        if (!getcwd(old_cwd, sizeof(old_cwd)) || chdir(dir) < 0)
                return -1;
        unsetenv("CREDENTIALS_DIRECTORY");
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int cfg_test_teardown(void **state) {
        if (chdir(old_cwd) < 0)
                return -1;
        /* Make read-protected test files removable too. */
        return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cfg_test_dir(void) {
        return dir;
}

void cfg_write(const char *name, const char *content) {
        FILE *f;

        unlink(name);
        f = fopen(name, "w");
        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0 || !*content, 1);
        assert_int_equal(fclose(f), 0);
}

fc_config_t *cfg_load_ok(const char *yaml) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        int r;

        cfg_write("flowcoro.yaml", yaml);
        r = fc_config_load("flowcoro.yaml", &c, &errs);
        if (r < 0) {
                fc_config_errors_print(errs, stderr);
                fc_config_errors_free(errs);
        }
        assert_int_equal(r, 0);
        assert_null(errs);
        assert_non_null(c);
        return c;
}

fc_config_errors_t *cfg_load_fail(const char *yaml) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        int r;

        cfg_write("flowcoro.yaml", yaml);
        r = fc_config_load("flowcoro.yaml", &c, &errs);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_non_null(errs);
        assert_true(fc_config_errors_count(errs) > 0);
        return errs;
}

void cfg_expect_errors(const char *yaml, ...) {
        fc_config_errors_t *errs = cfg_load_fail(yaml);
        const char *want;
        size_t i = 0;
        va_list ap;

        va_start(ap, yaml);
        while ((want = va_arg(ap, const char *))) {
                const fc_config_error_t *e = fc_config_errors_get(errs, i++);
                if (!e) {
                        fprintf(stderr, "missing error: %s\n", want);
                        fc_config_errors_print(errs, stderr);
                }
                assert_non_null(e);
                assert_string_equal(e->text, want);
        }
        va_end(ap);
        if (fc_config_errors_count(errs) != i)
                fc_config_errors_print(errs, stderr);
        assert_int_equal(fc_config_errors_count(errs), i);
        fc_config_errors_free(errs);
}

void cfg_assert_not_in_errors(const fc_config_errors_t *errs, const char *needle) {
        for (size_t i = 0; i < fc_config_errors_count(errs); i++) {
                const fc_config_error_t *e = fc_config_errors_get(errs, i);
                if (strstr(e->text, needle) || strstr(e->message, needle) || strstr(e->key, needle))
                        fail_msg("secret found in error: %s", e->text);
        }
}
