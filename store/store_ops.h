/* store/store_ops: the table of operations every store backend implements (struct
 * df_store_ops), for store/ (store.c, lease.c, ...) and the backends under store/ only, through
 * store/backend.h; the engine never sees it. Moved out of store.h, whose contracts each entry
 * follows. */
#ifndef DF_STORE_OPS_H
#define DF_STORE_OPS_H

#include "store.h"

/* ---- the backend's table -------------------------------------------------------------------- */

/* What a backend implements: one function per df_store_* call of store.h, with the same contract,
 * except that status, summary and history return typed views (df_run_view, df_history_row:
 * new, allocated with malloc, freed by store.c) from which store.c builds the JSON, so that
 * every backend prints the same. The df_store_* functions check the arguments first (non-NULL
 * required pointers, enums in range, depends_on indexes, history's default limit, *out cleared),
 * so a backend receives only well-formed calls; it records its failures with df_store_failf
 * (store/backend.h). A backend's handle starts with the struct df_store of store/backend.h,
 * whose ops points at its table. */
struct df_store_ops {
    const char *name; /* "sqlite" */
    void (*close)(df_store *s);
    int (*begin)(df_store *s);
    int (*commit)(df_store *s);
    int (*rollback)(df_store *s);
    int (*create_run)(df_store *s, const df_run_record *run, long long *run_id);
    int (*transition)(df_store *s, const df_transition *t);
    int (*attempt_open)(df_store *s, long long run_id, const char *task_id, long long map_index,
                        unsigned attempt, int64_t started_at);
    int (*attempt_close)(df_store *s, long long run_id, const char *task_id, long long map_index,
                         unsigned attempt, df_attempt_outcome outcome, int64_t ended_at,
                         const char *error, const char *log, const char *output);
    int (*map_expand)(df_store *s, long long run_id, const char *task_id, long long from,
                      long long n, int64_t at);
    int (*run_set_state)(df_store *s, long long run_id, df_run_state state, int64_t ended_at);
    int (*run_set_engine)(df_store *s, long long run_id, const df_engine_id *engine, int64_t at);
    int (*run_set_error)(df_store *s, long long run_id, const char *error);
    int (*run_claim)(df_store *s, long long run_id, const df_engine_id *expected,
                     const df_engine_id *engine, int64_t at);
    int (*run_heartbeat)(df_store *s, long long run_id, int64_t at);
    int (*run_set_metrics)(df_store *s, long long run_id, const json_t *metrics);
    int (*breaker_event)(df_store *s, long long run_id, const char *task_id, const char *breaker,
                         df_breaker_state from, df_breaker_state to, double failure_rate, int calls,
                         int64_t at);
    int (*alert_add)(df_store *s, long long run_id, const char *task_id, const char *event,
                     const char *sink, int sink_index, const char *payload, int64_t created_at,
                     long long *alert_id);
    int (*alert_update)(df_store *s, long long alert_id, df_alert_status status, int tries,
                        int64_t delivered_at, const char *error);
    int (*alerts_pending)(df_store *s, long long run_id, df_pending_alert **out, size_t *n);
    int (*run_status)(df_store *s, long long run_id, df_run_view **out);
    int (*run_summary)(df_store *s, long long run_id, int max_tasks, df_run_view **out);
    int (*latest_run)(df_store *s, long long *run_id);
    int (*history)(df_store *s, const df_history_query *q, df_history_row **out, size_t *n);
    /* inside a transaction store.c opened (begin) and then commits or rolls back */
    int (*gc)(df_store *s, int64_t cutoff, df_gc_result *out);
    int (*run_events)(df_store *s, long long run_id, long long after, int limit,
                      df_run_state *state, df_event_row **out, size_t *n);
    int (*state_counts)(df_store *s, size_t runs[DF_RS__COUNT], size_t tasks[DF_TS__COUNT]);
    int (*load_run)(df_store *s, long long run_id, df_stored_run **out);
    int (*checkpoint)(df_store *s, bool *complete); /* complete never NULL here */
    int (*task_attempts)(df_store *s, long long run_id, const char *task_id, long long map_index,
                         df_task_attempts **out);
    int (*check_file)(df_store *s);
    int (*cancel_request)(df_store *s, long long run_id, const char *reason, int64_t requested_at,
                          df_run_state *state); /* state never NULL here */
    int (*cancel_clear)(df_store *s, long long run_id);
    int (*cancel_requests)(df_store *s, long long run_id, df_cancel_request **out, size_t *n);
    int (*child_run)(df_store *s, long long parent_run_id, const char *parent_task_id,
                     long long *run_id, df_run_state *state);
    int (*attempt_proc_add)(df_store *s, long long run_id, const char *task_id, long long map_index,
                            unsigned attempt, long long pgid, int64_t pid_started_at,
                            const char *host, const char *cgroup);
    int (*attempt_procs)(df_store *s, long long run_id, df_attempt_proc **out, size_t *n);
    int (*attempt_procs_forget)(df_store *s, long long run_id, const char *host);
    int (*attempt_charge)(df_store *s, long long run_id, const char *task_id, long long map_index,
                          unsigned attempt);
    int (*crash_report)(df_store *s, const df_crash_report *r, df_crash_mark *mark);
    int (*run_period_start)(df_store *s, long long run_id, int64_t at, int64_t close_open_at);
    int (*run_period_end)(df_store *s, long long run_id, int64_t at);
    /* the run's running periods, oldest first (new array, malloc'd; NULL and 0 when none) */
    int (*run_periods)(df_store *s, long long run_id, df_run_period **out, size_t *n);
    int (*schedule_anchor)(df_store *s, const char *workflow, int64_t now_ms, int64_t *first);
    int (*schedule_last)(df_store *s, const char *workflow, int64_t *last, bool *has);
    int (*schedule_claim)(df_store *s, const char *workflow, int64_t logical_time, bool from_queued,
                          df_sched_decision decision, long long run_id, int64_t decided_at,
                          bool *won);
    int (*schedule_set_run)(df_store *s, const char *workflow, int64_t logical_time,
                            long long run_id);
    int (*schedule_queued)(df_store *s, const char *workflow, size_t max, int64_t **out, size_t *n);
    int (*active_runs)(df_store *s, const char *workflow, long long *n);
    int (*serve_runs)(df_store *s, long long **ids, char ***workflows, size_t *n);
    /* the worker queue (work.h), or NULL: a backend without one (SQLite) */
    const struct df_store_work_ops *work;
    /* store/lease.c's: the fence (renews the lease while owner holds the run; DF_STORE_CONFLICT
     * when another engine does, DF_STORE_NOTFOUND for an unknown run), adoption, and the list */
    int (*run_fence)(df_store *s, long long run_id, const df_engine_id *owner, int64_t lease_ms,
                     int64_t now);
    int (*run_adopt)(df_store *s, long long run_id, const df_engine_id *expected,
                     const df_engine_id *engine, int64_t at, int64_t lease_ms);
    int (*adoptable_runs)(df_store *s, const df_engine_id *me, int64_t now, long long **ids,
                          char ***workflows, size_t *n);
    /* the lease changed (PostgreSQL: the idle transaction timeout); may be NULL */
    int (*lease_changed)(df_store *s);
};

#endif
