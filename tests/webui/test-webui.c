/* Sidekiq 6.4.1's own Web UI (Debian's ruby-sidekiq, on rack and webrick) as
 * FlowCoro's dashboard: a real flowcorod works on a real redis-server with
 * jobs busy, waiting, failed for retry and dead; the Web UI runs with
 * tests/webui/config.ru (the file docs/webui.md shows) against the same
 * Redis, and its Busy, Queues, Retries and Dead pages must show them: the
 * process, the busy jobs' jids and classes, every queue's size, the retry
 * and dead jobs' jids and errors. Its Quiet and Stop buttons must quiet and
 * stop the daemon. Headless Chromium takes screenshots of the pages, kept
 * with the fetched HTML in the build directory (artifacts/ next to this
 * test's binary); docs/img/ holds copies of good ones.
 *
 * Everything a test starts is stopped after it (stop_children), also after a
 * failed check: a daemon or Web UI it left running would act on the shared
 * Redis during the tests after it. Chromium leaves helper processes behind
 * when it exits (its crashpad handler even leaves the process group), so
 * this process makes itself their subreaper and kills whatever it did not
 * start on purpose. */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "harness/buffer.h"
#include "harness/daemon.h"

#if !defined(WEBUI_CONFIG_RU) || !defined(WEBUI_DOC) || !defined(WEBUI_ARTIFACTS)
#error "the build passes WEBUI_CONFIG_RU, WEBUI_DOC and WEBUI_ARTIFACTS (tests/webui/CMakeLists.txt)"
#endif

#define WEBUI_START_TIMEOUT_MS 60000
#define CHROMIUM_TIMEOUT_MS    90000
#define HEARTBEAT_WAIT_MS      20000 /* the heartbeat runs every 5 s; a quiet flag shows after two */
#define SHOT_WIDTH             1280
#define SHOT_HEIGHT            900
#define SHOT_MIN_BYTES         20000 /* a blank 1280x900 page is a few KiB */

extern char **environ;

/* ---- what the test puts in Redis -------------------------------------------------------- */

#define CONCURRENCY    3
#define SLEEP_MS       600000 /* far longer than the test: they stay busy until the Stop button */
#define RETRY_DELAY_MS "3600000"
#define TAG            "webui"

/* The daemon listens on these queues; Process#queues lists them in this order. */
static const char daemon_config[] = "concurrency: 3\n"
                                    "shutdown_timeout: 1s\n"
                                    "jobs:\n"
                                    "  default_timeout: 1h\n"
                                    "queues:\n"
                                    "  - { name: critical, weight: 2 }\n"
                                    "  - default\n"
                                    "  - low\n"
                                    "control:\n"
                                    "  socket: \"\"\n";
static const char *const daemon_args[] = {"--instance", TAG, NULL};

/* Jobs that hold every slot. */
static const struct {
        const char *jid, *queue;
} busy_jobs[CONCURRENCY] = {
        {"b0000000000000000000b001", "default"},
        {"b0000000000000000000b002", "default"},
        {"b0000000000000000000b003", "critical"},
};

/* Jobs that wait while every slot is busy: distinct sizes per queue. */
static const struct {
        const char *queue;
        int size;
} waiting[] = {{"critical", 2}, {"default", 4}, {"low", 5}};

/* Fail jobs that go to the retry set; the first message has every character
 * the page must escape. */
static const struct {
        const char *jid, *queue, *message;
} retry_jobs[] = {
        {"f0000000000000000000f001", "default", "card <declined> & \"refund\" isn't due / 17"},
        {"f0000000000000000000f002", "critical", "upstream timed out"},
};

/* A Fail job with retry: 0 goes to the dead set at its first failure. */
static const char dead_jid[] = "d0000000000000000000d001";
static const char dead_message[] = "out of retries at once";

/* Not a job at all: flowcorod files it in dead as FlowCoro::InvalidJob. */
static const char malformed_payload[] = "{\"class\":\"Noop\",\"args\":\"not an array\"}";

/* ---- state shared with the teardown ------------------------------------------------------- */

/* A program this test started in its own process group, so that stopping it
 * stops what it started too. */
typedef struct child {
        pid_t pid;     /* -1 when not running; also its process group's id */
        int exit_code; /* once reaped: exit status, or 128 + signal */
} child_t;

static fc_test_redis_t redis;
static fc_test_daemon_t flowcorod;
static child_t webui = {.pid = -1};
static child_t browser = {.pid = -1};
static char work_dir[256]; /* temporary: chromium's profiles and home */
static int webui_port;
static CURL *curl;
static redisContext *rc;

