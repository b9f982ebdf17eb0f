/* http.so: one HTTP request per job, on libcurl's multi interface.
 *
 *   HttpRequest   args [{"method": "POST", "url": "https://...",
 *                        "headers": {"Name": "value"}, "body": "..."}]
 *
 * Each request has its own multi handle and a private epoll instance. curl's
 * socket callback puts the sockets it wants watched into that epoll set and
 * its timer callback says when it next needs a timeout call; the handler waits
 * on the epoll fd with host->wait_fd, bounded by that timer, and hands what
 * became ready to curl_multi_socket_action. So a waiting request costs a
 * parked coroutine and two file descriptors, and thousands of them wait on a
 * few scheduler threads. Name lookups run on libcurl's resolver threads.
 *
 * 2xx succeeds; 5xx, 408, 429, timeouts and connection errors retry; other
 * statuses and malformed args fail for good. docs/plugins-bundled.md has the
 * configuration. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "flowcoro/plugin.h"
#include "json-kind.h"

#define DEFAULT_TIMEOUT_MS         30000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_LOG_BODY       256
#define MAX_MAX_LOG_BODY           1024 /* the host cuts a log message at 2 KiB */
#define DEFAULT_USER_AGENT         "FlowCoro-http/1.0"
/* When curl has neither a socket nor a timer (it always should while a
 * transfer runs), look again after this long rather than wait forever. */
#define IDLE_RECHECK_MS 1000

/* Read-only after init: handlers on any thread share it without locks. */
typedef struct http_state {
        uint64_t timeout_ms;         /* 0: only the job's deadline */
        uint64_t connect_timeout_ms; /* 0: curl's default */
        size_t max_log_body;
        bool allow_http, allow_https;
        char protocols[16]; /* for CURLOPT_PROTOCOLS_STR: "http,https" */
        char *user_agent;
        long max_redirects; /* 0: redirects are not followed */
} http_state_t;

/* ---- configuration ------------------------------------------------------ */

enum { CFG_SCALAR = 0, CFG_SEQUENCE = 1, CFG_MAPPING = 2 };

static void state_free(http_state_t *st) {
        if (!st)
                return;
        free(st->user_agent);
        free(st);
}

static bool parse_duration(const fc_host_t *host, fc_config_errors_t *errors, const fc_config_node_t *node,
                           uint64_t *out) {
        const char *v = host->cfg_scalar(node);
        uint64_t ms;
        if (!v || host->cfg_duration(v, &ms) < 0 || ms > UINT64_C(86400000)) {
                host->cfg_error(
                        errors, node,
                        "expected a duration up to 1d, a whole number with a unit (ms, s, m, h, d) such "
                        "as \"30s\", got %s%s%s",
                        v ? "\"" : "", v ? v : "a collection", v ? "\"" : "");
                return false;
        }
        *out = ms;
        return true;
}

