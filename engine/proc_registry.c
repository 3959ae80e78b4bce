/* proc_registry: every child of proc.c not reaped yet, in any loop of the process, with its owner
 * and the SIGKILL a kill from outside its loop is due to escalate to; and the control groups
 * children left populated. The one place that lets another thread than a child's loop take its
 * process group down (the engine thread for a worker stuck in a plugin, a pool shutting down). */
#include "proc_registry.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proc_cgroup.h"
#include "proc_limits.h"
#include "proc_orphans.h"

/* Every child that has not been reaped yet, in any loop of the process, with its owner (see
 * df_proc_set_owner) and when a kill from outside its loop escalates to SIGKILL (0: not asked).
 * Signalling a child's group from any thread is safe while it is listed: it leaves the list only
 * when it is reaped, so its pid (and so its pgid) cannot have been reused. */
typedef struct live_child {
    int pid;
    const void *group;     /* owner, e.g. a pool; NULL when unowned */
    uint64_t id;           /* owner's id of the job, e.g. a pool job id */
    uint64_t kill_at;      /* ms (CLOCK_MONOTONIC) of the SIGKILL asked by df_proc_kill_owned */
    const char *cgroup;    /* the df_proc's, borrowed: it outlives the entry */
    const char *cpu_usage; /* its group's CPU time file (borrowed), or NULL: no cpu limit */
    int cpu_v2;            /* cpu_usage is a v2 cpu.stat */
    uint64_t cpu_limit;    /* µs of CPU time for the group as a whole */
    bool cpu_killed;       /* SIGKILLed by df_proc_escalate for going past cpu_limit */
} live_child;

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static live_child *live;
static size_t live_n, live_cap;

/* See proc_registry.h. */
void df_proc_reg_add(int pid, const char *cgroup)
{
    pthread_mutex_lock(&live_mu);
    if (live_n == live_cap) {
        size_t cap = live_cap ? live_cap * 2 : 64;
        live_child *g = realloc(live, cap * sizeof *g);
        if (g) {
            live = g;
            live_cap = cap;
        }
    }
    if (live_n < live_cap)
        live[live_n++] = (live_child){.pid = pid, .cgroup = cgroup};
    pthread_mutex_unlock(&live_mu);
}

/* See proc_registry.h. */
void df_proc_reg_cpu_limit(int pid, const char *usage_file, int v2, uint64_t limit_usec)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (live[i].pid == pid) {
            live[i].cpu_usage = usage_file;
            live[i].cpu_v2 = v2;
            live[i].cpu_limit = limit_usec;
        }
    pthread_mutex_unlock(&live_mu);
}

/* See proc_registry.h. */
bool df_proc_reg_remove(int pid)
{
    bool cpu_killed = false;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (live[i].pid == pid) {
            cpu_killed = live[i].cpu_killed;
            live[i] = live[--live_n];
            break;
        }
    pthread_mutex_unlock(&live_mu);
    return cpu_killed;
}

/* See proc_registry.h. */
bool df_proc_reg_has(int pid)
{
    bool has = false;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n && !has; i++)
        has = live[i].pid == pid;
    pthread_mutex_unlock(&live_mu);
    return has;
}

/* Control groups whose child exited while processes it started still ran in them. */
static char **linger;
static size_t linger_n, linger_cap;

/* See proc_registry.h. */
void df_proc_reg_linger(char *dir)
{
    pthread_mutex_lock(&live_mu);
    if (linger_n == linger_cap) {
        size_t cap = linger_cap ? linger_cap * 2 : 16;
        char **g = realloc(linger, cap * sizeof *g);
        if (g) {
            linger = g;
            linger_cap = cap;
        }
    }
    if (linger_n < linger_cap)
        linger[linger_n++] = dir;
    else
        free(dir);
    pthread_mutex_unlock(&live_mu);
}

/* The child's group, and its control group: what left the group is reached there. */
static void signal_pid_group(int pid, const char *cgroup, int sig)
{
    if (kill(-pid, sig) != 0)
        kill(pid, sig);
    df_cgroup_signal(cgroup, sig);
}