static void sleep_ms(long ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* The whole file (malloc'd, NUL-terminated), or NULL. */
static char *slurp(const char *path) {
        FILE *f = fopen(path, "r");
        if (!f)
                return NULL;
        size_t cap = 16384, n = 0, got;
        char *buf = malloc(cap);
        while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
                n += got;
                if (n + 1 == cap) {
                        char *b = realloc(buf, cap *= 2);
                        if (!b)
                                free(buf);
                        buf = b;
                }
        }
        fclose(f);
        if (buf)
                buf[n] = '\0';
        return buf;
}

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static void print_file(const char *what, const char *path) {
        _cleanup_free_ char *text = slurp(path);
        fprintf(stderr, "---- %s (%s) ----\n%s---- end of %s ----\n", what, path, text ? text : "(none)\n",
                what);
}

/* ---- children ------------------------------------------------------------------------------- */

/* environ with each of extra ("NAME=value", borrowed) set; the array is
 * malloc'd, its strings borrowed. */
static char **environ_with(const char *const *extra) {
        size_t n = 0, k = 0;
        while (environ[n])
                n++;
        while (extra[k])
                k++;
        char **env = calloc(n + k + 1, sizeof(*env));
        if (!env)
                return NULL;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                bool overridden = false;
                for (size_t j = 0; j < k && !overridden; j++) {
                        size_t len = strcspn(extra[j], "=");
                        overridden = strncmp(environ[i], extra[j], len + 1) == 0;
                }
                if (!overridden)
                        env[m++] = environ[i];
        }
        for (size_t j = 0; j < k; j++)
                env[m++] = (char *)extra[j];
        return env;
}

/* Starts argv (argv[0] looked up in PATH) with extra environment, stdin from
 * /dev/null and its output in log, in a process group of its own; killed
 * when this process dies. Returns 0 or a negative errno. */
static int child_start(child_t *c, const char *const *argv, const char *const *extra_env, const char *log) {
        _cleanup_free_ char **env = environ_with(extra_env);
        _cleanup_close_ int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (!env)
                return -ENOMEM;
        if (out < 0)
                return -errno;
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                int null = open("/dev/null", O_RDONLY);
                dup2(null, STDIN_FILENO);
                dup2(out, STDOUT_FILENO);
                dup2(out, STDERR_FILENO);
                execvpe(argv[0], (char *const *)argv, env);
                fprintf(stderr,
                        "test-webui: cannot run %s: %s (packaging/install-deps installs ruby-sidekiq, "
                        "ruby-rack, ruby-webrick and chromium)\n",
                        argv[0], strerror(errno));
                _exit(127);
        }
        setpgid(pid, pid); /* also here: whichever runs first, the group exists before we signal it */
        c->pid = pid;
        c->exit_code = -1;
        return 0;
}

/* Waits at most timeout_ms for the child to exit and reaps it. */
static bool child_wait(child_t *c, int timeout_ms) {
        for (int waited = 0; c->pid > 0; waited += 20) {
                int status;
                pid_t r = waitpid(c->pid, &status, WNOHANG);
                if (r == c->pid || (r < 0 && errno == ECHILD)) {
                        c->exit_code = r < 0               ? 128 + SIGKILL
                                       : WIFEXITED(status) ? WEXITSTATUS(status)
                                                           : 128 + WTERMSIG(status);
                        c->pid = -1;
                        return true;
                }
                if (waited >= timeout_ms)
                        return false;
                sleep_ms(20);
        }
        return true;
}

/* Sends sig to the child's process group, waits at most timeout_ms, then
 * kills the group. Safe on a child that is not running. */
static void child_stop(child_t *c, int sig, int timeout_ms) {
        if (c->pid <= 0)
                return;
        pid_t group = c->pid;
        kill(-group, sig);
        if (!child_wait(c, timeout_ms)) {
                kill(-group, SIGKILL);
                child_wait(c, 10000);
        }
        kill(-group, SIGKILL); /* whatever it left in its group */
}

static bool is_started_on_purpose(pid_t pid) {
        return pid == redis.pid || pid == flowcorod.pid || pid == webui.pid || pid == browser.pid;
}

/* Kills and reaps every child of this process that it did not start on
 * purpose: as the subreaper, it inherits what chromium leaves behind.
 * Returns how many distinct processes that was (at most 256 are told apart). */
