/* The job engine: fetch, run, finish and shutdown (see engine.h and
 * docs/engine.md). The heartbeat, the schedule/retry poller and orphan
 * recovery live in their own files and share engine-internal.h.
 *
 * One job's path: the fetcher moves a batch from the queues into the
 * in-flight hash (one script) and spawns a coroutine per job; the job's
 * coroutine parses the payload, runs the handler under its deadline and
 * finishes: a success is queued for the acknowledger, which removes a whole
 * batch from the in-flight hash with one HDEL; a failure is filed in retry
 * or dead by one script that also removes it from the hash. */
#include "engine.h"
#include "engine-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "host.h"
#include "invalid.h"
#include "job.h"
#include "log.h"
#include "retry.h"

#define IDLE_POLL_MAX_MS    60    /* empty queues: fetch again after at most this */
#define ERROR_RETRY_MS      500   /* Redis unreachable: try again after this */
#define ACK_CHUNK           10000 /* ids per HDEL */
#define CANCEL_GRACE_MS     5000  /* after cancelling jobs at shutdown, wait this long for them */
#define OVERRUN_GRACE_MS    1000  /* a job this far past its deadline is reported */
#define REQUEUE_ATTEMPTS    4     /* at shutdown, ERROR_RETRY_MS apart */
#define QUIET_WAIT_MS       5000  /* quiet waits this long at most for a fetch under way */

/* ---- small helpers ----------------------------------------------------- */

double fc__engine_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
}

void fc__engine_ring(fc_chan_t *bell) {
        fc_chan_send(bell, (void *)1, 0); /* full: it rings already */
}

int fc__engine_wait(fc_chan_t *bell, int64_t ms) {
        void *v;
        int r = fc_chan_recv(bell, &v, ms);
        return r == -ECANCELED ? r : 0;
}

bool fc__engine_stopping(const fc_engine_t *e) {
        return atomic_load(&e->stop_requests) > 0;
}

uint64_t fc__engine_random_below(uint64_t n) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint64_t)random() << 31 ^ (uint64_t)random();
        return n ? v % n : 0;
}

int fc__engine_connect(fc_engine_t *e, const char *role, fc_redis_t **out) {
        char name[64];
        snprintf(name, sizeof(name), "flowcoro:%s", role);
        fc_redis_options_t o = e->redis;
        o.client_name = name;
        int r = fc_redis_new(&o, out);
        if (r < 0)
                fc_log(FC_LOG_ERROR, "cannot set up the %s's Redis connection: %s", role, strerror(-r));
        return r;
}

void fc__engine_due_at(fc_engine_t *e, double at) {
        int64_t due_ms = fc_now_ms() + (int64_t)((at - fc__engine_now()) * 1000.0);
        if (due_ms < atomic_load(&e->poller_next_ms))
                fc__engine_ring(e->poller_bell);
}

/* ---- generations: configuration and plugins in use ----------------------- */

static fc_engine_gen_t *gen_new(const fc_config_t *config, fc_config_t *owned, fc_plugin_set_t *plugins) {
        fc_engine_gen_t *g = calloc(1, sizeof(*g));
        if (!g)
                return NULL;
        atomic_init(&g->refs, 1);
        g->config = config;
        g->owned = owned;
        g->plugins = fc_plugin_set_ref(plugins);
        g->dead.max_jobs = config->jobs.dead_max_jobs;
        g->dead.timeout_s = (double)config->jobs.dead_timeout_ms / 1000.0;
        return g;
}

fc_engine_gen_t *fc__engine_gen_take(fc_engine_t *e, long n) {
        pthread_mutex_lock(&e->gen_lock);
        fc_engine_gen_t *g = e->gen;
        atomic_fetch_add_explicit(&g->refs, n, memory_order_relaxed);
        pthread_mutex_unlock(&e->gen_lock);
        return g;
}

void fc__engine_gen_drop(fc_engine_gen_t *g, long n) {
        if (!g || atomic_fetch_sub_explicit(&g->refs, n, memory_order_acq_rel) != n)
                return;
        fc_plugin_set_unref(g->plugins);
        fc_config_free(g->owned);
        free(g);
}

void fc__engine_redis_seen(fc_engine_t *e, bool up) {
        if (atomic_load_explicit(&e->redis_up, memory_order_relaxed) != up)
                atomic_store_explicit(&e->redis_up, up, memory_order_relaxed);
}

int fc_engine_reload(fc_engine_t *e, fc_config_t *config, fc_plugin_set_t *plugins) {
        fc_engine_gen_t *g = gen_new(config, config, plugins);
        if (!g)
                return -ENOMEM;
        pthread_mutex_lock(&e->gen_lock);
        fc_engine_gen_t *old = e->gen;
        e->gen = g;
        atomic_store(&e->concurrency, config->concurrency);
        pthread_mutex_unlock(&e->gen_lock);
        fc__engine_gen_drop(old, 1);
        for (size_t i = 0; i < FC_ENGINE_FETCHERS; i++) /* more room, other queues */
                fc__engine_ring(e->fetchers[i].bell);
        return 0;
}

const fc_config_t *fc_engine_config(fc_engine_t *e) {
        pthread_mutex_lock(&e->gen_lock);
        const fc_config_t *c = e->gen->config;
        pthread_mutex_unlock(&e->gen_lock);
        return c;
}

/* e->places: the low 32 bits count the places taken under concurrency (jobs
 * between fetch and finish, plus the places fetches in progress reserved), the
 * high 32 bits the reserved ones among them. Jobs add and subtract in the low
 * half, which never goes below zero, so plain adds never carry between them. */
#define RESERVED_PLACE ((uint64_t)1 << 32)

static uint32_t places_taken(uint64_t places) {
        return (uint32_t)places;
}

static uint32_t places_held_by_jobs(uint64_t places) {
        return (uint32_t)places - (uint32_t)(places >> 32);
}

void fc_engine_status(fc_engine_t *e, fc_engine_status_t *out) {
        *out = (fc_engine_status_t){
                .busy = places_held_by_jobs(atomic_load(&e->places)),
                .concurrency = atomic_load(&e->concurrency),
                .processed = atomic_load(&e->processed_sent) + atomic_load(&e->processed),
                .failed = atomic_load(&e->failed_sent) + atomic_load(&e->failed),
                .quiet = atomic_load(&e->quiet),
                .stopping = fc__engine_stopping(e),
                .redis_up = atomic_load(&e->redis_up),
        };
}

typedef struct coro_search {
        const fc_coro_t *coro;
        char *buf;
        size_t size;
        bool found;
} coro_search_t;

static void describe_if_coro(fc_running_job_t *job, void *arg) {
        coro_search_t *s = arg;
        if (s->found || job->coro != s->coro)
                return;
        snprintf(s->buf, s->size, "job %s (class %s, queue %s)", job->jid, job->klass, job->queue);
        s->found = true;
}

