/* run: one run's state machine as a pure core ("sans-I/O", as nghttp2 and ngtcp2 are, and as
 * breaker.c is): it never touches the store, the pool, the loop or the clock. The caller (the
 * engine's shell, runner.c) feeds it events — the run started, an attempt's result, a timer due,
 * a cancellation, what recovery found in the store — each with the time, and drains the effects
 * they produced, in order: transitions and attempt records to append, alerts to raise, jobs to
 * submit or cancel, timers to arm or stop, the run's end. The core decides everything SPEC §1
 * and §3 describe: trigger rules and their propagation, the ready order (priority, then file
 * order), dispatch within the limits (engine concurrency, max_active_tasks, named pools), the
 * circuit breakers' gate (SPEC §3a), retries with backoff, timeouts, cancellation and the run's
 * final state.
 *
 * Durability: the core updates its memory as it emits; the shell appends each write effect to
 * its open transaction and performs what depends on a write (a submission, an alert's delivery)
 * only after that transaction has committed. When a write fails the shell tells the core
 * (df_run_core_set_fatal): from then on it changes nothing more and only releases attempts.
 *
 * Not thread-safe: one thread (the engine's) feeds a core. Times: wall ms since the epoch for
 * what is recorded, monotonic ms for the breakers and the grace periods, both given with each
 * event (df_run_clock). */
#ifndef DF_RUN_H
#define DF_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "breaker.h"
#include "model.h"
#include "workflow.h"

/* How long an attempt that ignores its timeout's cancellation may keep running before it is
 * recorded TIMED_OUT anyway (shell needs 2000 ms for SIGTERM -> SIGKILL). */
#define DF_TIMEOUT_GRACE_MS 3000
/* After a deadline: a plugin still inside the same run of its coroutine this long after the
 * cancellation (it has not yielded since before it) is recorded TIMED_OUT then, without waiting
 * out the grace period that cooperative plugins get to clean up. */
#define DF_UNYIELDING_CHECK_MS 200
/* A task whose attempts are LOST this many times in a row, each charged to its own code (the crash
 * was attributed to it), fails (SPEC §12). */
#define DF_MAX_LOST_STREAK 3
/* A task whose attempts are LOST this many times in a row fails, charged or not (an engine killed
 * from outside, or another task's crash, charges nobody: SPEC §12). */
#define DF_MAX_UNCHARGED_LOST_STREAK 10
/* Most tasks one engine tick has a core evaluate (df_run_core_evaluate), and most it has it start
 * (df_run_core_dispatch), before the engine commits and hands the started
 * ones to the pool. One tick for 10,000 ready tasks would record them all before the first one
 * starts and leave their results to come back all at once; slices let the first attempts run,
 * and their results be recorded, while later ones are still being started. 10,000 sleeps of
 * 1 s (tests/bench/bench_run.sh sleep-10000, medians of 6 runs, interleaved): 1.46 s in one
 * tick; 1.34 s, 1.35 s, 1.34 s and 1.32 s with slices of 128, 256, 512 and 1,024. */
#define DF_TICK_SLICE 512
/* An effect or event about the run itself rather than one task. */
#define DF_RUN_NO_TASK ((size_t)-1)

/* The time of an event. */
typedef struct df_run_clock {
    int64_t now_ms;   /* wall clock, ms since the epoch */
    uint64_t mono_ms; /* monotonic clock, ms */
} df_run_clock;

/* The engine-wide limit shared by every run's core. */
typedef struct df_run_limits {
    size_t concurrency; /* most attempts in flight, all runs */
    size_t in_flight;   /* attempts in flight, all runs (the cores count them) */
} df_run_limits;

/* A named pool's slots, shared by every run of the engine (SPEC §1 `pools`). */
typedef struct df_slot_pool {
    char *name;
    int64_t slots;
    int64_t used;
} df_slot_pool;

