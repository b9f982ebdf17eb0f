/* Loading plugins (internal to flowcorod and its tests).
 *
 * A plugin set is one generation: the plugins a configuration lists, loaded,
 * checked and initialised, with a table from job class to handler. A reload
 * loads a new set next to the running one; jobs already running keep a
 * reference to the set they started with, so its code stays mapped until
 * the last of them returns. Only then are the plugins' fini called and their
 * images closed. */
#ifndef FC_PLUGINS_LOADER_H
#define FC_PLUGINS_LOADER_H

#include <stdbool.h>
#include <sys/types.h>

#include "flowcoro/config.h"
#include "flowcoro/plugin.h"

typedef struct fc_plugin_set fc_plugin_set_t;
typedef struct fc_loaded_plugin fc_loaded_plugin_t;

typedef struct fc_plugin_options {
        const fc_host_t *host;
        /* Refuse plugin files, and directories above them, that are writable
         * by group or others or owned by anyone but root or owner_uid (as sshd
         * treats its keys). Off only for development. */
        bool check_permissions;
        uid_t owner_uid; /* the daemon's own user */
} fc_plugin_options_t;

/* A handler found for a class: what to call and with which state. */
typedef struct fc_plugin_handler {
        const fc_handler_def_t *def;
        void *state;                      /* the plugin's, from init */
        const fc_loaded_plugin_t *plugin; /* for its name in logs */
} fc_plugin_handler_t;

/* Loads every plugin config->plugins.load lists, in order, and runs their
 * init with their config subtrees. Problems (missing file, bad permissions,
 * dlopen error, missing entry point, wrong magic/ABI/size, a class claimed
 * twice, init refusing its config) are added to errors with the position of
 * the plugin's entry in the configuration and the files involved; nothing is
 * kept loaded then. Returns 0 and a set with one reference in *out, -EINVAL
 * with errors, or -ENOMEM. Call from a plain thread (init may block). */
int fc_plugin_set_load(const fc_config_t *config, const fc_plugin_options_t *options, fc_plugin_set_t **out,
                       fc_config_errors_t *errors);

/* The handler for class_name, or NULL when no plugin of the set offers it.
 * Borrowed: valid while the caller holds a reference to the set. */
const fc_plugin_handler_t *fc_plugin_set_find(const fc_plugin_set_t *set, const char *class_name);

/* Number of plugins and of handlers in the set. */
size_t fc_plugin_set_plugins(const fc_plugin_set_t *set);
size_t fc_plugin_set_handlers(const fc_plugin_set_t *set);

/* Takes and drops references (any thread). Dropping the last one calls each
 * plugin's fini and closes the images. */
fc_plugin_set_t *fc_plugin_set_ref(fc_plugin_set_t *set);
void fc_plugin_set_unref(fc_plugin_set_t *set);

/* The plugin's name and version (from its descriptor) and file. */
const char *fc_loaded_plugin_name(const fc_loaded_plugin_t *p);
const char *fc_loaded_plugin_version(const fc_loaded_plugin_t *p);
const char *fc_loaded_plugin_path(const fc_loaded_plugin_t *p);

#endif