bool fc_engine_describe_coro(fc_engine_t *e, const fc_coro_t *coro, char *buf, size_t size) {
        coro_search_t s = {.coro = coro, .buf = buf, .size = size};
        fc_running_foreach(&e->running, describe_if_coro, &s);
        return s.found;
}

/* ---- creation ----------------------------------------------------------- */

static void keys_free(fc_engine_keys_t *k) {
        char **all[] = {&k->queues, &k->processes, &k->process, &k->workers, &k->signals, &k->stat_processed,
                        &k->stat_failed, &k->schedule, &k->retry, &k->owners, &k->beats, &k->recovery_lock,
                        &k->crashes};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
                free(*all[i]);
                *all[i] = NULL;
        }
}

static int keys_init(fc_engine_keys_t *k, const char *p, const char *identity) {
        if (asprintf(&k->queues, "%squeues", p) < 0 || asprintf(&k->processes, "%sprocesses", p) < 0 ||
            asprintf(&k->process, "%s%s", p, identity) < 0 ||
            asprintf(&k->workers, "%s%s:workers", p, identity) < 0 ||
            asprintf(&k->signals, "%s%s-signals", p, identity) < 0 ||
            asprintf(&k->stat_processed, "%sstat:processed", p) < 0 ||
            asprintf(&k->stat_failed, "%sstat:failed", p) < 0 || asprintf(&k->schedule, "%sschedule", p) < 0 ||
            asprintf(&k->retry, "%sretry", p) < 0 || asprintf(&k->owners, "%sflowcoro:owners", p) < 0 ||
            asprintf(&k->beats, "%sflowcoro:beats", p) < 0 ||
            asprintf(&k->recovery_lock, "%sflowcoro:recovery-lock", p) < 0 ||
            asprintf(&k->crashes, "%sflowcoro:crashes:%s", p, identity) < 0) {
                memset(k, 0, sizeof(*k)); /* asprintf leaves the failed one undefined */
                return -ENOMEM;
        }
        return 0;
}

void fc_engine_free(fc_engine_t *e) {
        if (!e)
                return;
        fc_redis_pool_free(e->pool);
        fc_inflight_clear(&e->inflight);
        keys_free(&e->keys);
        free(e->prefix);
        for (size_t i = 0; i < FC_ENGINE_FETCHERS; i++)
                fc_chan_destroy(e->fetchers[i].bell);
        fc_chan_destroy(e->poller_bell);
        fc_chan_destroy(e->stop_bell);
        fc_chan_destroy(e->ack_bell);
        fc_running_destroy(&e->running);
        pthread_mutex_destroy(&e->ack_lock);
        free(e->acks);
        fc__engine_gen_drop(e->gen, 1);
        pthread_mutex_destroy(&e->gen_lock);
        free(e);
}

int fc_engine_new(const fc_engine_options_t *o, fc_engine_t **out) {
        fc_engine_t *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        fc_running_init(&e->running);
        pthread_mutex_init(&e->ack_lock, NULL);
        pthread_mutex_init(&e->gen_lock, NULL);
        e->gen = gen_new(o->config, NULL, o->plugins);
        if (!e->gen) {
                fc_engine_free(e);
                return -ENOMEM;
        }
        atomic_init(&e->concurrency, o->config->concurrency);
        e->sched = o->sched;
        e->stats = o->stats;
        e->redis = *o->redis;
        e->started_at = fc__engine_now();
        atomic_store(&e->poller_next_ms, INT64_MAX);
        const char *test_delay = getenv("FLOWCORO_TEST_RETRY_DELAY_MS");
        e->test_retry_delay_ms = test_delay && *test_delay ? strtoll(test_delay, NULL, 10) : -1;

        int r = fc_identity_init(&e->id, o->instance);
        if (r == -EINVAL)
                fprintf(stderr, "flowcorod: instance name \"%s\" must be 1 to 127 characters without spaces, "
                                "':' or control characters\n", o->instance);
        else if (r < 0)
                fprintf(stderr, "flowcorod: cannot read this process's identity from /proc: %s\n", strerror(-r));
        if (r == 0)
                r = (e->prefix = strdup(o->config->redis.prefix)) ? 0 : -ENOMEM;
        if (r == 0)
                r = keys_init(&e->keys, e->prefix, e->id.name);
        if (r == 0)
                r = fc_inflight_init(&e->inflight, e->prefix, e->id.name);
        for (size_t i = 0; r == 0 && i < FC_ENGINE_FETCHERS; i++)
                r = fc_chan_create(1, &e->fetchers[i].bell);
        if (r == 0)
                r = fc_chan_create(1, &e->poller_bell);
        if (r == 0)
                r = fc_chan_create(1, &e->stop_bell);
        if (r == 0)
                r = fc_chan_create(1, &e->ack_bell);
        if (r == 0) {
                /* Handlers' commands and failure finishes share these; the
                 * fetcher, acknowledger and the rest have their own. */
                fc_redis_options_t po = e->redis;
                po.client_name = "flowcoro:jobs";
                r = fc_redis_pool_new(&po, 4 * fc_sched_threads(o->sched), &e->pool);
        }
        if (r < 0) {
                fc_engine_free(e);
                return r;
        }
        *out = e;
        return 0;
}

const char *fc_engine_identity(const fc_engine_t *e) {
        return e->id.name;
}

static void ring_fetchers(fc_engine_t *e) {
        for (size_t i = 0; i < FC_ENGINE_FETCHERS; i++)
                fc__engine_ring(e->fetchers[i].bell);
}

void fc_engine_stop(fc_engine_t *e) {
        atomic_fetch_add(&e->stop_requests, 1);
        ring_fetchers(e);
        fc__engine_ring(e->stop_bell);
}

void fc_engine_quiet(fc_engine_t *e) {
        if (!atomic_exchange(&e->quiet, true))
                fc_log(FC_LOG_NOTICE, "quiet: no new jobs are fetched; running jobs go on");
        ring_fetchers(e);
        /* A fetch that began before quiet ends first (bounded: a fetch
         * waiting for a Redis that is away may take its command timeout). */
        for (int waited_ms = 0; waited_ms < QUIET_WAIT_MS; waited_ms++) {
                bool fetching = false;
                for (size_t i = 0; i < FC_ENGINE_FETCHERS; i++)
                        fetching |= atomic_load(&e->fetchers[i].fetching);
                if (!fetching)
                        break;
                if (!fc_self() || fc_sleep(1) < 0)
                        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        }
}

/* ---- acknowledgements --------------------------------------------------- */