static int reap_strays(void) {
        pid_t seen[256];
        int found = 0;
        for (int round = 0; round < 500; round++) {
                bool any = false;
                DIR *d = opendir("/proc");
                struct dirent *e;
                while (d && (e = readdir(d))) {
                        char path[300], line[512];
                        if (!isdigit((unsigned char)e->d_name[0]))
                                continue;
                        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                        ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof(line) - 1);
                        if (n <= 0)
                                continue;
                        line[n] = '\0';
                        const char *after_comm = strrchr(line, ')'); /* "pid (comm) state ppid ..." */
                        char state;
                        int ppid;
                        pid_t pid = (pid_t)atoi(e->d_name);
                        if (!after_comm || sscanf(after_comm + 1, " %c %d", &state, &ppid) != 2 ||
                            ppid != getpid() || is_started_on_purpose(pid))
                                continue;
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, WNOHANG); /* or in a later round, once it died */
                        any = true;
                        bool known = false;
                        for (int i = 0; i < found && i < 256 && !known; i++)
                                known = seen[i] == pid;
                        if (!known && found < 256)
                                seen[found++] = pid;
                }
                if (d)
                        closedir(d);
                if (!any)
                        return found;
                sleep_ms(20);
        }
        fprintf(stderr, "test-webui: leftover children still there after 10 s of SIGKILL\n");
        return found;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)st, (void)type, (void)ftw;
        remove(path);
        return 0;
}

/* ---- Redis ------------------------------------------------------------------------------------ */

static double epoch_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What any Sidekiq client does: SADD queues + LPUSH queue:<q>, with
 * created_at and enqueued_at filled in. Takes job. */
static void push_job(const char *queue, json_t *job) {
        assert_non_null(job);
        double now = epoch_now();
        json_object_set_new(job, "queue", json_string(queue));
        json_object_set_new(job, "created_at", json_real(now));
        json_object_set_new(job, "enqueued_at", json_real(now));
        _cleanup_free_ char *text = json_dumps(job, JSON_COMPACT);
        json_decref(job);
        assert_non_null(text);
        assert_true(fc_test_redis_int(rc, "SADD queues %s", queue) >= 0);
        assert_true(fc_test_redis_int(rc, "LPUSH queue:%s %s", queue, text) > 0);
}

static bool failures_filed(void *arg) {
        (void)arg;
        return fc_test_redis_int(rc, "ZCARD retry") == 2 && fc_test_redis_int(rc, "ZCARD dead") == 2;
}

static char identity[256];

static bool process_registered(void *arg) {
        (void)arg;
        redisReply *r = redisCommand(rc, "SMEMBERS processes");
        bool one = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                   r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < sizeof(identity);
        if (one)
                memcpy(identity, r->element[0]->str, r->element[0]->len + 1);
        freeReplyObject(r);
        return one;
}

static bool busy_jobs_in_workers_hash(void *arg) {
        (void)arg;
        return fc_test_redis_int(rc, "LLEN queue:default") == 0 &&
               fc_test_redis_int(rc, "LLEN queue:critical") == 0 &&
               fc_test_redis_int(rc, "HLEN %s:workers", identity) == CONCURRENCY &&
               fc_test_redis_int(rc, "HGET %s busy", identity) == CONCURRENCY;
}

static bool process_quiet(void *arg) {
        (void)arg;
        redisReply *r = redisCommand(rc, "HGET %s quiet", identity);
        bool quiet = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "true") == 0;
        freeReplyObject(r);
        return quiet;
}

/* The InvalidJob entry flowcorod filed for the malformed payload: its jid
 * and error_message. */
static void find_invalid_job(char *jid, size_t jid_size, char *message, size_t message_size) {
        redisReply *r = redisCommand(rc, "ZRANGE dead 0 -1");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        jid[0] = '\0';
        for (size_t i = 0; i < r->elements; i++) {
                json_t *o = json_loads(r->element[i]->str, 0, NULL);
                const char *class = json_string_value(json_object_get(o, "class"));
                const char *j = json_string_value(json_object_get(o, "jid"));
                const char *m = json_string_value(json_object_get(o, "error_message"));
                if (class && strcmp(class, "FlowCoro::InvalidJob") == 0 && j && m) {
                        snprintf(jid, jid_size, "%s", j);
                        snprintf(message, message_size, "%s", m);
                }
                json_decref(o);
        }
        freeReplyObject(r);
        if (!jid[0])
                fail_msg("no FlowCoro::InvalidJob entry with a jid and an error_message in the dead set");
}

/* ---- the Web UI ------------------------------------------------------------------------------- */

/* Starts rackup with config.ru on 127.0.0.1, port 0 (the kernel picks one;
 * WEBrick logs which), and waits until it listens. */
