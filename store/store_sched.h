/* store/store_sched: the part of the store interface that decides schedules' fire times for
 * the service (SPEC §9), included by store.h; thread-safety, errors and units as there. */
#ifndef DF_STORE_SCHED_H
#define DF_STORE_SCHED_H

#include "store.h"

/* ---- schedules and the service (SPEC §9) ------------------------------------------------------
 * The schedule_log table holds one row per fire time decided (PRIMARY KEY workflow, logical
 * time): the row is the fire time's claim, written in the same transaction as the run it
 * creates, so that neither several engines on one store nor a crash at any point can decide a
 * fire time twice or lose one. Call these inside a transaction (df_store_begin) together with
 * df_store_create_run. */

/* The decisions of schedule_history (df_fire_decision's names). */
typedef enum df_sched_decision {
    DF_SCHED_RUN = 0,
    DF_SCHED_QUEUED,
    DF_SCHED_SKIPPED,
    DF_SCHED_DROPPED,
    DF_SCHED__COUNT
} df_sched_decision;

/* "run", "queued", "skipped", "dropped". */
const char *df_sched_decision_name(df_sched_decision d);

/* When a serve first loaded the workflow on this store (ms): recorded as now_ms by the first
 * call, read by every later one, into *first_loaded_at. */
int df_store_schedule_anchor(df_store *s, const char *workflow, int64_t now_ms,
                             int64_t *first_loaded_at);

/* The latest fire time decided for the workflow (ms) in *last, and *has; none: *has false. */
int df_store_schedule_last(df_store *s, const char *workflow, int64_t *last, bool *has);

/* Claims a fire time: from_queued false records it new with `decision` (applied only when no
 * row exists for it yet); from_queued true turns its `queued` row into `decision` (applied only
 * while it is still queued). run_id 0 stores NULL. *won: whether this call applied it (false:
 * another engine, or an earlier life of this one, decided it already). */
int df_store_schedule_claim(df_store *s, const char *workflow, int64_t logical_time,
                            bool from_queued, df_sched_decision decision, long long run_id,
                            int64_t decided_at, bool *won);

/* Sets the run of a fire time claimed `run` (after df_store_create_run, same transaction); run_id
 * 0 puts it back to `queued` instead (its run could not start because the engine is stopping:
 * the next serve starts it). */
int df_store_schedule_set_run(df_store *s, const char *workflow, int64_t logical_time,
                              long long run_id);

/* The workflow's fire times still queued, oldest first, at most max: a new array of *n times
 * (ms) in *out (free()), NULL when none. */
int df_store_schedule_queued(df_store *s, const char *workflow, size_t max, int64_t **out,
                             size_t *n);

/* The workflow's runs not in a final state on the store (RUNNING, stale or not, and
 * INTERRUPTED: SPEC §9's max_active_runs counts every one), in *n. */
int df_store_active_runs(df_store *s, const char *workflow, long long *n);

/* The runs a `serve` engine left RUNNING or INTERRUPTED (engine_kind 'serve'), oldest first: a
 * new array of *n ids in *ids and of their workflow names in *workflows (free each name, then
 * both arrays). */
int df_store_serve_runs(df_store *s, long long **ids, char ***workflows, size_t *n);

#endif
