/* Orphan recovery: the in-flight jobs of daemons that died go back to the
 * front of their queues.
 *
 * Every daemon registers itself in flowcoro:owners (identity -> host, boot
 * id, pid, pid start time, instance) and beats in flowcoro:beats (identity
 * -> epoch seconds) with every heartbeat. A daemon is taken for dead when
 * its beat is older than BEAT_EXPIRY_S, or at once when it ran on this host
 * under the same instance name and is certainly gone (identity.h: an
 * earlier boot, or its pid no longer names it). This registry, not Sidekiq's
 * processes set, is what recovery reads: the Web UI prunes that set.
 *
 * One daemon at a time recovers (a lock with an expiry, released only by
 * its holder), and each job moves only if it is still in the dead daemon's
 * hash (inflight.c), so two daemons never take the same job. When the dead
 * daemon named the job that crashed it (crash.h), that job's
 * recovered_count goes up by one; otherwise (kill -9, the OOM killer) every
 * job it had in flight counts it. At POISON_LIMIT a job goes to dead
 * instead, with a message saying why: one job that kills its daemon can't
 * crash-loop a fleet. A job with a count runs alone next time (engine.c),
 * so a later crash is charged to it alone. */
#include "engine-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "jobscan.h"
#include "log.h"

#define BEAT_EXPIRY_S    60.0
#define LOCK_TTL_MS      "60000"
#define PASS_INTERVAL_MS 30000
#define SCAN_COUNT       500
#define POISON_LIMIT     3

static const char unlock_lua[] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
        "return 0\n";
static fc_redis_script_t unlock_script;

int fc__recovery_register(fc_engine_t *e, fc_redis_t *c) {
        char record[1024], now_s[32];
        fc_identity_format(&e->id, record, sizeof(record));
        snprintf(now_s, sizeof(now_s), "%.3f", fc__engine_now());
        int r = fc_redis_call(c, NULL, "HSET", e->keys.owners, e->id.name, record, NULL);
        if (r == 0)
                r = fc_redis_call(c, NULL, "ZADD", e->keys.beats, now_s, e->id.name, NULL);
        return r;
}

/* The jobs a dead daemon said crashed it: "<id> <signal>" entries. */
typedef struct culprits {
        uint64_t id[64];
        int signal[64];
        size_t n;
} culprits_t;

static int read_culprits(fc_engine_t *e, fc_redis_t *c, const char *identity, culprits_t *out) {
        char key[700];
        redisReply *list = NULL;
        snprintf(key, sizeof(key), "%sflowcoro:crashes:%s", e->prefix, identity);
        out->n = 0;
        int r = fc_redis_call(c, &list, "LRANGE", key, "0", "63", NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements && out->n < 64; i++) {
                unsigned long long id;
                int sig;
                if (list->element[i]->type == REDIS_REPLY_STRING &&
                    sscanf(list->element[i]->str, "%llu %d", &id, &sig) == 2) {
                        out->id[out->n] = id;
                        out->signal[out->n++] = sig;
                }
        }
        freeReplyObject(list);
        return 0;
}

/* Whether job id counts this crash, and the signal that named it (0 when
 * the daemon named none: then every job counts it). */
static bool counts_crash(const culprits_t *culprits, uint64_t id, int *signal) {
        *signal = 0;
        if (culprits->n == 0)
                return true;
        for (size_t i = 0; i < culprits->n; i++)
                if (culprits->id[i] == id) {
                        *signal = culprits->signal[i];
                        return true;
                }
        return false;
}

/* The job as it leaves a dead daemon: recovered_count + 1, and the failure
 * fields when that reaches POISON_LIMIT (*dead). NULL (keep the job as it
 * is) when it is not a JSON object: the job path files it in dead itself.
 * signal: what the daemon died of, when it named this job (0: unknown). */
