/* config/node.c: the generic node tree handed to plugins, its accessors,
 * and adding a plugin's own errors at a node's position. */
#include <errno.h>
#include <string.h>

#include "helpers.h"

static const char yaml[] = "plugins:\n"
                           "  load:\n"
                           "    - path: examples.so\n"
                           "      config:\n"
                           "        greeting: \"hello\"\n"
                           "        retries: many\n"
                           "        tags: [a, 'b']\n"
                           "        nothing: ~\n"
                           "        nested: { deep: { er: 1 } }\n"
                           "    - path: other.so\n";

static void test_node_accessors(void **state) {
        fc_config_t *c = cfg_load_ok(yaml);
        const fc_config_node_t *cfg = c->plugins.load[0].config, *n, *tags;

        assert_non_null(cfg);
        assert_int_equal(fc_config_node_type(cfg), FC_CONFIG_NODE_MAPPING);
        assert_int_equal(fc_config_node_line(cfg), 5);
        assert_int_equal(fc_config_node_column(cfg), 9);
        assert_string_equal(fc_config_node_path(cfg), "plugins.load[0].config");
        assert_int_equal(fc_config_node_count(cfg), 5);
        assert_null(fc_config_node_scalar(cfg));
        assert_false(fc_config_node_is_null(cfg));

        assert_string_equal(fc_config_node_key(cfg, 0), "greeting");
        assert_string_equal(fc_config_node_key(cfg, 4), "nested");
        assert_null(fc_config_node_key(cfg, 5));
        n = fc_config_node_item(cfg, 0);
        assert_int_equal(fc_config_node_type(n), FC_CONFIG_NODE_SCALAR);
        assert_string_equal(fc_config_node_scalar(n), "hello");
        assert_int_equal(fc_config_node_count(n), 0);
        assert_null(fc_config_node_item(n, 0));
        assert_null(fc_config_node_key(n, 0));
        assert_null(fc_config_node_get(n, "x"));
        assert_false(fc_config_node_is_null(n));
        assert_null(fc_config_node_item(cfg, 5));

        n = fc_config_node_get(cfg, "retries");
        assert_string_equal(fc_config_node_scalar(n), "many");
        assert_int_equal(fc_config_node_line(n), 6);
        assert_int_equal(fc_config_node_column(n), 18);
        assert_string_equal(fc_config_node_path(n), "plugins.load[0].config.retries");
        assert_null(fc_config_node_get(cfg, "missing"));

        tags = fc_config_node_get(cfg, "tags");
        assert_int_equal(fc_config_node_type(tags), FC_CONFIG_NODE_SEQUENCE);
        assert_int_equal(fc_config_node_count(tags), 2);
        assert_string_equal(fc_config_node_scalar(fc_config_node_item(tags, 1)), "b");
        assert_string_equal(fc_config_node_path(fc_config_node_item(tags, 1)), "plugins.load[0].config.tags[1]");
        assert_null(fc_config_node_item(tags, 2));
        assert_null(fc_config_node_key(tags, 0));
        assert_null(fc_config_node_get(tags, "a"));

        assert_true(fc_config_node_is_null(fc_config_node_get(cfg, "nothing")));
        n = fc_config_node_get(fc_config_node_get(fc_config_node_get(cfg, "nested"), "deep"), "er");
        assert_string_equal(fc_config_node_scalar(n), "1");
        assert_string_equal(fc_config_node_path(n), "plugins.load[0].config.nested.deep.er");

        assert_null(c->plugins.load[1].config);
        fc_config_free(c);
}

static void test_quoted_null_is_text(void **state) {
        fc_config_t *c = cfg_load_ok("plugins:\n  load:\n    - path: a.so\n      config: { a: \"~\", b: '', c: }\n");
        const fc_config_node_t *cfg = c->plugins.load[0].config;

        assert_false(fc_config_node_is_null(fc_config_node_get(cfg, "a")));
        assert_false(fc_config_node_is_null(fc_config_node_get(cfg, "b")));
        assert_true(fc_config_node_is_null(fc_config_node_get(cfg, "c")));
        assert_string_equal(fc_config_node_scalar(fc_config_node_get(cfg, "b")), "");
        fc_config_free(c);
}

/* A plugin reports its own errors at its nodes, in the same format. */
static void test_errors_add_at_node(void **state) {
        fc_config_t *c = cfg_load_ok(yaml);
        fc_config_errors_t *errs = fc_config_errors_new();
        const fc_config_node_t *n = fc_config_node_get(c->plugins.load[0].config, "retries");

        assert_non_null(errs);
        assert_int_equal(fc_config_errors_count(errs), 0);
        assert_int_equal(fc_config_errors_add(errs, n, "expected a whole number, got \"%s\"", fc_config_node_scalar(n)),
                         0);
        assert_int_equal(fc_config_errors_add(errs, c->plugins.load[0].config, "unknown key \"%s\"", "x"), 0);
        assert_int_equal(fc_config_errors_add(NULL, n, "x"), -EINVAL);
        assert_int_equal(fc_config_errors_add(errs, NULL, "x"), -EINVAL);
        fc_config_free(c); /* errors own copies of everything */

        assert_int_equal(fc_config_errors_count(errs), 2);
        const fc_config_error_t *e = fc_config_errors_get(errs, 0);
        assert_string_equal(e->text,
                            "flowcoro.yaml:6:18: plugins.load[0].config.retries: expected a whole number, got \"many\"");
        assert_int_equal(e->line, 6);
        assert_int_equal(e->column, 18);
        assert_string_equal(e->file, "flowcoro.yaml");
        assert_string_equal(fc_config_errors_get(errs, 1)->text,
                            "flowcoro.yaml:5:9: plugins.load[0].config: unknown key \"x\"");
        fc_config_errors_free(errs);
        fc_config_errors_free(NULL);
        assert_int_equal(fc_config_errors_count(NULL), 0);
        assert_null(fc_config_errors_get(NULL, 0));
}

static void test_nesting_limit(void **state) {
        char deep[400] = "plugins:\n  load:\n    - path: a.so\n      config: ";
        size_t len = strlen(deep);

        for (int i = 0; i < 70; i++)
                deep[len++] = '[';
        for (int i = 0; i < 70; i++)
                deep[len++] = ']';
        deep[len++] = '\n';
        deep[len] = '\0';
        cfg_expect_error(deep, "flowcoro.yaml:4:75: nested more than 64 levels deep");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_accessors),
                cmocka_unit_test(test_quoted_null_is_text),
                cmocka_unit_test(test_errors_add_at_node),
                cmocka_unit_test(test_nesting_limit),
        };
        return cmocka_run_group_tests(tests, cfg_test_setup, cfg_test_teardown);
}
