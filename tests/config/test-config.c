/* config/config.c: every key's default, validation and exact error text
 * (with positions), unknown and duplicate keys, collecting all errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static void test_empty_file_gives_defaults(void **state) {
        fc_config_t *c = cfg_load_ok("");

        assert_string_equal(c->path, "flowcoro.yaml");
        assert_string_equal(c->redis.url, "redis://127.0.0.1:6379/0");
        assert_int_equal(c->redis.transport, FC_REDIS_TCP);
        assert_string_equal(c->redis.host, "127.0.0.1");
        assert_int_equal(c->redis.port, 6379);
        assert_int_equal(c->redis.db, 0);
        assert_null(c->redis.username);
        assert_null(c->redis.password);
        assert_null(c->redis.password_from);
        assert_null(c->redis.password_file);
        assert_string_equal(c->redis.prefix, "");
        assert_int_equal(c->scheduler.threads, 0);
        assert_int_equal(c->scheduler.stack_size, 64 * 1024);
        assert_int_equal(c->concurrency, 1000);
        assert_int_equal(c->n_queues, 1);
        assert_string_equal(c->queues[0].name, "default");
        assert_int_equal(c->queues[0].weight, 1);
        assert_string_equal(c->plugins.directory, "/usr/lib/flowcoro/plugins");
        assert_int_equal(c->plugins.n_load, 0);
        assert_int_equal(c->jobs.default_timeout_ms, 30000);
        assert_int_equal(c->jobs.max_retries, 25);
        assert_int_equal(c->jobs.dead_max_jobs, 10000);
        assert_int_equal(c->jobs.dead_timeout_ms, 180ULL * 24 * 3600 * 1000);
        assert_int_equal(c->jobs.max_payload, 1024 * 1024);
        assert_int_equal(c->shutdown_timeout_ms, 25000);
        assert_string_equal(c->control.socket, "/run/flowcoro/control.sock");
        assert_string_equal(c->metrics.listen, "");
        assert_null(c->metrics.host);
        assert_int_equal(c->metrics.port, 0);
        assert_int_equal(c->log.level, FC_LOG_INFO);
        fc_config_free(c);
}

static void test_comments_only_and_null_sections(void **state) {
        fc_config_t *c = cfg_load_ok("# nothing here\n");
        assert_int_equal(c->concurrency, 1000);
        fc_config_free(c);

        c = cfg_load_ok("redis:\nscheduler: ~\njobs: null\nqueues:\nplugins:\n  load:\n");
        assert_int_equal(c->n_queues, 1);
        assert_int_equal(c->jobs.max_retries, 25);
        fc_config_free(c);

        c = cfg_load_ok("---\n~\n...\n");
        assert_int_equal(c->concurrency, 1000);
        fc_config_free(c);
}

static void test_only_redis_url(void **state) {
        fc_config_t *c = cfg_load_ok("redis:\n  url: redis://10.0.0.5:6380/3\n");

        assert_string_equal(c->redis.url, "redis://10.0.0.5:6380/3");
        assert_string_equal(c->redis.host, "10.0.0.5");
        assert_int_equal(c->redis.port, 6380);
        assert_int_equal(c->redis.db, 3);
        assert_int_equal(c->concurrency, 1000);
        fc_config_free(c);
}

static void test_every_key_set(void **state) {
        fc_config_t *c = cfg_load_ok("redis:\n"
                                     "  url: unix:///run/redis/redis.sock?db=2\n"
                                     "  prefix: \"myapp:\"\n"
                                     "scheduler:\n"
                                     "  threads: 8\n"
                                     "  stack_size: 128KiB\n"
                                     "concurrency: 250\n"
                                     "queues:\n"
                                     "  - { name: critical, weight: 5 }\n"
                                     "  - name: default\n"
                                     "  - low\n"
                                     "plugins:\n"
                                     "  directory: /opt/plugins\n"
                                     "  load:\n"
                                     "    - path: examples.so\n"
                                     "      config: { greeting: hello }\n"
                                     "    - /usr/local/lib/other.so\n"
                                     "jobs:\n"
                                     "  default_timeout: 2m\n"
                                     "  max_retries: 3\n"
                                     "  dead_max_jobs: 0\n"
                                     "  dead_timeout: 7d\n"
                                     "  max_payload: 4MiB\n"
                                     "shutdown_timeout: 1500ms\n"
                                     "control:\n"
                                     "  socket: \"\"\n"
                                     "metrics:\n"
                                     "  listen: \"[::1]:9464\"\n"
                                     "log:\n"
                                     "  level: debug\n");

        assert_int_equal(c->redis.transport, FC_REDIS_UNIX);
        assert_string_equal(c->redis.socket_path, "/run/redis/redis.sock");
        assert_int_equal(c->redis.db, 2);
        assert_string_equal(c->redis.prefix, "myapp:");
        assert_int_equal(c->scheduler.threads, 8);
        assert_int_equal(c->scheduler.stack_size, 128 * 1024);
        assert_int_equal(c->concurrency, 250);
        assert_int_equal(c->n_queues, 3);
        assert_string_equal(c->queues[0].name, "critical");
        assert_int_equal(c->queues[0].weight, 5);
        assert_string_equal(c->queues[1].name, "default");
        assert_int_equal(c->queues[1].weight, 1);
        assert_string_equal(c->queues[2].name, "low");
        assert_int_equal(c->queues[2].weight, 1);
        assert_string_equal(c->plugins.directory, "/opt/plugins");
        assert_int_equal(c->plugins.n_load, 2);
        assert_string_equal(c->plugins.load[0].path, "examples.so");
        assert_string_equal(c->plugins.load[0].resolved_path, "/opt/plugins/examples.so");
        assert_int_equal(c->plugins.load[0].line, 15);
        assert_int_equal(c->plugins.load[0].column, 7);
        assert_non_null(c->plugins.load[0].config);
        assert_string_equal(fc_config_node_scalar(fc_config_node_get(c->plugins.load[0].config, "greeting")),
                            "hello");
        assert_string_equal(c->plugins.load[1].resolved_path, "/usr/local/lib/other.so");
        assert_null(c->plugins.load[1].config);
        assert_int_equal(c->jobs.default_timeout_ms, 120000);
        assert_int_equal(c->jobs.max_retries, 3);
        assert_int_equal(c->jobs.dead_max_jobs, 0);
        assert_int_equal(c->jobs.dead_timeout_ms, 7ULL * 24 * 3600 * 1000);
        assert_int_equal(c->jobs.max_payload, 4 * 1024 * 1024);
        assert_int_equal(c->shutdown_timeout_ms, 1500);
        assert_string_equal(c->control.socket, "");
        assert_string_equal(c->metrics.listen, "[::1]:9464");
        assert_string_equal(c->metrics.host, "::1");
        assert_int_equal(c->metrics.port, 9464);
        assert_int_equal(c->log.level, FC_LOG_DEBUG);
        fc_config_free(c);
}

static void test_example_from_issue(void **state) {
        cfg_expect_error("redis:\n  url: redis://127.0.0.1:6379/0\n\n\n\nscheduler:\n  threads:  four\n",
                         "flowcoro.yaml:7:13: scheduler.threads: expected a whole number from 0 to 1024, got \"four\"");
        cfg_expect_error("\n\n\n\n\nscheduler:\n  threads: four\n",
                         "flowcoro.yaml:7:12: scheduler.threads: expected a whole number from 0 to 1024, got \"four\"");
}

static void test_scheduler_errors(void **state) {
        cfg_expect_error("scheduler:\n  threads: 1025\n",
                         "flowcoro.yaml:2:12: scheduler.threads: expected a whole number from 0 to 1024, got \"1025\"");
        cfg_expect_error("scheduler:\n  threads: -1\n",
                         "flowcoro.yaml:2:12: scheduler.threads: expected a whole number from 0 to 1024, got \"-1\"");
        cfg_expect_error("scheduler:\n  threads:\n",
                         "flowcoro.yaml:2:11: scheduler.threads: expected a whole number from 0 to 1024, got nothing");
        cfg_expect_error("scheduler:\n  threads: [1]\n",
                         "flowcoro.yaml:2:12: scheduler.threads: expected a whole number from 0 to 1024, got a list");
        cfg_expect_error("scheduler:\n  stack_size: 64KB\n",
                         "flowcoro.yaml:2:15: scheduler.stack_size: expected a size from 16KiB to 256MiB: a whole "
                         "number followed by B, KiB, MiB or GiB (e.g. 64KiB), got \"64KB\"");
        cfg_expect_error("scheduler:\n  stack_size: 8KiB\n",
                         "flowcoro.yaml:2:15: scheduler.stack_size: expected a size from 16KiB to 256MiB, got \"8KiB\"");
        cfg_expect_error("scheduler: 4\n",
                         "flowcoro.yaml:1:12: scheduler: expected a mapping (key: value lines), got \"4\"");
}

static void test_top_level_errors(void **state) {
        cfg_expect_error("concurrency: 0\n",
                         "flowcoro.yaml:1:14: concurrency: expected a whole number from 1 to 1000000, got \"0\"");
        cfg_expect_error("concurrency: 1e3\n",
                         "flowcoro.yaml:1:14: concurrency: expected a whole number from 1 to 1000000, got \"1e3\"");
        cfg_expect_error("shutdown_timeout: 2h\n",
                         "flowcoro.yaml:1:19: shutdown_timeout: expected a duration from 0 to 1h, got \"2h\"");
        cfg_expect_error("- a\n- b\n",
                         "flowcoro.yaml:1:1: expected settings as key: value lines at the top of the file, got a list");
        cfg_expect_error("just text\n", "flowcoro.yaml:1:1: expected settings as key: value lines at the top of the "
                                        "file, got \"just text\"");
}

static void test_jobs_errors(void **state) {
        cfg_expect_errors("jobs:\n"
                          "  default_timeout: 31d\n"
                          "  max_retries: 10001\n"
                          "  dead_max_jobs: lots\n"
                          "  dead_timeout: 0\n"
                          "  max_payload: 1GiB\n",
                          "flowcoro.yaml:2:20: jobs.default_timeout: expected a duration from 0 to 30d, got \"31d\"",
                          "flowcoro.yaml:3:16: jobs.max_retries: expected a whole number from 0 to 10000, got \"10001\"",
                          "flowcoro.yaml:4:18: jobs.dead_max_jobs: expected a whole number from 0 to 100000000, got "
                          "\"lots\"",
                          "flowcoro.yaml:5:17: jobs.dead_timeout: expected a duration from 1s to 3650d, got \"0\"",
                          "flowcoro.yaml:6:16: jobs.max_payload: expected a size from 1KiB to 512MiB, got \"1GiB\"",
                          (const char *)NULL);
}

static void test_duration_and_size_forms(void **state) {
        cfg_expect_error("jobs:\n  default_timeout: 30\n",
                         "flowcoro.yaml:2:20: jobs.default_timeout: expected a duration from 0 to 30d: a whole number "
                         "followed by ms, s, m, h or d (e.g. 30s), got \"30\"");
        cfg_expect_error("jobs:\n  default_timeout: -5s\n",
                         "flowcoro.yaml:2:20: jobs.default_timeout: expected a duration from 0 to 30d: a whole number "
                         "followed by ms, s, m, h or d (e.g. 30s), got \"-5s\"");
        cfg_expect_error("jobs:\n  default_timeout: 99999999999999999999999s\n",
                         "flowcoro.yaml:2:20: jobs.default_timeout: expected a duration from 0 to 30d, got "
                         "\"99999999999999999999999s\"");
        cfg_expect_error("jobs:\n  max_payload: 1 MiB\n",
                         "flowcoro.yaml:2:16: jobs.max_payload: expected a size from 1KiB to 512MiB: a whole number "
                         "followed by B, KiB, MiB or GiB (e.g. 64KiB), got \"1 MiB\"");

        fc_config_t *c = cfg_load_ok("jobs:\n  default_timeout: 0\n  max_payload: 1024B\n"
                                     "shutdown_timeout: 0s\n");
        assert_int_equal(c->jobs.default_timeout_ms, 0);
        assert_int_equal(c->jobs.max_payload, 1024);
        assert_int_equal(c->shutdown_timeout_ms, 0);
        fc_config_free(c);
}

static void test_strings_and_paths(void **state) {
        cfg_expect_error("control:\n  socket: run/x.sock\n",
                         "flowcoro.yaml:2:11: control.socket: expected an absolute path or \"\" (starting with \"/\"), "
                         "got \"run/x.sock\"");
        cfg_expect_error("control:\n  socket: /run/flowcoro/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
                         "flowcoro.yaml:2:11: control.socket: expected a path of at most 107 bytes, got 119 bytes");
        cfg_expect_error("plugins:\n  directory: plugins\n",
                         "flowcoro.yaml:2:14: plugins.directory: expected an absolute path (starting with \"/\"), "
                         "got \"plugins\"");
        cfg_expect_error("redis:\n  prefix: { a: b }\n",
                         "flowcoro.yaml:2:11: redis.prefix: expected text, got a mapping");
        cfg_expect_error("redis:\n  prefix: \"a\\0b\"\n",
                         "flowcoro.yaml:2:11: redis.prefix: expected text without NUL characters");
        /* Reported once, wherever it is; a key with a NUL is dropped. */
        cfg_expect_errors("concurrency: \"1\\0\"\n\"conc\\0x\": 1\nqueues: [\"a\\0\"]\n",
                          "flowcoro.yaml:1:14: concurrency: expected text without NUL characters",
                          "flowcoro.yaml:2:1: expected text without NUL characters",
                          "flowcoro.yaml:3:10: queues[0]: expected text without NUL characters", (const char *)NULL);
        cfg_expect_error("redis:\n  password_file: secret.txt\n",
                         "flowcoro.yaml:2:18: redis.password_file: expected an absolute path (starting with \"/\"), "
                         "got \"secret.txt\"");
}

