/* greeter.so: the out-of-tree plugin docs/plugins.md walks through.
 * Build: cc -shared -fPIC $(pkg-config --cflags flowcoro-plugin) -o greeter.so greeter.c
 *
 * Class "Greet", args [name]: logs a greeting with the configured word and
 * fails permanently when name is missing. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <flowcoro/plugin.h>

typedef struct greeter {
        char word[64];
} greeter_t;

static fc_job_status_t greet(const fc_host_t *host, fc_job_t *job, void *state) {
        greeter_t *g = state;
        const char *name = json_string_value(json_array_get(host->job_args(job), 0));
        if (!name)
                return host->fail(job, FC_JOB_DEAD, "ArgumentError", "Greet expects [name]");
        host->log(job, FC_LOG_PRIO_INFO, "%s, %s!", g->word, name);
        return FC_JOB_OK;
}

static int init(const fc_host_t *host, const fc_config_node_t *config, fc_config_errors_t *errors, void **state) {
        greeter_t *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        strcpy(g->word, "Hello");
        *state = g;
        const fc_config_node_t *word = config ? host->cfg_get(config, "word") : NULL;
        if (word) {
                const char *w = host->cfg_scalar(word);
                if (!w || strlen(w) == 0 || strlen(w) >= sizeof(g->word)) {
                        host->cfg_error(errors, word, "expected a word of 1 to 63 characters");
                        free(g); /* fini is not called after a failed init */
                        return -EINVAL;
                }
                strcpy(g->word, w);
        }
        return 0;
}

static void fini(const fc_host_t *host, void *state) {
        free(state);
}

static const fc_handler_def_t handlers[] = {
        {.class_name = "Greet", .run = greet, .timeout_ms = 5000, .max_retries = 3},
};

static const fc_plugin_def_t greeter = {
        FC_PLUGIN_HEADER,
        .name = "greeter",
        .version = "0.1.0",
        .init = init,
        .fini = fini,
        .handlers = handlers,
        .n_handlers = 1,
};

FC_PLUGIN_DEFINE(greeter)
