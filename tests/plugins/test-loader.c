/* plugins/loader.c: loading, ABI checks, permission checks, a class claimed
 * twice, init refusing its config, and a reload while jobs still run on the
 * old generation. Real .so files, real dlopen, real host table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_test.h"

static char yaml[4096];

static const char *one_plugin(const char *path) {
        snprintf(yaml, sizeof(yaml), "plugins:\n  load:\n    - path: %s\n", path);
        return yaml;
}

static void test_examples_load_and_offer_their_classes(void **state) {
        fc_config_t *c;
        fc_plugin_set_t *set;
        fc_config_errors_t *e;
        assert_int_equal(pt_load(one_plugin(PLUGIN_DIR "/examples.so"), false, &c, &set, &e), 0);
        assert_int_equal(fc_config_errors_count(e), 0);
        assert_int_equal(fc_plugin_set_plugins(set), 1);
        assert_int_equal(fc_plugin_set_handlers(set), 8);
        const char *classes[] = {"Noop", "Sleep", "Echo", "Fail", "Record", "Crash"};
        for (size_t i = 0; i < 6; i++) {
                const fc_plugin_handler_t *h = fc_plugin_set_find(set, classes[i]);
                assert_non_null(h);
                assert_string_equal(h->def->class_name, classes[i]);
                assert_string_equal(fc_loaded_plugin_name(h->plugin), "examples");
                assert_string_equal(fc_loaded_plugin_version(h->plugin), "1.0.0");
        }
        assert_null(fc_plugin_set_find(set, "Nope"));
        fc_plugin_set_unref(set);
        fc_config_errors_free(e);
        fc_config_free(c);
}

/* Loads one file that must be refused; returns the error text. */
static const char *refused(const char *path, const char *extra_yaml) {
        fc_config_t *c;
        fc_plugin_set_t *set;
        fc_config_errors_t *e;
        snprintf(yaml, sizeof(yaml), "plugins:\n  load:\n    - path: %s\n%s", path, extra_yaml ? extra_yaml : "");
        assert_int_equal(pt_load(yaml, false, &c, &set, &e), -EINVAL);
        assert_null(set);
        assert_true(fc_config_errors_count(e) >= 1);
        const char *text = pt_errors_text(e);
        fc_config_errors_free(e);
        fc_config_free(c);
        return text;
}

static void test_abi_checks_refuse_with_clear_messages(void **state) {
        const char *t = refused(FIXTURE_DIR "/noentry.so", NULL);
        assert_non_null(strstr(t, "test.yaml:3:7: plugins.load: "));
        assert_non_null(strstr(t, "noentry.so has no flowcoro_plugin_entry() entry point"));

        t = refused(FIXTURE_DIR "/badmagic.so", NULL);
        assert_non_null(strstr(t, "badmagic.so is not a FlowCoro plugin (bad magic"));

        t = refused(FIXTURE_DIR "/badabi.so", NULL);
        assert_non_null(strstr(t, "badabi.so was built for plugin ABI 99.3, but this flowcorod speaks ABI 1.0"));

        t = refused(FIXTURE_DIR "/smalldesc.so", NULL);
        assert_non_null(strstr(t, "its descriptor is 16 bytes, too small"));

        t = refused(FIXTURE_DIR "/no-such-plugin.so", NULL);
        assert_non_null(strstr(t, "cannot open " FIXTURE_DIR "/no-such-plugin.so: No such file or directory"));

        /* Not a shared object at all. */
        t = refused(TEST_WORK_DIR "/CMakeFiles/../Makefile", NULL);
        assert_non_null(strstr(t, "cannot load "));
}

static void test_class_claimed_twice_names_both_files(void **state) {
        fc_config_t *c;
        fc_plugin_set_t *set;
        fc_config_errors_t *e;
        snprintf(yaml, sizeof(yaml), "plugins:\n  load:\n    - %s\n    - %s\n", PLUGIN_DIR "/examples.so",
                 FIXTURE_DIR "/dupclass.so");
        assert_int_equal(pt_load(yaml, false, &c, &set, &e), -EINVAL);
        assert_null(set);
        const char *t = pt_errors_text(e);
        assert_non_null(strstr(t, "test.yaml:4:7: plugins.load: job class \"Noop\" is claimed by both"));
        assert_non_null(strstr(t, PLUGIN_DIR "/examples.so"));
        assert_non_null(strstr(t, FIXTURE_DIR "/dupclass.so"));
        fc_config_errors_free(e);
        fc_config_free(c);
}

