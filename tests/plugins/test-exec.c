/* exec.so: configured commands run through the real loader and host table in
 * coroutines of a real pool; their output checked in the host's log (stderr,
 * captured), their process groups checked gone after a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "plugin_test.h"

static fc_sched_t *pool;
static fc_config_t *config;
static fc_plugin_set_t *set;
static char tmpdir[] = "/tmp/fc-test-exec-XXXXXX";
static char gone_program[300]; /* executable when the config loads, removed before its job runs */

/* The commands every test uses. YAML single quotes: '' is one quote. */
#define COMMANDS_YAML                                                                                        \
        "          show:\n"                                                                                  \
        "              argv: ['/bin/sh', '-c', 'echo out-line-1; echo err-line >&2; echo "                   \
        "\"jid=$FLOWCORO_JID\"; "                                                                            \
        "printf ''%%s|'' \"$@\"; echo', sh]\n"                                                               \
        "          fail3: {argv: [/bin/sh, -c, 'exit 3']}\n"                                                 \
        "          hang:\n"                                                                                  \
        "              argv: [/bin/sh, -c, 'sleep 100 & echo $! > \"$1.bg\"; echo $$ > \"$1\"; sleep 100', " \
        "sh]\n"                                                                                              \
        "          stubborn:\n"                                                                              \
        "              argv: [/bin/sh, -c, 'trap \"\" TERM; sleep 100 & echo $! > \"$1.bg\"; echo $$ > "     \
        "\"$1\"; "                                                                                           \
        "sleep 100', sh]\n"                                                                                  \
        "              timeout: 1d\n"                                                                        \
        "          slow: {argv: [/bin/sh, -c, 'trap \"\" TERM; sleep 100'], timeout: 300ms}\n"               \
        "          flood: {argv: [/usr/bin/yes, flood], timeout: 300ms}\n"                                   \
        "          echo: {argv: [/bin/echo]}\n"                                                              \
        "          dashy: {argv: [/bin/sh, -c, 'exit 5', sh, --]}\n"                                         \
        "          gone: {argv: [%s]}\n"

/* ---- capturing the host's log (stderr) ---------------------------------- */

static int saved_stderr = -1;
static char log_path[300];

static void capture_start(void) {
        snprintf(log_path, sizeof(log_path), "%s/log", tmpdir);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        fflush(stderr);
        saved_stderr = dup(2);
        assert_true(saved_stderr >= 0);
        assert_int_equal(dup2(fd, 2), 2);
        close(fd);
}

/* Restores stderr and returns what was logged meanwhile (static buffer),
 * also echoing it to the real stderr for whoever reads the test's output. */