static void webui_start(void) {
        char redis_url[128], secret[160] = "SESSION_SECRET=";
        unsigned char key[64];
        _cleanup_close_ int urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        assert_true(urandom >= 0 && read(urandom, key, sizeof(key)) == (ssize_t)sizeof(key));
        for (size_t i = 0; i < sizeof(key); i++)
                snprintf(secret + strlen(secret), sizeof(secret) - strlen(secret), "%02x", key[i]);
        snprintf(redis_url, sizeof(redis_url), "REDIS_URL=redis://127.0.0.1:%d/0", redis.port);
        const char *const env[] = {redis_url, secret, NULL};
        const char *const argv[] = {"rackup", "-E", "production",    "-s", "webrick", "-o", "127.0.0.1",
                                    "-p",     "0",  WEBUI_CONFIG_RU, NULL};
        const char *log_path = WEBUI_ARTIFACTS "/rackup.log";
        assert_int_equal(child_start(&webui, argv, env, log_path), 0);
        for (int waited = 0; waited < WEBUI_START_TIMEOUT_MS; waited += 50) {
                _cleanup_free_ char *text = slurp(log_path);
                const char *start = text ? strstr(text, "HTTPServer#start:") : NULL;
                const char *port = start ? strstr(start, " port=") : NULL;
                if (port && sscanf(port, " port=%d", &webui_port) == 1 && webui_port > 0)
                        return;
                if (child_wait(&webui, 0))
                        break;
                sleep_ms(50);
        }
        print_file("rackup's log", log_path);
        if (webui.pid < 0)
                fail_msg("Sidekiq's Web UI (rackup %s) exited with %d before it listened", WEBUI_CONFIG_RU,
                         webui.exit_code);
        fail_msg("Sidekiq's Web UI (rackup %s) did not start listening within %d s", WEBUI_CONFIG_RU,
                 WEBUI_START_TIMEOUT_MS / 1000);
}

/* GET path (form NULL) or POST form to the Web UI, with the cookies of the
 * requests before (the session holds the CSRF token). Returns the HTTP
 * status; the body goes to *body (malloc'd; the caller frees it). */
static long webui_request(const char *path, const char *form, char **body) {
        char url[512];
        fc_test_buffer_t b = {0};
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", webui_port, path);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        if (form)
                curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, form);
        else
                curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fc_test_buffer_append);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
        CURLcode r = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (r != CURLE_OK) {
                free(b.data);
                fail_msg("%s %s: %s", form ? "POST" : "GET", url, curl_easy_strerror(r));
        }
        *body = b.data ? b.data : strdup("");
        return status;
}

/* GETs a page, keeps it as artifacts/NAME.html, and returns it (malloc'd). */
static char *get_page(const char *path, const char *name) {
        char *html = NULL, file[512];
        long status = webui_request(path, NULL, &html);
        snprintf(file, sizeof(file), "%s/%s.html", WEBUI_ARTIFACTS, name);
        write_file(file, html);
        if (status != 200) {
                print_file("rackup's log", WEBUI_ARTIFACTS "/rackup.log");
                fail_msg("GET %s answered %ld, not 200 (the page is in %s)", path, status, file);
        }
        return html;
}

/* ---- reading the pages ------------------------------------------------------------------------ */

/* Rack::Utils.escape_html, which Sidekiq's h() uses. */
static void html_escape(const char *s, char *out, size_t cap) {
        size_t n = 0;
        out[0] = '\0';
        for (; *s && n + 8 < cap; s++) {
                const char *e = *s == '&'    ? "&amp;"
                                : *s == '<'  ? "&lt;"
                                : *s == '>'  ? "&gt;"
                                : *s == '\'' ? "&#x27;"
                                : *s == '"'  ? "&quot;"
                                : *s == '/'  ? "&#x2F;"
                                             : NULL;
                n += e ? (size_t)snprintf(out + n, cap - n, "%s", e)
                       : (size_t)snprintf(out + n, cap - n, "%c", *s);
        }
}

/* The <tr>...</tr> of html that holds needle (malloc'd), or NULL. */
static char *row_with(const char *html, const char *needle) {
        const char *at = strstr(html, needle);
        if (!at)
                return NULL;
        const char *start = at;
        while (start > html &&
               !(strncmp(start, "<tr", 3) == 0 && (start[3] == '>' || isspace((unsigned char)start[3]))))
                start--;
        const char *end = strstr(at, "</tr>");
        if (start == html || !end)
                return NULL;
        return strndup(start, (size_t)(end + 5 - start));
}

/* The text of the n-th (0-based) <td> of row, tags removed and white space
 * runs made one space, trimmed (entities stay as they are); "" when there
 * is no such cell. */
static const char *cell(const char *row, int n, char *out, size_t cap) {
        const char *p = row;
        out[0] = '\0';
        for (int i = 0;; i++) {
                while ((p = strstr(p, "<td")) && !(p[3] == '>' || isspace((unsigned char)p[3])))
                        p += 3;
                if (!p)
                        return out;
                if (i == n)
                        break;
                p += 3;
        }
        const char *q = strchr(p, '>');
        const char *end = q ? strstr(q, "</td>") : NULL;
        if (!end)
                return out;
        size_t len = 0;
        bool in_tag = false, space = false;
        for (q++; q < end && len + 2 < cap; q++) {
                if (*q == '<')
                        in_tag = true;
                else if (*q == '>')
                        in_tag = false, space = true;
                else if (in_tag)
                        continue;
                else if (isspace((unsigned char)*q))
                        space = true;
                else {
                        if (space && len > 0)
                                out[len++] = ' ';
                        space = false;
                        out[len++] = *q;
                }
        }
        out[len] = '\0';
        return out;
}

