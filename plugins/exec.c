/* exec.so: runs commands named in its configuration, never one a job names.
 *
 *   Exec   args [command, arg...]: runs the configured command called
 *          `command` with its configured argv followed by the job's string
 *          arguments.
 *
 * The child runs in its own process group with no shell, stdin on /dev/null,
 * a clean environment and its stdout/stderr on pipes whose lines go to the
 * log. The handler waits for it through a pidfd and the pipes, gathered in one
 * private epoll instance that it waits on with host->wait_fd, so a scheduler
 * thread is never blocked; posix_spawn (which waits for the exec) and the
 * final kill-and-reap run through host->offload. docs/plugins-bundled.md
 * describes the configuration. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flowcoro/plugin.h"
#include "json-kind.h"

#define DEFAULT_KILL_GRACE_MS 5000
#define DEFAULT_MAX_LINE      1024
#define MAX_MAX_LINE          1536         /* the host cuts a log message at 2 KiB */
#define DRAIN_BUDGET          (128 * 1024) /* bytes read per wake-up */
#define CHILD_PATH            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct exec_command {
        char *name;
        char **argv; /* configured words, NULL-terminated; argv[0] is absolute */
        size_t argc;
        char **env; /* "NAME=value", NULL-terminated; PATH first */
        size_t n_env;
        char *directory;     /* working directory; "/" when not configured */
        uint64_t timeout_ms; /* 0: only the job's deadline */
        bool dash_args;      /* job args may start with '-' */
} exec_command_t;

/* Read-only after init: handlers on any thread share it without locks. */
typedef struct exec_state {
        exec_command_t *commands;
        size_t n_commands;
        uint64_t kill_grace_ms;
        size_t max_line;
} exec_state_t;

/* ---- configuration ------------------------------------------------------ */

