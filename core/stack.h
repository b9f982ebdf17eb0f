/* Coroutine stacks: mmap'ed, with a PROT_NONE guard page below, so an
 * overflow faults instead of silently corrupting the neighbour.
 *
 * Only touched pages cost memory (MAP_NORESERVE), so a coroutine that sleeps
 * costs a page or two whatever the stack size. Each mapping with its guard is
 * two entries in the process's memory map, which vm.max_map_count caps. */
#ifndef FC_STACK_H
#define FC_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc__stack {
        void *map;       /* start of the mapping: the guard page */
        size_t map_size; /* guard page + usable size */
} fc__stack_t;

/* System page size, looked up once. */
size_t fc__page_size(void);

/* Rounds a requested usable size up to whole pages (0 = 64 KiB). */
size_t fc__stack_round(size_t usable);

/* Maps a stack with usable bytes above its guard page.
 * Returns 0, or -ENOMEM / -EAGAIN with fc_last_error() explaining whether the
 * memory or the vm.max_map_count limit ran out and how to raise it. */
int fc__stack_alloc(size_t usable, fc__stack_t *out);

/* Unmaps a stack. Harmless on a zeroed one. */
void fc__stack_free(fc__stack_t *s);

static inline void *fc__stack_lo(const fc__stack_t *s) {
        return (char *)s->map + fc__page_size();
}

static inline size_t fc__stack_usable(const fc__stack_t *s) {
        return s->map_size - fc__page_size();
}

/* True when addr lies in s's guard page (or just below it, for a large
 * frame that jumped over). */
bool fc__stack_guard_hit(const fc__stack_t *s, const void *addr);

/* Sets the thread's fc_last_error() message (printf-style). */
void fc__set_last_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