static void ack_later(fc_engine_t *e, uint64_t id) {
        bool was_empty;
        pthread_mutex_lock(&e->ack_lock);
        if (e->n_acks == e->cap_acks) {
                size_t cap = e->cap_acks ? 2 * e->cap_acks : 1024;
                uint64_t *a = realloc(e->acks, cap * sizeof(*a));
                if (!a) {
                        /* Not acknowledging only means running the job again
                         * later (at least once); nothing is lost. */
                        pthread_mutex_unlock(&e->ack_lock);
                        fc_log_limited(FC_LOG_ERROR, "ack memory", "out of memory queueing an acknowledgement; "
                                                                 "the job will run again after a restart");
                        return;
                }
                e->acks = a;
                e->cap_acks = cap;
        }
        was_empty = e->n_acks == 0;
        e->acks[e->n_acks++] = id;
        pthread_mutex_unlock(&e->ack_lock);
        if (was_empty)
                fc__engine_ring(e->ack_bell);
}

/* Sends every queued acknowledgement, retrying while Redis is away, until
 * the engine gives up on Redis at shutdown. Runs until told to stop
 * (*done) and nothing is left. */
typedef struct acker {
        fc_engine_t *e;
        _Atomic bool done;
} acker_t;

static void acker_main(void *arg) {
        acker_t *a = arg;
        fc_engine_t *e = a->e;
        fc_redis_t *c = NULL;
        uint64_t *batch = NULL;
        size_t n = 0, cap = 0;
        if (fc__engine_connect(e, "acknowledger", &c) < 0)
                return;
        for (;;) {
                pthread_mutex_lock(&e->ack_lock);
                uint64_t *t = e->acks; /* swap the buffers: jobs go on queueing meanwhile */
                e->acks = batch;
                batch = t;
                n = e->n_acks;
                atomic_store(&e->ack_sending, n > 0);
                size_t tcap = e->cap_acks;
                e->cap_acks = cap;
                cap = tcap;
                e->n_acks = 0;
                pthread_mutex_unlock(&e->ack_lock);
                if (n == 0) {
                        if (atomic_load(&a->done))
                                break;
                        fc__engine_wait(e->ack_bell, 1000);
                        continue;
                }
                for (size_t off = 0; off < n;) {
                        size_t k = n - off < ACK_CHUNK ? n - off : ACK_CHUNK;
                        int r = fc_inflight_ack(c, &e->inflight, batch + off, k);
                        if (r >= 0) {
                                off += k;
                                continue;
                        }
                        if (atomic_load(&e->abandon)) {
                                fc_log(FC_LOG_ERROR, "%zu finished jobs could not be acknowledged (%s); they "
                                                     "will run again", n - off, fc_redis_last_error(c));
                                break;
                        }
                        fc_log_limited(FC_LOG_WARNING, "ack failed",
                                       "cannot acknowledge finished jobs yet: %s; retrying", fc_redis_last_error(c));
                        fc_sleep(ERROR_RETRY_MS);
                }
                atomic_store(&e->ack_sending, false);
        }
        free(batch);
        fc_redis_free(c);
}

/* ---- running one job ---------------------------------------------------- */

typedef struct job_run {
        fc_engine_t *e;
        fc_engine_gen_t *gen; /* a reference: the settings and handlers it runs with */
        fc_fetched_t fetched; /* its buf is NULL: queue and payload are in text */
        fc_job_t *job;
        fc_running_job_t listed;
        /* The outcome, for a finish that has to happen in a fresh coroutine
         * (the job's own was cancelled, so its Redis calls would fail). */
        fc_finish_t how;
        double at;
        char *payload;
        /* "queue NUL payload NUL", copied from the fetch's reply: the
         * reply's buffer is then freed by the thread that allocated it,
         * and the job's memory is one block. */
        char text[];
} job_run_t;

/* What a log line about the job names, for the journal's fields. */
static fc_log_fields_t job_fields(const job_run_t *jr) {
        return (fc_log_fields_t){.job_id = jr->job ? jr->job->jid : NULL,
                                 .job_class = jr->job ? jr->job->klass : NULL,
                                 .queue = jr->fetched.queue,
                                 .plugin = jr->job ? jr->job->plugin : NULL};
}

/* Counts a finished job for the metrics, when they are on. */
static void count_job(const job_run_t *jr, fc_stats_outcome_t outcome) {
        if (!jr->e->stats)
                return;
        fc_stats_job_done(jr->e->stats, &(fc_stats_job_t){
                                                .queue = jr->fetched.queue,
                                                .klass = jr->job ? jr->job->klass : "FlowCoro::InvalidJob",
                                                .outcome = outcome,
                                                .enqueued_at = jr->job ? jr->job->enqueued_at : 0,
                                                .started_at = jr->listed.run_at,
                                                .finished_at = fc__engine_now(),
                                        });
}

/* The failure paths below build their messages in buffers of their own
 * frames, never inlined into job_main(): a job that runs well then keeps
 * its frames within the stack's first page, populated at spawn
 * (core/stack.c), instead of faulting in a second one. */
#define FAILURE_PATH __attribute__((noinline, cold))

/* Files the job in retry, dead or schedule, retrying while Redis is away.
 * From a coroutine that is not cancelled. */
static void finish_now(job_run_t *jr) {
        fc_engine_t *e = jr->e;
        fc_log_fields_t fields = job_fields(jr);
        const char *jid = jr->job ? jr->job->jid : "?", *payload = jr->payload;
        fc_finish_t how = jr->how;
        double at = jr->at;
        for (;;) {
                fc_redis_t *c;
                int r = fc_redis_pool_acquire(e->pool, &c);
                if (r < 0)
                        return;
                r = fc_inflight_finish(c, &e->inflight, jr->fetched.id, how, at, payload, fc__engine_now(),
                                       &jr->gen->dead);
                if (r == 0)
                        fc_log_job(FC_LOG_WARNING, &fields, "job %s was taken over by another daemon while it ran "
                                   "here (this daemon's heartbeat had lapsed); its outcome here is dropped", jid);
                else if (r < 0 && !atomic_load(&e->abandon))
                        fc_log_job_limited(FC_LOG_WARNING, &fields, "finish failed",
                                           "cannot file job %s yet: %s; retrying", jid, fc_redis_last_error(c));
                else if (r < 0)
                        fc_log_job(FC_LOG_ERROR, &fields,
                                   "job %s could not be filed (%s); it stays in flight and runs again", jid,
                                   fc_redis_last_error(c));
                fc_redis_pool_release(e->pool, c);
                if (r >= 0 || atomic_load(&e->abandon))
                        break;
                if (fc_sleep(ERROR_RETRY_MS) < 0)
                        break;
        }
        if (how != FC_FINISH_DEAD)
                fc__engine_due_at(e, at);
}

static void job_release(job_run_t *jr) {
        fc_engine_t *e = jr->e;
        fc_job_free(jr->job);
        free(jr->payload);
        fc__engine_gen_drop(jr->gen, 1);
        free(jr);
        uint32_t busy = places_taken(atomic_fetch_sub(&e->places, 1) - 1);
        uint32_t concurrency = atomic_load_explicit(&e->concurrency, memory_order_relaxed);
        for (size_t i = 0; i < FC_ENGINE_FETCHERS && busy < concurrency; i++)
                if (atomic_load(&e->fetchers[i].waits_for_room))
                        fc__engine_ring(e->fetchers[i].bell);
}

