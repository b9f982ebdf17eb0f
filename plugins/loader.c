/* Loading plugin sets (see loader.h). */
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

struct fc_loaded_plugin {
        char *path;   /* as configured (resolved against plugins.directory) */
        void *handle; /* from dlopen */
        int memfd;    /* >= 0 when loaded from a private copy (see open_image) */
        const fc_plugin_def_t *def;
        void *state;
        bool initialized;
};

struct fc_plugin_set {
        _Atomic long refs;
        const fc_host_t *host;
        fc_loaded_plugin_t *plugins;
        size_t n_plugins;
        fc_plugin_handler_t *handlers; /* sorted by class name */
        size_t n_handlers;
};

/* Paths of images some live set has open. glibc's dlopen returns the image
 * already loaded under the same name (or inode), so a reload that loaded the
 * same path again would get the old code, even if the file was replaced.
 * A path already open is therefore loaded from a private copy instead. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static char **open_paths;
static size_t n_open_paths;

static bool path_is_open(const char *path) {
        for (size_t i = 0; i < n_open_paths; i++)
                if (strcmp(open_paths[i], path) == 0)
                        return true;
        return false;
}

static int path_opened(const char *path) {
        char **p = realloc(open_paths, (n_open_paths + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        open_paths = p;
        if (!(open_paths[n_open_paths] = strdup(path)))
                return -ENOMEM;
        n_open_paths++;
        return 0;
}

static void path_closed(const char *path) {
        for (size_t i = 0; i < n_open_paths; i++)
                if (strcmp(open_paths[i], path) == 0) {
                        free(open_paths[i]);
                        open_paths[i] = open_paths[--n_open_paths];
                        return;
                }
}

/* ---- permission checks, as sshd does for its keys ---------------------- */

static int check_one(const char *path, const struct stat *st, uid_t owner, char *why, size_t whylen) {
        if (st->st_uid != 0 && st->st_uid != owner) {
                snprintf(why, whylen, "%s is owned by uid %u, not by root or the daemon's user (uid %u)", path,
                         (unsigned)st->st_uid, (unsigned)owner);
                return -EPERM;
        }
        /* A sticky directory (/tmp) may be writable by all: there only the
         * owner of an entry can rename or remove it, and the entry below is
         * checked itself. */
        bool sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
        if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !sticky_dir) {
                snprintf(why, whylen, "%s is writable by %s (mode %04o); run chmod go-w on it", path,
                         (st->st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st->st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

static int check_permissions(const char *path, uid_t owner, char *why, size_t whylen) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(path, real) || stat(real, &st) < 0) {
                snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
                return -errno;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, whylen, "%s is not a regular file", path);
                return -EINVAL;
        }
        int r = check_one(real, &st, owner, why, whylen);
        if (r < 0)
                return r;
        /* Every directory above it too: whoever can write one can swap the file. */
        for (char *slash = strrchr(real, '/'); slash; slash = strrchr(real, '/')) {
                if (slash == real)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (stat(real, &st) < 0) {
                        snprintf(why, whylen, "cannot check %s: %s", real, strerror(errno));
                        return -errno;
                }
                if ((r = check_one(real, &st, owner, why, whylen)) < 0)
                        return r;
                if (strcmp(real, "/") == 0)
                        break;
        }
        return 0;
}

/* ---- opening images ---------------------------------------------------- */

/* Copies path into an anonymous memory file and opens that, so the image is
 * new to the dynamic linker (memfd: not subject to noexec mounts). */
static void *open_copy(const char *path, int *memfd, char *why, size_t whylen) {
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int fd = -1;
        char buf[65536], name[64];
        ssize_t n;

        if (in < 0) {
                snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
                return NULL;
        }
        fd = memfd_create("flowcoro-plugin", MFD_CLOEXEC);
        if (fd < 0) {
                snprintf(why, whylen, "cannot copy %s for reloading: memfd_create: %s", path, strerror(errno));
                return NULL;
        }
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(fd, buf, (size_t)n) != n) {
                        snprintf(why, whylen, "cannot copy %s for reloading: %s", path, strerror(errno));
                        return NULL;
                }
        snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
        void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
                snprintf(why, whylen, "cannot load %s: %s", path, dlerror());
                return NULL;
        }
        *memfd = TAKE_FD(fd); /* kept open: the name stays unique while loaded */
        return handle;
}

