/* flowcorod: the FlowCoro job-processing daemon.
 *
 * It runs in the foreground and never forks (systemd supervises it:
 * Type=notify, notify.h and watchdog.h), logs to stderr or the journal
 * (log.h), answers flowcoroctl on its control socket (control.h), reloads
 * its configuration and plugins on "flowcoroctl reload" or SIGHUP, and
 * stops on SIGTERM or SIGINT after putting unfinished jobs back (engine.h).
 * Exit codes follow sysexits.h: 64 for a bad command line, 78 (EX_CONFIG)
 * for a bad configuration (or one the system's limits can't carry), 73
 * (EX_CANTCREAT) when the control socket can't be created, 69 when the
 * engine can't start, 1 when jobs could not be put back at shutdown. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "devredis.h"
#include "engine.h"
#include "flowcoro/config.h"
#include "flowcoro/core.h"
#include "flowcoro/version.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "proclimits.h"
#include "watchdog.h"

#define DEFAULT_CONFIG "/etc/flowcoro/flowcoro.yaml"

/* How long draining may take beyond shutdown_timeout: putting unfinished
 * jobs back and leaving Sidekiq's process set (EXTEND_TIMEOUT_USEC=). */
#define STOP_EXTRA_MS 15000

/* Loads config's plugins into *plugins, adding every problem to errors (as
 * at start-up, so at reload). Returns 0 or a negative errno. Plain thread. */
static int load_plugins(const fc_config_t *config, bool check_permissions, fc_plugin_set_t **plugins,
                        fc_config_errors_t *errors) {
        fc_plugin_options_t options = {
                .host = fc_host(), .check_permissions = check_permissions, .owner_uid = geteuid()};
        return fc_plugin_set_load(config, &options, plugins, errors);
}

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
        r = errors ? load_plugins(*config, check_permissions, plugins, errors) : -ENOMEM;
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
                "putting unfinished jobs back; SIGTSTP makes it quiet: no new jobs; SIGHUP reloads\n"
                "the configuration and plugins, as 'flowcoroctl reload' does through control.socket).\n"
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
                "shutdown_timeout: 5s\n"
                "control:\n  socket: %s/control.sock\n",
                d->socket_path, plugins, d->dir);
        return fclose(f) == 0 ? 0 : -EIO;
}

/* The last reload's outcome: written by the reloading coroutine, read by
 * the status command and the service thread (watchdog.h), under lock. */
typedef struct reload_record {
        pthread_mutex_t lock;
        time_t when; /* 0: no reload yet */
        bool ok;
        char message[512];
} reload_record_t;

typedef struct daemon_run {
        fc_engine_t *engine;
        fc_stats_t *stats;           /* NULL when metrics.listen is off */
        int signal_fd;
        int result;
        bool check_permissions;
        int control_fd;              /* -1: no control socket */
        bool reloading;              /* one reload at a time; the daemon's thread only */
        size_t plugins, job_classes; /* of the plugin set in use; the daemon's thread only */
        reload_record_t last_reload;
} daemon_run_t;

/* ---- reload ------------------------------------------------------------- */

/* What the blocking half of a reload gets and gives back. */
typedef struct reload_work {
        const fc_config_t *running; /* borrowed */
        bool check_permissions;
        int r;
        fc_config_t *config;        /* out, on success */
        fc_plugin_set_t *plugins;   /* out, on success */
        fc_config_errors_t *errors; /* out, on failure (may be NULL after -ENOMEM) */
} reload_work_t;

/* Reads the file and loads its plugins, as at start-up: plugin init may
 * block, so this runs on a blocking thread (fc_offload). */
static void reload_blocking(void *arg) {
        reload_work_t *w = arg;
        w->r = fc_config_reload(w->running, &w->config, &w->errors);
        if (w->r < 0)
                return;
        w->errors = fc_config_errors_new();
        w->r = w->errors ? load_plugins(w->config, w->check_permissions, &w->plugins, w->errors) : -ENOMEM;
        if (w->r < 0) {
                fc_config_free(w->config);
                w->config = NULL;
        }
}

static void record_reload(daemon_run_t *run, bool ok, const char *message) {
        if (run->stats)
                fc_stats_reload(run->stats, ok);
        pthread_mutex_lock(&run->last_reload.lock);
        run->last_reload.when = time(NULL);
        run->last_reload.ok = ok;
        snprintf(run->last_reload.message, sizeof(run->last_reload.message), "%s", message);
        pthread_mutex_unlock(&run->last_reload.lock);
}

