/* liveness: whether the engine process recorded as a run's owner is gone, as far as this host can
 * tell: on this host, its pid is no longer a process, or is a process started after that engine
 * (the pid was reused). On another host only the owner's heartbeat tells (the caller's). Used by
 * `status` (a run whose engine died shows INTERRUPTED at once, not after the heartbeat's 30 s) and
 * by resume's check of the owner. Linux's /proc gives a process's start time;
 * df_proc_stat_fields reads /proc/PID/stat for proc_orphans.c too. */
#include "liveness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Boot time (s since the epoch), from /proc/stat's btime; 0 when unknown. */
static long long boot_time_s(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    char line[256];
    long long bt = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

/* See liveness.h. */
const char *df_proc_stat_fields(long long pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    return p ? p + 1 : NULL;
}

/* See liveness.h. */
long long df_process_start_ms(long long pid)
{
    char buf[1024];
    /* Field 22, starttime (clock ticks after boot), counted after the ")" that ends the name. */
    const char *p = df_proc_stat_fields(pid, buf, sizeof buf);
    unsigned long long ticks = 0;
    if (!p || sscanf(p,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                     "%*d %*d %llu",
                     &ticks) != 1)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    long long bt = boot_time_s();
    if (hz <= 0 || bt <= 0)
        return -1;
    return bt * 1000 + (long long)(ticks * 1000 / (unsigned long long)hz);
}

/* See liveness.h. */
bool df_engine_owner_gone(const df_engine_id *id)
{
    if (!id || !id->host || id->pid <= 0)
        return false;
    char me[256] = "";
    if (gethostname(me, sizeof me - 1) != 0 || strcmp(id->host, me) != 0)
        return false; /* another host: its heartbeat tells */
    if (kill((pid_t)id->pid, 0) != 0 && errno == ESRCH)
        return true; /* no such process */
    if (id->started_at <= 0)
        return false;
    long long started = df_process_start_ms(id->pid);
    /* The engine recorded its start after its process began; a process that began later (2 s of
     * slack: the boot time is in whole seconds) is another one that got the same pid. */
    return started > 0 && started > id->started_at + 2000;
}

/* Whether process pid is a zombie (exited, not reaped yet): its state in /proc is 'Z' (or 'X'). */
static bool zombie(long long pid)
{
    char buf[512];
    const char *p = df_proc_stat_fields(pid, buf, sizeof buf);
    return p && (p[1] == 'Z' || p[1] == 'X');
}

/* See liveness.h. */
bool df_process_is(long long pid, int64_t started_at)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH) || zombie(pid))
        return false;
    if (started_at <= 0)
        return true;
    long long now = df_process_start_ms(pid);
    /* A process that began after started_at (2 s of slack: the boot time is in whole seconds) is
     * another one that got the same pid. */
    return now <= 0 || now <= started_at + 2000;
}

/* See liveness.h. */
bool df_process_group_alive(long long pgid)
{
    if (pgid <= 0 || (kill(-(pid_t)pgid, 0) != 0 && errno == ESRCH))
        return false;
    DIR *d = opendir("/proc");
    if (!d)
        return true; /* no /proc: kill says some member exists */
    bool alive = false;
    struct dirent *de;
    while (!alive && (de = readdir(d)) != NULL) {
        char buf[512], *end;
        long long pid = strtoll(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        const char *p = df_proc_stat_fields(pid, buf, sizeof buf);
        char state = 0;
        long long ppid = 0, pgrp = 0;
        if (p && sscanf(p, " %c %lld %lld", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}