static void test_metrics_and_log(void **state) {
        cfg_expect_error("metrics:\n  listen: localhost\n",
                         "flowcoro.yaml:2:11: metrics.listen: expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464, "
                         "got \"localhost\"");
        cfg_expect_error("metrics:\n  listen: \"127.0.0.1:0\"\n",
                         "flowcoro.yaml:2:11: metrics.listen: expected a port from 1 to 65535 after \":\", got "
                         "\"127.0.0.1:0\"");
        cfg_expect_error("log:\n  level: warn\n",
                         "flowcoro.yaml:2:10: log.level: expected error, warning, notice, info or debug, got \"warn\" "
                         "(did you mean \"warning\"?)");
        cfg_expect_error("log:\n  level: verbose\n",
                         "flowcoro.yaml:2:10: log.level: expected error, warning, notice, info or debug, got "
                         "\"verbose\"");

        fc_config_t *c = cfg_load_ok("metrics:\n  listen: 127.0.0.1:9464\nlog:\n  level: warning\n");
        assert_string_equal(c->metrics.host, "127.0.0.1");
        assert_int_equal(c->metrics.port, 9464);
        assert_int_equal(c->log.level, FC_LOG_WARNING);
        fc_config_free(c);
}

static void test_queues(void **state) {
        cfg_expect_error("queues:\n  - { name: critical, weight: 5 }\n  - { name: critical, weight: 1 }\n",
                         "flowcoro.yaml:3:13: queues[1].name: duplicate queue \"critical\" (first given at line 2, "
                         "column 13)");
        cfg_expect_error("queues:\n  - { name: a, weight: 0 }\n",
                         "flowcoro.yaml:2:24: queues[0].weight: expected a whole number from 1 to 1000000, got \"0\"");
        cfg_expect_error("queues:\n  - { weight: 2 }\n",
                         "flowcoro.yaml:2:5: queues[0]: expected a \"name\" key in each queue");
        cfg_expect_error("queues:\n  - { name: a, wieght: 2 }\n",
                         "flowcoro.yaml:2:16: queues[0]: unknown key \"wieght\" (did you mean \"weight\"?)");
        cfg_expect_error("queues:\n  - name: \"a b\"\n",
                         "flowcoro.yaml:2:11: queues[0].name: expected a queue name of 1 to 255 characters without "
                         "spaces, got \"a b\"");
        cfg_expect_error("queues: []\n", "flowcoro.yaml:1:9: queues: expected at least one queue, got an empty list");
        cfg_expect_error("queues: default\n", "flowcoro.yaml:1:9: queues: expected a list of queues (- { name: NAME, "
                                              "weight: N }), got \"default\"");
        cfg_expect_error("queues:\n  - [a]\n",
                         "flowcoro.yaml:2:5: queues[0]: expected a queue ({ name: NAME, weight: N } or a name), got a "
                         "list");
}

