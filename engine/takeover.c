/* takeover: what makes taking a run over safe (SPEC §12; issue 15 items 4 and 5).
 *
 * Recording: every child a task's attempt starts is noted by its worker (proc_notes.h) with its
 * process group, its start time and control group; the engine thread writes the notes into the
 * store within 100 ms (df_engine_record_procs), in the group commit.
 *
 * Taking over (resume, retry): on this host, a recorded owner that is still the same process (pid
 * and start time) but whose heartbeat went stale is frozen; it is killed first, so that it
 * neither keeps the store's write lock nor wakes up later to run anything. Then the process groups
 * recorded for the run's attempts that are still alive are killed (the group, and the control
 * group when the task had one) and waited for, before any attempt runs again: an attempt never
 * runs twice at once. On another host neither can be checked: only the heartbeat tells there. */
#include "takeover.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "liveness.h"
#include "proc_cgroup.h"
#include "proc_notes.h"

/* How long a killed engine or process group is waited for. */
#define TAKEOVER_WAIT_MS 10000

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* See takeover.h. */
void df_engine_record_procs(df_engine *e)
{
    if (!e->pool)
        return;
    df_proc_note *notes = NULL;
    size_t n = df_proc_notes_take(e->pool, &notes);
    for (size_t i = 0; i < n && !e->fatal; i++) {
        if (df_engine_tx(e) != 0)
            break;
        const df_proc_note *p = &notes[i];
        int rc =
            df_store_attempt_proc_add(e->store, p->run_id, p->task_id, p->map_index, p->attempt,
                                      p->pgid, p->pid_started_at, e->engine_host, p->cgroup);
        if (rc != DF_STORE_OK)
            df_engine_store_failed(e, p->run_id, rc);
    }
    if (n)
        df_engine_wake(e); /* commits at the end of the tick */
    df_proc_notes_free(notes, n);
}

static bool on_this_host(const char *host)
{
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    return host && strcmp(host, me) == 0;
}

/* See takeover.h. */
int df_takeover_stop_owner(df_engine *e, const df_stored_run *loaded, char *err, size_t errlen)
{
    const df_engine_id *o = &loaded->engine;
    if (!loaded->has_engine || !on_this_host(o->host) || o->pid <= 0 ||
        o->pid == (long long)getpid() || !df_process_is(o->pid, o->started_at))
        return 0; /* gone, elsewhere, or the pid is another process's now */
    if (e->in_tx && df_engine_commit(e) != 0) /* no transaction held while waiting */
        return DF_ESTORE;
    kill((pid_t)o->pid, SIGKILL); /* a stopped process dies of SIGKILL too */
    for (int waited = 0; waited < TAKEOVER_WAIT_MS; waited += 10) {
        if (!df_process_is(o->pid, o->started_at))
            return 0;
        nap_ms(10);
    }
    snprintf(err, errlen,
             "run %lld: its engine (pid %lld on %s) stopped sending heartbeats but does not die "
             "of SIGKILL; not resuming",
             loaded->run_id, o->pid, o->host);
    return DF_EREFUSED;
}

/* The engine pid in a control group's name "dagflow.PID.N" (proc_cgroup.c), or 0. */
static long long cgroup_engine(const char *dir)
{
    const char *base = strrchr(dir, '/');
    long long pid = 0;
    unsigned n;
    if (!base || sscanf(base + 1, "dagflow.%lld.%u", &pid, &n) != 2)
        return 0;
    return pid;
}

/* Kills what is left of one recorded group; true when something was signalled. */
static bool kill_recorded(const df_attempt_proc *p)
{
    bool hit = false;
    if (df_process_group_alive(p->pgid)) {
        /* The leader is still the attempt's child (same start time), or is gone while other
         * members remain (a group's id is not reused while it has members): the group is the
         * attempt's. A live leader that started later is a stranger that got the pid: left. */
        bool leader_alive = kill((pid_t)p->pgid, 0) == 0 || errno != ESRCH;
        if (!leader_alive || df_process_is(p->pgid, p->pid_started_at)) {
            kill(-(pid_t)p->pgid, SIGKILL);
            hit = true;
        }
    }
    /* What left the group (setsid) is still in the control group, unless another engine that
     * got the dead engine's pid has made a group of the same name since. */
    struct stat sb;
    long long owner = p->cgroup ? cgroup_engine(p->cgroup) : 0;
    if (owner > 0 && owner != (long long)getpid() && !df_process_is(owner, 0) &&
        stat(p->cgroup, &sb) == 0) {
        df_cgroup_remove(p->cgroup); /* SIGKILLs its processes, then removes it */
        hit = true;
    }
    return hit;
}

/* Whether the group p recorded is gone (or is a stranger's now). */
static bool recorded_gone(const df_attempt_proc *p)
{
    if (!df_process_group_alive(p->pgid))
        return true;
    bool leader_alive = kill((pid_t)p->pgid, 0) == 0 || errno != ESRCH;
    return leader_alive && !df_process_is(p->pgid, p->pid_started_at);
}

/* See takeover.h. */
int df_takeover_clear_procs(df_engine *e, long long run_id, char *err, size_t errlen)
{
    df_attempt_proc *procs = NULL;
    size_t n = 0;
    if (df_store_attempt_procs(e->store, run_id, &procs, &n) != DF_STORE_OK) {
        snprintf(err, errlen, "%s", df_store_error(e->store));
        return DF_ESTORE;
    }
    if (n && e->in_tx && df_engine_commit(e) != 0) { /* no transaction held while waiting */
        df_attempt_procs_free(procs, n);
        snprintf(err, errlen, "%s", e->fatal_msg);
        return DF_ESTORE;
    }
    size_t hit = 0;
    for (size_t i = 0; i < n; i++)
        if (on_this_host(procs[i].host) && kill_recorded(&procs[i]))
            hit++;
    int rc = 0;
    for (size_t i = 0; hit && i < n && rc == 0; i++) {
        if (!on_this_host(procs[i].host))
            continue;
        int waited = 0;
        while (!recorded_gone(&procs[i]) && waited < TAKEOVER_WAIT_MS) {
            kill(-(pid_t)procs[i].pgid, SIGKILL);
            nap_ms(10);
            waited += 10;
        }
        if (!recorded_gone(&procs[i])) {
            snprintf(err, errlen,
                     "run %lld: the processes of attempt %u of task \"%s\" (process group %lld) "
                     "do not die of SIGKILL; not running it again",
                     run_id, procs[i].attempt, procs[i].task_id, procs[i].pgid);
            rc = DF_EREFUSED;
        }
    }
    df_attempt_procs_free(procs, n);
    return rc;
}

/* See takeover.h. */
int df_takeover_forget_procs(df_engine *e, long long run_id)
{
    if (df_engine_tx(e) != 0)
        return DF_ESTORE;
    if (df_store_attempt_procs_forget(e->store, run_id, e->engine_host) != DF_STORE_OK) {
        df_engine_fail(e, "%s", df_store_error(e->store));
        return DF_ESTORE;
    }
    return 0;
}