/* What a core borrows from its engine; every pointer must outlive the core. */
typedef struct df_run_core_config {
    long long run_id;
    const df_workflow *wf;
    df_run_limits *limits;
    df_slot_pool **pools;       /* per wf->pools index (the core copies the array, not the pools) */
    df_breaker **breakers;      /* per wf->breakers index (likewise) */
    double (*random)(void *ud); /* uniform in [0, 1): retry jitter, drawn only when retrying */
    void *random_ud;
    const json_t *params; /* the run's params (borrowed, outlives the core), for `when`; or NULL */
} df_run_core_config;

typedef enum df_run_timer_kind {
    DF_RT_RETRY = 0,    /* a task's retry is due (per task) */
    DF_RT_TIMEOUT,      /* an attempt's deadline (per task: its attempt in flight) */
    DF_RT_UNYIELDING,   /* shortly after the deadline: has the plugin yielded? */
    DF_RT_GRACE,        /* the end of the grace period after the deadline */
    DF_RT_RUN_DEADLINE, /* the run's own timeout_ms (task DF_RUN_NO_TASK, SPEC §8) */
} df_run_timer_kind;

typedef enum df_effect_kind {
    DF_FX_TRANSITION,    /* append a task state change (from, to, attempts, detail, error...) */
    DF_FX_ATTEMPT_OPEN,  /* append an attempt's start (task, attempt, at) */
    DF_FX_ATTEMPT_CLOSE, /* append an attempt's end (task, attempt, outcome, at, error, log) */
    DF_FX_BREAKER,       /* append a breaker's change (task, breaker, change, at) */
    DF_FX_ALERT,         /* raise an alert (alert, task or none, state_name, error, attempt) */
    DF_FX_NOTIFY,        /* tell the observer (task or none, task_state, counts, error) */
    DF_FX_SUBMIT,        /* hand (task, attempt) to the pool once the transaction committed */
    DF_FX_CANCEL_JOB,    /* cancel task's attempt in the pool */
    DF_FX_ABANDON,       /* task's attempt is recorded without its result: discard it later */
    DF_FX_TIMER_ARM,     /* (re)arm timer (timer, task) to fire delay_ms from now */
    DF_FX_TIMER_STOP,    /* stop timer (timer, task; DF_RT_TIMEOUT stands for any attempt timer) */
    DF_FX_BREAKER_ARM,   /* wake the engine when breaker `breaker` may half-open */
    DF_FX_RUN_END,       /* record the run's final state (run_state, at, error: the run's own
                          * error or NULL), then call
                          * df_run_core_end_recorded */
    DF_FX_FATAL,         /* the core cannot go on (detail says why): make the engine fatal */
    DF_FX_MAP_EXPAND,    /* record mapped task `task`'s instances map_from .. map_n - 1, QUEUED
                          * (SPEC §8); the core has more units now (df_run_core_units) */
} df_effect_kind;

/* One effect. Strings are owned by the effect (df_effect_clear frees them) unless said static. */
typedef struct df_effect {
    df_effect_kind kind;
    size_t task; /* task index, or DF_RUN_NO_TASK */
    unsigned attempt;
    int64_t at; /* wall ms */
    /* DF_FX_TRANSITION */
    df_task_state from, to;
    unsigned from_attempt;
    char *detail;          /* or NULL (also DF_FX_FATAL's message) */
    char *error;           /* NULL leaves the task's error, "" clears it (also ATTEMPT_CLOSE's,
                            * ALERT's and NOTIFY's error) */
    char *result_json;     /* NULL leaves the task's result */
    int64_t next_retry_at; /* UP_FOR_RETRY: when the retry is due (wall ms) */
    bool reset_budget;     /* the retry command's transitions */
    /* DF_FX_ATTEMPT_CLOSE */
    df_attempt_outcome outcome;
    char *log;
    char *output; /* JSON text of the attempt's own stdout, stderr, exit code... (or NULL) */
    bool charged; /* LOST, charged to the task's own code (SPEC §12) */
    /* DF_FX_BREAKER, DF_FX_BREAKER_ARM */
    int breaker; /* wf->breakers index */
    df_breaker_change change;
    /* DF_FX_ALERT: static strings */
    const char *alert;      /* "task_failed", "run_succeeded", ... */
    const char *state_name; /* "FAILED", "OPEN", ... */
    /* DF_FX_TIMER_* */
    df_run_timer_kind timer;
    uint64_t delay_ms;
    /* DF_FX_NOTIFY, DF_FX_RUN_END */
    df_task_state task_state;
    df_run_state run_state;
    size_t tasks_final, tasks_running, tasks_failed;
    /* DF_FX_MAP_EXPAND */
    long long map_from, map_n;
} df_effect;