static void test_plugins(void **state) {
        cfg_expect_error("plugins:\n  load:\n    - a.so\n    - path: a.so\n",
                         "flowcoro.yaml:4:7: plugins.load: plugin \"/usr/lib/flowcoro/plugins/a.so\" is listed twice "
                         "(first at line 3, column 7)");
        cfg_expect_error("plugins:\n  load:\n    - config: {}\n",
                         "flowcoro.yaml:3:7: plugins.load[0]: expected a \"path\" key in each plugin");
        cfg_expect_error("plugins:\n  load:\n    - path: \"\"\n",
                         "flowcoro.yaml:3:13: plugins.load[0].path: expected a plugin file name, got nothing");
        cfg_expect_error("plugins:\n  load: a.so\n",
                         "flowcoro.yaml:2:9: plugins.load: expected a list of plugins (- path: NAME.so), got \"a.so\"");
        cfg_expect_error("plugins:\n  load:\n    - path: a.so\n      confg: {}\n",
                         "flowcoro.yaml:4:7: plugins.load[0]: unknown key \"confg\" (did you mean \"config\"?)");
}

static void test_unknown_keys(void **state) {
        cfg_expect_error("queus: []\n", "flowcoro.yaml:1:1: unknown key \"queus\" (did you mean \"queues\"?)");
        cfg_expect_error("redis:\n  urll: redis://x\n",
                         "flowcoro.yaml:2:3: redis: unknown key \"urll\" (did you mean \"url\"?)");
        cfg_expect_error("scheduler:\n  Threads: 2\n",
                         "flowcoro.yaml:2:3: scheduler: unknown key \"Threads\" (did you mean \"threads\"?)");
        cfg_expect_error("colour: blue\n", "flowcoro.yaml:1:1: unknown key \"colour\"");
        cfg_expect_error("jobs:\n  timeout: 5s\n", "flowcoro.yaml:2:3: jobs: unknown key \"timeout\"");
}