static int init(const fc_host_t *host, const fc_config_node_t *config, fc_config_errors_t *errors,
                void **state) {
        http_state_t *st = calloc(1, sizeof(*st));
        const fc_config_node_t *schemes = NULL;
        bool ok = true;
        *state = NULL;
        if (!st)
                return -ENOMEM;
        st->timeout_ms = DEFAULT_TIMEOUT_MS;
        st->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
        st->max_log_body = DEFAULT_MAX_LOG_BODY;
        st->allow_http = st->allow_https = true;
        if (config && host->cfg_type(config) != CFG_MAPPING) {
                host->cfg_error(
                        errors, config,
                        "expected a mapping of settings (timeout, connect_timeout, max_log_body, schemes, "
                        "user_agent, max_redirects)");
                state_free(st);
                return -EINVAL;
        }
        for (size_t i = 0; config && i < host->cfg_count(config); i++) {
                const char *key = host->cfg_key(config, i);
                const fc_config_node_t *v = host->cfg_item(config, i);
                const char *s = host->cfg_scalar(v);
                if (strcmp(key, "timeout") == 0)
                        ok &= parse_duration(host, errors, v, &st->timeout_ms);
                else if (strcmp(key, "connect_timeout") == 0)
                        ok &= parse_duration(host, errors, v, &st->connect_timeout_ms);
                else if (strcmp(key, "max_log_body") == 0) {
                        uint64_t bytes;
                        if (!s || host->cfg_size(s, &bytes) < 0 || bytes > MAX_MAX_LOG_BODY) {
                                host->cfg_error(errors, v, "expected a size from 0 to %dB, such as \"256B\"",
                                                MAX_MAX_LOG_BODY);
                                ok = false;
                        } else
                                st->max_log_body = bytes;
                } else if (strcmp(key, "schemes") == 0)
                        schemes = v;
                else if (strcmp(key, "user_agent") == 0) {
                        if (!s || strpbrk(s, "\r\n")) {
                                host->cfg_error(errors, v, "expected a one-line string");
                                ok = false;
                        } else if (!(st->user_agent = strdup(s))) {
                                state_free(st);
                                return -ENOMEM;
                        }
                } else if (strcmp(key, "max_redirects") == 0) {
                        char *end;
                        long n = s ? strtol(s, &end, 10) : -1;
                        if (!s || !*s || *end || n < 0 || n > 50) {
                                host->cfg_error(errors, v, "expected a whole number from 0 to 50");
                                ok = false;
                        } else
                                st->max_redirects = n;
                } else {
                        host->cfg_error(
                                errors, v,
                                "unknown key \"%s\" (http.so knows timeout, connect_timeout, max_log_body, "
                                "schemes, user_agent, max_redirects)",
                                key);
                        ok = false;
                }
        }
        if (schemes) {
                st->allow_http = st->allow_https = false;
                if (host->cfg_type(schemes) != CFG_SEQUENCE || host->cfg_count(schemes) == 0) {
                        host->cfg_error(errors, schemes, "expected a non-empty list of http and/or https");
                        ok = false;
                }
                for (size_t i = 0; host->cfg_type(schemes) == CFG_SEQUENCE && i < host->cfg_count(schemes);
                     i++) {
                        const fc_config_node_t *item = host->cfg_item(schemes, i);
                        const char *s = host->cfg_scalar(item);
                        if (s && strcmp(s, "http") == 0)
                                st->allow_http = true;
                        else if (s && strcmp(s, "https") == 0)
                                st->allow_https = true;
                        else {
                                host->cfg_error(errors, item, "expected http or https, got %s%s%s",
                                                s ? "\"" : "", s ? s : "a collection", s ? "\"" : "");
                                ok = false;
                        }
                }
        }
        snprintf(st->protocols, sizeof(st->protocols), "%s%s%s", st->allow_http ? "http" : "",
                 st->allow_http && st->allow_https ? "," : "", st->allow_https ? "https" : "");
        if (!st->user_agent && !(st->user_agent = strdup(DEFAULT_USER_AGENT))) {
                state_free(st);
                return -ENOMEM;
        }
        if (!ok) {
                state_free(st);
                return -EINVAL;
        }
        /* Reference-counted and thread-safe in this libcurl (>= 7.84). */
        CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
        if (c != CURLE_OK) {
                host->log(NULL, FC_LOG_PRIO_ERROR, "http.so: curl_global_init failed: %s",
                          curl_easy_strerror(c));
                state_free(st);
                return -EIO;
        }
        *state = st;
        return 0;
}

static void fini(const fc_host_t *host, void *state) {
        curl_global_cleanup();
        state_free(state);
}

/* ---- one request -------------------------------------------------------- */