/* Frees an effect's strings (the struct itself is the caller's). */
void df_effect_clear(df_effect *fx);

typedef struct df_run_core df_run_core;

/* A new core over cfg->wf, every task PENDING. NULL on allocation failure. */
df_run_core *df_run_core_new(const df_run_core_config *cfg);
void df_run_core_free(df_run_core *c);

/* Takes the oldest effect not yet taken into *out (the caller clears it). False when none is
 * left. Effects come out in the order the core decided them. */
bool df_run_core_next(df_run_core *c, df_effect *out);

/* ---- events (run.c) ---- */

/* Run creation: tasks whose invalid[i] is set become INVALID (msgs: one message per INVALID task,
 * in task order, may be NULL), the others SKIPPED. Nothing happens when none is invalid. */
void df_run_core_mark_invalid(df_run_core *c, const unsigned char *invalid, const char *const *msgs,
                              const df_run_clock *clk);

/* Queues every PENDING task for evaluation (start of a run or of a resume), highest priority
 * first. */
void df_run_core_start(df_run_core *c);

/* The workflow's timeout_ms (SPEC §8) counts from since_ms (wall ms): the run's creation for a
 * resumed run; without this call, from df_run_core_arm_deadline's time (a new run, a retry). */
void df_run_core_set_deadline_base(df_run_core *c, int64_t since_ms);

/* Arms the run's own deadline (DF_RT_RUN_DEADLINE, delay 0 when it has passed already) when the
 * workflow has a timeout_ms; call after df_run_core_start. When it is due
 * (df_run_core_timer_due), running attempts are cancelled (outcome TIMED_OUT), every unfinished
 * task becomes CANCELLED and the run ends FAILED. */
void df_run_core_arm_deadline(df_run_core *c, const df_run_clock *clk);

/* Evaluates the trigger rules of at most max queued tasks. True when tasks are left. */
bool df_run_core_evaluate(df_run_core *c, size_t max, const df_run_clock *clk);

/* Starts ready tasks while slots and breakers allow, at most max: RUNNING transitions, attempt
 * opens and DF_FX_SUBMIT effects. Starts none while an attempt waits to be submitted. True when
 * it stopped at max with more ready. */
bool df_run_core_dispatch(df_run_core *c, size_t max, const df_run_clock *clk);

/* Whether task's attempt `attempt` still waits to be submitted (the shell drops a stale
 * DF_FX_SUBMIT otherwise). */
bool df_run_core_wants_submit(const df_run_core *c, size_t task, unsigned attempt);

/* The shell handed task's attempt over: to the pool (in_pool; its timeout, if any, is armed), or
 * to a result of its own (a template or validate failure, posted as a result). */
void df_run_core_submitted(df_run_core *c, size_t task, bool in_pool);

/* Task's attempt in flight waits for a child run (a `workflow` task, SPEC §10) rather than a
 * pool worker: it gives its slot of the engine's concurrency back (so that the child's tasks can
 * use it; a named pool's slot stays taken), until it ends. */
void df_run_core_detach(df_run_core *c, size_t task);

