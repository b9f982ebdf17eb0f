/* Job counters in per-thread slots, summed on scrape (see stats.h).
 *
 * The (queue, class) registry is an open-addressing table of interned pairs,
 * read without a lock: a pair is published with a release store once it is
 * complete and is never changed or freed until fc_stats_free(). Inserting
 * takes a mutex, which only a pair never seen before while under the cap
 * does: at most FC_STATS_MAX_LABELS times in the process's life, plus the
 * rare race of two threads seeing the same new pair at once. */
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowcoro/core.h"

#define TABLE_SIZE 512 /* a power of two, over twice FC_STATS_MAX_LABELS: short probes */
#define OTHER      "other"

_Static_assert(TABLE_SIZE >= 2 * FC_STATS_MAX_LABELS && (TABLE_SIZE & (TABLE_SIZE - 1)) == 0,
               "TABLE_SIZE: a power of two over twice the cap");

const double fc_stats_bucket_bounds[FC_STATS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1,      2.5,   5,    10,    30,   60};

typedef struct pair {
        uint64_t hash;
        size_t index;
        size_t qlen, klen;
        const char *queue, *klass; /* into names */
        char names[];              /* queue '\0' class '\0' */
} pair_t;

/* One pair's numbers in one slot. */
typedef struct pair_counts {
        _Atomic uint64_t processed, failed, retried, dead;
        _Atomic uint64_t duration[FC_STATS_BUCKETS + 1], latency[FC_STATS_BUCKETS + 1];
        _Atomic uint64_t duration_sum_us, latency_sum_us;
} pair_counts_t;

/* Written by one scheduler thread (relaxed load and store), or, for the last
 * slot, by any other thread (atomic adds); read by scrapes. Aligned so that
 * two threads never write one cache line. */
typedef struct slot {
        _Alignas(64) _Atomic int64_t busy;
        pair_counts_t pairs[FC_STATS_MAX_LABELS];
} slot_t;

struct fc_stats {
        /* Set by fc_stats_new(), read-only afterwards. */
        unsigned threads;
        slot_t *slots; /* threads + 1: the last one for callers outside the pool */
        double started_at;

        /* The registry: entries and pairs[i < n_pairs] published with release stores. */
        _Atomic(pair_t *) table[TABLE_SIZE];
        _Atomic(pair_t *) pairs[FC_STATS_MAX_LABELS];
        _Atomic size_t n_pairs;
        pthread_mutex_t insert_lock; /* serializes inserts */
        _Atomic size_t memory;

        _Atomic uint64_t reloads_ok, reloads_failed;
};

/* ---- slots ----------------------------------------------------------------- */

static slot_t *my_slot(fc_stats_t *s, bool *shared) {
        int w = fc_self_worker();
        *shared = w < 0 || (unsigned)w >= s->threads;
        return &s->slots[*shared ? s->threads : (unsigned)w];
}

/* A count in a slot: its one writer needs no lock prefix; the shared slot does. */
static inline void add(_Atomic uint64_t *x, uint64_t v, bool shared) {
        if (shared)
                atomic_fetch_add_explicit(x, v, memory_order_relaxed);
        else
                atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + v,
                                      memory_order_relaxed);
}

static inline void add_signed(_Atomic int64_t *x, int64_t v, bool shared) {
        if (shared)
                atomic_fetch_add_explicit(x, v, memory_order_relaxed);
        else
                atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + v,
                                      memory_order_relaxed);
}

static inline uint64_t get(const _Atomic uint64_t *x) {
        return atomic_load_explicit(x, memory_order_relaxed);
}

/* ---- the registry ------------------------------------------------------------ */

static uint64_t hash_pair(const char *queue, size_t qlen, const char *klass, size_t klen) {
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
        for (size_t i = 0; i < qlen; i++)
                h = (h ^ (unsigned char)queue[i]) * 0x100000001b3ULL;
        h = (h ^ 0xff) * 0x100000001b3ULL; /* no UTF-8 byte: ("ab","c") differs from ("a","bc") */
        for (size_t i = 0; i < klen; i++)
                h = (h ^ (unsigned char)klass[i]) * 0x100000001b3ULL;
        return h;
}

/* Length of name, or 0 when it can't be a label: empty, too long, or
 * holding a control character. Reads at most FC_STATS_LABEL_MAX + 1 bytes. */
static size_t label_length(const char *name) {
        if (!name)
                return 0;
        size_t n = 0;
        for (; name[n]; n++)
                if (n == FC_STATS_LABEL_MAX || (unsigned char)name[n] < 0x20 || name[n] == 0x7f)
                        return 0;
        return n;
}