typedef struct request {
        const fc_host_t *host;
        CURLM *multi;
        CURL *easy;
        struct curl_slist *headers;
        CURLU *url;         /* the parsed URL; curl reads it until the easy handle goes */
        int64_t timeout_ms; /* the whole request's, for messages */
        int epfd;
        int64_t timer_at; /* when curl wants a timeout call (host->now_ms), -1: none */
        int watch_error;  /* errno of a failed epoll_ctl in the socket callback */
        char *body_head;  /* the first max_log_body bytes of the response */
        size_t body_len;
        size_t body_total;
        size_t max_log_body;
        char errbuf[CURL_ERROR_SIZE];
} request_t;

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        request_t *rq = userp;
        if (what == CURL_POLL_REMOVE) {
                epoll_ctl(rq->epfd, EPOLL_CTL_DEL, fd, NULL);
                curl_multi_assign(rq->multi, fd, NULL);
                return 0;
        }
        struct epoll_event ev = {.data.fd = fd};
        if (what & CURL_POLL_IN)
                ev.events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                ev.events |= EPOLLOUT;
        int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(rq->epfd, op, fd, &ev) < 0) {
                /* The fd was closed and reopened under the same number behind
                 * our back: epoll forgot it; add it afresh. */
                if (op == EPOLL_CTL_MOD && errno == ENOENT &&
                    epoll_ctl(rq->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
                        return 0;
                rq->watch_error = errno;
                return -1;
        }
        curl_multi_assign(rq->multi, fd, (void *)1);
        return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
        request_t *rq = userp;
        rq->timer_at = timeout_ms < 0 ? -1 : rq->host->now_ms() + timeout_ms;
        return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
        request_t *rq = userp;
        size_t len = size * n;
        if (rq->body_len < rq->max_log_body) {
                size_t take = rq->max_log_body - rq->body_len;
                if (take > len)
                        take = len;
                memcpy(rq->body_head + rq->body_len, data, take);
                rq->body_len += take;
        }
        rq->body_total += len;
        return len;
}

static void request_cleanup(void *arg) {
        request_t *rq = arg;
        if (rq->multi && rq->easy)
                curl_multi_remove_handle(rq->multi, rq->easy);
        if (rq->easy)
                curl_easy_cleanup(rq->easy);
        if (rq->multi)
                curl_multi_cleanup(rq->multi);
        rq->easy = NULL;
        rq->multi = NULL;
}

/* ---- args --------------------------------------------------------------- */

static bool is_token(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      strchr("!#$%&'*+-.^_`|~", *s)))
                        return false;
        return true;
}


#define ARGS_USAGE                                                                                           \
        "HttpRequest expects args [{\"url\": \"http(s)://...\", \"method\"?: \"POST\", \"headers\"?: "       \
        "{\"Name\": \"value\"}, \"body\"?: \"...\"}]"

/* Makes what a log may show of url: scheme, host, port and path, without
 * user, password, query or fragment (which may carry secrets). */
static void safe_url(CURLU *u, char *buf, size_t size) {
        char *scheme = NULL, *hostname = NULL, *port = NULL, *path = NULL;
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        curl_url_get(u, CURLUPART_HOST, &hostname, 0);
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(buf, size, "%s://%s%s%s%s", scheme ? scheme : "?", hostname ? hostname : "?",
                 port ? ":" : "", port ? port : "", path ? path : "");
        curl_free(scheme);
        curl_free(hostname);
        curl_free(port);
        curl_free(path);
}

/* Printable copy of a response body's head for a message. */
static void printable(const char *in, size_t len, char *out, size_t size) {
        size_t j = 0;
        for (size_t i = 0; i < len && j + 1 < size; i++)
                out[j++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : (in[i] == '\n' ? ' ' : '.');
        out[j] = '\0';
}

static fc_job_status_t finish(const fc_host_t *host, fc_job_t *job, const http_state_t *st, request_t *rq,
                              CURLcode result, const char *method, const char *url, int64_t timeout_ms) {
        char body[MAX_MAX_LOG_BODY + 1];
        long code = 0;
        printable(rq->body_head, rq->body_len, body, sizeof(body));
        const char *more = rq->body_total > rq->body_len ? " [...]" : "";
        switch (result) {
        case CURLE_OK:
                break;
        case CURLE_OPERATION_TIMEDOUT:
                return host->fail(job, FC_JOB_RETRY, "HTTP::Timeout",
                                  "%s %s: no complete response within %lld ms: %s", method, url,
                                  (long long)timeout_ms, rq->errbuf[0] ? rq->errbuf : "timed out");
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_TOO_MANY_REDIRECTS:
                return host->fail(job, FC_JOB_DEAD, "HTTP::RequestError", "%s %s: %s", method, url,
                                  rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(result));
        default:
                return host->fail(job, FC_JOB_RETRY, "HTTP::ConnectionError", "%s %s: %s", method, url,
                                  rq->errbuf[0] ? rq->errbuf : curl_easy_strerror(result));
        }
        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
                host->log(job, FC_LOG_PRIO_INFO, "%s %s: HTTP %ld, %zu bytes", method, url, code,
                          rq->body_total);
                return FC_JOB_OK;
        }
        if (code >= 500 || code == 408 || code == 429)
                return host->fail(job, FC_JOB_RETRY, "HTTP::ServerError", "%s %s: HTTP %ld: %s%s", method,
                                  url, code, body, more);
        if (code >= 300 && code < 400)
                return host->fail(
                        job, FC_JOB_DEAD, "HTTP::Redirect",
                        "%s %s: HTTP %ld (a redirect; http.so follows at most %ld, see max_redirects)",
                        method, url, code, st->max_redirects);
        return host->fail(job, FC_JOB_DEAD, "HTTP::ClientError", "%s %s: HTTP %ld: %s%s", method, url, code,
                          body, more);
}