/* Attempts started but not submitted yet (the pool's full queue refused them). */
size_t df_run_core_unsubmitted(const df_run_core *c);

/* The shell has handed over (or had refused) every attempt started so far: from now on an
 * attempt still unsubmitted was refused by the pool, and holds dispatch back. */
void df_run_core_submit_done(df_run_core *c);

/* Once nothing is left to do: the run's final state as a DF_FX_RUN_END effect. True once the run
 * has ended (df_run_core_end_recorded called, or the engine is fatal). */
bool df_run_core_check_end(df_run_core *c, const df_run_clock *clk);

/* The shell recorded the DF_FX_RUN_END: the run has ended (its alerts, timers stopped,
 * observer told). */
void df_run_core_end_recorded(df_run_core *c);

/* Cancel asked (engine stop: stopping true; a store failure: false): attempts in the pool are
 * cancelled, retry timers stopped, attempts not submitted closed CANCELLED (back to QUEUED), and
 * nothing more starts. */
void df_run_core_cancel(df_run_core *c, bool stopping, const df_run_clock *clk);

/* A cancel request (SPEC §10: `dagflow cancel`, df_engine_cancel, the cancel of a parent run),
 * on the same path as the run's own timeout: nothing more starts, attempts in the pool are
 * cancelled (recorded CANCELLED when they come back without success, or at the end of the grace
 * period), every other unfinished task becomes CANCELLED with the error "run cancelled[:
 * REASON]", and once the attempts are back the run ends CANCELLED and raises run_cancelled.
 * reason (borrowed, copied; may be NULL) says who asked. Ignored when the run has ended or is
 * ending, timed out already, was cancelled already, is stopping (the store keeps the request for
 * `resume`), or has every task final (it ends in its own state). */
void df_run_core_request_cancel(df_run_core *c, const char *reason, const df_run_clock *clk);

/* Whether a cancel request took effect (df_run_core_request_cancel). */
bool df_run_core_cancelled(const df_run_core *c);

/* The engine can write nothing more: no more state changes (see the file comment). */
void df_run_core_set_fatal(df_run_core *c);

bool df_run_core_ended(const df_run_core *c);
df_run_state df_run_core_final_state(const df_run_core *c);
df_task_state df_run_core_task_state(const df_run_core *c, size_t task);
unsigned df_run_core_task_attempt(const df_run_core *c, size_t task);
/* What the run's final state would be without its on_exit handlers (SPEC §10 ${run.state}):
 * FAILED when it timed out, INVALID, FAILED when a DAG task's failure counts, else SUCCESS. */
df_run_state df_run_core_dag_state(const df_run_core *c);
/* The ids of the DAG tasks that ended FAILED (SPEC §10 ${run.failed_tasks}), in file order: a new
 * array, or NULL when out of memory. */
json_t *df_run_core_failed_tasks(const df_run_core *c);
/* A task's result (borrowed; NULL for none), as templates read it. */
const json_t *df_run_core_result(const df_run_core *c, size_t task);
/* Attempts in flight in this run. */
size_t df_run_core_running(const df_run_core *c);

/* Units of the core: its tasks (0 .. n_tasks - 1), then mapped instances (SPEC §8). An effect's
 * `task` and the task arguments of the events above are units. */
size_t df_run_core_units(const df_run_core *c);
/* Unit u's task index, and its map_index (-1 for a task). */
size_t df_run_core_unit_task(const df_run_core *c, size_t u, long long *map_index);
/* A mapped instance's element (borrowed; the for_each value resolved again if needed), or NULL
 * for a task. */
const json_t *df_run_core_item(df_run_core *c, size_t u);

/* ---- attempts (run_attempt.c) ---- */

/* An attempt's result (status: DF_TASK_OK, DF_TASK_FAILED, DF_TASK_FAILED_PERMANENT or
 * DF_TASK_SKIPPED; result,
 * error, log borrowed, may be NULL). Ignored unless it is task's attempt in flight. */
