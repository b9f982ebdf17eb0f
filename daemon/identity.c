/* Process identity and liveness (see identity.h). */
#include "identity.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static int read_line(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        bool ok = fgets(buf, (int)size, f) != NULL;
        fclose(f);
        if (!ok)
                return -EIO;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

/* Field 22 of /proc/PID/stat, after the command name in parentheses (which
 * may itself hold spaces and parentheses). Returns 0 when the process does
 * not exist. */
static uint64_t process_start_time(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_line(path, buf, sizeof(buf)) < 0)
                return 0;
        const char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        /* Each step lands on the space before the next field: 3, 4, ... 22. */
        for (int field = 3; field <= 22 && p; field++)
                p = strchr(p + 1, ' ');
        return p ? strtoull(p + 1, NULL, 10) : 0;
}

static bool instance_name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= sizeof(((fc_identity_t *)0)->instance))
                return false;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == ':' || *s == 0x7f)
                        return false;
        return true;
}

int fc_identity_init(fc_identity_t *id, const char *instance) {
        memset(id, 0, sizeof(*id));
        if (!instance_name_ok(instance))
                return -EINVAL;
        snprintf(id->instance, sizeof(id->instance), "%s", instance);
        if (gethostname(id->hostname, sizeof(id->hostname) - 1) < 0)
                return -errno;
        int r = read_line("/proc/sys/kernel/random/boot_id", id->boot_id, sizeof(id->boot_id));
        if (r < 0)
                return r;
        id->pid = getpid();
        id->pid_start = process_start_time(id->pid);
        if (id->pid_start == 0)
                return -EIO;
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno;
        snprintf(id->name, sizeof(id->name), "%s:%d:%02x%02x%02x%02x%02x%02x", id->hostname, (int)id->pid,
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        return 0;
}

int fc_identity_format(const fc_identity_t *id, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s\t%s\t%d\t%" PRIu64 "\t%s", id->hostname, id->boot_id, (int)id->pid,
                         id->pid_start, id->instance);
        return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

int fc_identity_parse(const char *record, fc_identity_t *id) {
        memset(id, 0, sizeof(*id));
        int pid;
        uint64_t start;
        int n = sscanf(record, "%255[^\t]\t%39[^\t]\t%d\t%" SCNu64 "\t%127[^\t]", id->hostname, id->boot_id, &pid,
                       &start, id->instance);
        if (n != 5 || pid <= 0)
                return -EINVAL;
        id->pid = pid;
        id->pid_start = start;
        return 0;
}

bool fc_identity_is_gone(const fc_identity_t *self, const fc_identity_t *other) {
        if (strcmp(self->hostname, other->hostname) != 0 || strcmp(self->instance, other->instance) != 0)
                return false;
        if (strcmp(self->boot_id, other->boot_id) != 0)
                return true; /* the host rebooted since: every process of then is gone */
        if (other->pid == self->pid)
                return other->pid_start != self->pid_start;
        if (kill(other->pid, 0) < 0 && errno == ESRCH)
                return true;
        /* The pid exists (or is not ours to signal): the same process only if
         * it started at the same moment. */
        uint64_t start = process_start_time(other->pid);
        return start != 0 && start != other->pid_start;
}
