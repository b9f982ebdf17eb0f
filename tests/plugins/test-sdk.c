/* The plugin SDK, as an outside author uses it: install FlowCoro into a
 * temporary prefix, build tests/plugins/sdk/greeter.c with nothing but
 * `cc` and `pkg-config --cflags flowcoro-plugin`, then load the result
 * through the loader and run a job on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run.h"
#include "plugin_test.h"

static char prefix[512];

static void sh(const char *cmd) {
        fc_test_output_t o;
        const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        assert_int_equal(fc_test_run(argv, 300, &o), 0);
        if (o.exit_code != 0)
                fail_msg("`%s` failed (%d):\n%s%s", cmd, o.exit_code, o.out, o.err);
}

static void test_out_of_tree_plugin_builds_from_an_install_and_loads(void **state) {
        char cmd[4096];
        snprintf(prefix, sizeof(prefix), "%s/sdk-XXXXXX", TEST_WORK_DIR);
        assert_non_null(mkdtemp(prefix));
        snprintf(cmd, sizeof(cmd), "cmake --install '%s' --prefix '%s/usr' >/dev/null", PROJECT_BUILD_DIR, prefix);
        sh(cmd);
        /* Exactly the documented command, with the install's .pc on the path. */
        snprintf(cmd, sizeof(cmd),
                 "export PKG_CONFIG_PATH=\"$(dirname \"$(find '%s/usr' -name flowcoro-plugin.pc)\")\" && "
                 "cc -shared -fPIC $(pkg-config --cflags flowcoro-plugin) -o '%s/greeter.so' '%s'",
                 prefix, prefix, SDK_SOURCE);
        sh(cmd);

        fc_config_t *c;
        fc_plugin_set_t *set;
        fc_config_errors_t *e;
        char yaml[2048];
        snprintf(yaml, sizeof(yaml), "plugins:\n  directory: %s\n  load:\n    - path: greeter.so\n"
                 "      config: { word: Hi }\n", prefix);
        assert_int_equal(pt_load(yaml, false, &c, &set, &e), 0);
        const fc_plugin_handler_t *h = fc_plugin_set_find(set, "Greet");
        assert_non_null(h);
        assert_string_equal(fc_loaded_plugin_name(h->plugin), "greeter");
        assert_int_equal(h->def->max_retries, 3);

        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 1};
        assert_int_equal(fc_sched_create(&o, &s), 0);
        fc_job_t *j = pt_run(s, set, "{\"class\":\"Greet\",\"args\":[\"Ada\"]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
        j = pt_run(s, set, "{\"class\":\"Greet\",\"args\":[]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_DEAD);
        assert_string_equal(j->error_message, "Greet expects [name]");
        fc_job_free(j);
        fc_sched_destroy(s);
        fc_plugin_set_unref(set);
        fc_config_errors_free(e);
        fc_config_free(c);

        /* Its config errors come back with positions, like the daemon's own. */
        snprintf(yaml, sizeof(yaml), "plugins:\n  directory: %s\n  load:\n    - path: greeter.so\n"
                 "      config: { word: \"\" }\n", prefix);
        assert_int_equal(pt_load(yaml, false, &c, &set, &e), -22);
        assert_non_null(strstr(pt_errors_text(e),
                               "test.yaml:5:23: plugins.load[0].config.word: expected a word of 1 to 63 characters"));
        fc_config_errors_free(e);
        fc_config_free(c);

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", prefix);
        sh(cmd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_out_of_tree_plugin_builds_from_an_install_and_loads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