/* Sets up rq->easy for the request args describe. Returns 0, or fails the
 * job (DEAD for bad args) and returns -1 with *status set. */
static int prepare(const fc_host_t *host, fc_job_t *job, const http_state_t *st, request_t *rq,
                   const char **method_out, char *url_out, size_t url_size, fc_job_status_t *status) {
        const json_t *args = host->job_args(job);
        const json_t *req = json_array_get(args, 0);
        if (json_array_size(args) != 1 || !json_is_object(req)) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError", "%s; got %zu args%s%s", ARGS_USAGE,
                                     json_array_size(args), json_array_size(args) ? ", the first " : "",
                                     json_array_size(args) ? fc_json_kind(req) : "");
                return -1;
        }
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)req, key, v) {
                if (strcmp(key, "url") != 0 && strcmp(key, "method") != 0 && strcmp(key, "headers") != 0 &&
                    strcmp(key, "body") != 0) {
                        *status = host->fail(
                                job, FC_JOB_DEAD, "ArgumentError",
                                "HttpRequest: unknown key \"%s\" (known: url, method, headers, body)", key);
                        return -1;
                }
        }
        const json_t *url = json_object_get(req, "url"), *method = json_object_get(req, "method");
        const json_t *headers = json_object_get(req, "headers"), *body = json_object_get(req, "body");
        if (!json_is_string(url) || strlen(json_string_value(url)) != json_string_length(url)) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                     "HttpRequest: \"url\" must be a string, got %s",
                                     url ? fc_json_kind(url) : "none");
                return -1;
        }
        if (method && (!json_is_string(method) || !is_token(json_string_value(method)) ||
                       json_string_length(method) > 32)) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                     "HttpRequest: \"method\" must be an HTTP method such as \"POST\"");
                return -1;
        }
        if (body && !json_is_string(body)) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                     "HttpRequest: \"body\" must be a string, got %s", fc_json_kind(body));
                return -1;
        }
        if (headers && !json_is_object(headers)) {
                *status = host->fail(
                        job, FC_JOB_DEAD, "ArgumentError",
                        "HttpRequest: \"headers\" must be an object of \"Name\": \"value\", got %s",
                        fc_json_kind(headers));
                return -1;
        }
        const char *m = method ? json_string_value(method) : body ? "POST" : "GET";
        *method_out = m;
        if (strcmp(m, "HEAD") == 0 && body) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                     "HttpRequest: a HEAD request has no body");
                return -1;
        }

        /* The URL: parsed once, so the scheme check sees what curl will use. */
        CURLU *u = rq->url = curl_url();
        if (!u) {
                *status = host->fail(job, FC_JOB_RETRY, "HTTP::NoMemory", "HttpRequest: out of memory");
                return -1;
        }
        CURLUcode uc = curl_url_set(u, CURLUPART_URL, json_string_value(url), 0);
        char *scheme = NULL;
        if (uc == CURLUE_OK)
                uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
        if (uc != CURLUE_OK) {
                *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                     "HttpRequest: bad \"url\" \"%.200s\": %s", json_string_value(url),
                                     curl_url_strerror(uc));
                return -1;
        }
        bool allowed = (strcmp(scheme, "http") == 0 && st->allow_http) ||
                       (strcmp(scheme, "https") == 0 && st->allow_https);
        safe_url(u, url_out, url_size);
        if (!allowed) {
                *status =
                        host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                   "HttpRequest: scheme \"%s\" of %s is not allowed (http.so's schemes: %s)",
                                   scheme, url_out, st->protocols);
                curl_free(scheme);
                return -1;
        }
        curl_free(scheme);

        bool has_expect = false;
        json_object_foreach((json_t *)headers, key, v) {
                const char *hv = json_string_value(v);
                char *line;
                if (!is_token(key)) {
                        *status = host->fail(job, FC_JOB_DEAD, "ArgumentError",
                                             "HttpRequest: header name \"%.64s\" is not a valid name", key);
                        return -1;
                }
                if (!json_is_string(v) || strlen(hv) != json_string_length(v) || strpbrk(hv, "\r\n")) {
                        *status = host->fail(
                                job, FC_JOB_DEAD, "ArgumentError",
                                "HttpRequest: header \"%s\" must be a one-line string, got %s", key,
                                json_is_string(v) ? "a string with a line break or NUL" : fc_json_kind(v));
                        return -1;
                }
                if (strcasecmp(key, "Expect") == 0)
                        has_expect = true;
                /* "Name;" is curl's way to send a header with an empty value. */
                if ((*hv ? asprintf(&line, "%s: %s", key, hv) : asprintf(&line, "%s;", key)) < 0) {
                        *status =
                                host->fail(job, FC_JOB_RETRY, "HTTP::NoMemory", "HttpRequest: out of memory");
                        return -1;
                }
                struct curl_slist *l = curl_slist_append(rq->headers, line);
                free(line);
                if (!l) {
                        *status =
                                host->fail(job, FC_JOB_RETRY, "HTTP::NoMemory", "HttpRequest: out of memory");
                        return -1;
                }
                rq->headers = l;
        }
        /* Don't wait a second for "100 Continue" before sending a body. */
        if (!has_expect) {
                struct curl_slist *l = curl_slist_append(rq->headers, "Expect:");
                if (l)
                        rq->headers = l;
        }

        /* The deadline bounds the whole request. */
        int64_t timeout = (int64_t)st->timeout_ms, left = host->deadline_left();
        if (left >= 0 && (timeout == 0 || left < timeout))
                timeout = left;
        CURL *e = rq->easy;
        CURLcode c = CURLE_OK;
