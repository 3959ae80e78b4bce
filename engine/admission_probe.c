/* admission_probe: what resource-aware admission measures on the running system (see
 * df_admission_probe_system in admission.h): the memory of this process and of the task
 * processes an engine's pool started (their control groups, else /proc), and the load average
 * per core. Linux only (/proc, cgroup v2 files). */
#include "admission.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_registry.h"

/* The resident set of process pid (0: this one) in bytes, 0 when it cannot be read. */
static uint64_t rss_of(int pid)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

/* One unsigned number read from a file, or -1. */
static long long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long v = 0;
    int got = fscanf(f, "%llu", &v);
    fclose(f);
    return got == 1 ? (long long)v : -1;
}

/* A control group's memory: memory.current where its memory controller is on, else the resident
 * sets of the processes it holds (cgroup.procs). */
static uint64_t cgroup_memory(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/memory.current", dir);
    long long v = read_number(path);
    if (v >= 0)
        return (uint64_t)v;
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t sum = 0;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        sum += rss_of(pid);
    fclose(f);
    return sum;
}

/* Whether pgid is the pid of one of the n children without a control group. */
static bool is_group_of(const df_proc_owned *l, size_t n, long pgid)
{
    for (size_t i = 0; i < n; i++)
        if (!l[i].cgroup && l[i].pid == pgid)
            return true;
    return false;
}

/* The resident sets of every process whose process group is one of the children without a
 * control group (each task runs in a group of its own, led by the child): one pass over /proc. */
static uint64_t groups_memory(const df_proc_owned *l, size_t n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        /* pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses */
        char *p = strrchr(buf, ')');
        char state;
        long ppid, pgrp;
        if (p && sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3 && is_group_of(l, n, pgrp))
            sum += rss_of(atoi(de->d_name));
    }
    closedir(d);
    return sum;
}

int df_admission_probe_system(void *ud, df_admission_sample *out)
{
    memset(out, 0, sizeof *out);
    out->memory_bytes = rss_of(0);
    df_proc_owned *l = NULL;
    size_t n = 0;
    df_proc_reg_list(ud, &l, &n);
    bool without_cgroup = false;
    for (size_t i = 0; i < n; i++) {
        if (l[i].cgroup)
            out->memory_bytes += cgroup_memory(l[i].cgroup);
        else
            without_cgroup = true;
    }
    if (without_cgroup)
        out->memory_bytes += groups_memory(l, n);
    for (size_t i = 0; i < n; i++)
        free(l[i].cgroup);
    free(l);
    double load[1];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (getloadavg(load, 1) == 1)
        out->load_per_core = load[0] / (double)(cpus > 0 ? cpus : 1);
    return out->memory_bytes > 0 ? 0 : -1;
}