static void finish_main(void *arg) {
        job_run_t *jr = arg;
        finish_now(jr);
        job_release(jr);
}

/* Finishes a job that left through retry, dead or schedule: here, or in a
 * fresh coroutine when this one was cancelled (its waits would fail). Takes
 * jr. */
static void finish_filed(job_run_t *jr, fc_finish_t how, double at, char *payload) {
        jr->how = how;
        jr->at = at;
        jr->payload = payload;
        if (fc_cancelled() != FC_CANCEL_NONE && fc_spawn_here(finish_main, jr, NULL) == 0)
                return;
        finish_main(jr);
}

/* A payload that can't run: dead with the reason. */
FAILURE_PATH static void finish_invalid(job_run_t *jr, const char *why) {
        fc_engine_t *e = jr->e;
        double now = fc__engine_now();
        /* The cause is the message without its numbers (columns, sizes),
         * which vary from payload to payload; and at most 20 lines every 10 s
         * for all invalid payloads together. */
        char cause[512];
        size_t n = 0;
        for (const char *p = why; *p && n < sizeof(cause) - 1; p++)
                if (*p < '0' || *p > '9')
                        cause[n++] = *p;
        cause[n] = '\0';
        fc_log_job_limited_kind(FC_LOG_WARNING, &(fc_log_fields_t){.queue = jr->fetched.queue}, "invalid payload",
                                20, cause, "job in queue %s moved to dead: %s", jr->fetched.queue, why);
        char *entry = fc_invalid_job_entry(jr->fetched.queue, jr->fetched.payload, jr->fetched.len, why, now);
        atomic_fetch_add(&e->processed, 1);
        atomic_fetch_add(&e->failed, 1);
        count_job(jr, FC_STATS_DEAD);
        if (!entry) {
                /* Out of memory: leave it in flight; it is retried after a restart. */
                fc_log(FC_LOG_ERROR, "out of memory filing an invalid job in dead");
                job_release(jr);
                return;
        }
        finish_filed(jr, FC_FINISH_DEAD, now, entry);
}

/* After a failure (or an unknown class): retry, dead or drop, per Sidekiq's
 * rules. */
static void finish_failed(job_run_t *jr, fc_job_status_t status, int handler_max_retries) {
        fc_engine_t *e = jr->e;
        fc_job_t *job = jr->job;
        fc_failure_t f;
        fc_log_fields_t fields = job_fields(jr);
        double now = fc__engine_now();
        atomic_fetch_add(&e->processed, 1);
        atomic_fetch_add(&e->failed, 1);
        if (fc_failure_decide(job, status, handler_max_retries, jr->gen->config->jobs.max_retries, now,
                              (unsigned)fc__engine_random_below(10), &f) < 0) {
                fc_log_job(FC_LOG_ERROR, &fields,
                           "out of memory deciding the retry of job %s; it stays in flight", job->jid);
                job_release(jr);
                return;
        }
        count_job(jr, f.action == FC_FAILURE_RETRY  ? FC_STATS_RETRIED
                      : f.action == FC_FAILURE_DEAD ? FC_STATS_DEAD
                                                    : FC_STATS_DROPPED);
        const char *where = f.action == FC_FAILURE_RETRY ? "retry" : f.action == FC_FAILURE_DEAD ? "dead" : "none";
        fc_log_job_limited(FC_LOG_INFO, &fields, job->klass,
                           "job %s (class %s) failed: %s: %s; next: %s", job->jid, job->klass,
                           job->error_class ? job->error_class : "?", job->error_message ? job->error_message : "",
                           where);
        switch (f.action) {
        case FC_FAILURE_DROP:
                ack_later(e, jr->fetched.id);
                job_release(jr);
                break;
        case FC_FAILURE_RETRY:
                if (e->test_retry_delay_ms >= 0)
                        f.at = now + (double)e->test_retry_delay_ms / 1000.0;
                finish_filed(jr, FC_FINISH_RETRY, f.at, f.payload);
                break;
        case FC_FAILURE_DEAD:
                finish_filed(jr, FC_FINISH_DEAD, now, f.payload);
                break;
        }
}

/* The deadline: the job's "timeout" (seconds, FlowCoro's extension), else
 * the handler's, else jobs.default_timeout. 0 = none. */
static int64_t job_timeout_ms(const fc_config_t *config, const fc_job_t *job, const fc_plugin_handler_t *h) {
        if (job->timeout_s > 0 && job->timeout_s < 1e9)
                return (int64_t)ceil(job->timeout_s * 1000.0);
        if (h->def->timeout_ms)
                return (int64_t)h->def->timeout_ms;
        return (int64_t)config->jobs.default_timeout_ms;
}

/* A job that came without a jid got one: file it with the job before the
 * handler runs, so that whatever happens next (retry, a crash and recovery)
 * the job keeps it. Failing that it runs anyway, and if it has to run again
 * it gets another. */
static void keep_made_jid(fc_engine_t *e, job_run_t *jr) {
        json_t *p = fc_job_payload(jr->job);
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        fc_redis_t *c = NULL;
        int r = text ? fc_redis_pool_acquire(e->pool, &c) : -ENOMEM;
        if (r == 0) {
                r = fc_inflight_rewrite(c, &e->inflight, jr->fetched.id, jr->fetched.queue, text);
                if (r < 0)
                        fc_log_job_limited(FC_LOG_WARNING, &(fc_log_fields_t){.job_id = jr->job->jid}, "jid rewrite",
                                           "cannot store the jid given to job %s: %s", jr->job->jid,
                                           fc_redis_last_error(c));
                fc_redis_pool_release(e->pool, c);
        }
        free(text);
}

FAILURE_PATH static void finish_oversized(job_run_t *jr, uint64_t max_payload) {
        char why[128];
        snprintf(why, sizeof(why), "job payload: %zu bytes, over jobs.max_payload (%" PRIu64 " bytes)",
                 jr->fetched.len, max_payload);
        finish_invalid(jr, why);
}

/* The payload failed a parse without a message (r): parse it again for one. */
FAILURE_PATH static void finish_unparsable(job_run_t *jr, int r) {
        char why[512];
        fc_job_t *job = NULL;
        if (r == -EINVAL)
                r = fc_job_parse(jr->fetched.payload, jr->fetched.len, &job, why, sizeof(why));
        if (r == -EINVAL) {
                finish_invalid(jr, why);
                return;
        }
        /* Out of memory: it stays in flight, and runs after a restart. */
        fc_job_free(job);
        fc_log_limited(FC_LOG_ERROR, "parse memory", "out of memory parsing a job of queue %s; it stays in flight",
                       jr->fetched.queue);
        job_release(jr);
}