/* See proc_registry.h. */
void df_proc_kill_all_now(void)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        signal_pid_group(live[i].pid, live[i].cgroup, SIGKILL);
    pthread_mutex_unlock(&live_mu);
}

/* See proc_registry.h. */
void df_proc_reg_set_owner(int pid, const void *group, uint64_t id)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (live[i].pid == pid) {
            live[i].group = group;
            live[i].id = id;
        }
    pthread_mutex_unlock(&live_mu);
}

/* See proc_registry.h. */
bool df_proc_reg_mark_killed(int pid)
{
    bool termed = false;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (live[i].pid == pid) {
            termed = live[i].kill_at != 0;
            if (!termed)
                live[i].kill_at = df_mono_ms() + DF_PROC_KILL_GRACE_MS;
        }
    pthread_mutex_unlock(&live_mu);
    return termed;
}

static bool owned_by(const live_child *c, const void *group, uint64_t id)
{
    return group && c->group == group && (id == 0 || c->id == id);
}

/* See proc_registry.h. */
size_t df_proc_kill_owned(const void *group, uint64_t id)
{
    size_t n = 0;
    uint64_t at = df_mono_ms() + DF_PROC_KILL_GRACE_MS;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (owned_by(&live[i], group, id) && live[i].kill_at == 0) {
            live[i].kill_at = at;
            signal_pid_group(live[i].pid, live[i].cgroup, SIGTERM);
            n++;
        }
    pthread_mutex_unlock(&live_mu);
    return n;
}

/* See proc_registry.h. */
void df_proc_kill_owned_now(const void *group)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++)
        if (owned_by(&live[i], group, 0)) {
            live[i].kill_at = 1;
            signal_pid_group(live[i].pid, live[i].cgroup, SIGKILL);
            /* its loop may never run again before the process exits: no empty group left */
            df_cgroup_remove(live[i].cgroup);
        }
    for (size_t i = 0; group && i < linger_n; i++) { /* what the tasks left running */
        df_cgroup_remove(linger[i]);
        free(linger[i]);
    }
    linger_n = 0;
    pthread_mutex_unlock(&live_mu);
}

/* See proc_registry.h. */
size_t df_proc_escalate(void)
{
    size_t n = 0;
    uint64_t now = df_mono_ms();
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < live_n; i++) {
        live_child *c = &live[i];
        if (c->cpu_usage && !c->cpu_killed) {
            int64_t used = df_limits_cpu_usec(c->cpu_usage, c->cpu_v2);
            c->cpu_killed = used >= 0 && (uint64_t)used >= c->cpu_limit;
            if (c->cpu_killed) {
                signal_pid_group(c->pid, c->cgroup, SIGKILL);
                /* a v1 cpuacct group is not the df_proc's v2 group: kill what left the pgid */
                if (!c->cpu_v2) {
                    char dir[4400];
                    snprintf(dir, sizeof dir, "%s", c->cpu_usage);
                    char *slash = strrchr(dir, '/');
                    if (slash)
                        *slash = '\0';
                    df_cgroup_signal(dir, SIGKILL);
                }
                n++;
                continue;
            }
        }
        if (c->kill_at && now >= c->kill_at) {
            signal_pid_group(c->pid, c->cgroup, SIGKILL);
            n++;
        }
    }
    pthread_mutex_unlock(&live_mu);
    df_proc_reap_orphans(DF_PROC_ORPHAN_SCAN_MS);
    return n;
}

/* See proc_registry.h. */
int df_proc_reg_list(const void *group, df_proc_owned **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = 0;
    pthread_mutex_lock(&live_mu);
    df_proc_owned *l = live_n ? calloc(live_n, sizeof *l) : NULL;
    if (live_n && !l)
        rc = -1;
    for (size_t i = 0; l && i < live_n; i++) {
        if (group && live[i].group != group)
            continue;
        l[*n].pid = live[i].pid;
        l[*n].cgroup = live[i].cgroup ? strdup(live[i].cgroup) : NULL;
        if (live[i].cgroup && !l[*n].cgroup)
            rc = -1;
        (*n)++;
    }
    pthread_mutex_unlock(&live_mu);
    *out = l;
    return rc;
}
