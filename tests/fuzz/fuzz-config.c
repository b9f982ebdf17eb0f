/* libFuzzer target for the configuration parser: any bytes go in; the
 * parser must neither crash nor leak, and must hold its promises (an error
 * list on failure, positions counted from 1, every node reachable). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowcoro/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        /* Inputs may name password files; never pick up a real credential. */
        unsetenv("CREDENTIALS_DIRECTORY");
        return 0;
}

static size_t walk(const fc_config_node_t *n, unsigned depth) {
        size_t count = 1;

        assert(depth <= 64);
        assert(fc_config_node_line(n) >= 1 && fc_config_node_column(n) >= 1);
        assert(fc_config_node_path(n));
        switch (fc_config_node_type(n)) {
        case FC_CONFIG_NODE_SCALAR:
                assert(fc_config_node_scalar(n));
                assert(fc_config_node_count(n) == 0);
                break;
        case FC_CONFIG_NODE_MAPPING:
                for (size_t i = 0; i < fc_config_node_count(n); i++) {
                        const char *key = fc_config_node_key(n, i);
                        assert(key);
                        /* Keys are unique and hold no NUL: a lookup finds this pair. */
                        const fc_config_node_t *v = fc_config_node_get(n, key);
                        assert(v == fc_config_node_item(n, i));
                        (void)v;
                        count += walk(fc_config_node_item(n, i), depth + 1);
                }
                break;
        case FC_CONFIG_NODE_SEQUENCE:
                for (size_t i = 0; i < fc_config_node_count(n); i++)
                        count += walk(fc_config_node_item(n, i), depth + 1);
                break;
        }
        return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fc_config_t *c = NULL;
        fc_config_errors_t *errs = NULL;
        const char *keys[FC_CONFIG_RESTART_KEYS_MAX];
        int r;

        r = fc_config_load_data("fuzz.yaml", data, size, &c, &errs);
        if (r == 0) {
                assert(c && !errs);
                assert(c->n_queues >= 1);
                for (size_t i = 0; i < c->n_queues; i++)
                        assert(c->queues[i].name && c->queues[i].weight >= 1);
                for (size_t i = 0; i < c->plugins.n_load; i++) {
                        assert(c->plugins.load[i].resolved_path);
                        if (c->plugins.load[i].config)
                                walk(c->plugins.load[i].config, 0);
                }
                assert(c->redis.url);
                if (c->redis.password)
                        assert(c->redis.password_from);
                assert(fc_config_restart_keys(c, c, keys) == 0);
                fc_config_free(c);
                return 0;
        }
        assert(!c);
        if (r == -ENOMEM)
                return 0;
        assert(r == -EINVAL);
        assert(errs && fc_config_errors_count(errs) > 0);
        for (size_t i = 0; i < fc_config_errors_count(errs); i++) {
                const fc_config_error_t *e = fc_config_errors_get(errs, i);
                assert(e && e->text && e->message && e->key);
                assert(strncmp(e->text, "fuzz.yaml", 9) == 0);
                assert((e->line == 0) == (e->column == 0));
        }
        fc_config_errors_free(errs);
        return 0;
}