static int count(const char *html, const char *needle) {
        int n = 0;
        for (const char *p = html; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

#define assert_cell(row, n, want)                                                                            \
        do {                                                                                                 \
                char got_[1024];                                                                             \
                if (strcmp(cell((row), (n), got_, sizeof(got_)), (want)) != 0)                               \
                        fail_msg("cell %d: expected \"%s\", got \"%s\" in row %s", (n), (want), got_,        \
                                 (row));                                                                     \
        } while (0)

#define assert_cell_has(row, n, want)                                                                        \
        do {                                                                                                 \
                char got_[1024];                                                                             \
                if (!strstr(cell((row), (n), got_, sizeof(got_)), (want)))                                   \
                        fail_msg("cell %d: expected it to hold \"%s\", got \"%s\" in row %s", (n), (want),   \
                                 got_, (row));                                                               \
        } while (0)

static char *require_row(const char *html, const char *needle, const char *page) {
        char *row = row_with(html, needle);
        if (!row)
                fail_msg("%s: no table row holds %s (the page is in %s)", page, needle, WEBUI_ARTIFACTS);
        return row;
}

/* Dashboard: the summary bar's counts (every page has it). */
static void check_dashboard_page(void) {
        _cleanup_free_ char *html = get_page("/", "dashboard");
        int enqueued = 0;
        for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++)
                enqueued += waiting[i].size;
        const struct {
                const char *id;
                int want;
        } counts[] = {{"txtBusy", CONCURRENCY},
                      {"txtEnqueued", enqueued},
                      {"txtRetries", (int)(sizeof(retry_jobs) / sizeof(retry_jobs[0]))},
                      {"txtDead", 2}};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
                char needle[128];
                snprintf(needle, sizeof(needle), "<span id=\"%s\" class=\"count\">%d</span>", counts[i].id,
                         counts[i].want);
                if (!strstr(html, needle))
                        fail_msg("/: the summary bar has no %s (the page is in %s)", needle, WEBUI_ARTIFACTS);
        }
}

/* Busy: the process (name hostname:pid, tag, queues, threads, busy, its
 * identity in the Quiet/Stop form) and one row per busy job. */
static void check_busy_page(void) {
        _cleanup_free_ char *html = get_page("/busy", "busy");
        char needle[512], host[256], name[300];
        assert_int_equal(gethostname(host, sizeof(host)), 0);
        snprintf(name, sizeof(name), "%s:%d", host, (int)flowcorod.pid);
        snprintf(needle, sizeof(needle), "name=\"identity\" value=\"%s\"", identity);
        assert_int_equal(count(html, needle), 1);
        _cleanup_free_ char *process = require_row(html, needle, "/busy");
        assert_cell_has(process, 0, name);
        assert_cell_has(process, 0, " " TAG " ");
        assert_cell_has(process, 0, "Queues: critical, default, low");
        if (strstr(process, ">quiet</span>"))
                fail_msg("/busy shows the process as quiet before the Quiet button: %s", process);
        assert_cell(process, 3, "3"); /* threads: concurrency */
        assert_cell(process, 4, "3"); /* busy */
        for (size_t i = 0; i < CONCURRENCY; i++) {
                snprintf(needle, sizeof(needle), "<td>%s</td>", busy_jobs[i].jid);
                _cleanup_free_ char *job = require_row(html, needle, "/busy");
                char tid[256];
                assert_cell(job, 0, identity);
                assert_true(cell(job, 1, tid, sizeof(tid))[0] != '\0');
                assert_cell(job, 2, busy_jobs[i].jid);
                assert_cell(job, 3, busy_jobs[i].queue);
                assert_cell(job, 4, "Sleep");
                assert_cell(job, 5, "600000");
        }
        /* No other job rows: each job row names the process in its first cell. */
        snprintf(needle, sizeof(needle), "<td>%s</td>", identity);
        assert_int_equal(count(html, needle), CONCURRENCY);
}

/* Queues: every queue with the number of jobs waiting in it. */
static void check_queues_page(void) {
        _cleanup_free_ char *html = get_page("/queues", "queues");
        for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++) {
                char needle[256], size[16];
                snprintf(needle, sizeof(needle), ">%s</a>", waiting[i].queue);
                _cleanup_free_ char *row = require_row(html, needle, "/queues");
                snprintf(size, sizeof(size), "%d", waiting[i].size);
                assert_cell(row, 0, waiting[i].queue);
                assert_cell(row, 1, size);
        }
        assert_int_equal(count(html, "<form action=\"/queues/"), sizeof(waiting) / sizeof(waiting[0]));
}

