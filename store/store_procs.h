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