static void free_strv(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static void state_free(exec_state_t *st) {
        if (!st)
                return;
        for (size_t i = 0; i < st->n_commands; i++) {
                exec_command_t *c = &st->commands[i];
                free(c->name);
                free_strv(c->argv);
                free_strv(c->env);
                free(c->directory);
        }
        free(st->commands);
        free(st);
}

enum { CFG_SCALAR = 0, CFG_SEQUENCE = 1, CFG_MAPPING = 2 };

static bool is_env_name(const char *s) {
        if (!*s || (*s >= '0' && *s <= '9'))
                return false;
        for (; *s; s++)
                if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                      (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

static bool parse_bool(const fc_host_t *host, fc_config_errors_t *errors, const fc_config_node_t *node,
                       bool *out) {
        const char *v = host->cfg_scalar(node);
        if (v && strcmp(v, "true") == 0)
                *out = true;
        else if (v && strcmp(v, "false") == 0)
                *out = false;
        else {
                host->cfg_error(errors, node, "expected true or false");
                return false;
        }
        return true;
}

static bool parse_duration(const fc_host_t *host, fc_config_errors_t *errors, const fc_config_node_t *node,
                           uint64_t max_ms, const char *max_text, uint64_t *out) {
        const char *v = host->cfg_scalar(node);
        uint64_t ms;
        if (!v || host->cfg_duration(v, &ms) < 0 || ms > max_ms) {
                host->cfg_error(errors, node,
                                "expected a duration up to %s, a whole number with a unit (ms, s, m, h, d) "
                                "such as \"30s\", got %s%s%s",
                                max_text, v ? "\"" : "", v ? v : "a collection", v ? "\"" : "");
                return false;
        }
        *out = ms;
        return true;
}

/* Checks that path names an existing file of the wanted kind; init runs on a
 * plain thread, so stat() is allowed here. */
static bool check_path(const fc_host_t *host, fc_config_errors_t *errors, const fc_config_node_t *node,
                       bool want_dir) {
        const char *path = host->cfg_scalar(node);
        struct stat st;
        if (!path || path[0] != '/') {
                host->cfg_error(errors, node, "expected an absolute path (starting with /), got %s%s%s",
                                path ? "\"" : "", path ? path : "a collection", path ? "\"" : "");
                return false;
        }
        if (stat(path, &st) < 0) {
                host->cfg_error(errors, node, "cannot use \"%s\": %s", path, strerror(errno));
                return false;
        }
        if (want_dir) {
                if (!S_ISDIR(st.st_mode)) {
                        host->cfg_error(errors, node, "\"%s\" is not a directory", path);
                        return false;
                }
                return true;
        }
        if (!S_ISREG(st.st_mode)) {
                host->cfg_error(errors, node, "\"%s\" is not a regular file; give the program itself", path);
                return false;
        }
        if (access(path, X_OK) < 0) {
                host->cfg_error(errors, node, "\"%s\" is not executable (%s); check its mode bits", path,
                                strerror(errno));
                return false;
        }
        return true;
}

static int parse_command(const fc_host_t *host, fc_config_errors_t *errors, const char *name,
                         const fc_config_node_t *node, exec_command_t *c) {
        bool ok = true;
        const fc_config_node_t *argv_node = NULL;
        c->name = strdup(name);
        if (!c->name)
                return -ENOMEM;
        if (host->cfg_type(node) != CFG_MAPPING) {
                host->cfg_error(errors, node,
                                "expected a mapping with argv (and optionally timeout, env, directory, "
                                "dash_args)");
                return -EINVAL;
        }
        for (size_t i = 0; i < host->cfg_count(node); i++) {
                const char *key = host->cfg_key(node, i);
                const fc_config_node_t *v = host->cfg_item(node, i);
                if (strcmp(key, "argv") == 0)
                        argv_node = v;
                else if (strcmp(key, "timeout") == 0)
                        ok &= parse_duration(host, errors, v, UINT64_C(30) * 86400 * 1000, "30d",
                                             &c->timeout_ms);
                else if (strcmp(key, "dash_args") == 0)
                        ok &= parse_bool(host, errors, v, &c->dash_args);
                else if (strcmp(key, "directory") == 0) {
                        if (check_path(host, errors, v, true)) {
                                c->directory = strdup(host->cfg_scalar(v));
                                if (!c->directory)
                                        return -ENOMEM;
                        } else
                                ok = false;
                } else if (strcmp(key, "env") == 0) {
                        if (host->cfg_type(v) != CFG_MAPPING) {
                                host->cfg_error(errors, v, "expected a mapping of NAME: value");
                                ok = false;
                                continue;
                        }
                        size_t n = host->cfg_count(v);
                        c->env = calloc(n + 2, sizeof(char *));
                        if (!c->env)
                                return -ENOMEM;
                        c->env[c->n_env++] = strdup(CHILD_PATH);
                        for (size_t j = 0; j < n; j++) {
                                const char *ename = host->cfg_key(v, j);
                                const char *evalue = host->cfg_scalar(host->cfg_item(v, j));
                                if (!is_env_name(ename)) {
                                        host->cfg_error(errors, host->cfg_item(v, j),
                                                        "\"%s\" is not a variable name (letters, digits, _)",
                                                        ename);
                                        ok = false;
                                        continue;
                                }
                                if (!evalue) {
                                        host->cfg_error(errors, host->cfg_item(v, j),
                                                        "expected a string value for %s", ename);
                                        ok = false;
                                        continue;
                                }
                                char *kv;
                                if (asprintf(&kv, "%s=%s", ename, evalue) < 0)
                                        return -ENOMEM;
                                if (strcmp(ename, "PATH") == 0) { /* replaces the default */
                                        free(c->env[0]);
                                        c->env[0] = kv;
                                } else
                                        c->env[c->n_env++] = kv;
                        }
                        if (!c->env[0])
                                return -ENOMEM;
                } else {
                        host->cfg_error(errors, v,
                                        "unknown key \"%s\" (a command has argv, timeout, env, directory, "
                                        "dash_args)",
                                        key);
                        ok = false;
                }
        }
        if (!argv_node) {
                host->cfg_error(errors, node,
                                "command \"%s\" has no argv: give [\"/absolute/program\", args...]", name);
                return -EINVAL;
        }
        if (host->cfg_type(argv_node) != CFG_SEQUENCE || host->cfg_count(argv_node) == 0) {
                host->cfg_error(
                        errors, argv_node,
                        "expected a non-empty list: the program's absolute path, then fixed arguments");
                return -EINVAL;
        }
        c->argc = host->cfg_count(argv_node);
        c->argv = calloc(c->argc + 1, sizeof(char *));
        if (!c->argv)
                return -ENOMEM;
        for (size_t j = 0; j < c->argc; j++) {
                const fc_config_node_t *w = host->cfg_item(argv_node, j);
                const char *s = host->cfg_scalar(w);
                if (!s) {
                        host->cfg_error(errors, w, "expected a string");
                        ok = false;
                        s = "";
                } else if (j == 0 && !check_path(host, errors, w, false))
                        ok = false;
                c->argv[j] = strdup(s);
                if (!c->argv[j])
                        return -ENOMEM;
        }
        /* A configured "--" ends the program's options, so job args that
         * start with '-' can't be taken for options. */
        if (c->argc > 1 && strcmp(c->argv[c->argc - 1], "--") == 0)
                c->dash_args = true;
        if (!c->env) {
                c->env = calloc(2, sizeof(char *));
                if (!c->env || !(c->env[0] = strdup(CHILD_PATH)))
                        return -ENOMEM;
                c->n_env = 1;
        }
        if (!c->directory && !(c->directory = strdup("/")))
                return -ENOMEM;
        return ok ? 0 : -EINVAL;
}

static int init(const fc_host_t *host, const fc_config_node_t *config, fc_config_errors_t *errors,
                void **state) {
        exec_state_t *st = calloc(1, sizeof(*st));
        const fc_config_node_t *commands = NULL;
        bool ok = true;
        int r;
        *state = NULL;
        if (!st)
                return -ENOMEM;
        st->kill_grace_ms = DEFAULT_KILL_GRACE_MS;
        st->max_line = DEFAULT_MAX_LINE;
        if (!config || host->cfg_type(config) != CFG_MAPPING) {
                if (config)
                        host->cfg_error(errors, config,
                                        "expected a mapping with commands (and optionally "
                                        "kill_grace, max_line)");
                else /* no node to point at: the loader adds its own error at the plugin's entry */
                        host->log(NULL, FC_LOG_PRIO_ERROR,
                                  "exec.so needs a config with commands: {NAME: {argv: "
                                  "[\"/absolute/program\"]}}");
                state_free(st);
                return -EINVAL;
        }
        for (size_t i = 0; i < host->cfg_count(config); i++) {
                const char *key = host->cfg_key(config, i);
                const fc_config_node_t *v = host->cfg_item(config, i);
                if (strcmp(key, "commands") == 0)
                        commands = v;
                else if (strcmp(key, "kill_grace") == 0)
                        ok &= parse_duration(host, errors, v, 600 * 1000, "10m", &st->kill_grace_ms);
                else if (strcmp(key, "max_line") == 0) {
                        const char *s = host->cfg_scalar(v);
                        uint64_t bytes;
                        if (!s || host->cfg_size(s, &bytes) < 0 || bytes < 64 || bytes > MAX_MAX_LINE) {
                                host->cfg_error(errors, v,
                                                "expected a size from 64B to %dB, such as \"1KiB\"",
                                                MAX_MAX_LINE);
                                ok = false;
                        } else
                                st->max_line = bytes;
                } else {
                        host->cfg_error(errors, v,
                                        "unknown key \"%s\" (exec.so knows commands, kill_grace, max_line)",
                                        key);
                        ok = false;
                }
        }
        if (!commands) {
                host->cfg_error(errors, config,
                                "no commands: give commands: {NAME: {argv: [\"/absolute/program\"]}}");
                ok = false;
        } else if (host->cfg_type(commands) != CFG_MAPPING || host->cfg_count(commands) == 0) {
                host->cfg_error(errors, commands,
                                "expected a non-empty mapping of command names to {argv: [...]}");
                ok = false;
        } else {
                st->commands = calloc(host->cfg_count(commands), sizeof(exec_command_t));
                if (!st->commands) {
                        state_free(st);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < host->cfg_count(commands); i++) {
                        st->n_commands++;
                        r = parse_command(host, errors, host->cfg_key(commands, i),
                                          host->cfg_item(commands, i), &st->commands[i]);
                        if (r == -ENOMEM) {
                                state_free(st);
                                return r;
                        }
                        if (r < 0)
                                ok = false;
                }
        }
        if (!ok) {
                state_free(st);
                return -EINVAL;
        }
        *state = st;
        return 0;
}

static void fini(const fc_host_t *host, void *state) {
        state_free(state);
}

/* ---- spawning (on a blocking thread: posix_spawn waits for the exec) ---- */

typedef struct spawn_req {
        const exec_command_t *cmd;
        char **argv;
        char **envp;
        int out_w, err_w;
        pid_t pid; /* out */
        int pidfd; /* out */
        int error; /* out: errno of the failed step, 0 on success */
        const char *step;
} spawn_req_t;

static void spawn_blocking(void *arg) {
        spawn_req_t *q = arg;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        q->pid = -1;
        q->pidfd = -1;
        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
                q->error = r;
                q->step = "posix_spawn_file_actions_init";
                return;
        }
        if ((r = posix_spawnattr_init(&attr)) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                q->error = r;
                q->step = "posix_spawnattr_init";
                return;
        }
        /* Own process group, so the deadline can kill everything it started;
         * default signal dispositions and an empty mask, whatever the daemon
         * ignores or blocks; nothing but 0, 1 and 2 inherited. */
        if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, q->out_w, 1)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, q->err_w, 2)) != 0 ||
            (r = posix_spawn_file_actions_addchdir_np(&fa, q->cmd->directory)) != 0 ||
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                         POSIX_SPAWN_SETSIGDEF)) != 0 ||
            (r = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
            (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
            (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0) {
                q->step = "preparing posix_spawn";
        } else if ((r = posix_spawn(&q->pid, q->argv[0], &fa, &attr, q->argv, q->envp)) != 0) {
                q->step = "posix_spawn";
                q->pid = -1;
        } else {
                q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
                if (q->pidfd < 0) {
                        /* Can't watch it without blocking: don't let it run. */
                        r = errno;
                        q->step = "pidfd_open";
                        kill(-q->pid, SIGKILL);
                        waitpid(q->pid, NULL, 0);
                        q->pid = -1;
                }
        }
        q->error = r;
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
}

/* ---- stopping and reaping (on a blocking thread) ------------------------ */

typedef struct kill_req {
        pid_t pgid;
        int pidfd;
        uint64_t grace_ms;
        bool needed_kill; /* out: SIGKILL was needed */
        siginfo_t info;   /* out */
        int error;        /* out */
} kill_req_t;

static void kill_blocking(void *arg) {
        kill_req_t *q = arg;
        struct pollfd p = {.fd = q->pidfd, .events = POLLIN};
        kill(-q->pgid, SIGTERM);
        kill(-q->pgid, SIGCONT); /* a stopped process can't act on SIGTERM */
        int r;
        do
                r = poll(&p, 1, q->grace_ms > INT32_MAX ? INT32_MAX : (int)q->grace_ms);
        while (r < 0 && errno == EINTR);
        q->needed_kill = r == 0;
        /* The leader is at most a zombie here, so its pid (the group's id)
         * can't have been reused: this reaches only its group. */
        kill(-q->pgid, SIGKILL);
        memset(&q->info, 0, sizeof(q->info));
        do
                r = waitid(P_PIDFD, (id_t)q->pidfd, &q->info, WEXITED);
        while (r < 0 && errno == EINTR);
        q->error = r < 0 ? errno : 0;
}

static void reap_blocking(void *arg) {
        kill_req_t *q = arg;
        int r;
        memset(&q->info, 0, sizeof(q->info));
        do
                r = waitid(P_PIDFD, (id_t)q->pidfd, &q->info, WEXITED);
        while (r < 0 && errno == EINTR);
        q->error = r < 0 ? errno : 0;
}

/* ---- output ------------------------------------------------------------- */

typedef struct stream {
        int fd; /* -1 once closed */
        const char *label;
        fc_log_priority_t priority;
        char *buf;
        size_t len;
} stream_t;

static void log_line(const fc_host_t *host, fc_job_t *job, const exec_command_t *cmd, stream_t *s,
                     const char *line, size_t len, bool cut) {
        if (len && line[len - 1] == '\r')
                len--;
        host->log(job, s->priority, "%s (%s): %.*s%s", cmd->name, s->label, (int)len, line,
                  cut ? " [...]" : "");
}

/* Reads what the pipe holds now and logs its complete lines; at end of file
 * logs the rest and closes the pipe. */
static void drain(const fc_host_t *host, fc_job_t *job, const exec_command_t *cmd, size_t max_line, int epfd,
                  stream_t *s) {
        /* A bounded amount per call: a command writing faster than we log
         * must not hold the scheduler thread (the pipe stays readable, so
         * the next wait returns at once and the deadline is still seen). */
        for (size_t budget = DRAIN_BUDGET; s->fd >= 0 && budget > 0;) {
                ssize_t n = read(s->fd, s->buf + s->len, max_line - s->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) { /* end of file, or an error we can't act on: stop reading */
                        if (s->len)
                                log_line(host, job, cmd, s, s->buf, s->len, false);
                        s->len = 0;
                        if (epfd >= 0)
                                epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
                        close(s->fd);
                        s->fd = -1;
                        return;
                }
                s->len += (size_t)n;
                budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
                char *start = s->buf, *nl;
                while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
                        log_line(host, job, cmd, s, start, (size_t)(nl - start), false);
                        start = nl + 1;
                }
                s->len -= (size_t)(start - s->buf);
                memmove(s->buf, start, s->len);
                if (s->len == max_line) { /* a line longer than max_line: log it in pieces */
                        log_line(host, job, cmd, s, s->buf, s->len, true);
                        s->len = 0;
                }
        }
}