FAILURE_PATH static void finish_unknown_class(job_run_t *jr) {
        fc_job_t *job = jr->job;
        char cause[300];
        snprintf(cause, sizeof(cause), "no handler for class %.256s", job->klass);
        fc_log_fields_t fields = job_fields(jr);
        fc_log_job_limited(FC_LOG_WARNING, &fields, cause,
                           "no loaded plugin handles class \"%s\" (job %s, queue %s): it goes to retry, as a "
                           "deploy may be adding the plugin", job->klass, job->jid, jr->fetched.queue);
        job->error_class = strdup("FlowCoro::UnknownClass");
        if (asprintf(&job->error_message, "no loaded plugin handles class \"%s\"", job->klass) < 0)
                job->error_message = NULL;
        finish_failed(jr, FC_JOB_RETRY, -1);
}

static void job_main(void *arg) {
        job_run_t *jr = arg;
        fc_engine_t *e = jr->e;
        const fc_config_t *config = jr->gen->config;

        if (jr->fetched.len > config->jobs.max_payload) {
                finish_oversized(jr, config->jobs.max_payload);
                return;
        }
        int r = fc_job_parse(jr->fetched.payload, jr->fetched.len, &jr->job, NULL, 0);
        if (r < 0) {
                finish_unparsable(jr, r);
                return;
        }
        fc_job_t *job = jr->job;
        if (job->jid_made)
                keep_made_jid(e, jr);
        const fc_plugin_handler_t *h = fc_plugin_set_find(jr->gen->plugins, job->klass);
        if (!h) {
                finish_unknown_class(jr);
                return;
        }

        int64_t timeout = job_timeout_ms(config, job, h);
        jr->listed = (fc_running_job_t){
                .id = jr->fetched.id,
                .queue = jr->fetched.queue,
                .payload = jr->fetched.payload,
                .jid = job->jid,
                .klass = job->klass,
                .run_at = fc__engine_now(),
                .deadline_ms = timeout > 0 ? fc_now_ms() + timeout : INT64_MAX,
                .coro = fc_self(),
        };
        if (!fc_running_add(&e->running, &jr->listed)) {
                /* Shutdown is cancelling: don't start; it goes back to its queue. */
                job_release(jr);
                return;
        }
        if (e->stats)
                fc_stats_job_started(e->stats);
        if (timeout > 0)
                fc_set_deadline(timeout);
        fc_job_status_t status = fc_host_run(h, job);
        fc_cancel_reason_t cancelled = fc_cancelled();
        fc_set_deadline(FC_FOREVER);
        fc_running_remove(&e->running, &jr->listed);
        if (e->stats)
                fc_stats_job_ended(e->stats);
        int handler_max_retries = h->def->max_retries;

        if (status == FC_JOB_OK) {
                atomic_fetch_add(&e->processed, 1);
                count_job(jr, FC_STATS_SUCCEEDED);
                ack_later(e, jr->fetched.id);
                job_release(jr);
                return;
        }
        if (cancelled == FC_CANCEL_REQUESTED) {
                /* Shutdown: it stays in flight and goes back to its queue. */
                job_release(jr);
                return;
        }
        if (cancelled == FC_CANCEL_DEADLINE) {
                free(job->error_class);
                free(job->error_message);
                job->error_class = strdup("FlowCoro::Timeout");
                if (asprintf(&job->error_message, "the job ran past its deadline of %.3f s and was cancelled",
                             (double)timeout / 1000.0) < 0)
                        job->error_message = NULL;
                status = FC_JOB_RETRY;
        }
        if (status == FC_JOB_SNOOZE) {
                atomic_fetch_add(&e->processed, 1);
                count_job(jr, FC_STATS_SNOOZED);
                json_t *p = fc_job_payload(job);
                char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
                if (!payload) {
                        job_release(jr);
                        return;
                }
                finish_filed(jr, FC_FINISH_SCHEDULE, fc__engine_now() + job->snooze_s, payload);
                return;
        }
        finish_failed(jr, status, handler_max_retries);
}

/* ---- fetching ------------------------------------------------------------ */

/* Queue names in Sidekiq's weighted random order: each pick takes a queue
 * with a chance proportional to its weight among those not picked yet. */
static void weighted_order(const fc_config_t *cfg, const char **out) {
        size_t n = cfg->n_queues;
        uint64_t total = 0;
        bool picked[n];
        memset(picked, 0, sizeof(picked));
        for (size_t i = 0; i < n; i++)
                total += cfg->queues[i].weight;
        for (size_t k = 0; k < n; k++) {
                uint64_t x = fc__engine_random_below(total);
                size_t i = 0;
                for (; i < n - 1; i++) {
                        if (picked[i])
                                continue;
                        if (x < cfg->queues[i].weight)
                                break;
                        x -= cfg->queues[i].weight;
                }
                picked[i] = true; /* x < total: the loop always stops at an unpicked queue */
                total -= cfg->queues[i].weight;
                out[k] = cfg->queues[i].name;
        }
}

/* Hands fetched jobs to their coroutines; each has its place counted in
 * busy already. A job that can't get one (no stack: the log says which
 * limit) goes back to the front of its queue. Jobs whose buf is NULL are
 * skipped (taken elsewhere, their places given back). */
static void start_jobs(fc_engine_t *e, fc_engine_gen_t *g, fc_redis_t *c, fc_fetched_t *batch, size_t n) {
        /* A reference for every job, taken before any of them can finish and
         * drop its own (the caller's keeps g alive until then). */
        long unused = (long)n;
        atomic_fetch_add_explicit(&g->refs, unused, memory_order_relaxed);
        for (size_t i = 0; i < n; i++) {
                if (!batch[i].buf)
                        continue;
                const fc_fetched_t *f = &batch[i];
                size_t payload_at = (size_t)(f->payload - f->buf), size = payload_at + f->len + 1;
                job_run_t *jr = malloc(sizeof(*jr) + size);
                if (jr) {
                        memset(jr, 0, sizeof(*jr));
                        memcpy(jr->text, f->buf, size);
                        jr->e = e;
                        jr->gen = g;
                        jr->fetched = (fc_fetched_t){
                                .id = f->id, .queue = jr->text, .payload = jr->text + payload_at, .len = f->len};
                        if (fc_spawn(e->sched, job_main, jr, NULL) == 0) {
                                unused--;
                                continue;
                        }
                        free(jr);
                }
                atomic_fetch_sub(&e->places, 1);
                fc_log_limited(FC_LOG_ERROR, "spawn failed", "cannot start a coroutine for a job: %s; the job goes "
                               "back to its queue", *fc_last_error() ? fc_last_error() : "out of memory");
                fc_move_t back = {.id = batch[i].id, .queue = batch[i].queue, .payload = batch[i].payload};
                fc_inflight_move(c, &e->inflight, &back, 1, fc__engine_now(), &g->dead);
                fc_sleep(10); /* let running jobs give their stacks back */
        }
        fc__engine_gen_drop(g, unused);
        fc_fetched_free(batch, n);
}