static void test_duplicate_keys(void **state) {
        cfg_expect_error("concurrency: 5\nconcurrency: 6\n",
                         "flowcoro.yaml:2:1: duplicate key \"concurrency\" (first given at line 1, column 1)");
        cfg_expect_error("redis:\n  url: redis://a\n  prefix: x\n  url: redis://b\n",
                         "flowcoro.yaml:4:3: redis: duplicate key \"url\" (first given at line 2, column 3)");
        cfg_expect_error("queues:\n  - { name: a, name: b }\n",
                         "flowcoro.yaml:2:16: queues[0]: duplicate key \"name\" (first given at line 2, column 7)");
}

static void test_yaml_syntax_errors(void **state) {
        cfg_expect_error("redis:\n  url: [a\n",
                         "flowcoro.yaml:3:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow "
                         "sequence (which starts at line 2, column 8)");
        cfg_expect_error("concurrency: 5\n  bad: indent: here\n",
                         "flowcoro.yaml:2:6: YAML syntax error: mapping values are not allowed in this context");
        cfg_expect_error("a: \"unterminated\n",
                         "flowcoro.yaml:2:1: YAML syntax error: found unexpected end of stream while scanning a quoted "
                         "scalar (which starts at line 1, column 4)");
        cfg_expect_error("concurrency: 5\nlog: { level: \xff }\n",
                         "flowcoro.yaml:2:15: YAML syntax error: invalid leading UTF-8 octet (byte 0xff); the file "
                         "must be UTF-8 text");
        cfg_expect_error("a: &x 1\nb: *x\n", "flowcoro.yaml:2:4: b: aliases (*x) are not supported; write the value out");
        cfg_expect_error("concurrency: 5\n---\nconcurrency: 6\n",
                         "flowcoro.yaml:2:1: expected one YAML document, found a second one");
        cfg_expect_error("? [a]\n: 1\n", "flowcoro.yaml:1:3: expected a plain key (text), got a sequence");
}