static void test_init_refusing_config_reports_positions(void **state) {
        const char *t = refused(FIXTURE_DIR "/initfail.so", "      config:\n        anything: 1\n");
        assert_non_null(strstr(t, "test.yaml:5:9: plugins.load[0].config: initfail refuses every configuration"));

        t = refused(FIXTURE_DIR "/initfail.so", NULL);
        assert_non_null(strstr(t, "plugin initfail (" FIXTURE_DIR "/initfail.so) refused its configuration"));

        t = refused(PLUGIN_DIR "/examples.so", "      config:\n        allow_crash: maybe\n        colour: red\n");
        assert_non_null(strstr(t, "test.yaml:5:22: plugins.load[0].config.allow_crash: expected true or false"));
        assert_non_null(strstr(t, "test.yaml:6:17: plugins.load[0].config.colour: unknown key \"colour\""));

        t = refused(PLUGIN_DIR "/examples.so", "      config: [1, 2]\n");
        assert_non_null(strstr(t, "test.yaml:4:15: plugins.load[0].config: expected a mapping of settings"));
}

/* ---- permissions ------------------------------------------------------ */

static char perm_dir[512], perm_file[600];

static void copy_file(const char *from, const char *to) {
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
        assert_int_equal(system(cmd), 0);
}

static int load_checked(const char **text) {
        fc_config_t *c;
        fc_plugin_set_t *set;
        fc_config_errors_t *e;
        int r = pt_load(one_plugin(perm_file), true, &c, &set, &e);
        *text = pt_errors_text(e);
        fc_plugin_set_unref(set);
        fc_config_errors_free(e);
        fc_config_free(c);
        return r;
}

/* True when dir and every directory above it pass the loader's check, so
 * that a file placed below them is judged by its own mode alone. */
static bool ancestors_safe(const char *dir) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s", dir);
        for (;;) {
                if (stat(path, &st) < 0 || (st.st_uid != 0 && st.st_uid != getuid()) ||
                    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)))
                        return false;
                char *slash = strrchr(path, '/');
                if (!slash || slash == path)
                        return stat("/", &st) == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH));
                *slash = '\0';
        }
}

static void test_permission_checks(void **state) {
        const char *t;
        /* The build tree may sit below a world-writable directory (a clone
         * in /tmp); then work below a directory that is safe. */
        const char *candidates[] = {TEST_WORK_DIR, "/run", "/var/lib"};
        const char *base = NULL;
        for (size_t i = 0; i < 3 && !base; i++)
                if (ancestors_safe(candidates[i]) && access(candidates[i], W_OK) == 0)
                        base = candidates[i];
        if (!base)
                fail_msg("no writable directory whose ancestors pass the permission check (tried %s, /run, "
                         "/var/lib)", TEST_WORK_DIR);
        snprintf(perm_dir, sizeof(perm_dir), "%s/flowcoro-perm-XXXXXX", base);
        assert_non_null(mkdtemp(perm_dir));
        assert_int_equal(chmod(perm_dir, 0755), 0);
        snprintf(perm_file, sizeof(perm_file), "%s/examples.so", perm_dir);
        copy_file(PLUGIN_DIR "/examples.so", perm_file);

        assert_int_equal(chmod(perm_file, 0644), 0);
        assert_int_equal(load_checked(&t), 0);

        assert_int_equal(chmod(perm_file, 0666), 0);
        assert_int_equal(load_checked(&t), -EINVAL);
        assert_non_null(strstr(t, "examples.so is writable by others (mode 0666); run chmod go-w on it"));

        assert_int_equal(chmod(perm_file, 0664), 0);
        assert_int_equal(load_checked(&t), -EINVAL);
        assert_non_null(strstr(t, "is writable by its group (mode 0664)"));

        assert_int_equal(chmod(perm_file, 0644), 0);
        assert_int_equal(chmod(perm_dir, 0777), 0);
        assert_int_equal(load_checked(&t), -EINVAL);
        char expect[700];
        snprintf(expect, sizeof(expect), "%s is writable by others (mode 0777)", perm_dir);
        assert_non_null(strstr(t, expect));
        /* Sticky, like /tmp: others can't rename or remove what is ours. */
        assert_int_equal(chmod(perm_dir, 01777), 0);
        assert_int_equal(load_checked(&t), 0);
        assert_int_equal(chmod(perm_dir, 0755), 0);

        if (getuid() == 0) { /* only root can give a file away */
                assert_int_equal(chown(perm_file, 12345, 12345), 0);
                assert_int_equal(load_checked(&t), -EINVAL);
                assert_non_null(strstr(t, "examples.so is owned by uid 12345, not by root or the daemon's user"));
        }
}

/* Runs also when the test failed half-way. */
static int perm_cleanup(void **state) {
        if (perm_dir[0]) {
                chmod(perm_dir, 0755);
                unlink(perm_file);
                rmdir(perm_dir);
                perm_dir[0] = '\0';
        }
        return 0;
}

