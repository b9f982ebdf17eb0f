/* flowcorod: the FlowCoro job-processing daemon.
 *
 * It runs in the foreground and never forks (systemd supervises it), logs to
 * stderr, and stops on SIGTERM or SIGINT after putting unfinished jobs back
 * (engine.h). Exit codes follow sysexits.h: 64 for a bad command line, 78
 * (EX_CONFIG) for a bad configuration, 69 when the engine can't start, 1
 * when jobs could not be put back at shutdown. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "devredis.h"
#include "engine.h"
#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "flowcoro/version.h"
#include "host.h"
#include "loader.h"
#include "log.h"

#define DEFAULT_CONFIG "/etc/flowcoro/flowcoro.yaml"
/* Loads the configuration and its plugins, printing every error. Returns 0
 * or EX_CONFIG. On success *config and *plugins are the caller's. */
static int load_everything(const char *path, bool check_permissions, fc_config_t **config,
                           fc_plugin_set_t **plugins) {
        _cleanup_config_errors_ fc_config_errors_t *errors = NULL;
        int r = fc_config_load(path, config, &errors);
        if (r < 0) {
                if (errors)
                        fc_config_errors_print(errors, stderr);
                else
                        fprintf(stderr, "flowcorod: %s: out of memory\n", path);
                return EX_CONFIG;
        }
        fc_config_errors_free(errors);
        errors = fc_config_errors_new();
        fc_plugin_options_t options = {
                .host = fc_host(), .check_permissions = check_permissions, .owner_uid = geteuid()};
        r = fc_plugin_set_load(*config, &options, plugins, errors);
        if (r < 0) {
                if (fc_config_errors_count(errors))
                        fc_config_errors_print(errors, stderr);
                else
                        fprintf(stderr, "flowcorod: %s: cannot load plugins: out of memory\n", path);
                fc_config_free(*config);
                *config = NULL;
                return EX_CONFIG;
        }
        return 0;
}

static void usage(FILE *out) {
        fprintf(out,
                "Usage: flowcorod [OPTION]...\n"
                "Run the FlowCoro job-processing daemon in the foreground (SIGTERM or SIGINT stop it,\n"
                "putting unfinished jobs back; SIGTSTP makes it quiet: no new jobs).\n"
                "\n"
                "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
                "      --check-config  check the configuration and its plugins, then exit:\n"
                "                      0 when valid, 78 with the errors when not\n"
                "      --dev           start a private redis-server (unix socket in a temporary\n"
                "                      directory) and use it instead of redis.url; without -c,\n"
                "                      run the bundled example plugins with the defaults\n"
                "      --instance NAME this daemon's name on its host (default \"default\"): a\n"
                "                      restarted daemon takes back the jobs its dead predecessor\n"
                "                      of the same name left in flight, at once\n"
                "      --insecure-plugins  load plugin files even when group/other-writable or\n"
                "                      owned by another user (development only)\n"
                "  -h, --help          show this help and exit\n"
                "  -V, --version       show the version and exit\n");
}

/* Where the bundled plugins are: next to the build tree's daemon, or under
 * the installation prefix. */
static int find_plugin_dir(char *out, size_t size) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n < 0)
                return -errno;
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
                *slash = '\0';
        const char *candidates[] = {"%s/../plugins", "%s/../" FC_PLUGIN_DIR_REL};
        for (size_t i = 0; i < 2; i++) {
                char probe[PATH_MAX + 64];
                snprintf(out, size, candidates[i], exe);
                snprintf(probe, sizeof(probe), "%s/examples.so", out);
                if (access(probe, R_OK) == 0)
                        return 0;
        }
        return -ENOENT;
}

/* The configuration of --dev without -c: the example plugins and the
 * private Redis. Written next to that Redis's socket. */
static int write_dev_config(const fc_devredis_t *d, char *path, size_t size) {
        char plugins[PATH_MAX];
        if (find_plugin_dir(plugins, sizeof(plugins)) < 0) {
                fprintf(stderr, "flowcorod --dev: cannot find the bundled plugins (examples.so) next to this "
                                "program or under its installation prefix\n");
                return -ENOENT;
        }
        snprintf(path, size, "%s/flowcoro.yaml", d->dir);
        FILE *f = fopen(path, "we");
        if (!f) {
                fprintf(stderr, "flowcorod --dev: cannot write %s: %s\n", path, strerror(errno));
                return -errno;
        }
        fprintf(f,
                "# flowcorod --dev: a private Redis and the bundled example plugins\n"
                "redis:\n  url: unix://%s\n"
                "plugins:\n  directory: %s\n  load:\n    - examples.so\n"
                "concurrency: 20000\n"
                "shutdown_timeout: 5s\n",
                d->socket_path, plugins);
        return fclose(f) == 0 ? 0 : -EIO;
}

typedef struct daemon_run {
        fc_engine_t *engine;
        int signal_fd;
        int result;
} daemon_run_t;

/* Turns signals into engine requests. */
static void signal_watcher(void *arg) {
        daemon_run_t *run = arg;
        struct signalfd_siginfo si;
        while (fc_wait_fd(run->signal_fd, EPOLLIN, FC_FOREVER) > 0) {
                if (read(run->signal_fd, &si, sizeof(si)) != sizeof(si))
                        continue;
                switch (si.ssi_signo) {
                case SIGTERM:
                case SIGINT:
                        fc_log(FC_LOG_NOTICE, "received SIG%s", sigabbrev_np((int)si.ssi_signo));
                        fc_engine_stop(run->engine);
                        break;
                case SIGTSTP:
                        fc_engine_quiet(run->engine);
                        break;
                case SIGHUP:
                        fc_log(FC_LOG_WARNING, "SIGHUP ignored: reloading a running daemon is not available yet");
                        break;
                }
        }
}

