/* core/stack.c and the overflow handler: a coroutine that overflows its
 * stack is reported by number before the process aborts, and running out of
 * stacks is an error that names the limit. Each case runs in a child
 * process, since it ends that process or exhausts its resources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flowcoro/core.h"

typedef struct child {
        int status;
        char err[4096];
} child_t;

/* Runs fn in a child with stderr captured; fn's return is the exit code. */
static void run_child(int (*fn)(void), child_t *c) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], 2);
                close(p[0]);
                _exit(fn());
        }
        close(p[1]);
        size_t len = 0;
        ssize_t n;
        while ((n = read(p[0], c->err + len, sizeof(c->err) - 1 - len)) > 0)
                len += (size_t)n;
        c->err[len] = '\0';
        close(p[0]);
        assert_int_equal(waitpid(pid, &c->status, 0), pid);
}

static int recurse(int depth) {
        volatile char frame[1024];
        frame[0] = (char)depth;
        return depth > 1000000 ? frame[0] : recurse(depth + 1) + frame[0];
}

static void overflow(void *arg) {
        *(int *)arg = recurse(0);
}

static int overflow_child(void) {
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 1};
        int sink = 0;
        fc_coro_t *co;
        if (fc_sched_create(&o, &s) < 0 || fc_spawn(s, overflow, &sink, &co) < 0)
                return 10;
        fc_join(co);
        return 11; /* not reached: the overflow ends the process */
}

static void test_overflow_is_reported_then_aborts(void **state) {
        child_t c;
        run_child(overflow_child, &c);
        assert_true(WIFSIGNALED(c.status));
        assert_int_equal(WTERMSIG(c.status), SIGABRT);
        assert_non_null(strstr(c.err, "flowcoro: coroutine "));
        assert_non_null(strstr(c.err, " overflowed its stack of 64 KiB (on scheduler thread 0)"));
}

#ifndef FC_TEST_SANITIZED
/* Sanitizer runtimes need far more address space and maps than these
 * cases leave, so they run in the plain build only. */

static void sleep_forever(void *arg) {
        fc_sleep(FC_FOREVER);
}

/* Spawns sleepers until a spawn fails; prints the error for the parent. */
static int spawn_until_failure(fc_sched_t *s) {
        for (int i = 0; i < 1000000; i++) {
                int r = fc_spawn(s, sleep_forever, NULL, NULL);
                if (r < 0) {
                        fprintf(stderr, "spawn %d failed: %d: %s\n", i, r, fc_last_error());
                        fc_sched_destroy(s);
                        return r == -ENOMEM ? 0 : 20;
                }
        }
        return 21;
}

static int address_space_child(void) {
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 1, .stack_size = 1024 * 1024};
        if (fc_sched_create(&o, &s) < 0)
                return 10;
        struct rlimit rl;
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (!f || fscanf(f, "%lu", &pages) != 1)
                return 12;
        fclose(f);
        rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + 64ul * 1024 * 1024;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
                return 13;
        return spawn_until_failure(s);
}

static void test_out_of_address_space_is_an_error(void **state) {
        child_t c;
        run_child(address_space_child, &c);
        assert_true(WIFEXITED(c.status));
        assert_int_equal(WEXITSTATUS(c.status), 0);
        assert_non_null(strstr(c.err, "cannot map a 1024 KiB coroutine stack"));
}

static int map_count_child(void) {
        fc_sched_t *s;
        fc_sched_options_t o = {.threads = 1};
        if (fc_sched_create(&o, &s) < 0)
                return 10;
        /* Use up the map-count limit with single pages whose protections
         * alternate, so the kernel can't merge them. */
        long page = sysconf(_SC_PAGESIZE);
        for (int i = 0;; i++) {
                void *p = mmap(NULL, (size_t)page, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);
                if (p == MAP_FAILED)
                        break;
        }
        return spawn_until_failure(s);
}

static void test_map_count_limit_is_named(void **state) {
        child_t c;
        run_child(map_count_child, &c);
        assert_true(WIFEXITED(c.status));
        assert_int_equal(WEXITSTATUS(c.status), 0);
        assert_non_null(strstr(c.err, "vm.max_map_count"));
        assert_non_null(strstr(c.err, "sysctl -w vm.max_map_count="));
}
#endif

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_overflow_is_reported_then_aborts),
#ifndef FC_TEST_SANITIZED
                cmocka_unit_test(test_out_of_address_space_is_an_error),
                cmocka_unit_test(test_map_count_limit_is_named),
#endif
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