/* ---- the handler -------------------------------------------------------- */

static const exec_command_t *find_command(const exec_state_t *st, const char *name) {
        for (size_t i = 0; i < st->n_commands; i++)
                if (strcmp(st->commands[i].name, name) == 0)
                        return &st->commands[i];
        return NULL;
}

static fc_job_status_t unknown_command(const fc_host_t *host, fc_job_t *job, const exec_state_t *st,
                                       const char *name) {
        char known[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < st->n_commands && used < sizeof(known); i++) {
                int n = snprintf(known + used, sizeof(known) - used, "%s\"%s\"", i ? ", " : "",
                                 st->commands[i].name);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
        return host->fail(job, FC_JOB_DEAD, "Exec::UnknownCommand",
                          "Exec: unknown command \"%s\"; exec.so's config names %s", name, known);
}


static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* Describes how the child ended, for messages. */
static void describe_end(const siginfo_t *info, char *buf, size_t size) {
        if (info->si_code == CLD_EXITED)
                snprintf(buf, size, "exited with status %d", info->si_status);
        else {
                const char *abbrev = sigabbrev_np(info->si_status);
                snprintf(buf, size, "was killed by signal %d (SIG%s)%s", info->si_status,
                         abbrev ? abbrev : "?", info->si_code == CLD_DUMPED ? ", core dumped" : "");
        }
}

static fc_job_status_t run_exec(const fc_host_t *host, fc_job_t *job, void *state) {
        const exec_state_t *st = state;
        const json_t *args = host->job_args(job);
        size_t nargs = json_array_size(args);
        fc_job_status_t status;

        if (nargs == 0 || !json_is_string(json_array_get(args, 0)))
                return host->fail(
                        job, FC_JOB_DEAD, "ArgumentError",
                        "Exec expects args [command, arg...]: a command name from exec.so's config, "
                        "then string arguments; got %s",
                        nargs == 0 ? "no args" : "a first arg that is not a string");
        const char *name = json_string_value(json_array_get(args, 0));
        const exec_command_t *cmd = find_command(st, name);
        if (!cmd)
                return unknown_command(host, job, st, name);
        for (size_t i = 1; i < nargs; i++) {
                const json_t *a = json_array_get(args, i);
                if (!json_is_string(a))
                        return host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                          "Exec %s: argument %zu is %s; every argument must be a string",
                                          name, i, fc_json_kind(a));
                const char *s = json_string_value(a);
                if (strlen(s) != json_string_length(a))
                        return host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                          "Exec %s: argument %zu contains a NUL character", name, i);
                if (s[0] == '-' && !cmd->dash_args)
                        return host->fail(
                                job, FC_JOB_DEAD, "ArgumentError",
                                "Exec %s: argument %zu (\"%.40s\") starts with '-', which the program "
                                "could take for an option; end the command's argv with \"--\" or set "
                                "dash_args: true in its config",
                                name, i, s);
        }

        /* argv: the configured words, then the job's (borrowed) strings. */
        char **argv = calloc(cmd->argc + nargs, sizeof(char *));
        char **envp = calloc(cmd->n_env + 4, sizeof(char *));
        char *env_jid = NULL, *env_queue = NULL, *env_retry = NULL;
        stream_t out = {.fd = -1, .label = "stdout", .priority = FC_LOG_PRIO_INFO};
        stream_t err = {.fd = -1, .label = "stderr", .priority = FC_LOG_PRIO_WARNING};
        int out_w = -1, err_w = -1, epfd = -1, pipe_fds[2];
        spawn_req_t sq = {.cmd = cmd, .pid = -1, .pidfd = -1};
        if (!argv || !envp || asprintf(&env_jid, "FLOWCORO_JID=%s", host->job_jid(job)) < 0 ||
            asprintf(&env_queue, "FLOWCORO_QUEUE=%s", host->job_queue(job)) < 0 ||
            asprintf(&env_retry, "FLOWCORO_RETRY_COUNT=%u", host->job_retry_count(job)) < 0 ||
            !(out.buf = malloc(st->max_line)) || !(err.buf = malloc(st->max_line))) {
                status = host->fail(job, FC_JOB_RETRY, "Exec::NoMemory", "Exec %s: out of memory", name);
                goto done;
        }
        for (size_t i = 0; i < cmd->argc; i++)
                argv[i] = cmd->argv[i];
        for (size_t i = 1; i < nargs; i++)
                argv[cmd->argc + i - 1] = (char *)json_string_value(json_array_get(args, i));
        memcpy(envp, cmd->env, cmd->n_env * sizeof(char *));
        envp[cmd->n_env] = env_jid;
        envp[cmd->n_env + 1] = env_queue;
        envp[cmd->n_env + 2] = env_retry;

        /* Pipes: close-on-exec everywhere (other jobs spawn concurrently), our
         * ends non-blocking, the child's ends blocking as programs expect. */
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                goto pipe_fail;
        out.fd = pipe_fds[0];
        out_w = pipe_fds[1];
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                goto pipe_fail;
        err.fd = pipe_fds[0];
        err_w = pipe_fds[1];
        if (fcntl(out.fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(err.fd, F_SETFL, O_NONBLOCK) < 0)
                goto pipe_fail;
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0)
                goto pipe_fail;

        sq.argv = argv;
        sq.envp = envp;
        sq.out_w = out_w;
        sq.err_w = err_w;
        int r = host->offload(spawn_blocking, &sq);
        close_fd(&out_w);
        close_fd(&err_w);
        if (r < 0) {
                status = host->fail(job, FC_JOB_RETRY, "Exec::SpawnError",
                                    "Exec %s: no blocking thread to spawn on: %s", name, strerror(-r));
                goto done;
        }
        if (sq.error) {
                /* E2BIG won't change on retry; a missing or broken program may
                 * be fixed (it was there when the config was loaded). */
                status = host->fail(
                        job, sq.error == E2BIG ? FC_JOB_DEAD : FC_JOB_RETRY, "Exec::SpawnError",
                        "Exec %s: cannot run %s: %s: %s%s", name, cmd->argv[0], sq.step, strerror(sq.error),
                        sq.error == ENOENT ? " (the program, its interpreter or its directory is missing)"
                                           : "");
                goto done;
        }

        struct epoll_event ev = {.events = EPOLLIN, .data.fd = sq.pidfd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, sq.pidfd, &ev) < 0)
                goto watch_fail;
        ev.data.fd = out.fd;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, out.fd, &ev) < 0)
                goto watch_fail;
        ev.data.fd = err.fd;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, err.fd, &ev) < 0)
                goto watch_fail;

        host->log(job, FC_LOG_PRIO_DEBUG, "Exec %s: started %s as process %d", name, cmd->argv[0],
                  (int)sq.pid);
        int64_t until = cmd->timeout_ms ? host->now_ms() + (int64_t)cmd->timeout_ms : -1;
        bool exited = false, timed_out = false;
        int wait_error = 0;
        while (!exited) {
                int64_t left = -1;
                if (until >= 0 && (left = until - host->now_ms()) <= 0) {
                        timed_out = true;
                        break;
                }
                r = host->wait_fd(epfd, EPOLLIN, left);
                if (r == -ETIMEDOUT)
                        continue; /* the loop's head decides */
                if (r < 0) {
                        wait_error = -r;
                        break;
                }
                struct epoll_event evs[3];
                int n = epoll_wait(epfd, evs, 3, 0);
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.fd == sq.pidfd)
                                exited = true;
                        else
                                drain(host, job, cmd, st->max_line, epfd,
                                      evs[i].data.fd == out.fd ? &out : &err);
                }
        }

        kill_req_t kq = {.pgid = sq.pid, .pidfd = sq.pidfd, .grace_ms = st->kill_grace_ms};
        if (exited) {
                /* Output written before the exit is in the pipes already. */
                drain(host, job, cmd, st->max_line, -1, &out);
                drain(host, job, cmd, st->max_line, -1, &err);
                /* What the command left running in its group goes with it;
                 * the zombie leader keeps the group's id from being reused. */
                kill(-sq.pid, SIGKILL);
                memset(&kq.info, 0, sizeof(kq.info));
                if (waitid(P_PIDFD, (id_t)sq.pidfd, &kq.info, WEXITED | WNOHANG) < 0)
                        kq.error = errno;
                else if (kq.info.si_pid == 0) /* not reapable yet: wait where blocking is allowed */
                        host->offload(reap_blocking, &kq);
        } else
                host->offload(kill_blocking, &kq);
        /* Last words (also from a SIGTERM handler); leftovers may still hold
         * the pipes, so read only what is there. */
        drain(host, job, cmd, st->max_line, -1, &out);
        drain(host, job, cmd, st->max_line, -1, &err);

        char how[96] = "ended in an unknown way";
        if (kq.error == ECHILD)
                snprintf(how, sizeof(how), "ended, but its status was lost (is SIGCHLD ignored?)");
        else if (kq.error == 0)
                describe_end(&kq.info, how, sizeof(how));
        if (timed_out)
                status = host->fail(
                        job, FC_JOB_RETRY, "Exec::Timeout",
                        "Exec %s: %s ran past its timeout of %llu ms; its process group got SIGTERM%s; "
                        "it %s",
                        name, cmd->argv[0], (unsigned long long)cmd->timeout_ms,
                        kq.needed_kill ? " and, after the grace period, SIGKILL" : "", how);
        else if (wait_error)
                status = host->fail(
                        job, FC_JOB_RETRY, wait_error == ECANCELED ? "Exec::Cancelled" : "Exec::Error",
                        "Exec %s: %s; %s's process group got SIGTERM%s; it %s", name,
                        wait_error == ECANCELED ? "the job was cancelled or reached its deadline"
                                                : strerror(wait_error),
                        cmd->argv[0], kq.needed_kill ? " and, after the grace period, SIGKILL" : "", how);
        else if (kq.error)
                status = host->fail(job, FC_JOB_RETRY, "Exec::Error", "Exec %s: %s %s", name, cmd->argv[0],
                                    how);
        else if (kq.info.si_code == CLD_EXITED && kq.info.si_status == 0) {
                host->log(job, FC_LOG_PRIO_DEBUG, "Exec %s: %s exited with status 0", name, cmd->argv[0]);
                status = FC_JOB_OK;
        } else
                status = host->fail(job, FC_JOB_RETRY,
                                    kq.info.si_code == CLD_EXITED ? "Exec::ExitStatus" : "Exec::Signal",
                                    "Exec %s: %s %s", name, cmd->argv[0], how);
        goto done;

