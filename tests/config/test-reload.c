/* Reload: a new configuration is built next to the running one, which is
 * never touched; restart-only changes are reported. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char base[] = "redis:\n  url: redis://127.0.0.1:6379/0\n"
                           "concurrency: 10\n"
                           "queues:\n  - { name: a, weight: 2 }\n"
                           "plugins:\n  load:\n    - path: p.so\n      config: { x: 1 }\n";

static void assert_base(const fc_config_t *c) {
        assert_string_equal(c->path, "flowcoro.yaml");
        assert_int_equal(c->concurrency, 10);
        assert_int_equal(c->n_queues, 1);
        assert_string_equal(c->queues[0].name, "a");
        assert_int_equal(c->queues[0].weight, 2);
        assert_string_equal(fc_config_node_scalar(fc_config_node_get(c->plugins.load[0].config, "x")), "1");
}

static void test_keep_old_on_error(void **state) {
        fc_config_t *old = cfg_load_ok(base), *new = (fc_config_t *)0x1;
        fc_config_errors_t *errs = NULL;

        cfg_write("flowcoro.yaml", "concurrency: lots\nqueues: []\n");
        assert_int_equal(fc_config_reload(old, &new, &errs), -EINVAL);
        assert_null(new);
        assert_int_equal(fc_config_errors_count(errs), 2);
        assert_string_equal(fc_config_errors_get(errs, 0)->text,
                            "flowcoro.yaml:1:14: concurrency: expected a whole number from 1 to 1000000, got \"lots\"");
        fc_config_errors_free(errs);
        assert_base(old);

        /* A syntax error, then a vanished file: still the old one. */
        cfg_write("flowcoro.yaml", "concurrency: [\n");
        assert_int_equal(fc_config_reload(old, &new, &errs), -EINVAL);
        assert_int_equal(fc_config_errors_get(errs, 0)->line, 2);
        fc_config_errors_free(errs);
        assert_int_equal(unlink("flowcoro.yaml"), 0);
        assert_int_equal(fc_config_reload(old, &new, &errs), -ENOENT);
        assert_string_equal(fc_config_errors_get(errs, 0)->text,
                            "flowcoro.yaml: cannot read the configuration file: No such file or directory");
        fc_config_errors_free(errs);
        assert_base(old);
        assert_int_equal(fc_config_reload(NULL, &new, &errs), -EINVAL);
        fc_config_free(old);
}

static void test_reload_safe_changes(void **state) {
        fc_config_t *old = cfg_load_ok(base), *new = NULL;
        fc_config_errors_t *errs = NULL;
        const char *keys[FC_CONFIG_RESTART_KEYS_MAX];

        cfg_write("flowcoro.yaml", "redis:\n  url: redis://127.0.0.1:6379/0\n"
                                   "concurrency: 20\n"
                                   "queues:\n  - { name: a, weight: 2 }\n  - b\n"
                                   "jobs:\n  max_retries: 3\n  default_timeout: 1m\n"
                                   "shutdown_timeout: 5s\n"
                                   "log:\n  level: debug\n"
                                   "plugins:\n  load:\n    - path: p.so\n      config: { x: 2 }\n");
        assert_int_equal(fc_config_reload(old, &new, &errs), 0);
        assert_null(errs);
        assert_int_equal(new->concurrency, 20);
        assert_int_equal(new->n_queues, 2);
        assert_int_equal(fc_config_restart_keys(old, new, keys), 0);
        assert_base(old);
        fc_config_free(old);
        fc_config_free(new);
}

static void test_restart_only_changes(void **state) {
        fc_config_t *old = cfg_load_ok(base), *new = NULL;
        fc_config_errors_t *errs = NULL;
        const char *keys[FC_CONFIG_RESTART_KEYS_MAX];

        cfg_write("pw", "secret\n");
        char yaml[8192];
        snprintf(yaml, sizeof(yaml),
                 "redis:\n  url: redis://127.0.0.1:6380/0\n  password_file: %s/pw\n  prefix: \"x:\"\n"
                 "scheduler:\n  threads: 2\n  stack_size: 128KiB\n"
                 "concurrency: 10\n"
                 "queues:\n  - { name: a, weight: 2 }\n"
                 "plugins:\n  directory: /opt/p\n  load:\n    - path: p.so\n      config: { x: 1 }\n    - q.so\n"
                 "control:\n  socket: /run/other.sock\n"
                 "metrics:\n  listen: 127.0.0.1:9464\n",
                 cfg_test_dir());
        cfg_write("flowcoro.yaml", yaml);
        assert_int_equal(fc_config_reload(old, &new, &errs), 0);
        size_t n = fc_config_restart_keys(old, new, keys);
        assert_int_equal(n, 7); /* plugins.* reload: a new plugin set loads next to the old */
        assert_string_equal(keys[0], "redis.url");
        assert_string_equal(keys[1], "redis.password");
        assert_string_equal(keys[2], "redis.prefix");
        assert_string_equal(keys[3], "scheduler.threads");
        assert_string_equal(keys[4], "scheduler.stack_size");
        assert_string_equal(keys[5], "control.socket");
        assert_string_equal(keys[6], "metrics.listen");
        /* And the other way round, the same keys. */
        assert_int_equal(fc_config_restart_keys(new, old, keys), 7);
        assert_int_equal(fc_config_restart_keys(new, new, keys), 0);
        fc_config_free(new);

        /* Only the password file's content changes. */
        snprintf(yaml, sizeof(yaml), "redis:\n  password_file: %s/pw\n", cfg_test_dir());
        fc_config_t *a = cfg_load_ok(yaml);
        cfg_write("pw", "other\n");
        fc_config_t *b = cfg_load_ok(yaml);
        assert_int_equal(fc_config_restart_keys(a, b, keys), 1);
        assert_string_equal(keys[0], "redis.password");
        fc_config_free(a);
        fc_config_free(b);
        fc_config_free(old);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keep_old_on_error),
                cmocka_unit_test(test_reload_safe_changes),
                cmocka_unit_test(test_restart_only_changes),
        };
        return cmocka_run_group_tests(tests, cfg_test_setup, cfg_test_teardown);
}
