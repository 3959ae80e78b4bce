/* proc_limits: whole-task limits through control groups (see proc_limits.h). */
#include "proc_limits.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_cgroup.h"

/* A v1 hierarchy usable for one controller: the engine's own group in it, or NULL. */
static char *v1_memory, *v1_pids, *v1_cpuacct;
static unsigned v2_avail; /* controllers a v2 child group offers */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_uint serial;

/* The engine's group in the v1 hierarchy of controller ctl ("N:memory:/path" or
 * "N:cpu,cpuacct:/path" in /proc/self/cgroup) under /sys/fs/cgroup/ctl, new, or NULL. */
static char *v1_own(const char *ctl)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return NULL;
    char line[4096], *dir = NULL;
    while (!dir && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        char *tok, *save = NULL;
        for (tok = strtok_r(a + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (strcmp(tok, ctl) == 0)
                break;
        if (!tok || strchr(b + 1, '\''))
            continue;
        size_t n = strlen(ctl) + strlen(b + 1) + 32;
        dir = malloc(n);
        if (dir)
            snprintf(dir, n, "/sys/fs/cgroup/%s%s", ctl, strcmp(b + 1, "/") == 0 ? "" : b + 1);
    }
    fclose(f);
    return dir;
}

/* dir when a group can be made under it and a process moved into one; else NULL (dir freed). */
static char *usable(char *dir)
{
    if (!dir)
        return NULL;
    char test[4200], procs[4300];
    snprintf(test, sizeof test, "%s/dagflow-limits.%ld.probe", dir, (long)getpid());
    bool ok = false;
    if (mkdir(test, 0755) == 0) {
        snprintf(procs, sizeof procs, "%s/cgroup.procs", test);
        ok = access(procs, W_OK) == 0;
        rmdir(test);
    }
    if (!ok) {
        free(dir);
        return NULL;
    }
    return dir;
}

static bool has_file(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, W_OK) == 0;
}

static void probe(void)
{
    const char *off = getenv("DAGFLOW_CGROUP");
    if (off && strcmp(off, "off") == 0)
        return;
    char *g = df_cgroup_new(); /* what a child's own v2 group offers */
    if (g) {
        if (has_file(g, "memory.max"))
            v2_avail |= DF_LIMIT_MEMORY;
        if (has_file(g, "pids.max"))
            v2_avail |= DF_LIMIT_PIDS;
        char stat[4400]; /* cpu.stat is in every v2 group, with or without the cpu controller */
        snprintf(stat, sizeof stat, "%s/cpu.stat", g);
        if (access(stat, R_OK) == 0)
            v2_avail |= DF_LIMIT_CPU;
        df_cgroup_remove(g);
        free(g);
    }
    if (!(v2_avail & DF_LIMIT_MEMORY))
        v1_memory = usable(v1_own("memory"));
    if (!(v2_avail & DF_LIMIT_PIDS))
        v1_pids = usable(v1_own("pids"));
    if (!(v2_avail & DF_LIMIT_CPU))
        v1_cpuacct = usable(v1_own("cpuacct"));
}

unsigned df_limits_available(void)
{
    pthread_once(&once, probe);
    return v2_avail | (v1_memory ? DF_LIMIT_MEMORY : 0) | (v1_pids ? DF_LIMIT_PIDS : 0) |
           (v1_cpuacct ? DF_LIMIT_CPU : 0);
}

static int write_value(const char *dir, const char *file, unsigned long long v)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    int ok = fprintf(f, "%llu", v) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A new v1 group under base with file set to v (file NULL: nothing set); its path (new) or
 * NULL. */