/* A job that was in flight in a daemon that died (recovery counted it):
 * it may be what killed that daemon. */
static bool is_suspect(const fc_fetched_t *f) {
        /* memmem() prepares its needle on every call, which costs more than
         * the search: look for the rare 'v' and compare around it instead. */
        static const char key[] = "\"recovered_count\"";
        const size_t key_len = sizeof(key) - 1, v_at = 5;
        const char *p = f->payload, *end = f->payload + f->len;
        while ((p = memchr(p, 'v', (size_t)(end - p))) != NULL) {
                if ((size_t)(p - f->payload) >= v_at && (size_t)(end - p) >= key_len - v_at &&
                    memcmp(p - v_at, key, key_len) == 0)
                        return true;
                p++;
        }
        return false;
}

/* Waits until no job runs and every acknowledgement is in Redis, so that a
 * crash from now on is charged to the next job alone. Returns false when
 * the engine stops meanwhile. */
static bool wait_until_settled(fc_engine_t *e, fc_chan_t *bell) {
        for (;;) {
                if (fc__engine_stopping(e))
                        return false;
                pthread_mutex_lock(&e->ack_lock);
                size_t pending = e->n_acks;
                bool sending = atomic_load(&e->ack_sending);
                pthread_mutex_unlock(&e->ack_lock);
                if (places_taken(atomic_load(&e->places)) == 0 && pending == 0 && !sending)
                        return true;
                if (pending)
                        fc__engine_ring(e->ack_bell);
                fc__engine_wait(bell, 2);
        }
}

/* Puts jobs back at the front of their queues, untouched, in their order.
 * Returns 0 or an error of fc_inflight_move(); frees them when moved. */
static int put_back(fc_engine_t *e, fc_engine_gen_t *g, fc_redis_t *c, fc_fetched_t *jobs, size_t n) {
        if (n == 0)
                return 0;
        fc_move_t *back = calloc(n, sizeof(*back));
        if (!back)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) /* the last one given is taken first */
                back[k] = (fc_move_t){.id = jobs[n - 1 - k].id, .queue = jobs[n - 1 - k].queue,
                                      .payload = jobs[n - 1 - k].payload};
        int r = fc_inflight_move(c, &e->inflight, back, n, fc__engine_now(), &g->dead);
        free(back);
        if (r < 0)
                return r;
        fc_fetched_free(jobs, n);
        atomic_fetch_sub(&e->places, n);
        return 0;
}

/* Runs one suspect of a batch alone, after everything else has settled:
 * if it kills the daemon again, recovery charges it, not its batch-mates,
 * and only the job that really crashes daemons reaches the poison limit.
 * The other suspects go back to the front of their queues untouched first,
 * so they are not in flight here meanwhile (the next fetches take them, one
 * at a time the same way); all of them do when another fetcher is running
 * a suspect already. Nobody fetches meanwhile. Takes the suspects and
 * their places in busy. */
static void run_suspects(fc_engine_t *e, fc_engine_gen_t *g, fc_redis_t *c, fc_chan_t *bell,
                         fc_fetched_t *suspects, size_t n) {
        if (atomic_exchange(&e->isolating, true)) {
                if (put_back(e, g, c, suspects, n) < 0) {
                        /* They stay in flight here; shutdown puts them back. */
                        fc_fetched_free(suspects, n);
                        atomic_fetch_sub(&e->places, n);
                }
                return;
        }
        if (n > 1 && put_back(e, g, c, suspects + 1, n - 1) == 0)
                n = 1;
        size_t i = 0;
        /* Its own place must not keep the engine from settling. */
        atomic_fetch_sub(&e->places, n);
        for (; i < n && wait_until_settled(e, bell); i++) {
                fc_log_limited(FC_LOG_INFO, "suspect", "running a job alone (queue %s): it was in flight in a daemon "
                               "that died", suspects[i].queue);
                atomic_fetch_add(&e->places, 1);
                start_jobs(e, g, c, &suspects[i], 1);
        }
        if (i == n)
                wait_until_settled(e, bell);
        fc_fetched_free(suspects + i, n - i);
        atomic_store(&e->isolating, false);
        ring_fetchers(e);
}

/* Starts a fetched batch: the suspects alone, after the rest. */
static void start_batch(fc_engine_t *e, fc_engine_gen_t *g, fc_redis_t *c, fc_chan_t *bell, fc_fetched_t *batch,
                        size_t n, fc_fetched_t *suspects) {
        size_t n_suspects = 0;
        for (size_t i = 0; i < n; i++)
                if (is_suspect(&batch[i])) {
                        suspects[n_suspects++] = batch[i];
                        batch[i].buf = NULL;
                }
        start_jobs(e, g, c, batch, n);
        if (n_suspects)
                run_suspects(e, g, c, bell, suspects, n_suspects);
}

/* Takes up to FC_INFLIGHT_FETCH_MAX places under concurrency for a fetch:
 * returns how many, or 0 when there are too few free to be worth a fetch. */
static uint32_t reserve_places(fc_engine_t *e) {
        uint32_t concurrency = atomic_load(&e->concurrency);
        uint32_t enough = concurrency / 10 < 50 ? concurrency / 10 : 50;
        uint64_t places = atomic_load(&e->places);
        for (;;) {
                uint32_t taken = places_taken(places);
                uint32_t room = taken < concurrency ? concurrency - taken : 0;
                if (room == 0 || room < enough)
                        return 0;
                uint32_t want = room < FC_INFLIGHT_FETCH_MAX ? room : FC_INFLIGHT_FETCH_MAX;
                if (atomic_compare_exchange_weak(&e->places, &places, places + want + want * RESERVED_PLACE))
                        return want;
        }
}

typedef struct fetcher_arg {
        fc_engine_t *e;
        unsigned index;
} fetcher_arg_t;

/* One fetcher's state (its coroutine's own). */
typedef struct fetcher {
        fc_engine_t *e;
        unsigned index;
        bool first;                /* the one that polls idle queues */
        struct fc_fetcher *shared; /* e->fetchers[index] */
        fc_redis_t *c;
        fc_fetched_t *batch, *suspects;
        const char **order;        /* room for order_cap queue names */
        size_t order_cap;
        uint64_t token, unknown;   /* the last fetch's token; one whose outcome is unknown */
        int64_t last_found_ms;     /* when a fetch last found jobs */
} fetcher_t;

/* What to do after a round. */
typedef enum fetch_next { FETCH_AGAIN, FETCH_RETRY_LATER } fetch_next_t;

/* One round with one generation: recall an unknown fetch, or wait for
 * room, or fetch and start a batch. */