static void close_plugin(const fc_host_t *host, fc_loaded_plugin_t *p) {
        if (p->initialized && p->def->fini)
                p->def->fini(host, p->state);
        if (p->handle) {
                dlclose(p->handle);
                if (p->memfd >= 0)
                        close(p->memfd);
                else {
                        pthread_mutex_lock(&open_lock);
                        path_closed(p->path);
                        pthread_mutex_unlock(&open_lock);
                }
        }
        free(p->path);
}

/* Checks what the entry point returned. */
static int check_descriptor(const fc_plugin_def_t *d, const char *path, char *why, size_t whylen) {
        if (!d) {
                snprintf(why, whylen, "%s: %s() returned NULL", path, FC_PLUGIN_ENTRY_NAME);
                return -EINVAL;
        }
        if (d->magic != FC_PLUGIN_MAGIC) {
                snprintf(why, whylen, "%s is not a FlowCoro plugin (bad magic in its descriptor)", path);
                return -EINVAL;
        }
        if (d->abi_major != FC_PLUGIN_ABI_MAJOR) {
                snprintf(why, whylen,
                         "%s was built for plugin ABI %u.%u, but this flowcorod speaks ABI %d.%d: rebuild it "
                         "against this version's flowcoro-plugin SDK",
                         path, d->abi_major, d->abi_minor, FC_PLUGIN_ABI_MAJOR, FC_PLUGIN_ABI_MINOR);
                return -EINVAL;
        }
        if (d->size < offsetof(fc_plugin_def_t, n_handlers) + sizeof(d->n_handlers)) {
                snprintf(why, whylen, "%s: its descriptor is %u bytes, too small for ABI %d", path, d->size,
                         FC_PLUGIN_ABI_MAJOR);
                return -EINVAL;
        }
        if (!d->name || !*d->name) {
                snprintf(why, whylen, "%s: its descriptor has no name", path);
                return -EINVAL;
        }
        if (d->n_handlers && !d->handlers) {
                snprintf(why, whylen, "%s: its descriptor lists %zu handlers but no array", path, d->n_handlers);
                return -EINVAL;
        }
        for (size_t i = 0; i < d->n_handlers; i++)
                if (!d->handlers[i].class_name || !*d->handlers[i].class_name || !d->handlers[i].run) {
                        snprintf(why, whylen, "%s: handler %zu has no class name or no function", path, i);
                        return -EINVAL;
                }
        return 0;
}

static int open_plugin(const fc_config_plugin_t *entry, const fc_plugin_options_t *o, fc_loaded_plugin_t *p,
                       char *why, size_t whylen) {
        p->memfd = -1;
        if (!(p->path = strdup(entry->resolved_path)))
                return -ENOMEM;
        if (o->check_permissions) {
                int r = check_permissions(p->path, o->owner_uid, why, whylen);
                if (r < 0)
                        return r;
        } else if (access(p->path, R_OK) < 0) {
                snprintf(why, whylen, "cannot open %s: %s", p->path, strerror(errno));
                return -errno;
        }

        pthread_mutex_lock(&open_lock);
        bool copy = path_is_open(p->path);
        int r = copy ? 0 : path_opened(p->path);
        pthread_mutex_unlock(&open_lock);
        if (r < 0)
                return r;
        if (copy) {
                p->handle = open_copy(p->path, &p->memfd, why, whylen);
        } else {
                p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
                if (!p->handle) {
                        snprintf(why, whylen, "cannot load %s: %s", p->path, dlerror());
                        pthread_mutex_lock(&open_lock);
                        path_closed(p->path);
                        pthread_mutex_unlock(&open_lock);
                }
        }
        if (!p->handle)
                return -EINVAL;

        fc_plugin_entry_fn entry_fn;
        *(void **)&entry_fn = dlsym(p->handle, FC_PLUGIN_ENTRY_NAME);
        if (!entry_fn) {
                snprintf(why, whylen, "%s has no %s() entry point: is it a FlowCoro plugin?", p->path,
                         FC_PLUGIN_ENTRY_NAME);
                return -EINVAL;
        }
        p->def = entry_fn();
        return check_descriptor(p->def, p->path, why, whylen);
}

static int compare_handlers(const void *a, const void *b) {
        return strcmp(((const fc_plugin_handler_t *)a)->def->class_name,
                      ((const fc_plugin_handler_t *)b)->def->class_name);
}

/* Builds the class table; two plugins (or one twice) claiming a class is an
 * error that names both files. */