static const char *capture_end(void) {
        static char buf[65536];
        fflush(stderr);
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
        FILE *f = fopen(log_path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        fwrite(buf, 1, n < 4096 ? n : 4096, stderr);
        if (n > 4096)
                fputs("\n[... log cut for the test's output]\n", stderr);
        return buf;
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state) {
        fc_sched_options_t o = {.threads = 2};
        fc_log_set_level(FC_LOG_DEBUG); /* the tests read the plugin's debug lines */
        fc_config_errors_t *e = NULL;
        char yaml[4096];
        /* Orphans of the commands (their background sleeps) come to us, so
         * we can reap them and see their process groups empty. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || !mkdtemp(tmpdir))
                return -1;
        snprintf(gone_program, sizeof(gone_program), "%s/gone.sh", tmpdir);
        FILE *f = fopen(gone_program, "w");
        if (!f)
                return -1;
        fputs("#!/bin/sh\nexit 0\n", f);
        fclose(f);
        chmod(gone_program, 0755);
        snprintf(yaml, sizeof(yaml),
                 "plugins:\n  load:\n    - path: " PLUGIN_DIR "/exec.so\n      config:\n"
                 "        kill_grace: 100ms\n        commands:\n" COMMANDS_YAML,
                 gone_program);
        /* COMMANDS_YAML's %% became % above; its indentation nests it under commands. */
        if (fc_sched_create(&o, &pool) < 0)
                return -1;
        int r = pt_load(yaml, false, &config, &set, &e);
        if (r < 0)
                fprintf(stderr, "%s", pt_errors_text(e));
        fc_config_errors_free(e);
        return r;
}

static int teardown(void **state) {
        char cmd[400];
        fc_plugin_set_unref(set);
        fc_config_free(config);
        if (pool)
                fc_sched_destroy(pool);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static fc_job_t *run(const char *payload, int64_t deadline_ms) {
        return pt_run(pool, set, payload, deadline_ms);
}

/* The process id the plugin logged for the command it started. */
static pid_t logged_pid(const char *log) {
        const char *p = strstr(log, " as process ");
        int pid = -1;
        assert_non_null(p);
        assert_int_equal(sscanf(p, " as process %d", &pid), 1);
        return pid;
}

static pid_t read_pid(const char *path) {
        FILE *f = fopen(path, "r");
        int pid = -1;
        if (!f)
                return -1;
        if (fscanf(f, "%d", &pid) != 1)
                pid = -1;
        fclose(f);
        return pid;
}

/* Reaps the group's orphans (they were re-parented to us) and asserts the
 * group is empty. The plugin sent SIGKILL before returning, so they are
 * already dying; wait (up to 10 s) only for the kernel to finish them. */
static void assert_group_gone(pid_t pgid) {
        for (int i = 0; i < 1000; i++) {
                while (waitpid(-pgid, NULL, WNOHANG) > 0)
                        ;
                if (kill(-pgid, 0) < 0 && errno == ESRCH)
                        break;
                usleep(10 * 1000);
        }
        errno = 0;
        assert_int_equal(kill(-pgid, 0), -1);
        assert_int_equal(errno, ESRCH);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_success_logs_output_and_passes_args_unsplit(void **state) {
        capture_start();
        fc_job_t *job =
                run("{\"class\":\"Exec\",\"jid\":\"abc123\",\"args\":[\"show\",\"a b\",\"$(id)\",\"c\"]}",
                    FC_FOREVER);
        const char *log = capture_end();
        assert_int_equal(job->status, FC_JOB_OK);
        assert_non_null(strstr(log, "show (stdout): out-line-1\n"));
        assert_non_null(strstr(log, "warning: "));
        assert_non_null(strstr(log, "show (stderr): err-line\n"));
        assert_non_null(strstr(log, "show (stdout): jid=abc123\n"));
        /* Each job arg is one argument, taken literally: no shell between. */
        assert_non_null(strstr(log, "show (stdout): a b|$(id)|c|\n"));
        fc_job_free(job);
}

static void test_nonzero_exit_retries_with_the_status(void **state) {
        fc_job_t *job = run("{\"class\":\"Exec\",\"args\":[\"fail3\"]}", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::ExitStatus");
        assert_non_null(strstr(job->error_message, "exited with status 3"));
        assert_non_null(strstr(job->error_message, "fail3"));
        fc_job_free(job);
}

static void test_deadline_kills_the_process_group(void **state) {
        char payload[512], pidfile[320], bgfile[330];
        snprintf(pidfile, sizeof(pidfile), "%s/hang.pid", tmpdir);
        snprintf(bgfile, sizeof(bgfile), "%s.bg", pidfile);
        snprintf(payload, sizeof(payload), "{\"class\":\"Exec\",\"args\":[\"hang\",\"%s\"]}", pidfile);
        capture_start();
        fc_job_t *job = run(payload, 200);
        const char *log = capture_end();
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::Cancelled");
        assert_non_null(strstr(job->error_message, "deadline"));
        pid_t pgid = logged_pid(log);
        assert_true(pgid > 1);
        assert_group_gone(pgid);
        /* When the shell got as far as starting its background sleep (it
         * normally does long before 200 ms), that one is gone too. */
        pid_t bg = read_pid(bgfile);
        if (bg > 0)
                assert_true(kill(bg, 0) < 0 && errno == ESRCH);
        fc_job_free(job);
}

/* The command ignores SIGTERM (and so does its background child): cancelled
 * once both run for sure, the group must get SIGKILL after kill_grace. */
typedef struct cancel_run {
        fc_job_t *job;
        const fc_plugin_handler_t *h;
} cancel_run_t;

static void run_job_coro(void *arg) {
        cancel_run_t *c = arg;
        fc_host_run(c->h, c->job);
}

static void test_cancel_kills_a_group_that_ignores_sigterm(void **state) {
        char payload[512], pidfile[320], bgfile[330], err[256];
        cancel_run_t c = {0};
        fc_coro_t *co;
        snprintf(pidfile, sizeof(pidfile), "%s/stubborn.pid", tmpdir);
        snprintf(bgfile, sizeof(bgfile), "%s.bg", pidfile);
        snprintf(payload, sizeof(payload), "{\"class\":\"Exec\",\"args\":[\"stubborn\",\"%s\"]}", pidfile);
        assert_int_equal(fc_job_parse(payload, strlen(payload), &c.job, err, sizeof(err)), 0);
        c.h = fc_plugin_set_find(set, "Exec");
        assert_non_null(c.h);
        assert_int_equal(fc_spawn(pool, run_job_coro, &c, &co), 0);
        /* Wait (up to 10 s) until the shell has written both pids. */
        pid_t pgid = -1, bg = -1;
        for (int i = 0; i < 1000 && (pgid <= 0 || bg <= 0); i++) {
                usleep(10 * 1000);
                pgid = read_pid(pidfile);
                bg = read_pid(bgfile);
        }
        assert_true(pgid > 1 && bg > 1);
        assert_int_equal(kill(bg, 0), 0);
        fc_cancel(co);
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(c.job->status, FC_JOB_RETRY);
        assert_non_null(strstr(c.job->error_message, "SIGKILL"));
        assert_non_null(strstr(c.job->error_message, "killed by signal 9"));
        assert_group_gone(pgid);
        assert_true(kill(bg, 0) < 0 && errno == ESRCH);
        fc_job_free(c.job);
}

static void test_command_timeout_retries(void **state) {
        fc_job_t *job = run("{\"class\":\"Exec\",\"args\":[\"slow\"]}", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::Timeout");
        assert_non_null(strstr(job->error_message, "timeout of 300 ms"));
        fc_job_free(job);
}

/* A command writing without pause must not keep the handler reading: its
 * timeout is still seen. */
static void test_flooding_output_does_not_hold_the_thread(void **state) {
        capture_start();
        fc_job_t *job = run("{\"class\":\"Exec\",\"args\":[\"flood\"]}", FC_FOREVER);
        const char *log = capture_end();
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::Timeout");
        assert_non_null(strstr(log, "flood (stdout): flood\n"));
        fc_job_free(job);
}

static void test_bad_args_are_dead(void **state) {
        static const struct {
                const char *payload, *error;
        } cases[] = {
                {"{\"class\":\"Exec\",\"args\":[\"rm\",\"-rf\"]}",
                 "unknown command \"rm\"; exec.so's config names "
                 "\"show\", \"fail3\""},
                {"{\"class\":\"Exec\",\"args\":[]}", "Exec expects args [command, arg...]"},
                {"{\"class\":\"Exec\",\"args\":[42]}", "first arg that is not a string"},
                {"{\"class\":\"Exec\",\"args\":[\"echo\",\"ok\",7]}", "argument 2 is a number"},
                {"{\"class\":\"Exec\",\"args\":[\"echo\",{\"a\":1}]}", "argument 1 is an object"},
                {"{\"class\":\"Exec\",\"args\":[\"echo\",\"-n\"]}", "argument 1 (\"-n\") starts with '-'"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fc_job_t *job = run(cases[i].payload, FC_FOREVER);
                if (!strstr(job->error_message, cases[i].error))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, job->error_message, cases[i].error);
                assert_int_equal(job->status, FC_JOB_DEAD);
                fc_job_free(job);
        }
}

static void test_dash_args_pass_after_a_configured_double_dash(void **state) {
        /* "dashy" ends its argv with "--", so a dash arg is accepted; the
         * command then exits 5. */
        fc_job_t *job = run("{\"class\":\"Exec\",\"args\":[\"dashy\",\"-x\"]}", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::ExitStatus");
        assert_non_null(strstr(job->error_message, "exited with status 5"));
        fc_job_free(job);
}

static void test_missing_program_at_spawn_retries(void **state) {
        assert_int_equal(unlink(gone_program), 0);
        fc_job_t *job = run("{\"class\":\"Exec\",\"args\":[\"gone\"]}", FC_FOREVER);
        assert_int_equal(job->status, FC_JOB_RETRY);
        assert_string_equal(job->error_class, "Exec::SpawnError");
        assert_non_null(strstr(job->error_message, "No such file or directory"));
        assert_non_null(strstr(job->error_message, gone_program));
        fc_job_free(job);
}

/* Every configuration mistake is reported at its line and column, all of
 * them at once. */
static void test_config_errors_have_positions(void **state) {
        char yaml[2048], noexec[320];
        snprintf(noexec, sizeof(noexec), "%s/noexec", tmpdir);
        FILE *f = fopen(noexec, "w");
        assert_non_null(f);
        fclose(f);
        chmod(noexec, 0644);
        snprintf(yaml, sizeof(yaml),
                 "plugins:\n"                                                /* 1 */
                 "  load:\n"                                                 /* 2 */
                 "    - path: " PLUGIN_DIR "/exec.so\n"                      /* 3 */
                 "      config:\n"                                           /* 4 */
                 "        kill_grace: soon\n"                                /* 5 */
                 "        colour: blue\n"                                    /* 6 */
                 "        commands:\n"                                       /* 7 */
                 "          rel: {argv: [convert, x]}\n"                     /* 8 */
                 "          missing: {argv: [/no/such/prog]}\n"              /* 9 */
                 "          noexec: {argv: [%s]}\n"                          /* 10 */
                 "          slow: {argv: [/bin/true], timeout: 5 minutes}\n" /* 11 */
                 "          odd: {argv: [/bin/true], shell: yes}\n"          /* 12 */
                 "          empty: {timeout: 1s}\n"                          /* 13 */
                 "          envy: {argv: [/bin/true], env: {1BAD: x}}\n",    /* 14 */
                 noexec);
        fc_config_t *c = NULL;
        fc_plugin_set_t *s = NULL;
        fc_config_errors_t *e = NULL;
        assert_int_equal(pt_load(yaml, false, &c, &s, &e), -EINVAL);
        assert_null(s);
        const char *text = pt_errors_text(e);
        fprintf(stderr, "%s", text);
        char want[600];
        const char *expected[] = {
                "test.yaml:5:21: plugins.load[0].config.kill_grace: expected a duration",
                "test.yaml:6:17: plugins.load[0].config.colour: unknown key \"colour\" (exec.so knows "
                "commands, "
                "kill_grace, max_line)",
                "test.yaml:8:24: plugins.load[0].config.commands.rel.argv[0]: expected an absolute path "
                "(starting "
                "with /), got \"convert\"",
                "test.yaml:9:28: plugins.load[0].config.commands.missing.argv[0]: cannot use "
                "\"/no/such/prog\": No "
                "such file or directory",
                "test.yaml:11:46: plugins.load[0].config.commands.slow.timeout: expected a duration",
                "test.yaml:12:43: plugins.load[0].config.commands.odd.shell: unknown key \"shell\"",
                "test.yaml:13:18: plugins.load[0].config.commands.empty: command \"empty\" has no argv",
                "test.yaml:14:49: plugins.load[0].config.commands.envy.env.1BAD: \"1BAD\" is not a variable "
                "name",
        };
        for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
                if (!strstr(text, expected[i]))
                        fail_msg("missing error: %s", expected[i]);
        snprintf(want, sizeof(want),
                 "test.yaml:10:27: plugins.load[0].config.commands.noexec.argv[0]: \"%s\" is not executable",
                 noexec);
        assert_non_null(strstr(text, want));
        fc_config_errors_free(e);
        fc_config_free(c);
}

static void test_config_without_commands_is_refused(void **state) {
        fc_config_t *c = NULL;
        fc_plugin_set_t *s = NULL;
        fc_config_errors_t *e = NULL;
        assert_int_equal(pt_load("plugins:\n  load:\n    - path: " PLUGIN_DIR "/exec.so\n      config: {}\n",
                                 false, &c, &s, &e),
                         -EINVAL);
        assert_non_null(strstr(pt_errors_text(e), "test.yaml:4:15: plugins.load[0].config: no commands"));
        fc_config_errors_free(e);
        fc_config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_success_logs_output_and_passes_args_unsplit),
                cmocka_unit_test(test_nonzero_exit_retries_with_the_status),
                cmocka_unit_test(test_deadline_kills_the_process_group),
                cmocka_unit_test(test_cancel_kills_a_group_that_ignores_sigterm),
                cmocka_unit_test(test_command_timeout_retries),
                cmocka_unit_test(test_flooding_output_does_not_hold_the_thread),
                cmocka_unit_test(test_bad_args_are_dead),
                cmocka_unit_test(test_dash_args_pass_after_a_configured_double_dash),
                cmocka_unit_test(test_missing_program_at_spawn_retries),
                cmocka_unit_test(test_config_errors_have_positions),
                cmocka_unit_test(test_config_without_commands_is_refused),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