static char *v1_group(const char *base, const char *file, unsigned long long v)
{
    size_t n = strlen(base) + 64;
    char *dir = malloc(n);
    if (!dir)
        return NULL;
    snprintf(dir, n, "%s/dagflow-limits.%ld.%u", base, (long)getpid(),
             atomic_fetch_add(&serial, 1) + 1);
    if (mkdir(dir, 0755) != 0 || (file && write_value(dir, file, v) != 0)) {
        rmdir(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

/* cpu_seconds: where to read the group's CPU time, v2dir's cpu.stat or a new v1 cpuacct group
 * (in out). 0, or -1 with err filled. */
static int apply_cpu(const char *v2dir, df_limit_groups *out, char *err, size_t errlen)
{
    size_t n = (v2dir ? strlen(v2dir) : 0) + 32;
    if (v2dir && (v2_avail & DF_LIMIT_CPU)) {
        if ((out->cpu_usage = malloc(n)) != NULL)
            snprintf(out->cpu_usage, n, "%s/cpu.stat", v2dir);
        out->cpu_usage_v2 = 1;
    } else if (v1_cpuacct) {
        char *d = v1_group(v1_cpuacct, NULL, 0);
        if (!d) {
            snprintf(err, errlen, "cannot make a cpuacct control group under %s: %s", v1_cpuacct,
                     strerror(errno));
            return -1;
        }
        out->dirs[out->n++] = d;
        n = strlen(d) + 32;
        if ((out->cpu_usage = malloc(n)) != NULL)
            snprintf(out->cpu_usage, n, "%s/cpuacct.usage", d);
    }
    return 0;
}

int df_limits_apply(const char *v2dir, uint64_t memory_mb, uint64_t max_processes,
                    uint64_t cpu_seconds, df_limit_groups *out, char *err, size_t errlen)
{
    *out = (df_limit_groups){0};
    unsigned avail = df_limits_available();
    unsigned long long bytes = (unsigned long long)memory_mb * 1024ull * 1024ull;
    if (memory_mb && (avail & DF_LIMIT_MEMORY)) {
        if (v2dir && (v2_avail & DF_LIMIT_MEMORY)) {
            if (write_value(v2dir, "memory.max", bytes) != 0 ||
                (has_file(v2dir, "memory.swap.max") &&
                 write_value(v2dir, "memory.swap.max", 0) != 0)) {
                snprintf(err, errlen, "cannot set memory.max in %s: %s", v2dir, strerror(errno));
                return -1;
            }
        } else if (v1_memory) {
            char *d = v1_group(v1_memory, "memory.limit_in_bytes", bytes);
            if (!d) {
                snprintf(err, errlen, "cannot make a memory control group under %s: %s", v1_memory,
                         strerror(errno));
                return -1;
            }
            out->dirs[out->n++] = d;
        }
    }
    if (max_processes) {
        if (!(avail & DF_LIMIT_PIDS)) {
            snprintf(err, errlen,
                     "limits.max_processes: this machine gives dagflow no pids "
                     "control group");
            df_limits_release(out);
            return -1;
        }
        if (v2dir && (v2_avail & DF_LIMIT_PIDS)) {
            if (write_value(v2dir, "pids.max", max_processes) != 0) {
                snprintf(err, errlen, "cannot set pids.max in %s: %s", v2dir, strerror(errno));
                df_limits_release(out);
                return -1;
            }
        } else {
            char *d = v1_group(v1_pids, "pids.max", max_processes);
            if (!d) {
                snprintf(err, errlen, "cannot make a pids control group under %s: %s", v1_pids,
                         strerror(errno));
                df_limits_release(out);
                return -1;
            }
            out->dirs[out->n++] = d;
        }
    }
    if (cpu_seconds && (avail & DF_LIMIT_CPU) && apply_cpu(v2dir, out, err, errlen) != 0) {
        df_limits_release(out);
        return -1;
    }
    return 0;
}

int64_t df_limits_cpu_usec(const char *cpu_usage, int v2)
{
    if (!cpu_usage)
        return -1;
    FILE *f = fopen(cpu_usage, "re");
    if (!f)
        return -1;
    long long v = -1;
    if (v2) {
        char key[64];
        long long n;
        while (fscanf(f, "%63s %lld", key, &n) == 2)
            if (strcmp(key, "usage_usec") == 0) {
                v = n;
                break;
            }
    } else if (fscanf(f, "%lld", &v) == 1) {
        v /= 1000; /* cpuacct.usage is in nanoseconds */
    } else {
        v = -1;
    }
    fclose(f);
    return v;
}

void df_limits_release(df_limit_groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        df_cgroup_remove(g->dirs[i]);
        free(g->dirs[i]);
    }
    free(g->cpu_usage);
    *g = (df_limit_groups){0};
}