/* The slot of table where (queue, klass) is, or the empty one where it
 * would go. The table never fills (cap < TABLE_SIZE), so this ends. */
static size_t probe(const fc_stats_t *s, uint64_t h, const char *queue, size_t qlen, const char *klass,
                    size_t klen, pair_t **found) {
        for (size_t i = h & (TABLE_SIZE - 1);; i = (i + 1) & (TABLE_SIZE - 1)) {
                pair_t *p = atomic_load_explicit(&s->table[i], memory_order_acquire);
                if (!p || (p->hash == h && p->qlen == qlen && p->klen == klen &&
                           memcmp(p->queue, queue, qlen) == 0 && memcmp(p->klass, klass, klen) == 0)) {
                        *found = p;
                        return i;
                }
        }
}

/* Adds a pair under the lock; returns its index, or 0 ("other") past the
 * cap or out of memory. */
static size_t insert(fc_stats_t *s, uint64_t h, const char *queue, size_t qlen, const char *klass,
                     size_t klen) {
        size_t index = 0;
        pthread_mutex_lock(&s->insert_lock);
        pair_t *p;
        size_t at = probe(s, h, queue, qlen, klass, klen, &p);
        size_t n = atomic_load_explicit(&s->n_pairs, memory_order_relaxed);
        if (p) {
                index = p->index; /* another thread added it meanwhile */
        } else if (n < FC_STATS_MAX_LABELS && (p = malloc(sizeof(*p) + qlen + klen + 2))) {
                memcpy(p->names, queue, qlen + 1);
                memcpy(p->names + qlen + 1, klass, klen + 1);
                p->hash = h;
                p->index = index = n;
                p->qlen = qlen;
                p->klen = klen;
                p->queue = p->names;
                p->klass = p->names + qlen + 1;
                atomic_fetch_add_explicit(&s->memory, sizeof(*p) + qlen + klen + 2, memory_order_relaxed);
                atomic_store_explicit(&s->pairs[n], p, memory_order_release);
                atomic_store_explicit(&s->table[at], p, memory_order_release);
                atomic_store_explicit(&s->n_pairs, n + 1, memory_order_release);
        }
        pthread_mutex_unlock(&s->insert_lock);
        return index;
}

static size_t pair_index(fc_stats_t *s, const char *queue, const char *klass) {
        size_t qlen = label_length(queue), klen = label_length(klass);
        if (!qlen || !klen)
                return 0;
        uint64_t h = hash_pair(queue, qlen, klass, klen);
        pair_t *p;
        probe(s, h, queue, qlen, klass, klen, &p);
        if (p)
                return p->index;
        if (atomic_load_explicit(&s->n_pairs, memory_order_relaxed) >= FC_STATS_MAX_LABELS)
                return 0; /* the flood case: no lock, no allocation */
        return insert(s, h, queue, qlen, klass, klen);
}

/* ---- life ---------------------------------------------------------------------- */

int fc_stats_new(unsigned threads, fc_stats_t **out) {
        *out = NULL;
        if (threads == 0)
                return -EINVAL;
        fc_stats_t *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        size_t bytes = sizeof(slot_t) * ((size_t)threads + 1);
        s->slots = aligned_alloc(_Alignof(slot_t), bytes);
        if (!s->slots) {
                free(s);
                return -ENOMEM;
        }
        memset(s->slots, 0, bytes);
        s->threads = threads;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        s->started_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
        pthread_mutex_init(&s->insert_lock, NULL);
        atomic_init(&s->memory, sizeof(*s) + bytes);
        /* Pair 0 is the overflow, present from the start. */
        size_t len = strlen(OTHER);
        if (insert(s, hash_pair(OTHER, len, OTHER, len), OTHER, len, OTHER, len) != 0 ||
            atomic_load(&s->n_pairs) != 1) {
                fc_stats_free(s);
                return -ENOMEM;
        }
        *out = s;
        return 0;
}

void fc_stats_free(fc_stats_t *s) {
        if (!s)
                return;
        size_t n = atomic_load(&s->n_pairs);
        for (size_t i = 0; i < n; i++)
                free(atomic_load(&s->pairs[i]));
        pthread_mutex_destroy(&s->insert_lock);
        free(s->slots);
        free(s);
}

/* ---- counting -------------------------------------------------------------------- */

/* In whole microseconds, so that float noise (100.01 - 100 = 0.01000000000000512)
 * does not push a sample past its bound. */