static void test_all_errors_reported(void **state) {
        cfg_expect_errors("redis:\n"
                          "  url: http://x\n"
                          "scheduler:\n"
                          "  threads: four\n"
                          "queus: []\n"
                          "concurrency: 0\n"
                          "log:\n"
                          "  level: loud\n",
                          "flowcoro.yaml:2:8: redis.url: expected a URL starting with redis:// or unix://, got "
                          "\"http://x\"",
                          "flowcoro.yaml:4:12: scheduler.threads: expected a whole number from 0 to 1024, got \"four\"",
                          "flowcoro.yaml:5:1: unknown key \"queus\" (did you mean \"queues\"?)",
                          "flowcoro.yaml:6:14: concurrency: expected a whole number from 1 to 1000000, got \"0\"",
                          "flowcoro.yaml:8:10: log.level: expected error, warning, notice, info or debug, got \"loud\"",
                          (const char *)NULL);
}

static void test_error_fields_and_print(void **state) {
        fc_config_errors_t *errs = cfg_load_fail("scheduler:\n  threads: x\nconcurrency: 0\n");
        const fc_config_error_t *e = fc_config_errors_get(errs, 0);
        char buf[1024] = "";
        FILE *f;

        assert_int_equal(fc_config_errors_count(errs), 2);
        assert_string_equal(e->file, "flowcoro.yaml");
        assert_int_equal(e->line, 2);
        assert_int_equal(e->column, 12);
        assert_string_equal(e->key, "scheduler.threads");
        assert_string_equal(e->message, "expected a whole number from 0 to 1024, got \"x\"");
        assert_null(fc_config_errors_get(errs, 2));

        f = fmemopen(buf, sizeof(buf), "w");
        assert_non_null(f);
        assert_int_equal(fc_config_errors_print(errs, f), 2);
        fclose(f);
        assert_string_equal(buf, "flowcoro.yaml:2:12: scheduler.threads: expected a whole number from 0 to 1024, got "
                                 "\"x\"\nflowcoro.yaml:3:14: concurrency: expected a whole number from 1 to 1000000, "
                                 "got \"0\"\n");
        fc_config_errors_free(errs);
}