static void daemon_main(void *arg) {
        daemon_run_t *run = arg;
        fc_coro_t *watcher = NULL;
        if (fc_spawn_here(signal_watcher, run, &watcher) < 0) {
                fc_log(FC_LOG_ERROR, "cannot watch signals: %s", fc_last_error());
                run->result = -ENOMEM;
                return;
        }
        run->result = fc_engine_run(run->engine);
        fc_cancel(watcher);
        fc_join(watcher);
}

/* Runs the engine until a stop signal. Returns the exit code. */
static int run_daemon(const fc_config_t *config, fc_plugin_set_t *plugins, const char *instance,
                      const fc_devredis_t *dev) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTSTP);
        sigaddset(&mask, SIGHUP);
        /* Blocked before any thread starts, so every thread inherits it and
         * only the signalfd sees them. */
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        daemon_run_t run = {.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
        if (run.signal_fd < 0) {
                fprintf(stderr, "flowcorod: signalfd: %s\n", strerror(errno));
                return EX_OSERR;
        }
        fc_sched_options_t so = {.threads = config->scheduler.threads,
                                 .stack_size = (size_t)config->scheduler.stack_size};
        fc_sched_t *sched = NULL;
        int r = fc_sched_create(&so, &sched);
        if (r < 0) {
                fprintf(stderr, "flowcorod: cannot start the scheduler threads: %s %s\n", strerror(-r),
                        fc_last_error());
                close(run.signal_fd);
                return EX_OSERR;
        }
        fc_redis_options_t ro;
        fc_redis_options_from_config(&ro, config);
        if (dev) {
                ro.transport = FC_REDIS_UNIX;
                ro.socket_path = dev->socket_path;
                ro.db = 0;
                ro.username = ro.password = NULL;
        }
        fc_engine_options_t eo = {
                .config = config, .plugins = plugins, .sched = sched, .redis = &ro, .instance = instance};
        r = fc_engine_new(&eo, &run.engine);
        fc_coro_t *main_coro = NULL;
        if (r == 0)
                r = fc_spawn(sched, daemon_main, &run, &main_coro);
        if (r == 0)
                fc_join(main_coro);
        else
                fprintf(stderr, "flowcorod: cannot start the engine: %s\n", strerror(-r));
        if (r == 0 && run.result == -EBUSY) {
                /* Jobs that ignore cancellation still run: their jobs are back in
                 * their queues, and the pool can't be stopped under them. */
                fflush(NULL);
                _exit(1);
        }
        fc_engine_free(run.engine);
        fc_sched_destroy(sched);
        close(run.signal_fd);
        return r < 0 ? EX_UNAVAILABLE : run.result < 0 ? 1 : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, 'C'},
                {"dev", no_argument, NULL, 'D'},
                {"instance", required_argument, NULL, 'i'},
                {"insecure-plugins", no_argument, NULL, 'I'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {0},
        };
        const char *config_path = NULL, *instance = "default";
        bool check_only = false, check_permissions = true, dev = false;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:hV", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'C':
                        check_only = true;
                        break;
                case 'D':
                        dev = true;
                        break;
                case 'i':
                        instance = optarg;
                        break;
                case 'I':
                        check_permissions = false;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case 'V':
                        printf("flowcorod %s\n", FC_VERSION_STRING);
                        return EXIT_SUCCESS;
                case ':':
                        fprintf(stderr, "flowcorod: option '%s' needs an argument\n", argv[optind - 1]);
                        return EX_USAGE;
                default:
                        fprintf(stderr, "flowcorod: unknown option '%s' (see flowcorod --help)\n",
                                argv[optind - 1]);
                        return EX_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "flowcorod: unexpected argument '%s' (see flowcorod --help)\n", argv[optind]);
                return EX_USAGE;
        }

        fc_devredis_t redis = {.pid = -1};
        char dev_config[PATH_MAX];
        if (dev && !check_only) {
                if (fc_devredis_start(&redis) < 0)
                        return EX_UNAVAILABLE;
                fprintf(stderr, "flowcorod --dev: private Redis at unix://%s\n", redis.socket_path);
                if (!config_path) {
                        if (write_dev_config(&redis, dev_config, sizeof(dev_config)) < 0) {
                                fc_devredis_stop(&redis);
                                return EX_UNAVAILABLE;
                        }
                        config_path = dev_config;
                }
        }
        if (!config_path)
                config_path = DEFAULT_CONFIG;

        fc_config_t *config = NULL;
        fc_plugin_set_t *plugins = NULL;
        int r = load_everything(config_path, check_permissions, &config, &plugins);
        if (r == 0 && check_only) {
                printf("%s: configuration OK (%zu plugins, %zu job classes)\n", config_path,
                       fc_plugin_set_plugins(plugins), fc_plugin_set_handlers(plugins));
        } else if (r == 0) {
                fc_log_set_level(config->log.level);
                r = run_daemon(config, plugins, instance, dev ? &redis : NULL);
        }
        fc_plugin_set_unref(plugins);
        fc_config_free(config);
        fc_devredis_stop(&redis);
        return r;
}