/* Retries: each failed job (its jid is in the row's links) with its retry
 * count, queue, class and "error_class: error_message". */
static void check_retries_page(void) {
        _cleanup_free_ char *html = get_page("/retries", "retries");
        for (size_t i = 0; i < sizeof(retry_jobs) / sizeof(retry_jobs[0]); i++) {
                char needle[64], error[512], escaped[1024];
                snprintf(needle, sizeof(needle), "-%s'", retry_jobs[i].jid);
                _cleanup_free_ char *row = require_row(html, needle, "/retries");
                snprintf(error, sizeof(error), "Fail: %s", retry_jobs[i].message);
                html_escape(error, escaped, sizeof(escaped));
                assert_cell(row, 2, "0");
                assert_cell(row, 3, retry_jobs[i].queue);
                assert_cell(row, 4, "Fail");
                assert_cell(row, 6, escaped);
        }
        assert_int_equal(count(html, "name='key[]'"), 2);
}

/* Dead: the Fail job with retry 0 and the InvalidJob. */
static void check_morgue_page(const char *invalid_jid, const char *invalid_message) {
        _cleanup_free_ char *html = get_page("/morgue", "morgue");
        char needle[64], error[1024], escaped[2048];
        snprintf(needle, sizeof(needle), "-%s'", dead_jid);
        _cleanup_free_ char *fail = require_row(html, needle, "/morgue");
        snprintf(error, sizeof(error), "Fail: %s", dead_message);
        html_escape(error, escaped, sizeof(escaped));
        assert_cell(fail, 2, "low");
        assert_cell(fail, 3, "Fail");
        assert_cell(fail, 5, escaped);

        snprintf(needle, sizeof(needle), "-%s'", invalid_jid);
        _cleanup_free_ char *invalid = require_row(html, needle, "/morgue");
        snprintf(error, sizeof(error), "FlowCoro::InvalidJob: %s", invalid_message);
        html_escape(error, escaped, sizeof(escaped));
        assert_cell(invalid, 2, "low");
        assert_cell(invalid, 3, "FlowCoro::InvalidJob");
        assert_cell(invalid, 5, escaped);
        assert_int_equal(count(html, "name='key[]'"), 2);
}

/* ---- screenshots ------------------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG of SHOT_WIDTH x SHOT_HEIGHT with more in it than a blank page. */
static void check_png(const char *path) {
        static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        unsigned char head[24];
        struct stat st;
        if (stat(path, &st) < 0)
                fail_msg("%s: %s (chromium wrote no screenshot)", path, strerror(errno));
        if (st.st_size < SHOT_MIN_BYTES)
                fail_msg("%s: only %lld bytes: a blank page?", path, (long long)st.st_size);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, head, sizeof(head)), sizeof(head));
        if (memcmp(head, signature, sizeof(signature)) != 0 || memcmp(head + 12, "IHDR", 4) != 0)
                fail_msg("%s: not a PNG file", path);
        if (be32(head + 16) != SHOT_WIDTH || be32(head + 20) != SHOT_HEIGHT)
                fail_msg("%s: %u x %u, expected %d x %d", path, be32(head + 16), be32(head + 20), SHOT_WIDTH,
                         SHOT_HEIGHT);
}

/* Headless Chromium with a fresh profile takes artifacts/NAME.png of path. */
static void screenshot(const char *path, const char *name) {
        char png[512], shot[600], url[256], profile[300], profile_arg[320], log[512];
        char home[320], config_home[340], cache_home[340];
        snprintf(png, sizeof(png), "%s/%s.png", WEBUI_ARTIFACTS, name);
        snprintf(log, sizeof(log), "%s/chromium-%s.log", WEBUI_ARTIFACTS, name);
        snprintf(profile, sizeof(profile), "%s/chromium-%s", work_dir, name);
        snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", profile);
        snprintf(shot, sizeof(shot), "--screenshot=%s", png);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", webui_port, path);
        snprintf(home, sizeof(home), "HOME=%s", profile);
        snprintf(config_home, sizeof(config_home), "XDG_CONFIG_HOME=%s/.config", profile);
        snprintf(cache_home, sizeof(cache_home), "XDG_CACHE_HOME=%s/.cache", profile);
        unlink(png);
        assert_int_equal(mkdir(profile, 0700), 0);
        const char *const env[] = {home, config_home, cache_home, NULL};
        const char *const argv[] = {"chromium",
                                    "--headless",
                                    "--no-sandbox",
                                    "--disable-gpu",
                                    "--disable-background-networking",
                                    "--disable-component-update",
                                    "--disable-sync",
                                    "--no-first-run",
                                    "--hide-scrollbars",
                                    profile_arg,
                                    shot,
                                    "--window-size=1280,900",
                                    url,
                                    NULL};
        assert_int_equal(child_start(&browser, argv, env, log), 0);
        bool exited = child_wait(&browser, CHROMIUM_TIMEOUT_MS);
        child_stop(&browser, SIGKILL, 5000);
        int strays = reap_strays();
        printf("chromium: %s -> %s (%s; %d leftover process%s killed)\n", url, png,
               exited ? "exited" : "killed after the time limit", strays, strays == 1 ? "" : "es");
        if (!exited || browser.exit_code != 0)
                print_file("chromium's log", log);
        assert_true(exited);
        assert_int_equal(browser.exit_code, 0);
        check_png(png);
}