static void test_path_as_given_and_unreadable(void **state) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        char path[4200];

        assert_int_equal(mkdir("sub", 0700), 0);
        cfg_write("sub/f.yaml", "concurrency: x\n");
        assert_int_equal(fc_config_load("./sub/../sub/f.yaml", &c, &errs), -EINVAL);
        assert_string_equal(fc_config_errors_get(errs, 0)->text,
                            "./sub/../sub/f.yaml:1:14: concurrency: expected a whole number from 1 to 1000000, got "
                            "\"x\"");
        fc_config_errors_free(errs);

        snprintf(path, sizeof(path), "%s/sub/f.yaml", cfg_test_dir());
        assert_int_equal(fc_config_load(path, &c, &errs), -EINVAL);
        assert_int_equal(strncmp(fc_config_errors_get(errs, 0)->text, path, strlen(path)), 0);
        fc_config_errors_free(errs);

        assert_int_equal(fc_config_load("missing.yaml", &c, &errs), -ENOENT);
        assert_null(c);
        assert_int_equal(fc_config_errors_count(errs), 1);
        assert_string_equal(fc_config_errors_get(errs, 0)->text,
                            "missing.yaml: cannot read the configuration file: No such file or directory");
        assert_int_equal(fc_config_errors_get(errs, 0)->line, 0);
        fc_config_errors_free(errs);

        assert_int_equal(fc_config_load("sub", &c, &errs), -EISDIR);
        assert_string_equal(fc_config_errors_get(errs, 0)->text,
                            "sub: cannot read the configuration file: Is a directory");
        fc_config_errors_free(errs);

        /* errors may be NULL. */
        assert_int_equal(fc_config_load("missing.yaml", &c, NULL), -ENOENT);
}

