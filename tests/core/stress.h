/* Sizes of stress tests. TSan's runtime (GCC 12) treats every coroutine as
 * a fiber with its own vector clock, so its cost grows with the number of
 * coroutines ever created: under TSan the stress loops run at 1/50 of their
 * size, which still interleaves every path many thousand times. */
#ifndef FC_TEST_STRESS_H
#define FC_TEST_STRESS_H

#if defined(__SANITIZE_THREAD__)
#define STRESS(n) ((n) / 50 > 0 ? (n) / 50 : 1)
#else
#define STRESS(n) (n)
#endif

#endif