/* ---- the Quiet and Stop buttons ----------------------------------------------------------------- */

/* POSTs the process's Quiet or Stop form from a fresh /busy page (its CSRF
 * token); returns the HTTP status. */
static long press(const char *button) {
        _cleanup_free_ char *html = get_page("/busy", "busy-before-press");
        const char *at = strstr(html, "name='authenticity_token' value='");
        char token[256];
        if (!at || sscanf(at + strlen("name='authenticity_token' value='"), "%255[^']", token) != 1)
                fail_msg("/busy has no authenticity_token: is the session middleware in config.ru?");
        char *t = curl_easy_escape(curl, token, 0), *id = curl_easy_escape(curl, identity, 0);
        char form[1024];
        snprintf(form, sizeof(form), "authenticity_token=%s&identity=%s&%s=1", t, id, button);
        curl_free(t);
        curl_free(id);
        _cleanup_free_ char *body = NULL;
        return webui_request("/busy", form, &body);
}

static void check_quiet_and_stop_buttons(void) {
        /* Without the session's token the Web UI refuses (and signals nothing). */
        char form[512];
        _cleanup_free_ char *refused = NULL;
        snprintf(form, sizeof(form), "identity=%s&quiet=1", identity);
        assert_int_equal(webui_request("/busy", form, &refused), 403);
        char signals[300];
        snprintf(signals, sizeof(signals), "%s-signals", identity);
        assert_int_equal(fc_test_redis_int(rc, "LLEN %s", signals), 0);

        assert_int_equal(press("quiet"), 302);
        if (!fc_test_wait_until(process_quiet, NULL, HEARTBEAT_WAIT_MS))
                fail_msg("flowcorod did not go quiet within %d s of the Quiet button",
                         HEARTBEAT_WAIT_MS / 1000);
        _cleanup_free_ char *html = get_page("/busy", "busy-quiet");
        char needle[512];
        snprintf(needle, sizeof(needle), "name=\"identity\" value=\"%s\"", identity);
        _cleanup_free_ char *process = require_row(html, needle, "/busy");
        assert_non_null(strstr(process, ">quiet</span>"));
        assert_null(strstr(process, "name=\"quiet\"")); /* no Quiet button for a quiet process */
        assert_cell(process, 4, "3");                   /* the busy jobs run on */

        assert_int_equal(press("stop"), 302);
        bool exited = fc_test_daemon_wait(&flowcorod, 40000);
        if (!exited || flowcorod.exit_code != 0) {
                _cleanup_free_ char *log = fc_test_daemon_log(&flowcorod);
                fprintf(stderr, "---- flowcorod's log ----\n%s---- end ----\n", log ? log : "");
                fail_msg("flowcorod %s after the Stop button",
                         exited ? "exited with an error" : "ran on for 40 s");
        }
        _cleanup_free_ char *after = get_page("/busy", "busy-stopped");
        assert_null(row_with(after, needle));
}

/* ---- tests -------------------------------------------------------------------------------------- */