static json_t *failed_reload(daemon_run_t *run, json_t *errors) {
        size_t n = json_array_size(errors);
        fc_log(FC_LOG_ERROR, "reload failed with %zu error%s; still running the previous configuration", n,
               n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
                fc_log(FC_LOG_ERROR, "reload: %s", json_string_value(json_array_get(errors, i)));
        record_reload(run, false, n ? json_string_value(json_array_get(errors, 0)) : "failed");
        return json_pack("{s:b,s:o}", "ok", false, "errors", errors);
}

/* The reload itself, from a coroutine of the daemon's thread: config, then
 * plugins, then limits; only when all are good does the engine switch to
 * them (and the log level with it). A failure leaves everything as it was.
 * Returns the control socket's answer (NULL when out of memory); logs the
 * outcome either way. */
static json_t *daemon_reload(daemon_run_t *run) {
        fc_engine_status_t st;
        fc_engine_status(run->engine, &st);
        if (st.stopping)
                return json_pack("{s:b,s:[s]}", "ok", false, "errors", "the daemon is stopping: no reload");
        /* Every reload runs on this thread (the signal watcher and the
         * control clients are pinned to it), so a flag is the lock. */
        while (run->reloading)
                if (fc_sleep(20) < 0)
                        return json_pack("{s:b,s:[s]}", "ok", false, "errors",
                                         "the daemon is stopping: no reload");
        run->reloading = true;
        fc_notify_reloading();
        const fc_config_t *running = fc_engine_config(run->engine);
        fc_log(FC_LOG_NOTICE, "reloading %s", running->path);
        reload_work_t w = {.running = running, .check_permissions = run->check_permissions};
        json_t *reply = NULL, *errors = json_array();
        if (fc_offload(reload_blocking, &w) < 0) {
                json_array_append_new(errors,
                                      json_sprintf("cannot start a thread to reload: %s", fc_last_error()));
        } else if (w.r < 0) {
                for (size_t i = 0; i < fc_config_errors_count(w.errors); i++)
                        json_array_append_new(errors, json_string(fc_config_errors_get(w.errors, i)->text));
                if (!json_array_size(errors))
                        json_array_append_new(errors, json_sprintf("%s: %s", running->path, strerror(-w.r)));
        } else {
                char limit[512];
                if (fc_limits_check_maps(w.config->concurrency, limit, sizeof(limit)) < 0)
                        json_array_append_new(errors, json_sprintf("%s: %s", running->path, limit));
        }
        fc_config_errors_free(w.errors);

        if (json_array_size(errors) == 0 && errors) {
                const char *keys[FC_CONFIG_RESTART_KEYS_MAX];
                size_t n_keys = fc_config_restart_keys(running, w.config, keys);
                size_t n_plugins = fc_plugin_set_plugins(w.plugins),
                       n_classes = fc_plugin_set_handlers(w.plugins);
                fc_log_level_t level = w.config->log.level;
                char message[512];
                int len = snprintf(
                        message, sizeof(message), "reloaded %s: %zu plugin%s, %zu job class%s, %zu queue%s",
                        w.config->path, n_plugins, n_plugins == 1 ? "" : "s", n_classes,
                        n_classes == 1 ? "" : "es", w.config->n_queues, w.config->n_queues == 1 ? "" : "s");
                for (size_t i = 0; i < n_keys && len > 0 && (size_t)len < sizeof(message); i++)
                        len += snprintf(message + len, sizeof(message) - (size_t)len, "%s%s",
                                        i ? ", " : "; changed settings that need a restart: ", keys[i]);
                /* The engine takes the config and its own reference of the set. */
                if (fc_engine_reload(run->engine, w.config, w.plugins) == 0) {
                        w.config = NULL;
                        run->plugins = n_plugins;
                        run->job_classes = n_classes;
                        fc_log_set_level(level);
                        fc_log(n_keys ? FC_LOG_WARNING : FC_LOG_NOTICE, "%s", message);
                        record_reload(run, true, message);
                        reply = json_pack("{s:b,s:s}", "ok", true, "message", message);
                } else {
                        json_array_append_new(errors,
                                              json_string("out of memory applying the new configuration"));
                }
        }
        fc_config_free(w.config);
        fc_plugin_set_unref(w.plugins);
        if (!reply && json_array_size(errors)) {
                reply = failed_reload(run, errors); /* takes errors */
                errors = NULL;
        }
        json_decref(errors);
        fc_notify_ready();
        run->reloading = false;
        return reply;
}

/* ---- control commands --------------------------------------------------- */

static json_t *command_reload(void *ctx) {
        return daemon_reload(ctx);
}

static json_t *command_quiet(void *ctx) {
        daemon_run_t *run = ctx;
        fc_engine_quiet(run->engine);
        return json_pack(
                "{s:b,s:s}", "ok", true, "message",
                "quiet: no new jobs are fetched; running jobs finish; stop the daemon once they have");
}

static json_t *command_status(void *ctx) {
        daemon_run_t *run = ctx;
        fc_engine_status_t st;
        fc_engine_status(run->engine, &st);
        const fc_config_t *config = fc_engine_config(run->engine);
        json_t *queues = json_array();
        for (size_t i = 0; queues && i < config->n_queues; i++)
                json_array_append_new(queues, json_string(config->queues[i].name));
        json_t *last = json_null();
        pthread_mutex_lock(&run->last_reload.lock);
        if (run->last_reload.when) {
                char when[32];
                struct tm tm;
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&run->last_reload.when, &tm));
                last = json_pack("{s:s,s:b,s:s}", "time", when, "ok", run->last_reload.ok, "message",
                                 run->last_reload.message);
        }
        pthread_mutex_unlock(&run->last_reload.lock);
        return json_pack("{s:b,s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:b,s:o,s:I,s:I,s:o*}", "ok", true,
                         "version", FC_VERSION_STRING, "pid", (int)getpid(), "identity",
                         fc_engine_identity(run->engine), "config", config->path, "busy", (json_int_t)st.busy,
                         "concurrency", (json_int_t)st.concurrency, "processed", (json_int_t)st.processed,
                         "failed", (json_int_t)st.failed, "quiet", st.quiet, "stopping", st.stopping,
                         "redis_up", st.redis_up, "queues", queues, "plugins", (json_int_t)run->plugins,
                         "job_classes", (json_int_t)run->job_classes, "last_reload", last);
}

