/* liveness: whether the engine process recorded as a run's owner is gone, as far as this host can
 * tell: on this host, its pid is no longer a process, or is a process started after that engine
 * (the pid was reused). On another host only the owner's heartbeat tells (the caller's). Used by
 * `status` (a run whose engine died shows INTERRUPTED at once, not after the heartbeat's 30 s) and
 * by resume's check of the owner. Linux's /proc gives a process's start time. */
#include "liveness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
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

/* When process pid started (ms since the epoch, to the second of the boot time's precision), or
 * -1 when it cannot be told (no such process, no /proc). */
static long long process_start_ms(long long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Field 22, starttime (clock ticks after boot), counted after the ")" that ends the name. */
    const char *p = strrchr(buf, ')');
    unsigned long long ticks = 0;
    if (!p || sscanf(p + 1,
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
    long long started = process_start_ms(id->pid);
    /* The engine recorded its start after its process began; a process that began later (2 s of
     * slack: the boot time is in whole seconds) is another one that got the same pid. */
    return started > 0 && started > id->started_at + 2000;
}