static void test_webui_shows_flowcorod(void **state) {
        (void)state;
        /* Retries due in an hour, not Sidekiq's 15-25 s: they must stay in the
         * retry set while the pages are read. */
        setenv("FLOWCORO_TEST_RETRY_DELAY_MS", RETRY_DELAY_MS, 1);
        int r = fc_test_daemon_start(&flowcorod, &redis, daemon_config, daemon_args);
        unsetenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        assert_int_equal(r, 0);
        webui_start();
        printf("Sidekiq's Web UI: http://127.0.0.1:%d/ on redis://127.0.0.1:%d/0\n", webui_port, redis.port);

        /* Failures first, while the slots are free. */
        for (size_t i = 0; i < sizeof(retry_jobs) / sizeof(retry_jobs[0]); i++)
                push_job(retry_jobs[i].queue,
                         json_pack("{s:s, s:[s,s], s:s, s:b}", "class", "Fail", "args", "retry",
                                   retry_jobs[i].message, "jid", retry_jobs[i].jid, "retry", 1));
        push_job("low", json_pack("{s:s, s:[s,s], s:s, s:i}", "class", "Fail", "args", "retry", dead_message,
                                  "jid", dead_jid, "retry", 0));
        assert_true(fc_test_redis_int(rc, "SADD queues low") >= 0);
        assert_true(fc_test_redis_int(rc, "LPUSH queue:low %s", malformed_payload) > 0);
        if (!fc_test_wait_until(failures_filed, NULL, 15000))
                fail_msg("within 15 s: %lld retries and %lld dead jobs, expected 2 and 2",
                         fc_test_redis_int(rc, "ZCARD retry"), fc_test_redis_int(rc, "ZCARD dead"));
        char invalid_jid[64], invalid_message[512];
        find_invalid_job(invalid_jid, sizeof(invalid_jid), invalid_message, sizeof(invalid_message));

        /* Then Sleep jobs hold every slot, and more jobs wait in the queues. */
        for (size_t i = 0; i < CONCURRENCY; i++)
                push_job(busy_jobs[i].queue, json_pack("{s:s, s:[i], s:s}", "class", "Sleep", "args",
                                                       SLEEP_MS, "jid", busy_jobs[i].jid));
        if (!fc_test_wait_until(process_registered, NULL, HEARTBEAT_WAIT_MS))
                fail_msg("the processes set did not hold one identity within %d s", HEARTBEAT_WAIT_MS / 1000);
        if (!fc_test_wait_until(busy_jobs_in_workers_hash, NULL, HEARTBEAT_WAIT_MS))
                fail_msg("the %d Sleep jobs were not all in %s:workers within %d s", CONCURRENCY, identity,
                         HEARTBEAT_WAIT_MS / 1000);
        for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++)
                for (int j = 0; j < waiting[i].size; j++)
                        push_job(waiting[i].queue, json_pack("{s:s, s:[]}", "class", "Noop", "args"));
        printf("flowcorod %s: %d jobs busy, more waiting, 2 retries, 2 dead\n", identity, CONCURRENCY);

        check_dashboard_page();
        check_busy_page();
        check_queues_page();
        check_retries_page();
        check_morgue_page(invalid_jid, invalid_message);
        screenshot("/busy", "busy");
        screenshot("/retries", "retries");
        screenshot("/morgue", "morgue");
        check_quiet_and_stop_buttons();
}

/* docs/webui.md shows tests/webui/config.ru as it is: what the docs say to
 * run is what this test ran. */
static void test_docs_show_config_ru(void **state) {
        (void)state;
        _cleanup_free_ char *doc = slurp(WEBUI_DOC);
        _cleanup_free_ char *config_ru = slurp(WEBUI_CONFIG_RU);
        assert_non_null(doc);
        assert_non_null(config_ru);
        if (!strstr(doc, config_ru))
                fail_msg("%s does not show %s as it is: copy the file into its ```ruby block", WEBUI_DOC,
                         WEBUI_CONFIG_RU);
}

static int setup(void **state) {
        (void)state;
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -1;
        if (mkdir(WEBUI_ARTIFACTS, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "test-webui: mkdir %s: %s\n", WEBUI_ARTIFACTS, strerror(errno));
                return -1;
        }
        snprintf(work_dir, sizeof(work_dir), "%s/fc-webui-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(work_dir)) {
                work_dir[0] = '\0';
                return -1;
        }
        curl = curl_easy_init();
        if (!curl || fc_test_redis_start(&redis, NULL) < 0)
                return -1;
        curl_easy_setopt(curl, CURLOPT_COOKIEFILE, ""); /* cookies on: the session */
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        rc = fc_test_redis_connect(&redis);
        return rc ? 0 : -1;
}

static int stop_children(void **state) {
        (void)state;
        child_stop(&browser, SIGKILL, 5000);
        child_stop(&webui, SIGINT, 10000); /* rackup's clean way out */
        fc_test_daemon_stop(&flowcorod);
        int strays = reap_strays();
        if (strays > 0)
                fprintf(stderr, "test-webui: killed %d leftover process%s\n", strays,
                        strays == 1 ? "" : "es");
        return 0;
}

static int teardown(void **state) {
        stop_children(state);
        if (rc)
                redisFree(rc);
        fc_test_redis_stop(&redis);
        int strays = reap_strays();
        if (strays > 0)
                fprintf(stderr, "test-webui: killed %d leftover process%s\n", strays,
                        strays == 1 ? "" : "es");
        if (work_dir[0])
                nftw(work_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (curl)
                curl_easy_cleanup(curl);
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_docs_show_config_ru),
                cmocka_unit_test_teardown(test_webui_shows_flowcorod, stop_children),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