static const fc_control_command_t commands[] = {
        {"reload", command_reload},
        {"quiet", command_quiet},
        {"status", command_status},
};

/* For the service thread's STATUS= line: "last reload 10:02:11 OK". */
static void describe_reload(void *ctx, char *buf, size_t size) {
        daemon_run_t *run = ctx;
        buf[0] = '\0';
        pthread_mutex_lock(&run->last_reload.lock);
        if (run->last_reload.when) {
                char when[16];
                struct tm tm;
                strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&run->last_reload.when, &tm));
                snprintf(buf, size, "last reload %s %s", when, run->last_reload.ok ? "OK" : "failed");
        }
        pthread_mutex_unlock(&run->last_reload.lock);
}

/* ---- running ------------------------------------------------------------ */

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
                        fc_notify_stopping(
                                (fc_engine_config(run->engine)->shutdown_timeout_ms + STOP_EXTRA_MS) * 1000);
                        fc_engine_stop(run->engine);
                        break;
                case SIGTSTP:
                        fc_engine_quiet(run->engine);
                        break;
                case SIGHUP:
                        /* Logs its outcome; a stop signal meanwhile waits for it. */
                        fc_log(FC_LOG_NOTICE, "received SIGHUP");
                        json_decref(daemon_reload(run));
                        break;
                }
        }
}

static void control_server(void *arg) {
        daemon_run_t *run = arg;
        fc_control_serve(run->control_fd, commands, sizeof(commands) / sizeof(commands[0]), run);
}

static void daemon_main(void *arg) {
        daemon_run_t *run = arg;
        fc_coro_t *watcher = NULL, *control = NULL;
        if (fc_spawn_here(signal_watcher, run, &watcher) < 0 ||
            (run->control_fd >= 0 && fc_spawn_here(control_server, run, &control) < 0)) {
                fc_log(FC_LOG_ERROR, "cannot start the daemon's coroutines: %s", fc_last_error());
                run->result = -ENOMEM;
                if (watcher) {
                        fc_cancel(watcher);
                        fc_join(watcher);
                }
                return;
        }
        fc_notify_ready();
        run->result = fc_engine_run(run->engine);
        fc_cancel(watcher);
        fc_join(watcher);
        if (control) {
                fc_cancel(control);
                fc_join(control);
        }
}

static void engine_status(void *engine, fc_engine_status_t *out) {
        fc_engine_status(engine, out);
}