#define SET(opt, val) c = (c == CURLE_OK ? curl_easy_setopt(e, opt, val) : c)
        SET(CURLOPT_CURLU, u);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_PROTOCOLS_STR, st->protocols);
        SET(CURLOPT_REDIR_PROTOCOLS_STR, st->protocols);
        SET(CURLOPT_FOLLOWLOCATION, st->max_redirects > 0 ? 1L : 0L);
        SET(CURLOPT_MAXREDIRS, st->max_redirects);
        SET(CURLOPT_USERAGENT, st->user_agent);
        SET(CURLOPT_HTTPHEADER, rq->headers);
        SET(CURLOPT_ERRORBUFFER, rq->errbuf);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, rq);
        SET(CURLOPT_TIMEOUT_MS, (long)timeout);
        if (st->connect_timeout_ms)
                SET(CURLOPT_CONNECTTIMEOUT_MS, (long)st->connect_timeout_ms);
        if (strcmp(m, "HEAD") == 0)
                SET(CURLOPT_NOBODY, 1L);
        else if (body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
                /* The body is borrowed from the job's args, which outlive the request. */
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? json_string_length(body) : 0));
                SET(CURLOPT_POSTFIELDS, body ? json_string_value(body) : "");
        }
        if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "POST") != 0)
                SET(CURLOPT_CUSTOMREQUEST, m);
#undef SET
        rq->timeout_ms = timeout;
        if (c != CURLE_OK) {
                *status = host->fail(job, FC_JOB_RETRY, "HTTP::Error",
                                     "HttpRequest: cannot set up the request: %s", curl_easy_strerror(c));
                return -1;
        }
        return 0;
}

