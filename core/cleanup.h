/* Cleanup helpers in the style of systemd's: a variable declared with
 * _cleanup_free_ is freed when it goes out of scope; TAKE_PTR() hands
 * ownership on and leaves NULL behind so nothing is freed twice. */
#ifndef FC_CLEANUP_H
#define FC_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void fc__freep(void *p) {
        free(*(void **)p);
}

static inline void fc__closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

#define _cleanup_free_  __attribute__((cleanup(fc__freep)))
#define _cleanup_close_ __attribute__((cleanup(fc__closep)))

#define TAKE_PTR(p)                          \
        ({                                   \
                typeof(p) _taken_ = (p);     \
                (p) = NULL;                  \
                _taken_;                     \
        })

#define TAKE_FD(fd)                          \
        ({                                   \
                int _taken_ = (fd);          \
                (fd) = -1;                   \
                _taken_;                     \
        })

#endif
