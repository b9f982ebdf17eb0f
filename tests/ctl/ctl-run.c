#include "ctl-run.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef FLOWCOROCTL_PATH
#error "the build passes FLOWCOROCTL_PATH"
#endif

void ctl_env_init(ctl_env_t *e, const char *yaml) {
        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "%s/fc-ctl-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(e->dir));
        snprintf(e->config, sizeof(e->config), "%s/flowcoro.yaml", e->dir);
        ctl_write_file(e, "flowcoro.yaml", yaml);
}

void ctl_env_free(ctl_env_t *e) {
        if (!e->dir[0])
                return;
        DIR *d = opendir(e->dir);
        struct dirent *entry;
        while (d && (entry = readdir(d))) {
                char path[600];
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", e->dir, entry->d_name);
                unlink(path);
        }
        if (d)
                closedir(d);
        rmdir(e->dir);
        e->dir[0] = '\0';
}

const char *ctl_write_file(const ctl_env_t *e, const char *name, const char *text) {
        static char path[600];
        snprintf(path, sizeof(path), "%s/%s", e->dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return path;
}

#define MAX_ARGS 40

static void run_argv(fc_test_output_t *o, const char *in, const char **words, int n) {
        const char *argv[MAX_ARGS + 8];
        int argc = 0;
        if (in) {
                /* fc_test_run() gives no standard input: let a shell redirect it. */
                argv[argc++] = "/bin/sh";
                argv[argc++] = "-c";
                argv[argc++] = "f=$1; shift; exec \"$@\" < \"$f\"";
                argv[argc++] = "sh";
                argv[argc++] = in;
        }
        for (int i = 0; i < n; i++)
                argv[argc++] = words[i];
        argv[argc] = NULL;
        assert_int_equal(fc_test_run(argv, 60, o), 0);
}

static int collect(const char **words, int n, va_list ap) {
        for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
                assert_true(n < MAX_ARGS);
                words[n++] = a;
        }
        return n;
}

void ctl_run(fc_test_output_t *o, const ctl_env_t *e, const char *in, ...) {
        const char *words[MAX_ARGS + 1] = {FLOWCOROCTL_PATH, "-c", e->config};
        va_list ap;
        va_start(ap, in);
        int n = collect(words, 3, ap);
        va_end(ap);
        run_argv(o, in, words, n);
}

void ctl_run_bare(fc_test_output_t *o, const char *in, ...) {
        const char *words[MAX_ARGS + 1] = {FLOWCOROCTL_PATH};
        va_list ap;
        va_start(ap, in);
        int n = collect(words, 1, ap);
        va_end(ap);
        run_argv(o, in, words, n);
}

json_t *ctl_json(const fc_test_output_t *o) {
        json_error_t err;
        json_t *v = json_loads(o->out, JSON_DECODE_ANY, &err);
        if (!v) {
                ctl_dump("not JSON", o);
                fail_msg("flowcoroctl's output is not JSON: %s", err.text);
        }
        return v;
}

void ctl_dump(const char *what, const fc_test_output_t *o) {
        fprintf(stderr, "---- %s: exit %d ----\nstdout:\n%s\nstderr:\n%s\n----\n", what, o->exit_code, o->out,
                o->err);
}