watch_fail:
        r = errno;
        {
                kill_req_t kq2 = {.pgid = sq.pid, .pidfd = sq.pidfd, .grace_ms = 0};
                host->offload(kill_blocking, &kq2);
        }
        status = host->fail(job, FC_JOB_RETRY, "Exec::Error", "Exec %s: cannot watch process %d: %s", name,
                            (int)sq.pid, strerror(r));
        goto done;
pipe_fail:
        status = host->fail(job, FC_JOB_RETRY, "Exec::Error", "Exec %s: cannot set up pipes: %s", name,
                            strerror(errno));
done:
        close_fd(&sq.pidfd);
        close_fd(&epfd);
        close_fd(&out.fd);
        close_fd(&err.fd);
        close_fd(&out_w);
        close_fd(&err_w);
        free(out.buf);
        free(err.buf);
        free(env_jid);
        free(env_queue);
        free(env_retry);
        free(envp);
        free(argv);
        return status;
}

static const fc_handler_def_t handlers[] = {
        {.class_name = "Exec", .run = run_exec, .timeout_ms = 0, .max_retries = -1},
};

static const fc_plugin_def_t exec_plugin = {
        FC_PLUGIN_HEADER,
        .name = "exec",
        .version = "1.0.0",
        .init = init,
        .fini = fini,
        .handlers = handlers,
        .n_handlers = sizeof(handlers) / sizeof(handlers[0]),
};

FC_PLUGIN_DEFINE(exec_plugin)