static fc_job_status_t http_request(const fc_host_t *host, fc_job_t *job, void *state) {
        const http_state_t *st = state;
        request_t rq = {.host = host, .epfd = -1, .timer_at = -1, .max_log_body = st->max_log_body};
        fc_job_status_t status;
        const char *method = "GET";
        char url[512] = "";
        bool aborted = false;

        if (host->deadline_left() == 0)
                return host->fail(job, FC_JOB_RETRY, "HTTP::Timeout",
                                  "HttpRequest: the job's deadline passed before "
                                  "the request started");
        rq.body_head = malloc(st->max_log_body + 1);
        rq.easy = curl_easy_init();
        rq.multi = curl_multi_init();
        rq.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (!rq.body_head || !rq.easy || !rq.multi || rq.epfd < 0) {
                status = host->fail(job, FC_JOB_RETRY, "HTTP::Error",
                                    "HttpRequest: cannot set up a request: %s",
                                    rq.epfd < 0 ? strerror(errno) : "out of memory");
                goto done;
        }
        if (prepare(host, job, st, &rq, &method, url, sizeof(url), &status) < 0)
                goto done;
        curl_multi_setopt(rq.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(rq.multi, CURLMOPT_SOCKETDATA, &rq);
        curl_multi_setopt(rq.multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(rq.multi, CURLMOPT_TIMERDATA, &rq);
        CURLMcode mc = curl_multi_add_handle(rq.multi, rq.easy);
        if (mc != CURLM_OK) {
                status = host->fail(job, FC_JOB_RETRY, "HTTP::Error", "%s %s: curl_multi_add_handle: %s",
                                    method, url, curl_multi_strerror(mc));
                goto done;
        }

        int running = 1, r = 0;
        CURLcode result = CURLE_OK;
        bool done = false;
        while (!done) {
                int64_t wait = IDLE_RECHECK_MS;
                if (rq.timer_at >= 0) {
                        wait = rq.timer_at - host->now_ms();
                        if (wait < 0)
                                wait = 0;
                }
                r = wait > 0 ? host->wait_fd(rq.epfd, EPOLLIN, wait) : -ETIMEDOUT;
                if (r == -ETIMEDOUT) {
                        rq.timer_at = -1;
                        mc = curl_multi_socket_action(rq.multi, CURL_SOCKET_TIMEOUT, 0, &running);
                } else if (r < 0)
                        break;
                else {
                        struct epoll_event evs[8];
                        int n = epoll_wait(rq.epfd, evs, 8, 0);
                        mc = CURLM_OK;
                        for (int i = 0; i < n && mc == CURLM_OK; i++) {
                                int mask = 0;
                                if (evs[i].events & EPOLLIN)
                                        mask |= CURL_CSELECT_IN;
                                if (evs[i].events & EPOLLOUT)
                                        mask |= CURL_CSELECT_OUT;
                                if (evs[i].events & (EPOLLERR | EPOLLHUP))
                                        mask |= CURL_CSELECT_ERR;
                                mc = curl_multi_socket_action(rq.multi, evs[i].data.fd, mask, &running);
                        }
                }
                if (mc != CURLM_OK || rq.watch_error) {
                        status = host->fail(job, FC_JOB_RETRY, "HTTP::Error", "%s %s: %s", method, url,
                                            rq.watch_error ? strerror(rq.watch_error)
                                                           : curl_multi_strerror(mc));
                        aborted = true;
                        goto done;
                }
                CURLMsg *msg;
                int queued;
                while ((msg = curl_multi_info_read(rq.multi, &queued)))
                        if (msg->msg == CURLMSG_DONE) {
                                result = msg->data.result;
                                done = true;
                        }
        }
        if (!done) {
                aborted = true;
                status = host->fail(job, FC_JOB_RETRY, r == -ECANCELED ? "HTTP::Timeout" : "HTTP::Error",
                                    "%s %s: %s", method, url,
                                    r == -ECANCELED ? "the job was cancelled or reached its deadline first"
                                                    : strerror(-r));
                goto done;
        }
        status = finish(host, job, st, &rq, result, method, url, rq.timeout_ms);

done:
        /* An unfinished transfer may still be resolving its host name, and
         * curl then joins the resolver thread: do that where blocking is
         * allowed. */
        if (!aborted || host->offload(request_cleanup, &rq) < 0)
                request_cleanup(&rq);
        curl_url_cleanup(rq.url);
        curl_slist_free_all(rq.headers);
        if (rq.epfd >= 0)
                close(rq.epfd);
        free(rq.body_head);
        return status;
}

static const fc_handler_def_t handlers[] = {
        {.class_name = "HttpRequest", .run = http_request, .timeout_ms = 0, .max_retries = -1},
};

static const fc_plugin_def_t http_plugin = {
        FC_PLUGIN_HEADER,
        .name = "http",
        .version = "1.0.0",
        .init = init,
        .fini = fini,
        .handlers = handlers,
        .n_handlers = sizeof(handlers) / sizeof(handlers[0]),
};

FC_PLUGIN_DEFINE(http_plugin)