/* ---- reload: two generations at once ---------------------------------- */

typedef struct old_job {
        fc_plugin_set_t *set;
        fc_job_t *job;
        fc_job_status_t status;
        _Atomic int started;
} old_job_t;

static void run_on_old_set(void *arg) {
        old_job_t *o = arg;
        const fc_plugin_handler_t *h = fc_plugin_set_find(o->set, "Sleep");
        atomic_store(&o->started, 1);
        o->status = fc_host_run(h, o->job); /* sleeps inside the old image's code */
        fc_plugin_set_unref(o->set);        /* the job's reference */
}

static void test_reload_while_jobs_run_on_the_old_generation(void **state) {
        fc_sched_t *s;
        fc_sched_options_t so = {.threads = 2};
        assert_int_equal(fc_sched_create(&so, &s), 0);
        fc_config_t *c1, *c2;
        fc_plugin_set_t *old_set, *new_set;
        fc_config_errors_t *e1, *e2;
        assert_int_equal(pt_load(one_plugin(PLUGIN_DIR "/examples.so"), false, &c1, &old_set, &e1), 0);

        old_job_t o = {.set = fc_plugin_set_ref(old_set)};
        char err[128];
        const char *payload = "{\"class\":\"Sleep\",\"args\":[300],\"jid\":\"old\"}";
        assert_int_equal(fc_job_parse(payload, strlen(payload), &o.job, err, sizeof(err)), 0);
        fc_coro_t *co;
        assert_int_equal(fc_spawn(s, run_on_old_set, &o, &co), 0);
        while (!atomic_load(&o.started))
                fc_sleep(1);

        /* Reload: the same file again. It must come in as a new image. */
        assert_int_equal(pt_load(one_plugin(PLUGIN_DIR "/examples.so"), false, &c2, &new_set, &e2), 0);
        const fc_plugin_handler_t *h_old = fc_plugin_set_find(old_set, "Noop");
        const fc_plugin_handler_t *h_new = fc_plugin_set_find(new_set, "Noop");
        assert_ptr_not_equal(h_old->def->run, h_new->def->run);
        fc_plugin_set_unref(old_set); /* the daemon drops the old generation... */

        /* ...new jobs go to the new handlers while the old job sleeps... */
        fc_job_t *j = pt_run(s, new_set, "{\"class\":\"Noop\",\"args\":[]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);

        /* ...and the old job returns into its (still mapped) image. */
        assert_int_equal(fc_join(co), 0);
        assert_int_equal(o.status, FC_JOB_OK);
        fc_job_free(o.job);
        fc_plugin_set_unref(new_set);
        fc_config_errors_free(e1);
        fc_config_errors_free(e2);
        fc_config_free(c1);
        fc_config_free(c2);
        fc_sched_destroy(s);
}

/* A reload whose plugin refuses its new config fails with that message and
 * leaves the running set untouched. */
static void test_failed_reload_keeps_the_running_set(void **state) {
        fc_sched_t *s;
        fc_sched_options_t so = {.threads = 1};
        assert_int_equal(fc_sched_create(&so, &s), 0);
        fc_config_t *c1, *c2;
        fc_plugin_set_t *running, *next;
        fc_config_errors_t *e1, *e2;
        assert_int_equal(pt_load(one_plugin(PLUGIN_DIR "/examples.so"), false, &c1, &running, &e1), 0);
        snprintf(yaml, sizeof(yaml), "plugins:\n  load:\n    - path: %s\n      config: { allow_crash: 3 }\n",
                 PLUGIN_DIR "/examples.so");
        assert_int_equal(pt_load(yaml, false, &c2, &next, &e2), -EINVAL);
        assert_null(next);
        assert_non_null(strstr(pt_errors_text(e2), "plugins.load[0].config.allow_crash: expected true or false"));
        fc_job_t *j = pt_run(s, running, "{\"class\":\"Noop\",\"args\":[]}", FC_FOREVER);
        assert_int_equal(j->status, FC_JOB_OK);
        fc_job_free(j);
        fc_plugin_set_unref(running);
        fc_config_errors_free(e1);
        fc_config_errors_free(e2);
        fc_config_free(c1);
        fc_config_free(c2);
        fc_sched_destroy(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_load_and_offer_their_classes),
                cmocka_unit_test(test_abi_checks_refuse_with_clear_messages),
                cmocka_unit_test(test_class_claimed_twice_names_both_files),
                cmocka_unit_test(test_init_refusing_config_reports_positions),
                cmocka_unit_test_teardown(test_permission_checks, perm_cleanup),
                cmocka_unit_test(test_reload_while_jobs_run_on_the_old_generation),
                cmocka_unit_test(test_failed_reload_keeps_the_running_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
