/* Replays saved inputs through a libFuzzer target without libFuzzer: linked
 * with one fuzz-NAME.c, it runs that target's LLVMFuzzerTestOneInput on
 * every file of the directories in FUZZ_INPUTS (colon-separated; set at
 * build time: the seed corpus and regressions/NAME/), in name order. The
 * normal builds (gcc, plain and ASan) run it as a unit test, so inputs that
 * once crashed a target keep being checked without clang. A failing input
 * aborts (assert, sanitizer) after its name is printed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads a whole file into a buffer of exactly its size, so that a read past
 * the end is caught by ASan, as under libFuzzer. Returns 0 or -errno. */
static int read_input(int dir_fd, const char *name, uint8_t **out, size_t *size) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        _cleanup_free_ uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                got += (size_t)n;
        }
        *out = TAKE_PTR(buf);
        *size = got;
        return 0;
}

static int is_input(const struct dirent *d) {
        return d->d_name[0] != '.';
}

/* Replays every file of dir; returns how many, or -1 after saying why. */
static int replay_dir(const char *dir) {
        _cleanup_close_ int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent **names;
        int n = dir_fd < 0 ? -1 : scandir(dir, &names, is_input, alphasort);
        if (n < 0) {
                fprintf(stderr, "replay: cannot read directory %s: %s\n", dir, strerror(errno));
                return -1;
        }
        int r = 0;
        for (int i = 0; i < n; i++) {
                uint8_t *data = NULL;
                size_t size = 0;
                int e = r == 0 ? read_input(dir_fd, names[i]->d_name, &data, &size) : 0;
                if (e < 0) {
                        fprintf(stderr, "replay: cannot read %s/%s: %s\n", dir, names[i]->d_name,
                                strerror(-e));
                        r = -1;
                } else if (r == 0) {
                        printf("replay: %s/%s (%zu bytes)\n", dir, names[i]->d_name, size);
                        fflush(stdout);
                        LLVMFuzzerTestOneInput(data, size);
                        free(data);
                }
                free(names[i]);
        }
        free(names);
        return r < 0 ? -1 : n;
}

int main(int argc, char **argv) {
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        _cleanup_free_ char *dirs = strdup(FUZZ_INPUTS);
        if (!dirs)
                return 1;
        int total = 0;
        for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                int n = replay_dir(dir);
                if (n < 0)
                        return 1;
                total += n;
        }
        if (total == 0) {
                fprintf(stderr, "replay: no inputs in %s\n", FUZZ_INPUTS);
                return 1;
        }
        printf("replay: %d inputs, no failure\n", total);
        return 0;
}