static fetch_next_t fetch_round(fetcher_t *f, fc_engine_gen_t *g) {
        fc_engine_t *e = f->e;
        size_t n = 0;
        if (f->unknown) {
                /* Did the last fetch move jobs? Run them if so. */
                if (fc_inflight_recall(f->c, &e->inflight, f->index, f->unknown, f->batch, &n) < 0)
                        return FETCH_RETRY_LATER;
                f->unknown = 0;
                atomic_fetch_add(&e->places, n);
                start_batch(e, g, f->c, f->shared->bell, f->batch, n, f->suspects);
                return FETCH_AGAIN;
        }
        uint32_t want = 0;
        /* Says so before it looks at quiet: fc_engine_quiet() sets quiet,
         * then waits while a fetcher says so, so no fetch starts after it
         * returned (both sides are sequentially consistent). */
        atomic_store(&f->shared->fetching, true);
        bool may = !atomic_load(&e->quiet) && !atomic_load(&e->isolating) &&
                   (f->first || atomic_load(&e->queues_full));
        if (may)
                want = reserve_places(e);
        if (want == 0)
                atomic_store(&f->shared->fetching, false);
        if (want == 0) {
                atomic_store(&f->shared->waits_for_room, true);
                fc__engine_wait(f->shared->bell, !may ? (f->first ? 100 : FC_FOREVER) : 1000);
                atomic_store(&f->shared->waits_for_room, false);
                return FETCH_AGAIN;
        }
        size_t n_queues = g->config->n_queues;
        if (n_queues > f->order_cap) {
                const char **order = realloc(f->order, n_queues * sizeof(*order));
                if (!order) {
                        atomic_store(&f->shared->fetching, false);
                        atomic_fetch_sub(&e->places, want + want * RESERVED_PLACE);
                        fc_log_limited(FC_LOG_ERROR, "fetch memory", "out of memory ordering %zu queues; retrying",
                                       n_queues);
                        fc__engine_wait(f->shared->bell, ERROR_RETRY_MS);
                        return FETCH_AGAIN;
                }
                f->order = order;
                f->order_cap = n_queues;
        }
        weighted_order(g->config, f->order);
        int r = fc_inflight_fetch(f->c, &e->inflight, f->index, f->order, n_queues, want, ++f->token, f->batch,
                                  &n);
        atomic_store(&f->shared->fetching, false);
        fc__engine_redis_seen(e, r == 0);
        if (r < 0) {
                /* The places go back; the recall takes one for each job the
                   fetch turns out to have moved. */
                atomic_fetch_sub(&e->places, want + want * RESERVED_PLACE);
                f->unknown = f->token;
                return FETCH_RETRY_LATER;
        }
        /* the places not filled are given back; the filled ones are jobs now */
        atomic_fetch_sub(&e->places, (want - n) + want * RESERVED_PLACE);
        bool full = n == want;
        if (atomic_exchange(&e->queues_full, full) != full && full)
                ring_fetchers(e); /* wake the others: there is more */
        start_batch(e, g, f->c, f->shared->bell, f->batch, n, f->suspects);
        /* Empty queues: look again after a quarter of the time since jobs
         * last came (a trickle of jobs starts within a quarter of its gaps),
         * at least 1 ms and at most IDLE_POLL_MAX_MS: an idle daemon fetches
         * about 1000 / IDLE_POLL_MAX_MS times a second. */
        int64_t now = fc_now_ms();
        if (n > 0)
                f->last_found_ms = now;
        else if (f->first) {
                int64_t wait = (now - f->last_found_ms) / 4;
                fc__engine_wait(f->shared->bell, wait < 1 ? 1 : wait > IDLE_POLL_MAX_MS ? IDLE_POLL_MAX_MS : wait);
        }
        return FETCH_AGAIN;
}

/* One fetcher. The first polls the queues when they are empty; the others
 * join in only while fetches come back full, so an idle daemon polls once,
 * not once per fetcher. */
static void fetcher_main(void *arg) {
        fetcher_arg_t *fa = arg;
        fc_engine_t *e = fa->e;
        fetcher_t f = {.e = e, .index = fa->index, .first = fa->index == 0, .shared = &e->fetchers[fa->index]};
        f.batch = calloc(FC_INFLIGHT_FETCH_MAX, sizeof(*f.batch));
        f.suspects = calloc(FC_INFLIGHT_FETCH_MAX, sizeof(*f.suspects));
        char role[32];
        snprintf(role, sizeof(role), "fetcher-%u", fa->index);
        if (!f.batch || !f.suspects || fc__engine_connect(e, role, &f.c) < 0) {
                fc_log(FC_LOG_ERROR, "the fetcher cannot start; stopping");
                fc_engine_stop(e);
        } else {
                while (!fc__engine_stopping(e)) {
                        fc_engine_gen_t *g = fc__engine_gen_take(e, 1);
                        fetch_next_t next = fetch_round(&f, g);
                        fc__engine_gen_drop(g, 1);
                        if (next == FETCH_RETRY_LATER) {
                                fc_log_limited(FC_LOG_WARNING, "fetch failed", "cannot fetch jobs: %s; retrying",
                                               fc_redis_last_error(f.c));
                                fc__engine_wait(f.shared->bell, ERROR_RETRY_MS);
                        }
                }
        }
        /* A fetch with an unknown outcome left its jobs, if any, in flight:
         * the shutdown's requeue puts them back. */
        free(f.order);
        free(f.batch);
        free(f.suspects);
        fc_redis_free(f.c);
}

/* ---- overrun check ------------------------------------------------------- */

/* A handler that never yields keeps its scheduler thread busy, so its
 * deadline (a timer on that same thread) can't fire: this plain thread
 * names such jobs in the log. */
typedef struct overrun_check {
        fc_engine_t *e;
        pthread_t thread;
        _Atomic bool done;
} overrun_check_t;

static void report_overrun(fc_running_job_t *job, void *arg) {
        int64_t now = *(int64_t *)arg;
        if (!job->overrun_reported && job->deadline_ms != INT64_MAX && now > job->deadline_ms + OVERRUN_GRACE_MS) {
                job->overrun_reported = true;
                fc_log_fields_t fields = {.job_id = job->jid, .job_class = job->klass, .queue = job->queue};
                fc_log_job(FC_LOG_WARNING, &fields,
                           "job %s (class %s, queue %s) is %.1f s past its deadline and has not given its "
                           "scheduler thread back: its handler blocks or loops without yielding",
                           job->jid, job->klass, job->queue, (double)(now - job->deadline_ms) / 1000.0);
        }
}

static void *overrun_main(void *arg) {
        overrun_check_t *o = arg;
        while (!atomic_load(&o->done)) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 250 * 1000000L};
                nanosleep(&ts, NULL);
                int64_t now = fc_now_ms();
                fc_running_foreach(&o->e->running, report_overrun, &now);
        }
        return NULL;
}

/* ---- the whole engine ----------------------------------------------------- */

/* Connects and checks the server (warnings about settings that lose jobs),
 * registers this daemon and recovers what dead daemons left, retrying until
 * Redis answers or the engine is stopped. */
