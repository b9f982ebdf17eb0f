/* Shared Redis connections (see redis_pool.h). */
#include "redis_pool.h"

#include <errno.h>
#include <stdlib.h>

#include "flowcoro/core.h"

struct fc_redis_pool {
        fc_chan_t *idle;      /* fc_redis_t * not in use */
        fc_redis_t **all;
        size_t size;
};

void fc_redis_pool_free(fc_redis_pool_t *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->size; i++)
                fc_redis_free(p->all[i]);
        fc_chan_destroy(p->idle);
        free(p->all);
        free(p);
}

int fc_redis_pool_new(const fc_redis_options_t *o, size_t size, fc_redis_pool_t **ret) {
        if (size == 0)
                return -EINVAL;
        fc_redis_pool_t *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        int r = (p->all = calloc(size, sizeof(*p->all))) ? fc_chan_create(size, &p->idle) : -ENOMEM;
        for (; r == 0 && p->size < size; p->size++) {
                r = fc_redis_new(o, &p->all[p->size]);
                if (r == 0)
                        r = fc_chan_send(p->idle, p->all[p->size], 0); /* has room: size slots */
        }
        if (r < 0) {
                fc_redis_pool_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

int fc_redis_pool_acquire(fc_redis_pool_t *p, fc_redis_t **conn) {
        void *c;
        int r = fc_chan_recv(p->idle, &c, FC_FOREVER);
        *conn = r == 0 ? c : NULL;
        return r;
}

void fc_redis_pool_release(fc_redis_pool_t *p, fc_redis_t *conn) {
        fc_chan_send(p->idle, conn, 0); /* never blocks: one slot per connection */
}

int fc_redis_pool_command(fc_redis_pool_t *p, redisReply **reply, int argc, const char *const *argv,
                          const size_t *argvlen) {
        fc_redis_t *conn;
        *reply = NULL;
        int r = fc_redis_pool_acquire(p, &conn);
        if (r < 0)
                return r;
        /* One-command pipeline: error replies come back as replies. */
        r = fc_redis_append(conn, argc, argv, argvlen);
        if (r == 0)
                r = fc_redis_exec(conn, FC_REDIS_TIMEOUT_DEFAULT, reply, 1);
        fc_redis_pool_release(p, conn);
        return r;
}