/* Runs the engine until a stop signal. Returns the exit code. */
static int run_daemon(const fc_config_t *config, fc_plugin_set_t *plugins, const char *instance,
                      const fc_devredis_t *dev, bool check_permissions, fc_control_socket_t *control) {
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
        daemon_run_t run = {.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK),
                            .check_permissions = check_permissions,
                            .control_fd = control->fd,
                            .plugins = fc_plugin_set_plugins(plugins),
                            .job_classes = fc_plugin_set_handlers(plugins)};
        pthread_mutex_init(&run.last_reload.lock, NULL);
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
        if (config->metrics.listen[0] && fc_stats_new(fc_sched_threads(sched), &run.stats) < 0) {
                fprintf(stderr, "flowcorod: out of memory setting up the metrics\n");
                fc_sched_destroy(sched);
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
        fc_engine_options_t eo = {.config = config,
                                  .plugins = plugins,
                                  .sched = sched,
                                  .redis = &ro,
                                  .instance = instance,
                                  .stats = run.stats};
        r = fc_engine_new(&eo, &run.engine);
        if (r < 0)
                fprintf(stderr, "flowcorod: cannot start the engine: %s\n", strerror(-r));
        fc_metrics_t *metrics = NULL;
        if (r == 0 && run.stats) {
                fc_metrics_options_t mo = {.host = config->metrics.host,
                                           .port = config->metrics.port,
                                           .stats = run.stats,
                                           .sched = sched,
                                           .status = engine_status,
                                           .status_arg = run.engine};
                char err[512];
                r = fc_metrics_start(&mo, &metrics, err, sizeof(err));
                if (r < 0)
                        fprintf(stderr, "flowcorod: %s\n", err);
        }
        fc_watchdog_t *watchdog = NULL;
        if (r == 0) {
                fc_watchdog_options_t wo = {.sched = sched,
                                            .engine = run.engine,
                                            .describe_reload = describe_reload,
                                            .ctx = &run};
                r = fc_watchdog_start(&wo, &watchdog);
                if (r < 0)
                        fprintf(stderr, "flowcorod: cannot start the thread that talks to systemd: %s\n",
                                strerror(-r));
        }
        fc_coro_t *main_coro = NULL;
        if (r == 0) {
                r = fc_spawn(sched, daemon_main, &run, &main_coro);
                if (r < 0)
                        fprintf(stderr, "flowcorod: cannot start the engine: %s %s\n", strerror(-r),
                                fc_last_error());
        }
        if (r == 0)
                fc_join(main_coro);
        fc_watchdog_stop(watchdog);
        if (r == 0 && run.result == -EBUSY) {
                /* Jobs that ignore cancellation still run: their jobs are back in
                 * their queues, and the pool can't be stopped under them. */
                fc_control_close(control);
                fflush(NULL);
                _exit(1);
        }
        fc_metrics_stop(metrics);
        fc_engine_free(run.engine);
        fc_sched_destroy(sched);
        fc_stats_free(run.stats);
        pthread_mutex_destroy(&run.last_reload.lock);
        close(run.signal_fd);
        return r < 0 ? EX_UNAVAILABLE : run.result < 0 ? 1 : EXIT_SUCCESS;
}

/* Start-up checks and the control socket, then the daemon. Returns the
 * exit code. */
static int start_daemon(const fc_config_t *config, fc_plugin_set_t *plugins, const char *instance,
                        const fc_devredis_t *dev, bool check_permissions) {
        char error[1024];
        fc_limits_raise_nofile();
        if (fc_limits_check_maps(config->concurrency, error, sizeof(error)) < 0) {
                fprintf(stderr, "flowcorod: %s: %s\n", config->path, error);
                return EX_CONFIG;
        }
        fc_control_socket_t control = {.fd = -1};
        if (*config->control.socket &&
            fc_control_listen(config->control.socket, &control, error, sizeof(error)) < 0) {
                fprintf(stderr, "flowcorod: %s\n", error);
                return EX_CANTCREAT;
        }
        int r = run_daemon(config, plugins, instance, dev, check_permissions, &control);
        fc_control_close(&control);
        return r;
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
                r = start_daemon(config, plugins, instance, dev ? &redis : NULL, check_permissions);
        }
        fc_plugin_set_unref(plugins);
        fc_config_free(config);
        if (config_path == dev_config)
                unlink(dev_config); /* so that the private Redis's directory can go */
        fc_devredis_stop(&redis);
        return r;
}
