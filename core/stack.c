#include "stack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Pages at the top of a new stack populated at once (see fc__stack_alloc). */
#define FC__STACK_HOT_PAGES 1
#include <unistd.h>

#include "flowcoro/core.h"

static _Thread_local char last_error[512];

void fc__set_last_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last_error, sizeof(last_error), fmt, ap);
        va_end(ap);
}

const char *fc_last_error(void) {
        return last_error;
}

size_t fc__page_size(void) {
        static size_t page;
        if (!page)
                page = (size_t)sysconf(_SC_PAGESIZE);
        return page;
}

size_t fc__stack_round(size_t usable) {
        size_t page = fc__page_size();
        if (usable == 0)
                usable = 64 * 1024;
        return (usable + page - 1) / page * page;
}

long fc_max_map_count(void) {
        FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
        long v = -1;
        if (f) {
                if (fscanf(f, "%ld", &v) != 1)
                        v = -1;
                fclose(f);
        }
        return v;
}

long fc_map_count(void) {
        FILE *f = fopen("/proc/self/maps", "re");
        long n = 0;
        int c;
        if (!f)
                return -1;
        while ((c = getc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

/* Called only after a failed mmap/mprotect, so the cost of reading /proc
 * does not matter. */
static void explain_failure(int err, size_t usable) {
        long max_maps = fc_max_map_count();
        long maps = fc_map_count();
        if (max_maps > 0 && maps >= 0 && maps + 8 >= max_maps)
                fc__set_last_error(
                        "cannot map a coroutine stack: the process has %ld memory maps and vm.max_map_count "
                        "is %ld (each stack with its guard page takes 2); raise it with "
                        "'sysctl -w vm.max_map_count=262144' (persist it in /etc/sysctl.d/) or lower the "
                        "number of coroutines (concurrency)",
                        maps, max_maps);
        else
                fc__set_last_error("cannot map a %zu KiB coroutine stack: %s; free memory, raise the "
                                   "address-space limit (ulimit -v, MemoryMax=), or lower concurrency or "
                                   "the stack size",
                                   usable / 1024, strerror(err));
}

int fc__stack_alloc(size_t usable, fc__stack_t *out) {
        size_t page = fc__page_size();
        size_t size = usable + page;
        void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                         -1, 0);
        if (map == MAP_FAILED) {
                int err = errno;
                explain_failure(err, usable);
                return -err;
        }
        if (mprotect(map, page, PROT_NONE) < 0) {
                int err = errno;
                munmap(map, size);
                explain_failure(err, usable);
                return -err;
        }
        /* Fault in the top pages now, in one call: every coroutine writes
         * its first frames there at once, and a page fault taken as a trap
         * costs far more than the same page populated here (about 17 us
         * against 1 us on this project's VMs, where traps exit to the
         * hypervisor). Kernels before 5.14 refuse; the pages then fault
         * in as usual. */
        size_t hot = FC__STACK_HOT_PAGES * page < usable ? FC__STACK_HOT_PAGES * page : usable;
        (void)madvise((char *)map + size - hot, hot, MADV_POPULATE_WRITE);
        out->map = map;
        out->map_size = size;
        return 0;
}

void fc__stack_free(fc__stack_t *s) {
        if (s->map)
                munmap(s->map, s->map_size);
        s->map = NULL;
        s->map_size = 0;
}

bool fc__stack_guard_hit(const fc__stack_t *s, const void *addr) {
        uintptr_t a = (uintptr_t)addr, guard = (uintptr_t)s->map;
        /* A frame larger than a page can skip the guard; count faults up to
         * 64 KiB below it as overflows too. */
        return s->map && a < guard + fc__page_size() && a + 65536 >= guard;
}
