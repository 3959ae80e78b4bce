/* store/store_procs: the part of the store interface of SPEC §12 (attempts' process groups,
 * losses charged to a task's own code, a run's running periods), included by store.h;
 * thread-safety, errors and units as there. */
#ifndef DF_STORE_PROCS_H
#define DF_STORE_PROCS_H

#include "store.h"

/* ---- SPEC §12: attempts' processes, charged losses, running periods ---------------------------
 */

/* Records a process group that attempt `attempt` of a task started (pgid: the group's id, which
 * is its leader's pid; pid_started_at: when that leader started, ms, as Linux's /proc tells;
 * host: gethostname's; cgroup: the control group's directory the child was put in, or NULL), so
 * that an engine taking the run over can confirm those processes gone before the attempt runs
 * again. Recording the same group twice is not an error. Strings borrowed. */
int df_store_attempt_proc_add(df_store *s, long long run_id, const char *task_id,
                              long long map_index, unsigned attempt, long long pgid,
                              int64_t pid_started_at, const char *host, const char *cgroup);

/* One recorded process group (df_store_attempt_procs). Strings belong to the array. */
typedef struct df_attempt_proc {
    char *task_id;
    long long map_index; /* DF_NO_MAP_INDEX, or a mapped instance's index */
    unsigned attempt;
    long long pgid;
    int64_t pid_started_at; /* ms */
    char *host;
    char *cgroup; /* or NULL */
} df_attempt_proc;

/* Every process group recorded for the run's attempts: sets *out to a new array of *n entries
 * (NULL when none), freed with df_attempt_procs_free. */
int df_store_attempt_procs(df_store *s, long long run_id, df_attempt_proc **out, size_t *n);

/* Frees an array from df_store_attempt_procs; NULL is fine. */
void df_attempt_procs_free(df_attempt_proc *procs, size_t n);

/* Forgets the process groups recorded for the run on host (borrowed): they were confirmed gone.
 */
int df_store_attempt_procs_forget(df_store *s, long long run_id, const char *host);

/* Marks a LOST attempt as charged to its task's own code (the crash that lost it was attributed
 * to that task: SPEC §12); only charged losses count in df_stored_task.charged_streak.
 * DF_STORE_NOTFOUND when there is no such attempt. */
int df_store_attempt_charge(df_store *s, long long run_id, const char *task_id, long long map_index,
                            unsigned attempt);

/* A crash attributed to a task's own code, as the crashed process's reporter sends it (SPEC §12,
 * df_crash_report_send). Pointers borrowed for the call. */
typedef struct df_crash_report {
    long long run_id;
    const char *task_id;
    long long map_index; /* -1: not a mapped instance */
    unsigned attempt;
    long long pid;    /* the process that crashed: an engine, or a `dagflow worker` */
    const char *host; /* its host name (gethostname) */
} df_crash_report;

/* What df_store_crash_report marked. */
typedef enum df_crash_mark {
    DF_CRASH_MARK_NONE = 0,
    DF_CRASH_MARK_WORK = 1,   /* a worker's claimed queue row (store/work.h) */
    DF_CRASH_MARK_ATTEMPT = 2 /* the engine's RUNNING attempt */
} df_crash_mark;

/* Records in the store that attempt r->attempt of r->task_id crashed process r->pid on r->host
 * in the task's own code, so that any engine on any host charges it (SPEC §12). When that
 * process is a worker holding the attempt's claimed queue row (work_queue.worker "host:pid",
 * PostgreSQL only), the row is marked crashed and its lease ends now: the run's engine records the
 * attempt LOST and charged at its next expiry round (df_work_outcome.charged). Otherwise, when
 * that process still owns the run (engine_pid and engine_host) and the attempt is still RUNNING,
 * the attempt is marked charged (attempts.charged), and the engine that resumes the run reads it
 * (df_stored_task.open_charged). One transaction; not fenced by a run lease (the caller is the
 * dying owner's reporter, not an owner). *mark (may be NULL) says which applied. Returns
 * DF_STORE_OK, DF_STORE_NOTFOUND when neither applies (the lease expired already, another engine
 * took the run over, a SQLite file older than version 8), or another DF_STORE_* error. */
int df_store_crash_report(df_store *s, const df_crash_report *r, df_crash_mark *mark);

/* A period during which an engine runs the run starts at `at` (ms): a period still open (its
 * engine died without closing it) is first closed at close_open_at (ms; its start if earlier).
 * Called when a run is created and when an engine takes a run over (resume, retry). Durations
 * (run_history and task_history's duration_ms, status, summary, history) count time inside these
 * periods only: the idle gap before a `retry` or a `resume` does not count. */
int df_store_run_period_start(df_store *s, long long run_id, int64_t at, int64_t close_open_at);

/* The run's open running period (if any) ends at `at` (ms): the run ended or was interrupted. */
int df_store_run_period_end(df_store *s, long long run_id, int64_t at);

/* One running period (what a backend's run_periods returns; store.c computes durations). */
typedef struct df_run_period {
    int64_t started_at; /* ms */
    int64_t ended_at;   /* ms, or 0 while open */
} df_run_period;

#endif
