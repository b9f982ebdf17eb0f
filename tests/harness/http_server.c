/* A small HTTP server for tests (see http_server.h). */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GATE_GIVE_UP_S 30
#define MAX_BODY       (64 * 1024)

struct fc_test_http {
        struct MHD_Daemon *daemon;
        int port;
        unsigned gate;

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t changed;
        bool stopping;
        bool gate_open;
        unsigned gate_waiting;
        unsigned requests;
        unsigned in_flight;
        unsigned max_in_flight;
        bool has_last;
        fc_test_http_request_t last;
};

typedef struct request {
        char *body;
        size_t len;
} request_t;

static void copy(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ? src : "");
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *text) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ok;
}

/* Waits on the server's condition until deadline (CLOCK_REALTIME); false
 * once it passed. */
static bool wait_until(fc_test_http_t *s, const struct timespec *deadline) {
        return pthread_cond_timedwait(&s->changed, &s->lock, deadline) != ETIMEDOUT;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size,
                              void **con_cls) {
        fc_test_http_t *s = cls;
        request_t *rq = *con_cls;
        if (!rq) {
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                *con_cls = rq;
                pthread_mutex_lock(&s->lock);
                s->requests++;
                s->in_flight++;
                if (s->in_flight > s->max_in_flight)
                        s->max_in_flight = s->in_flight;
                pthread_mutex_unlock(&s->lock);
                return MHD_YES;
        }
        if (*upload_size) {
                size_t take = *upload_size;
                if (rq->len + take > MAX_BODY)
                        take = MAX_BODY - rq->len;
                char *b = realloc(rq->body, rq->len + take + 1);
                if (!b)
                        return MHD_NO;
                memcpy(b + rq->len, upload_data, take);
                rq->body = b;
                rq->len += take;
                rq->body[rq->len] = '\0';
                *upload_size = 0;
                return MHD_YES;
        }

        if (strncmp(url, "/status/", 8) == 0) {
                unsigned code = (unsigned)atoi(url + 8);
                char text[32];
                snprintf(text, sizeof(text), "status %u", code);
                return respond(c, code >= 100 && code < 600 ? code : 400, text);
        }
        if (strcmp(url, "/echo") == 0) {
                pthread_mutex_lock(&s->lock);
                copy(s->last.method, sizeof(s->last.method), method);
                copy(s->last.path, sizeof(s->last.path), url);
                copy(s->last.body, sizeof(s->last.body), rq->body);
                copy(s->last.x_test, sizeof(s->last.x_test),
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test"));
                copy(s->last.user_agent, sizeof(s->last.user_agent),
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT));
                copy(s->last.content_type, sizeof(s->last.content_type),
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
                s->has_last = true;
                pthread_mutex_unlock(&s->lock);
                return respond(c, 200, "ok");
        }
        if (strcmp(url, "/stall") == 0) {
                pthread_mutex_lock(&s->lock);
                while (!s->stopping)
                        pthread_cond_wait(&s->changed, &s->lock);
                pthread_mutex_unlock(&s->lock);
                return respond(c, 503, "stopping");
        }
        if (strcmp(url, "/gate") == 0) {
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_sec += GATE_GIVE_UP_S;
                pthread_mutex_lock(&s->lock);
                s->gate_waiting++;
                if (s->gate_waiting >= s->gate) {
                        s->gate_open = true;
                        pthread_cond_broadcast(&s->changed);
                }
                while (!s->gate_open && !s->stopping && wait_until(s, &deadline))
                        ;
                bool open = s->gate_open;
                s->gate_waiting--;
                pthread_mutex_unlock(&s->lock);
                return open ? respond(c, 200, "through the gate") : respond(c, 503, "the gate never opened");
        }
        return respond(c, 404, "no such route");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why) {
        fc_test_http_t *s = cls;
        request_t *rq = *con_cls;
        if (!rq)
                return;
        pthread_mutex_lock(&s->lock);
        s->in_flight--;
        pthread_mutex_unlock(&s->lock);
        free(rq->body);
        free(rq);
        *con_cls = NULL;
}

int fc_test_http_start(unsigned gate, fc_test_http_t **out) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof(a);
        *out = NULL;
        fc_test_http_t *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->gate = gate ? gate : 1;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->changed, NULL);
        /* Our own listening socket, so the kernel's port choice is known. */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
                int r = -errno;
                fprintf(stderr, "http test server: cannot listen on 127.0.0.1: %s\n", strerror(errno));
                if (fd >= 0)
                        close(fd);
                fc_test_http_stop(s);
                return r;
        }
        s->port = ntohs(a.sin_port);
        s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                             MHD_USE_POLL | MHD_USE_ERROR_LOG,
                                     0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                     MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)4000, MHD_OPTION_END);
        if (!s->daemon) {
                fprintf(stderr, "http test server: MHD_start_daemon failed\n");
                close(fd);
                fc_test_http_stop(s);
                return -EIO;
        }
        *out = s;
        return 0;
}

void fc_test_http_stop(fc_test_http_t *s) {
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        if (s->daemon)
                MHD_stop_daemon(s->daemon); /* joins every connection's thread; closes the socket */
        pthread_cond_destroy(&s->changed);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int fc_test_http_port(const fc_test_http_t *s) {
        return s->port;
}

unsigned fc_test_http_requests(fc_test_http_t *s) {
        pthread_mutex_lock(&s->lock);
        unsigned n = s->requests;
        pthread_mutex_unlock(&s->lock);
        return n;
}

unsigned fc_test_http_max_in_flight(fc_test_http_t *s) {
        pthread_mutex_lock(&s->lock);
        unsigned n = s->max_in_flight;
        pthread_mutex_unlock(&s->lock);
        return n;
}

int fc_test_http_last(fc_test_http_t *s, fc_test_http_request_t *out) {
        pthread_mutex_lock(&s->lock);
        bool has = s->has_last;
        if (has)
                *out = s->last;
        pthread_mutex_unlock(&s->lock);
        return has ? 0 : -ENOENT;
}