static size_t bucket(uint64_t us) {
        size_t b = 0;
        while (b < FC_STATS_BUCKETS && us > (uint64_t)(fc_stats_bucket_bounds[b] * 1e6 + 0.5))
                b++;
        return b;
}

static void observe(_Atomic uint64_t *buckets, _Atomic uint64_t *sum_us, double seconds, bool shared) {
        uint64_t us = 0;
        if (seconds > 0) /* not negative (clock skew), not NaN */
                us = seconds < 1e9 ? (uint64_t)(seconds * 1e6 + 0.5) : (uint64_t)1e15;
        add(&buckets[bucket(us)], 1, shared);
        add(sum_us, us, shared);
}

void fc_stats_job_done(fc_stats_t *s, const fc_stats_job_t *job) {
        bool shared;
        slot_t *slot = my_slot(s, &shared);
        pair_counts_t *c = &slot->pairs[pair_index(s, job->queue, job->klass)];
        add(&c->processed, 1, shared);
        switch (job->outcome) {
        case FC_STATS_SUCCEEDED:
        case FC_STATS_SNOOZED:
                break;
        case FC_STATS_RETRIED:
                add(&c->retried, 1, shared);
                add(&c->failed, 1, shared);
                break;
        case FC_STATS_DEAD:
                add(&c->dead, 1, shared);
                add(&c->failed, 1, shared);
                break;
        case FC_STATS_DROPPED:
                add(&c->failed, 1, shared);
                break;
        }
        if (job->started_at > 0) {
                observe(c->duration, &c->duration_sum_us, job->finished_at - job->started_at, shared);
                if (job->enqueued_at > 0)
                        observe(c->latency, &c->latency_sum_us, job->started_at - job->enqueued_at, shared);
        }
}

void fc_stats_job_started(fc_stats_t *s) {
        bool shared;
        slot_t *slot = my_slot(s, &shared);
        add_signed(&slot->busy, 1, shared);
}

void fc_stats_job_ended(fc_stats_t *s) {
        bool shared;
        slot_t *slot = my_slot(s, &shared);
        add_signed(&slot->busy, -1, shared);
}

void fc_stats_reload(fc_stats_t *s, bool ok) {
        atomic_fetch_add_explicit(ok ? &s->reloads_ok : &s->reloads_failed, 1, memory_order_relaxed);
}

/* ---- reading ----------------------------------------------------------------------- */

size_t fc_stats_labels(const fc_stats_t *s) {
        return atomic_load_explicit(&s->n_pairs, memory_order_acquire);
}

void fc_stats_label(const fc_stats_t *s, size_t i, const char **queue, const char **klass) {
        const pair_t *p = atomic_load_explicit(&s->pairs[i], memory_order_acquire);
        *queue = p->queue;
        *klass = p->klass;
}

void fc_stats_add_counts(const fc_stats_t *s, size_t i, fc_stats_counts_t *sum) {
        uint64_t duration_us = 0, latency_us = 0;
        for (unsigned t = 0; t <= s->threads; t++) {
                const pair_counts_t *c = &s->slots[t].pairs[i];
                sum->processed += get(&c->processed);
                sum->failed += get(&c->failed);
                sum->retried += get(&c->retried);
                sum->dead += get(&c->dead);
                for (size_t b = 0; b <= FC_STATS_BUCKETS; b++) {
                        sum->duration[b] += get(&c->duration[b]);
                        sum->latency[b] += get(&c->latency[b]);
                }
                duration_us += get(&c->duration_sum_us);
                latency_us += get(&c->latency_sum_us);
        }
        sum->duration_sum += (double)duration_us / 1e6;
        sum->latency_sum += (double)latency_us / 1e6;
}

int64_t fc_stats_busy(const fc_stats_t *s) {
        int64_t busy = 0;
        for (unsigned t = 0; t <= s->threads; t++)
                busy += atomic_load_explicit(&s->slots[t].busy, memory_order_relaxed);
        return busy > 0 ? busy : 0; /* slots read at different moments */
}

void fc_stats_reloads(const fc_stats_t *s, uint64_t *ok, uint64_t *failed) {
        *ok = atomic_load_explicit(&s->reloads_ok, memory_order_relaxed);
        *failed = atomic_load_explicit(&s->reloads_failed, memory_order_relaxed);
}

double fc_stats_start_time(const fc_stats_t *s) {
        return s->started_at;
}

size_t fc_stats_memory(const fc_stats_t *s) {
        return atomic_load_explicit(&s->memory, memory_order_relaxed);
}
