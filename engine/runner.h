/* runner: the shell around one run's pure core (run.h) — what runner.c (events fed, effects
 * performed) and recover.c (resume and retry, which feed the core what the store holds) share.
 * Not a public header; engine_internal.h does not include it. */
#ifndef DF_RUNNER_H
#define DF_RUNNER_H

#include "engine_internal.h"
#include "latency.h"

/* Per task, what only the shell holds: the attempt handed to the pool and the libuv timers. */
typedef struct df_task_io {
    df_run *run;
    size_t task;
    df_attempt_rec *rec; /* the attempt handed over (pool or synthetic result), or NULL */
    uv_timer_t *retry;   /* DF_RT_RETRY; data = this */
    uv_timer_t *attempt; /* DF_RT_TIMEOUT, then DF_RT_UNYIELDING, then DF_RT_GRACE */
    df_run_timer_kind attempt_kind;
    uint64_t ready_us; /* the commit that made the task ready (df_mono_us), 0 when not ready */
    bool ready_in_tx;  /* made ready (QUEUED) in the open transaction: in df_run.ready_tx */
} df_task_io;

/* An attempt the core asked to submit, waiting for the commit (and for room in the pool). */
typedef struct df_pending_submit {
    size_t task;
    unsigned attempt;
} df_pending_submit;

struct df_run {
    df_engine *e;
    long long id;
    df_workflow *wf;
    const df_plugin **plugins;
    json_t *params;
    df_run_core *core;
    df_task_io *io;
    df_pending_submit *pending;
    size_t pending_n, pending_cap;
    int64_t *ready_at; /* per task (not per mapped instance): when it was last QUEUED (ms), for
                        * GET /metrics; may be NULL */
    /* Where the run comes from (SPEC §10), and its run context for templates as text. */
    df_attempt_rec *parent_rec; /* a child run: its parent's attempt waiting for it, or NULL */
    df_run_trigger trigger;
    int64_t logical_time, started_at; /* ms */
    long long parent_run_id;          /* 0 = none */
    char *parent_task_id;             /* owned, or NULL */
    char ctx_logical_time[40], ctx_logical_date[16], ctx_started_at[40];
    /* mapped instances' I/O records (runner_map.c): uio[u - n_tasks] for unit u */
    df_task_io **uio;
    size_t n_uio;
    void **io_blocks;
    size_t n_io_blocks;
    size_t *ready_tx; /* tasks made ready in the open transaction, stamped at its commit */
    size_t ready_tx_n;
    df_latency ready_to_running; /* every attempt's wait, from ready_us to execute's start */
    json_t *admission;           /* the admission pauses it saw (engine_admission.c), or NULL */
    int64_t admission_since;     /* ms: a pause holds it since then (0: none) */
    bool lease_lost; /* another engine adopted the run: nothing more is written for it */
};

/* Notes that task (not a mapped instance) became ready (QUEUED) in the open transaction: its
 * ready time is the commit's. */
void df_run_note_ready(df_run *r, size_t task);

/* ---- mapped instances (runner_map.c) ---- */

/* The I/O record of a unit (a task, a mapped instance, or DF_RUN_NO_TASK: the run's own). */
df_task_io *df_run_io(df_run *r, size_t unit);
/* A unit's name in events, alerts and messages: the task id, or "ID[N]" for an instance
 * (written into buf when needed). Borrowed. */
const char *df_run_unit_name(df_run *r, size_t unit, char *buf, size_t len);
/* Performs DF_FX_MAP_EXPAND: room for the new units, and the instances recorded. */
void df_run_map_expanded(df_run *r, const df_effect *fx);
/* After a restore gave the core instances: room for them. 0, or -1 out of memory. */
int df_run_map_restored(df_run *r);
void df_run_map_free_io(df_run *r);

/* The time now, for an event. */
df_run_clock df_run_now(void);

/* Performs every effect the core has queued, in order: writes into the engine's open
 * transaction (skipped once the engine is fatal), submissions kept for after the commit, timers,
 * alerts, the observer. */
void df_run_perform(df_run *r);

#endif