void df_run_core_result_in(df_run_core *c, size_t task, unsigned attempt, int status,
                           const json_t *result, const char *error, const char *log,
                           const df_run_clock *clk);

/* A timer armed by DF_FX_TIMER_ARM is due. unyielding (DF_RT_UNYIELDING only): the pool says the
 * attempt's plugin has not yielded since its cancellation (1), or its worker is stuck in another
 * attempt's plugin (2); 0 otherwise. Stale timers are ignored. */
void df_run_core_timer_due(df_run_core *c, df_run_timer_kind kind, size_t task, int unyielding,
                           const df_run_clock *clk);

/* Shutdown's grace period is over and task's attempt has not come back: record it now without
 * its result (error: why). */
void df_run_core_abandon(df_run_core *c, size_t task, const char *why, const df_run_clock *clk);

/* task's attempt was handed to a worker whose lease expired (SPEC §11): recorded LOST (why) and
 * the task QUEUED again without using a retry (as on resume: ten losses in a row fail it, three
 * charged ones); charged: the worker reported that the attempt's own plugin code crashed it (SPEC
 * §12), so the loss counts against the task. When the run is cancelled or stopping, or the
 * attempt was past its deadline, it ends as a failed attempt would. Ignored unless it is task's
 * attempt in flight. */
void df_run_core_lost(df_run_core *c, size_t task, unsigned attempt, const char *why, bool charged,
                      const df_run_clock *clk);

/* ---- recovery (run_recover.c): what resume and retry found in the store ---- */

/* One task as the store holds it. */
typedef struct df_task_snapshot {
    const char *id;
    bool mapped; /* a mapped instance (SPEC §8): map_index names it */
    long long map_index;
    df_task_state state;
    unsigned attempts, retry_base, failures, lost_streak;
    unsigned charged_streak;  /* of lost_streak, the losses charged to the task's own code */
    unsigned open_attempt;    /* an attempt left RUNNING by a dead engine, or 0 */
    bool open_charged;        /* ... and its crash was attributed to this task's code */
    int64_t next_retry_at;    /* UP_FOR_RETRY: wall ms, or 0 */
    int64_t first_started_at; /* wall ms: the first attempt's start within the current retry
                                 budget (retry_max_total_ms), or 0 when not known */
    const char *result_json;  /* or NULL */
} df_task_snapshot;

/* Restores the tasks' states and counts (n snapshots, in any order). DF_EREFUSED with err filled
 * when a snapshot names a task the workflow lacks. */
int df_run_core_restore(df_run_core *c, const df_task_snapshot *tasks, size_t n, char *err,
                        size_t errlen);

/* The run was found finished (state): it has ended without doing anything. */
void df_run_core_finished(df_run_core *c, df_run_state state);

/* Resume (after df_run_core_restore and the shell's claim on the run): open attempts are closed
 * LOST (a task lost DF_MAX_LOST_STREAK times in a row fails), RUNNING tasks go back to QUEUED,
 * QUEUED ones wait for a slot, UP_FOR_RETRY ones get their timer back. */
void df_run_core_resume(df_run_core *c, const df_task_snapshot *tasks, size_t n,
                        const df_run_clock *clk);

/* Retry, first half: which tasks reopen — task (an id) and everything downstream of it, or with
 * task NULL the FAILED, UPSTREAM_FAILED and CANCELLED ones and the SKIPPED ones downstream of
 * them. Returns
 * 0, DF_EREFUSED (err filled: no such task, nothing to retry) or DF_ENOMEM. */
int df_run_core_retry_plan(df_run_core *c, const char *task, char *err, size_t errlen);

/* Retry, second half (after the shell's claim): the planned tasks go back to PENDING with a
 * fresh retry budget (detail "retry" or "retry --task"). */
void df_run_core_retry_apply(df_run_core *c, bool one_task, const df_run_clock *clk);

#endif