static char *bump_recovered(const fc_fetched_t *f, double now, int signal, bool *dead) {
        *dead = false;
        /* Too deep to parse on a coroutine's stack: it goes back unchanged,
         * and the job path files it in dead for that. */
        json_t *o = fc_json_too_deep(f->payload, f->len, FC_JSON_MAX_DEPTH) ? NULL
                                                                             : json_loadb(f->payload, f->len, 0, NULL);
        if (!json_is_object(o)) {
                json_decref(o);
                return NULL;
        }
        json_int_t count = json_integer_value(json_object_get(o, "recovered_count")) + 1;
        json_object_set_new(o, "recovered_count", json_integer(count));
        if (count >= POISON_LIMIT) {
                *dead = true;
                json_object_set_new(o, "error_class", json_string("FlowCoro::PoisonJob"));
                char msg[320];
                if (signal > 0)
                        snprintf(msg, sizeof(msg),
                                 "this job's handler crashed its daemon (last time with SIG%s) %d times; it was not "
                                 "run again", sigabbrev_np(signal) ? sigabbrev_np(signal) : "?", (int)count);
                else
                        snprintf(msg, sizeof(msg),
                                 "this job was running in %d daemons that died before it finished (killed, crashed "
                                 "or restarted by a watchdog); it is probably what kills them, so it was not run "
                                 "again", (int)count);
                json_object_set_new(o, "error_message", json_string(msg));
                if (!json_object_get(o, "failed_at"))
                        json_object_set_new(o, "failed_at", json_real(now));
        }
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

static int by_id_descending(const void *a, const void *b) {
        const fc_move_t *x = a, *y = b;
        return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* Moves one batch of a dead daemon's jobs. Returns how many moved. */
static int recover_batch(fc_engine_t *e, fc_redis_t *c, const fc_inflight_t *f, fc_fetched_t *jobs, size_t n,
                         const culprits_t *culprits, unsigned *poisoned) {
        fc_move_t *moves = calloc(n ? n : 1, sizeof(*moves));
        char **owned = calloc(n ? n : 1, sizeof(*owned));
        double now = fc__engine_now();
        int r = moves && owned ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                int signal;
                if (counts_crash(culprits, jobs[i].id, &signal))
                        owned[i] = bump_recovered(&jobs[i], now, signal, &moves[i].dead);
                moves[i].id = jobs[i].id;
                moves[i].queue = jobs[i].queue;
                moves[i].payload = owned[i] ? owned[i] : jobs[i].payload;
                if (moves[i].dead) {
                        (*poisoned)++;
                        fc_log(FC_LOG_WARNING, "poison job moved to dead (queue %s): it was in flight in %d daemons "
                                               "that died", jobs[i].queue, POISON_LIMIT);
                }
        }
        /* The front of a queue is its right end: push the newest first so
         * the oldest is taken next. */
        if (r == 0) {
                qsort(moves, n, sizeof(*moves), by_id_descending);
                fc_engine_gen_t *g = fc__engine_gen_take(e, 1);
                r = fc_inflight_move(c, f, moves, n, now, &g->dead);
                fc__engine_gen_drop(g, 1);
        }
        for (size_t i = 0; owned && i < n; i++)
                free(owned[i]);
        free(owned);
        free(moves);
        return r;
}

/* Recovers every job of the daemon named identity, then forgets it. */
static int recover_daemon(fc_engine_t *e, fc_redis_t *c, const char *identity, const char *why) {
        fc_inflight_t f;
        int r = fc_inflight_init(&f, e->prefix, identity);
        if (r < 0)
                return r;
        unsigned moved = 0, poisoned = 0;
        uint64_t cursor = 0;
        culprits_t culprits;
        r = read_culprits(e, c, identity, &culprits);
        do {
                fc_fetched_t *jobs = NULL;
                size_t n = 0;
                r = fc_inflight_scan(c, &f, &cursor, SCAN_COUNT, &jobs, &n);
                if (r == 0 && n > 0)
                        r = recover_batch(e, c, &f, jobs, n, &culprits, &poisoned);
                if (r > 0)
                        moved += (unsigned)r;
                fc_fetched_free(jobs, n);
                free(jobs);
        } while (r >= 0 && cursor != 0);
        if (r >= 0 && culprits.n)
                fc_log(FC_LOG_NOTICE, "daemon %s named the job that crashed it (in-flight id %llu, SIG%s)", identity,
                       (unsigned long long)culprits.id[culprits.n - 1],
                       sigabbrev_np(culprits.signal[culprits.n - 1]) ? sigabbrev_np(culprits.signal[culprits.n - 1])
                                                                      : "?");
        if (r >= 0)
                r = fc_inflight_drop_if_empty(c, &f);
        if (r == 1) {
                /* Forget it everywhere, Sidekiq's process set included. */
                char process[600], workers[620], crashes[640];
                snprintf(process, sizeof(process), "%s%s", e->prefix, identity);
                snprintf(workers, sizeof(workers), "%s%s:workers", e->prefix, identity);
                snprintf(crashes, sizeof(crashes), "%sflowcoro:crashes:%s", e->prefix, identity);
                fc_redis_call(c, NULL, "ZREM", e->keys.beats, identity, NULL);
                fc_redis_call(c, NULL, "HDEL", e->keys.owners, identity, NULL);
                fc_redis_call(c, NULL, "SREM", e->keys.processes, identity, NULL);
                fc_redis_call(c, NULL, "DEL", process, workers, crashes, NULL);
        }
        if (moved || poisoned)
                fc_log(FC_LOG_NOTICE, "recovered %u in-flight jobs of daemon %s (%s): %u back at the front of their "
                                      "queues, %u to dead as poison", moved, identity, why, moved - poisoned,
                       poisoned);
        if (r < 0)
                fc_log(FC_LOG_WARNING, "recovering the jobs of daemon %s stopped: %s; the next pass goes on",
                       identity, fc_redis_last_error(c));
        fc_inflight_clear(&f);
        return r < 0 ? r : (int)moved;
}

/* Which registered daemons are dead, and why (NULL: alive). */
static const char *death_reason(const fc_engine_t *e, const char *identity, const redisReply *record, double beat,
                                double now, char *buf, size_t size) {
        if (strcmp(identity, e->id.name) == 0)
                return NULL;
        fc_identity_t other;
        if (record && record->type == REDIS_REPLY_STRING && fc_identity_parse(record->str, &other) == 0 &&
            fc_identity_is_gone(&e->id, &other)) {
                snprintf(buf, size, "same host and instance; %s", strcmp(other.boot_id, e->id.boot_id) != 0
                                                                       ? "it ran before the last boot"
                                                                       : "its process is gone");
                return buf;
        }
        if (beat < now - BEAT_EXPIRY_S) {
                snprintf(buf, size, "no heartbeat for %.0f s", now - beat);
                return buf;
        }
        return NULL;
}

int fc__recovery_pass(fc_engine_t *e, fc_redis_t *c) {
        redisReply *lock = NULL, *beats = NULL, *owners = NULL;
        int r = fc_redis_call(c, &lock, "SET", e->keys.recovery_lock, e->id.name, "NX", "PX", LOCK_TTL_MS, NULL);
        if (r < 0)
                return r;
        bool have_lock = lock->type == REDIS_REPLY_STATUS;
        freeReplyObject(lock);
        if (!have_lock)
                return 0; /* another daemon is at it */

        int total = 0;
        double now = fc__engine_now();
        /* Owners without a beat count as beating never: a daemon that died
         * between its two registration commands. */
        r = fc_redis_call(c, &owners, "HGETALL", e->keys.owners, NULL);
        if (r == 0)
                r = fc_redis_call(c, &beats, "ZRANGE", e->keys.beats, "0", "-1", "WITHSCORES", NULL);
        for (size_t i = 0; r == 0 && owners->type == REDIS_REPLY_ARRAY && i + 1 < owners->elements; i += 2) {
                const char *identity = owners->element[i]->str;
                double beat = 0;
                for (size_t j = 0; beats->type == REDIS_REPLY_ARRAY && j + 1 < beats->elements; j += 2)
                        if (strcmp(beats->element[j]->str, identity) == 0)
                                beat = strtod(beats->element[j + 1]->str, NULL);
                char buf[128];
                const char *why = death_reason(e, identity, owners->element[i + 1], beat, now, buf, sizeof(buf));
                if (why) {
                        int moved = recover_daemon(e, c, identity, why);
                        if (moved > 0)
                                total += moved;
                }
        }
        if (owners)
                freeReplyObject(owners);
        if (beats)
                freeReplyObject(beats);
        const char *argv[] = {e->keys.recovery_lock, e->id.name};
        redisReply *unlocked = NULL;
        if (fc_redis_eval(c, &unlock_script, FC_REDIS_TIMEOUT_DEFAULT, &unlocked, 1, 2, argv, NULL) == 0)
                freeReplyObject(unlocked);
        return r < 0 ? r : total;
}

void fc__recovery_main(void *engine) {
        fc_engine_t *e = engine;
        fc_redis_t *c = NULL;
        if (fc__engine_connect(e, "recovery", &c) < 0)
                return;
        for (;;) {
                if (fc_sleep(PASS_INTERVAL_MS + (int64_t)fc__engine_random_below(PASS_INTERVAL_MS / 3)) < 0)
                        break;
                int r = fc__recovery_pass(e, c);
                if (r < 0 && r != -ECANCELED)
                        fc_log_limited(FC_LOG_WARNING, "recovery failed", "orphan recovery: %s",
                                       fc_redis_last_error(c));
        }
        fc_redis_free(c);
}

static void __attribute__((constructor)) init_unlock_script(void) {
        fc_redis_script_init(&unlock_script, unlock_lua);
}
