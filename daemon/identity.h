/* Who this daemon is, for Redis: Sidekiq's process identity and what lets a
 * later daemon on the same host tell safely whether it is still alive. */
#ifndef FC_DAEMON_IDENTITY_H
#define FC_DAEMON_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct fc_identity {
        char hostname[256];
        char boot_id[40];   /* /proc/sys/kernel/random/boot_id: changes with every boot */
        pid_t pid;
        uint64_t pid_start; /* the process's start time in clock ticks since boot: tells a
                               reused pid from the same process */
        char instance[128]; /* the operator's name for this daemon on its host (--instance) */
        char name[512];     /* Sidekiq's identity: "hostname:pid:<12 hex digits>" */
} fc_identity_t;

/* Fills *id for the calling process. Returns 0, -EINVAL for an instance name
 * that is empty, too long or holds a space, ':' or control character, or a
 * negative errno when /proc can't be read. */
int fc_identity_init(fc_identity_t *id, const char *instance);

/* The owner record stored in Redis: "hostname\tboot_id\tpid\tpid_start\tinstance".
 * Returns the length written (< size), or -ENOSPC. */
int fc_identity_format(const fc_identity_t *id, char *buf, size_t size);

/* Parses a record written by fc_identity_format() into *id (name left
 * empty). Returns 0 or -EINVAL. */
int fc_identity_parse(const char *record, fc_identity_t *id);

/* Whether other names a daemon that has certainly stopped, judged from this
 * host alone: it ran on this host under the same instance name, and either
 * during an earlier boot or as a process that no longer exists (its pid is
 * gone or now belongs to a process started at another time). False means
 * "can't tell from here": wait for its heartbeat to expire. */
bool fc_identity_is_gone(const fc_identity_t *self, const fc_identity_t *other);

#endif
