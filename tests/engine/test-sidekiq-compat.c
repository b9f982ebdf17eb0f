/* Compatibility with the real Sidekiq 6.4.1 (Debian's ruby-sidekiq): its
 * client enqueues, its API (what the Web UI shows) reads processes, workers,
 * queues, retries, dead jobs and stats, and its Process#quiet! / #stop!
 * control a real flowcorod. The checks are in sidekiq-compat.rb, which this
 * program runs with ruby against its own redis-server and flowcorod; the
 * script prints every check it passed, or the first one that failed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/daemon.h"

#ifndef SIDEKIQ_COMPAT_RB
#error "the build passes SIDEKIQ_COMPAT_RB, the path of sidekiq-compat.rb"
#endif

#define RUBY_TIMEOUT_S 180

/* What sidekiq-compat.rb expects of the daemon (its CONCURRENCY, QUEUES, TAG). */
static const char daemon_config[] = "concurrency: 4\n"
                                    "shutdown_timeout: 5s\n"
                                    "queues:\n"
                                    "  - { name: default, weight: 2 }\n"
                                    "  - low\n"
                                    "control:\n"
                                    "  socket: \"\"\n";
static const char *const daemon_args[] = {"--instance", "compat", NULL};

static fc_test_redis_t redis;
static fc_test_daemon_t flowcorod;
static pid_t ruby = -1;

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Waits at most timeout_ms for the ruby child; returns its exit code (128 +
 * signal when killed), or -1 while it still runs. */
static int ruby_wait(int timeout_ms) {
        for (int waited = 0; ruby > 0; waited += 50) {
                int status;
                pid_t r = waitpid(ruby, &status, WNOHANG);
                if (r == ruby || (r < 0 && errno != EINTR)) {
                        ruby = -1;
                        if (r < 0)
                                return 128 + SIGKILL;
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                if (waited >= timeout_ms)
                        return -1;
                sleep_ms(50);
        }
        return -1;
}

static void ruby_kill(void) {
        if (ruby > 0) {
                kill(ruby, SIGKILL);
                ruby_wait(10000);
        }
}

/* Runs ruby SIDEKIQ_COMPAT_RB SOCKET PID with its output on ours (ctest
 * shows it) and returns its exit code; 128 + SIGKILL after RUBY_TIMEOUT_S. */
static int run_compat_script(void) {
        char pid[24];
        snprintf(pid, sizeof(pid), "%d", (int)flowcorod.pid);
        const char *argv[] = {"ruby", SIDEKIQ_COMPAT_RB, redis.socket_path, pid, NULL};
        printf("running: ruby %s %s %s\n", SIDEKIQ_COMPAT_RB, redis.socket_path, pid);
        fflush(stdout);
        fflush(stderr);
        pid_t parent = getpid();
        ruby = fork();
        if (ruby < 0)
                return -errno;
        if (ruby == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                execvp(argv[0], (char *const *)argv);
                fprintf(stderr, "test-sidekiq-compat: cannot run ruby: %s (packaging/install-deps installs "
                                "ruby-sidekiq)\n", strerror(errno));
                _exit(127);
        }
        int code = ruby_wait(RUBY_TIMEOUT_S * 1000);
        if (code < 0) {
                fprintf(stderr, "test-sidekiq-compat: %s still runs after %d s: killed\n", SIDEKIQ_COMPAT_RB,
                        RUBY_TIMEOUT_S);
                ruby_kill();
                code = 128 + SIGKILL;
        }
        return code;
}

static void print_daemon_log(void) {
        char *log = fc_test_daemon_log(&flowcorod);
        fprintf(stderr, "---- flowcorod's log ----\n%s---- end of flowcorod's log ----\n", log ? log : "(none)\n");
        free(log);
}

static int setup(void **state) {
        (void)state;
        return fc_test_redis_start(&redis, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        (void)state;
        fc_test_redis_stop(&redis);
        return 0;
}

/* After each test, also one that failed: a script or daemon it left running
 * would go on working on the shared Redis during the tests after it. */
static int stop_children(void **state) {
        (void)state;
        ruby_kill();
        fc_test_daemon_stop(&flowcorod);
        return 0;
}

static void test_sidekiq_client_and_api_see_flowcorod(void **state) {
        (void)state;
        assert_int_equal(fc_test_daemon_start(&flowcorod, &redis, daemon_config, daemon_args), 0);
        int code = run_compat_script();
        if (code != 0) {
                fprintf(stderr, "test-sidekiq-compat: %s exited with %d\n", SIDEKIQ_COMPAT_RB, code);
                print_daemon_log();
        }
        assert_int_equal(code, 0);
        /* The script's last step was Sidekiq::Process#stop!: flowcorod exits by itself. */
        bool exited = fc_test_daemon_wait(&flowcorod, 30000);
        if (!exited || flowcorod.exit_code != 0) {
                fprintf(stderr, "test-sidekiq-compat: flowcorod %s after Process#stop!\n",
                        exited ? "exited with an error" : "did not exit within 30 s");
                print_daemon_log();
        }
        assert_true(exited);
        assert_int_equal(flowcorod.exit_code, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_sidekiq_client_and_api_see_flowcorod, stop_children),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
