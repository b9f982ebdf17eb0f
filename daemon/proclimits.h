/* The process limits flowcorod checks at start-up (and at reload): open
 * files and memory map entries. */
#ifndef FC_DAEMON_PROCLIMITS_H
#define FC_DAEMON_PROCLIMITS_H

#include <stddef.h>
#include <stdint.h>

/* Below this many open files flowcorod warns at start-up. */
#define FC_LIMITS_LOW_NOFILE 4096

/* Raises the soft limit of open files (RLIMIT_NOFILE) to the hard one, and
 * logs a warning when it stays below FC_LIMITS_LOW_NOFILE. Returns the soft
 * limit now in effect. Call once, at start-up, from the main thread. */
uint64_t fc_limits_raise_nofile(void);

/* The memory map entries (vm.max_map_count) concurrency coroutine stacks
 * need: two per stack (the stack and its guard page) plus a reserve for the
 * rest of the process (its maps at the first call, plus
 * FC_LIMITS_MAP_RESERVE). */
#define FC_LIMITS_MAP_RESERVE 1024
uint64_t fc_limits_maps_needed(uint32_t concurrency);

/* Checks that concurrency guarded stacks fit vm.max_map_count. Returns 0
 * (also when /proc/sys/vm/max_map_count can't be read: then nothing is
 * known), or -E2BIG with a message in error naming both numbers and saying
 * how to raise the limit. The first call counts the process's maps, so
 * make it at start-up. Any thread. */
int fc_limits_check_maps(uint32_t concurrency, char *error, size_t error_size);

#endif