static int build_handler_table(fc_plugin_set_t *set, const fc_config_t *config, fc_config_errors_t *errors) {
        size_t n = 0;
        for (size_t i = 0; i < set->n_plugins; i++)
                n += set->plugins[i].def->n_handlers;
        set->handlers = calloc(n ? n : 1, sizeof(*set->handlers));
        if (!set->handlers)
                return -ENOMEM;
        for (size_t i = 0; i < set->n_plugins; i++) {
                fc_loaded_plugin_t *p = &set->plugins[i];
                for (size_t k = 0; k < p->def->n_handlers; k++)
                        set->handlers[set->n_handlers++] = (fc_plugin_handler_t){
                                .def = &p->def->handlers[k], .state = p->state, .plugin = p};
        }
        qsort(set->handlers, set->n_handlers, sizeof(*set->handlers), compare_handlers);
        int r = 0;
        for (size_t i = 1; i < set->n_handlers; i++) {
                const fc_plugin_handler_t *a = &set->handlers[i - 1], *b = &set->handlers[i];
                if (strcmp(a->def->class_name, b->def->class_name) != 0)
                        continue;
                size_t ib = (size_t)(b->plugin - set->plugins);
                const fc_config_plugin_t *e = &config->plugins.load[ib];
                fc_config_errors_add_at(errors, config->path, e->line, e->column, "plugins.load",
                                        "job class \"%s\" is claimed by both %s and %s", a->def->class_name,
                                        a->plugin->path, b->plugin->path);
                r = -EINVAL;
        }
        return r;
}

int fc_plugin_set_load(const fc_config_t *config, const fc_plugin_options_t *options, fc_plugin_set_t **out,
                       fc_config_errors_t *errors) {
        fc_plugin_set_t *set = calloc(1, sizeof(*set));
        int result = 0;
        if (!set)
                return -ENOMEM;
        atomic_init(&set->refs, 1);
        set->host = options->host;
        set->plugins = calloc(config->plugins.n_load ? config->plugins.n_load : 1, sizeof(*set->plugins));
        if (!set->plugins) {
                free(set);
                return -ENOMEM;
        }

        for (size_t i = 0; i < config->plugins.n_load; i++) {
                const fc_config_plugin_t *e = &config->plugins.load[i];
                fc_loaded_plugin_t *p = &set->plugins[set->n_plugins++];
                char why[PATH_MAX + 256] = "";
                int r = open_plugin(e, options, p, why, sizeof(why));
                if (r == -ENOMEM) {
                        result = r;
                        break;
                }
                if (r < 0) {
                        fc_config_errors_add_at(errors, config->path, e->line, e->column, "plugins.load", "%s",
                                                why);
                        result = -EINVAL;
                        continue;
                }
                size_t before = fc_config_errors_count(errors);
                r = p->def->init ? p->def->init(options->host, e->config, errors, &p->state) : 0;
                if (r != 0) {
                        if (fc_config_errors_count(errors) == before)
                                fc_config_errors_add_at(errors, config->path, e->line, e->column,
                                                        "plugins.load",
                                                        "plugin %s (%s) refused its configuration", p->def->name,
                                                        p->path);
                        result = -EINVAL;
                        continue;
                }
                p->initialized = true;
        }
        if (result == 0)
                result = build_handler_table(set, config, errors);
        if (result < 0) {
                fc_plugin_set_unref(set);
                return result;
        }
        *out = set;
        return 0;
}

const fc_plugin_handler_t *fc_plugin_set_find(const fc_plugin_set_t *set, const char *class_name) {
        size_t lo = 0, hi = set->n_handlers;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(class_name, set->handlers[mid].def->class_name);
                if (c == 0)
                        return &set->handlers[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

size_t fc_plugin_set_plugins(const fc_plugin_set_t *set) {
        return set->n_plugins;
}

size_t fc_plugin_set_handlers(const fc_plugin_set_t *set) {
        return set->n_handlers;
}

fc_plugin_set_t *fc_plugin_set_ref(fc_plugin_set_t *set) {
        atomic_fetch_add(&set->refs, 1);
        return set;
}

void fc_plugin_set_unref(fc_plugin_set_t *set) {
        if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
                return;
        /* Last reference: no job runs on these plugins any more, so no
         * suspended coroutine can return into their code. */
        for (size_t i = set->n_plugins; i-- > 0;)
                close_plugin(set->host, &set->plugins[i]);
        free(set->plugins);
        free(set->handlers);
        free(set);
}

const char *fc_loaded_plugin_name(const fc_loaded_plugin_t *p) {
        return p->def ? p->def->name : "";
}

const char *fc_loaded_plugin_version(const fc_loaded_plugin_t *p) {
        return p->def && p->def->version ? p->def->version : "";
}

const char *fc_loaded_plugin_path(const fc_loaded_plugin_t *p) {
        return p->path;
}
