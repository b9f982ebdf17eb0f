/* Decimal digits of an unsigned integer, without printf: the job path formats
 * ids and lengths by the thousand (printf's machinery costs ~500 instructions
 * a number), and the crash handler may not call printf at all. */
#ifndef FC_DAEMON_DECIMAL_H
#define FC_DAEMON_DECIMAL_H

#include <stdint.h>

/* Writes v in decimal at p (at most 20 bytes, no NUL) and returns the end.
 * Async-signal-safe. */
static inline char *fc_put_u64(char *p, uint64_t v) {
        char tmp[20];
        int n = 0;
        do
                tmp[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        while (n)
                *p++ = tmp[--n];
        return p;
}

#endif