static void test_load_data(void **state) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        static const char yaml[] = "concurrency: 7\ntrailing garbage not passed";

        assert_int_equal(fc_config_load_data("mem", yaml, strlen("concurrency: 7\n"), &c, &errs), 0);
        assert_int_equal(c->concurrency, 7);
        assert_string_equal(c->path, "mem");
        fc_config_free(c);
        assert_int_equal(fc_config_load_data("mem", NULL, 0, &c, &errs), 0);
        fc_config_free(c);
}

static void test_shipped_default_file_parses(void **state) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        int r = fc_config_load(FLOWCORO_SHIPPED_CONFIG, &c, &errs);

        if (r < 0)
                fc_config_errors_print(errs, stderr);
        assert_int_equal(r, 0);
        /* The shipped file writes out the defaults. */
        fc_config_t *d = cfg_load_ok("");
        const char *keys[FC_CONFIG_RESTART_KEYS_MAX];
        assert_int_equal(fc_config_restart_keys(c, d, keys), 0);
        assert_int_equal(c->concurrency, d->concurrency);
        assert_int_equal(c->n_queues, d->n_queues);
        assert_int_equal(c->jobs.default_timeout_ms, d->jobs.default_timeout_ms);
        assert_int_equal(c->jobs.max_retries, d->jobs.max_retries);
        assert_int_equal(c->jobs.dead_max_jobs, d->jobs.dead_max_jobs);
        assert_int_equal(c->jobs.dead_timeout_ms, d->jobs.dead_timeout_ms);
        assert_int_equal(c->jobs.max_payload, d->jobs.max_payload);
        assert_int_equal(c->shutdown_timeout_ms, d->shutdown_timeout_ms);
        assert_int_equal(c->log.level, d->log.level);
        fc_config_free(c);
        fc_config_free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_file_gives_defaults),
                cmocka_unit_test(test_comments_only_and_null_sections),
                cmocka_unit_test(test_only_redis_url),
                cmocka_unit_test(test_every_key_set),
                cmocka_unit_test(test_example_from_issue),
                cmocka_unit_test(test_scheduler_errors),
                cmocka_unit_test(test_top_level_errors),
                cmocka_unit_test(test_jobs_errors),
                cmocka_unit_test(test_duration_and_size_forms),
                cmocka_unit_test(test_strings_and_paths),
                cmocka_unit_test(test_metrics_and_log),
                cmocka_unit_test(test_queues),
                cmocka_unit_test(test_plugins),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_duplicate_keys),
                cmocka_unit_test(test_yaml_syntax_errors),
                cmocka_unit_test(test_all_errors_reported),
                cmocka_unit_test(test_error_fields_and_print),
                cmocka_unit_test(test_path_as_given_and_unreadable),
                cmocka_unit_test(test_load_data),
                cmocka_unit_test(test_shipped_default_file_parses),
        };
        return cmocka_run_group_tests(tests, cfg_test_setup, cfg_test_teardown);
}
