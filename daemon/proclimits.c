/* Process limits (see proclimits.h). */
#include "proclimits.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>

#include "flowcoro/core.h"
#include "log.h"

uint64_t fc_limits_raise_nofile(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        rlim_t before = rl.rlim_cur;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        rl.rlim_cur = before;
                else
                        fc_log(FC_LOG_INFO, "open files: raised the soft limit from %llu to %llu",
                               (unsigned long long)before, (unsigned long long)rl.rlim_cur);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < FC_LIMITS_LOW_NOFILE)
                fc_log(FC_LOG_WARNING,
                       "open files: the limit is %llu (hard limit %llu); jobs that open sockets or files may "
                       "fail with \"Too many open files\": raise LimitNOFILE= in the unit (or ulimit -Hn)",
                       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
        return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

static long start_maps;
static pthread_once_t start_maps_once = PTHREAD_ONCE_INIT;

static void count_start_maps(void) {
        long n = fc_map_count();
        start_maps = n > 0 ? n : 0;
}

uint64_t fc_limits_maps_needed(uint32_t concurrency) {
        pthread_once(&start_maps_once, count_start_maps);
        return 2 * (uint64_t)concurrency + (uint64_t)start_maps + FC_LIMITS_MAP_RESERVE;
}

int fc_limits_check_maps(uint32_t concurrency, char *error, size_t error_size) {
        uint64_t needed = fc_limits_maps_needed(concurrency);
        long max = fc_max_map_count();
        if (max < 0 || needed <= (uint64_t)max)
                return 0;
        snprintf(error, error_size,
                 "concurrency %u needs about %llu memory map entries (2 per coroutine stack and its guard "
                 "page, "
                 "plus the rest of the process), but vm.max_map_count is %ld: raise it as root with "
                 "'sysctl -w vm.max_map_count=262144' (the flowcoro package ships a sysctl.d file that does "
                 "this at boot), or lower concurrency to at most %llu",
                 concurrency, (unsigned long long)needed, max,
                 (unsigned long long)((uint64_t)max > needed - 2 * (uint64_t)concurrency
                                              ? ((uint64_t)max - (needed - 2 * (uint64_t)concurrency)) / 2
                                              : 0));
        return -E2BIG;
}