static int start_up(fc_engine_t *e, fc_redis_t *c) {
        bool logged = false;
        for (;;) {
                if (fc__engine_stopping(e))
                        return -ECANCELED;
                char *warnings = NULL;
                int r = fc_redis_check_server(c, &warnings);
                if (r >= 0) {
                        for (char *line = warnings, *end; line && *line; line = end + 1) {
                                end = strchr(line, '\n');
                                *end = '\0';
                                fc_log(FC_LOG_WARNING, "Redis: %s", line);
                        }
                        free(warnings);
                        r = fc__recovery_register(e, c);
                }
                if (r >= 0)
                        return 0;
                if (!logged)
                        fc_log(FC_LOG_WARNING, "waiting for Redis: %s", fc_redis_last_error(c));
                logged = true;
                fc__engine_wait(e->stop_bell, ERROR_RETRY_MS);
        }
}

/* Waits until no job is busy, or until ms passed; a second stop request
 * ends the wait early when impatient (the wait for running jobs, not the
 * one for cancelled jobs to unwind, which must not be cut short: their
 * coroutines still use the engine). Returns the jobs left. */
static uint32_t wait_for_jobs(fc_engine_t *e, int64_t ms, bool impatient) {
        int64_t end = fc_now_ms() + ms;
        uint32_t busy;
        while ((busy = places_taken(atomic_load(&e->places))) > 0 && fc_now_ms() < end) {
                if (impatient && atomic_load(&e->stop_requests) > 1)
                        break; /* asked twice: don't wait */
                fc__engine_wait(e->stop_bell, 20);
        }
        return busy;
}

int fc_engine_run(fc_engine_t *e) {
        fc_redis_t *c = NULL;
        int result = 0;
        if (fc__engine_connect(e, "engine", &c) < 0)
                return -ENOMEM;
        fc_host_use_redis_pool(e->pool);
        const fc_config_t *config = e->gen->config; /* no reload before "running" */
        fc_log(FC_LOG_NOTICE, "flowcorod %s starting: Redis %s, queues %zu, concurrency %u, instance %s",
               e->id.name, config->redis.url, config->n_queues, config->concurrency, e->id.instance);
        if (start_up(e, c) < 0) {
                fc_redis_free(c);
                return 0; /* stopped before Redis ever answered: nothing fetched */
        }
        fc__recovery_pass(e, c); /* this host's own dead daemons, at once */
        fc_crash_setup(&e->running, e->keys.crashes);

        overrun_check_t overrun = {.e = e};
        bool overrun_started = pthread_create(&overrun.thread, NULL, overrun_main, &overrun) == 0;
        acker_t acker = {.e = e};
        fc_coro_t *fetchers[FC_ENGINE_FETCHERS] = {0}, *ack = NULL, *heartbeat = NULL, *poller = NULL,
                  *recovery = NULL;
        fetcher_arg_t fetcher_args[FC_ENGINE_FETCHERS];
        bool spawned = fc_spawn(e->sched, acker_main, &acker, &ack) == 0 &&
                       fc_spawn(e->sched, fc__heartbeat_main, e, &heartbeat) == 0 &&
                       fc_spawn(e->sched, fc__poller_main, e, &poller) == 0 &&
                       fc_spawn(e->sched, fc__recovery_main, e, &recovery) == 0;
        for (unsigned i = 0; spawned && i < FC_ENGINE_FETCHERS; i++) {
                fetcher_args[i] = (fetcher_arg_t){.e = e, .index = i};
                spawned = fc_spawn(e->sched, fetcher_main, &fetcher_args[i], &fetchers[i]) == 0;
        }
        if (!spawned) {
                fc_log(FC_LOG_ERROR, "cannot start the engine's coroutines: %s", fc_last_error());
                fc_engine_stop(e);
        }
        fc_log(FC_LOG_NOTICE, "running");

        while (!fc__engine_stopping(e))
                fc__engine_wait(e->stop_bell, FC_FOREVER);

        /* Stop fetching, then give running jobs shutdown_timeout. */
        fc_engine_gen_t *g = fc__engine_gen_take(e, 1);
        int64_t shutdown_timeout_ms = (int64_t)g->config->shutdown_timeout_ms;
        fc__engine_gen_drop(g, 1);
        fc_log(FC_LOG_NOTICE, "stopping: %u jobs running, waiting up to %.1f s for them",
               places_held_by_jobs(atomic_load(&e->places)), (double)shutdown_timeout_ms / 1000.0);
        for (size_t i = 0; i < FC_ENGINE_FETCHERS; i++)
                if (fetchers[i])
                        fc_join(fetchers[i]);
        uint32_t left = wait_for_jobs(e, shutdown_timeout_ms, true);
        if (left > 0) {
                size_t n = fc_running_cancel_all(&e->running);
                fc_log(FC_LOG_NOTICE, "cancelled %zu jobs still running; they go back to their queues", n);
                left = wait_for_jobs(e, CANCEL_GRACE_MS, false);
                if (left > 0) {
                        fc_log(FC_LOG_WARNING, "%u jobs ignored cancellation; they go back to their queues anyway",
                               left);
                        result = -EBUSY;
                }
        }
        /* Acknowledge what finished, then put back what did not. */
        atomic_store(&acker.done, true);
        fc__engine_ring(e->ack_bell);
        if (ack)
                fc_join(ack);
        atomic_store(&e->abandon, true); /* no more retries from here on */
        /* This connection may have lost Redis since start-up (a restart,
         * an outage) and reconnects on its next call: a few tries, so a
         * Redis that is back gets the jobs, one that is away is not waited
         * for long. */
        int r;
        for (int attempt = 1;; attempt++) {
                r = fc_inflight_requeue(c, &e->inflight);
                if (r >= 0 || attempt == REQUEUE_ATTEMPTS)
                        break;
                fc_sleep(ERROR_RETRY_MS);
        }
        if (r > 0)
                fc_log(FC_LOG_NOTICE, "put %d unfinished jobs back at the front of their queues", r);
        else if (r < 0) {
                fc_log(FC_LOG_ERROR, "cannot put unfinished jobs back (%s): they stay in %s, where the next daemon "
                                     "on this host (or any daemon, once this one's heartbeat expires) recovers them",
                       fc_redis_last_error(c), e->inflight.hash);
                result = -EIO;
        }
        fc_coro_t *rest[] = {poller, recovery, heartbeat};
        for (size_t i = 0; i < 3; i++)
                if (rest[i]) {
                        fc_cancel(rest[i]);
                        fc_join(rest[i]);
                }
        fc__heartbeat_once(e, c, result == 0); /* a failure loses stats at worst, and is logged */
        if (overrun_started) {
                atomic_store(&overrun.done, true);
                pthread_join(overrun.thread, NULL);
        }
        fc_crash_teardown();
        fc_host_use_redis_pool(NULL);
        fc_redis_free(c);
        fc_log(FC_LOG_NOTICE, "stopped");
        return result;
}
