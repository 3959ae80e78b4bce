/* proc_orphans: reaps the zombies this process adopted as a child subreaper (the CLI sets
 * PR_SET_CHILD_SUBREAPER so that no task's descendant escapes, SPEC §12): a task's background
 * process or a daemon it started is re-parented to the engine when its own parent exits, and,
 * once it ends, nobody else will ever wait for it. A long-running `serve` would collect them. */
#include "proc_orphans.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "liveness.h"
#include "proc_registry.h"

/* Zombies seen in the previous scan (pids), so that a child of proc.c that ended before it
 * was registered is never taken from the loop that will reap it: only a zombie that is still
 * unregistered a whole scan period later is ours to reap. */
#define MAX_SEEN 512
static int seen[MAX_SEEN];
static size_t seen_n;
static uint64_t last_scan_ms;
static pthread_mutex_t scan_mu = PTHREAD_MUTEX_INITIALIZER;

/* Reads state, parent, process group and session of pid from /proc/PID/stat; false if gone. */
static bool read_stat(int pid, char *state, int *ppid, int *pgrp, int *sid)
{
    char buf[1024];
    const char *p = df_proc_stat_fields(pid, buf, sizeof buf);
    return p && sscanf(p, " %c %d %d %d", state, ppid, pgrp, sid) == 4;
}

static bool was_seen(int pid)
{
    for (size_t i = 0; i < seen_n; i++)
        if (seen[i] == pid)
            return true;
    return false;
}

/* One scan of /proc: reaps the zombies seen unregistered in the previous scan too. */
static size_t scan(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int self = (int)getpid(), my_sid = (int)getsid(0);
    int next[MAX_SEEN];
    size_t next_n = 0, reaped = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        char state;
        int ppid, pgrp, sid;
        if (*end || pid <= 0 || !read_stat((int)pid, &state, &ppid, &pgrp, &sid))
            continue;
        /* a plugin's own children (popen, system) stay in the engine's session: never touched */
        if (ppid != self || state != 'Z' || sid == my_sid || df_proc_reg_has((int)pid))
            continue;
        if (was_seen((int)pid)) {
            if (waitpid((pid_t)pid, NULL, WNOHANG) == (pid_t)pid)
                reaped++;
        } else if (next_n < MAX_SEEN) {
            next[next_n++] = (int)pid;
        }
    }
    closedir(d);
    memcpy(seen, next, next_n * sizeof *next);
    seen_n = next_n;
    return reaped;
}

/* See proc_orphans.h. */
size_t df_proc_reap_orphans(uint64_t period_ms)
{
    if (pthread_mutex_trylock(&scan_mu) != 0)
        return 0; /* another engine's thread is scanning */
    size_t reaped = 0;
    uint64_t now = df_mono_ms();
    if (!last_scan_ms || now - last_scan_ms >= period_ms) {
        last_scan_ms = now;
        int subreaper = 0;
        /* nothing is ever re-parented to a process that is not a subreaper */
        if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0) == 0 && subreaper)
            reaped = scan();
    }
    pthread_mutex_unlock(&scan_mu);
    return reaped;
}
