/* engine_internal: the structures shared by engine.c (the engine: loop, pool, store, inbox,
 * stop, group commit), launch.c (starting runs), api.c (the public calls), runner.c (the shell
 * around one run's pure core, run.h) and recover.c (resume and retry). Not a public header. */
#ifndef DF_ENGINE_INTERNAL_H
#define DF_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "../store/store.h"
#include "admission.h"
#include "alert.h"
#include "breaker.h"
#include "metrics.h"
#include "engine.h"
#include "plugin.h"
#include "pool/pool.h"
#include "run.h"
#include "workflow.h"

typedef struct df_run df_run;

/* One attempt handed to the pool; df_job.user points here. Owned by the run's shell until the
 * job's result has come back (or, for an abandoned attempt, until the engine closes). */
typedef struct df_attempt_rec {
    df_run *run;
    size_t task;
    unsigned attempt;
    df_pool_job *job;
    bool abandoned;  /* recorded without its result; a late result is discarded */
    bool synthetic;  /* failed before reaching the pool (template, validate) */
    df_run *child;   /* a `workflow` task's child run while it runs (subworkflow.c), or NULL */
    bool remote;     /* handed to workers through the store's queue (remote.c), not the pool */
    uint64_t enq_us; /* ... when (df_mono_us), for the ready -> running latency */
    struct df_attempt_rec *next_abandoned;
} df_attempt_rec;

/* A circuit breaker shared by every run of the engine (SPEC §3a), with the timer that wakes the
 * engine when it may half-open. */
typedef struct df_engine_breaker {
    df_breaker *b;
    uv_timer_t *timer;
} df_engine_breaker;

struct df_engine {
    df_engine_config cfg; /* as given to df_engine_open, defaults filled in; cfg.db points to db
                           * and cfg.plugin_dirs is NULL (the registry has its own copy) */
    char *db;             /* owned copy of the store's path */
    char **pass_env; /* owned NULL-terminated copy of cfg.pass_env (cfg.pass_env points to it) */
    df_pool_config pool_cfg;
    unsigned short rng[3]; /* the engine's erand48 state (retry jitter) */
    uv_loop_t loop;
    df_store *store;
    df_plugin_registry *plugins;
    df_pool *pool;
    df_alerts *alerts;

    uv_async_t inbox_async;
    pthread_mutex_t inbox_mu;
    /* completions travelling from worker threads to the engine thread, linked by their own
     * next field (queuing one allocates nothing, so none is ever lost) */
    df_job_result *inbox_head, *inbox_tail;
    bool inbox_open; /* inbox_async may be signalled (guarded by inbox_mu) */

    /* df_engine_stop: any thread (or a signal handler) counts its call in stop_requests and
     * signals stop_async, whose callback acts on the engine thread (1: graceful stop, 2 or more:
     * halt). Unreferenced, so it never keeps the loop alive; open from df_engine_open to
     * df_engine_close. */
    uv_async_t stop_async;
    atomic_int stop_requests;
    uv_timer_t heartbeat;
    uv_timer_t resubmit;      /* retries submitting to a full pool queue (backpressure) */
    uv_timer_t proc_escalate; /* df_proc_escalate: SIGKILLs of task children, from this thread */
    uv_idle_t tick_idle;      /* runs the group commit + dispatch once the current callbacks end */
    bool tick_armed;
    bool handles_open;

    bool in_tx;
    uint64_t last_commit_us; /* df_mono_us right after the last group commit */
    bool stopping;           /* df_engine_stop asked to stop (for good) */
    bool halted;     /* ... and a second call to stop at once: fatal, nothing more recorded */
    bool fatal;      /* the store failed: no more writes */
    bool taken_over; /* ... because another engine claimed the run */
    char fatal_msg[1024];

    df_run **runs;
    size_t n_runs;
    size_t rr_next;            /* fair dispatch: the run each tick's first round starts with */
    unsigned lost_txs;         /* transactions a service lost with its connection (counted) */
    bool keep_handles;         /* a service: the loop's handles stay open with no run in flight */
    df_run_limits limits;      /* engine concurrency and attempts in flight, all runs */
    df_slot_pool **slot_pools; /* each allocated alone: the runs' cores point to them */
    size_t n_slot_pools;
    df_engine_breaker *breakers;
    size_t n_breakers;
    df_attempt_rec *abandoned;

    df_metrics metrics; /* GET /metrics's own counters (df_engine_metrics; any thread) */

    /* Cancel requests (engine_cancel.c): df_engine_cancel queues them here from any thread
     * (cancel_head, guarded by cancel_mu) and signals cancel_async (unreferenced, open from
     * df_engine_open to df_engine_close); cancel_poll looks for requests in the store while the
     * loop's handles are open. */
    uv_async_t cancel_async;
    pthread_mutex_t cancel_mu;
    struct df_cancel_pending *cancel_head;
    uv_timer_t cancel_poll;

    /* Resource-aware admission (engine_admission.c): sampled by admission_timer (open with the
     * loop's handles when a limit is set); while admission.paused no attempt is dispatched. */
    df_admission admission;
    uv_timer_t admission_timer;
    bool admission_open;
    struct df_remote *remote; /* --executor workers (remote.c), or NULL */

    df_engine_id engine_info; /* this engine process, as the store records run owners */
    char engine_host[256];    /* engine_info.host points here */
};

/* ---- engine.c (and engine_alerts.c) services used by the run shell (runner.c, recover.c) ---- */

/* Opens the group-commit transaction if none is open. Returns 0, or DF_ESTORE once the engine is
 * fatal. */
int df_engine_tx(df_engine *e);

/* Stops the engine because another engine claimed run_id (compare-and-set lost). */
void df_engine_taken_over(df_engine *e, long long run_id);

/* Another engine owns r now (its lease was lost: a fence or the heartbeat's compare-and-set
 * failed). A service stops that run only (a notice event says why; its attempts are cancelled,
 * nothing more of it is recorded); any other engine stops (df_engine_taken_over). */
void df_engine_run_lost(df_engine *e, df_run *r);

/* A service's transaction that wrote for r was lost with the connection (why: msg): r stops as
 * df_engine_run_lost stops it (a notice says why), and the service takes it up again from the
 * store. */
void df_engine_run_dropped(df_engine *e, df_run *r, const char *msg);

/* A store write for run_id failed with rc: a lost lease (DF_STORE_CONFLICT) stops that run
 * (df_engine_run_lost), anything else is df_engine_fail's. */
void df_engine_store_failed(df_engine *e, long long run_id, int rc);

/* Whether df_engine_run_lost (or df_engine_run_dropped) stopped r. */
bool df_run_lease_is_lost(const df_run *r);

/* The engine's run lease (cfg.run_lease_ms, or DF_RUN_LEASE_DEFAULT_MS), ms. */
long long df_engine_lease_ms(const df_engine *e);

/* Commits the group-commit transaction, then starts delivering the alerts it recorded.
 * Returns 0, or DF_ESTORE when the engine is (or became) fatal. */
int df_engine_commit(df_engine *e);

/* Records the alert `event` for each sink of wf that wants it (in the open transaction) and
 * queues its delivery for after the commit. Returns 0, or DF_ESTORE (engine fatal). */
int df_engine_raise_alert(df_engine *e, long long run_id, const df_workflow *wf, const char *event,
                          const char *task_id, const char *state, const char *error,
                          unsigned attempt);

/* Records a delivery try's outcome (df_alert_outcome_fn; ud is the engine). */
void df_engine_alert_outcome(void *ud, long long alert_id, df_alert_status status, int tries,
                             int64_t delivered_at, const char *error, const json_t *sink,
                             const char *payload);

/* Queues delivery of an alert found still pending in the store (resume). Returns 0, or
 * DF_ENOMEM. */
int df_engine_redeliver_alert(df_engine *e, const df_workflow *wf, long long alert_id,
                              int sink_index, const char *payload, int tries);

/* Hands a result produced on the engine thread to the inbox, as if a worker had sent it. */
void df_engine_post_result(df_engine *e, df_job_result *res);

/* Records a fatal store failure: no more writes, every run stops, the waits return DF_ESTORE
 * (the CLI exits 3). */
void df_engine_fail(df_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Asks for a tick (commit, then dispatch) once the current callback returns. */
void df_engine_wake(df_engine *e);

/* The shared slot pool with this name, or NULL. */
df_slot_pool *df_engine_slot_pool(df_engine *e, const char *name);

/* The shared breaker with this name, or NULL. */
df_engine_breaker *df_engine_breaker_find(df_engine *e, const char *name);

/* Wakes the engine when an OPEN breaker's open_ms has passed. */
void df_engine_breaker_arm(df_engine *e, df_engine_breaker *eb);

/* Reports a state change to the observer. */
void df_engine_emit(df_engine *e, const df_engine_event *ev);

/* Starts the coroutine pool if it is not running yet. Returns 0, or the pool's DF_E* code with
 * its message in errs. */
int df_engine_start_pool(df_engine *e, df_errlist *errs);

/* launch.c: the workflow's params overlaid with overrides (may be NULL), as a new object, or
 * NULL (out of memory). Errors go to errs: a name the workflow does not declare, a string for a
 * param whose default is not a string; worded for `--param` when t is DF_TRIGGER_MANUAL, else
 * for where a run of that trigger gets its params (the API's body, ...). Used by run and
 * validate alike. */
json_t *df_engine_merge_params(const df_workflow *wf, const json_t *overrides, df_run_trigger t,
                               df_errlist *errs);

/* api.c: loads each task's plugin of wf and calls its validate with the run params (the
 * workflow's overlaid with params). Load errors go to load, rejections to invalid. Returns 0, or
 * DF_ENOMEM. */
int df_engine_validate_loaded(df_engine *e, const df_workflow *wf, const json_t *params,
                              df_errlist *load, df_errlist *invalid);
/* api.c: adds each message of msgs to out prefixed with "path: " unless it already names the
 * file that way (path "-" is named "<stdin>"). */
void df_engine_add_named(df_errlist *out, const char *path, const df_errlist *msgs);

/* Opens the loop's handles a run needs (inbox, tick, heartbeat), starting the pool first; they
 * close by themselves once every run has ended. Returns 0 or df_engine_start_pool's error. */
int df_engine_open_handles(df_engine *e, df_errlist *errs);
/* engine.c: closes the loop's handles (idempotent: nothing when they are not open); the tick
 * calls it once every run has ended, df_engine_close always. Engine thread. */
void df_engine_close_handles(df_engine *e);
/* engine.c: at df_engine_open, the uv_async through which df_engine_stop reaches the loop. */
void df_engine_stop_init(df_engine *e);
/* How long attempts in flight get to see their cancellation at a graceful stop and at
 * df_engine_close before they are given up unrecorded. */
#define DF_STOP_GRACE_MS 5000

/* ---- engine_cancel.c: cancel requests (SPEC §10) ---- */

/* How often an engine with runs in flight looks for cancel requests in the store (SPEC §10: it
 * acts within 1 s). */
#define DF_CANCEL_POLL_MS 500

/* At df_engine_open: the queue and its uv_async. */
void df_engine_cancel_init(df_engine *e);
/* With the loop's handles (df_engine_open_handles / engine_close_handles): the look at the
 * store. */
void df_engine_cancel_open(df_engine *e);
void df_engine_cancel_close(df_engine *e);
/* At df_engine_close: closes the uv_async (the loop then runs once more) and drops requests
 * never acted on; then df_engine_cancel_destroy, once the loop is closed. */
void df_engine_cancel_free(df_engine *e);
void df_engine_cancel_destroy(df_engine *e);
/* launch.c: frees the runs that have ended (a service's runs come and go), once no alert is
 * being delivered (deliveries borrow their run's workflow). Engine thread, outside the tick. */
void df_engine_reap_ended(df_engine *e);

/* ---- runner.c: the shell that feeds one run's core (run.h) and performs its effects ---- */

/* Builds a run over a loaded workflow (taking ownership of wf and plugins) whose tasks are all
 * PENDING in the store already (run_id recorded). */
df_run *df_run_new(df_engine *e, long long run_id, df_workflow *wf, const df_plugin **plugins,
                   json_t *params);

/* Sets where the run comes from: trigger, logical time and start (ms; logical_time 0 = started_at)
 * and parent (0 / NULL for none; the task id is copied), and the run context templates read
 * (SPEC §10). Returns 0 or DF_ENOMEM. */
int df_run_set_origin(df_run *r, df_run_trigger trigger, int64_t logical_time, int64_t started_at,
                      long long parent_run_id, const char *parent_task_id);

/* Marks the tasks whose invalid[i] is set INVALID and the others SKIPPED (run creation). msgs
 * holds one message per INVALID task, in task order (the rejections of validate). */
void df_run_mark_invalid(df_run *r, const unsigned char *invalid, const char *const *msgs);

/* ---- recover.c: a stored run reopened (a second producer of the core's events) ---- */

/* Takes over a stored run for `resume`: refuses (DF_EREFUSED, reason in err) a finished run or
 * one whose engine is alive; closes open attempts as LOST (failing a task after three in a row),
 * requeues work, restores retry timers and pending alerts. DF_ESTORE on a store failure. */
int df_run_resume_prepare(df_run *r, const df_stored_run *loaded, char *err, size_t errlen);

/* Adopts a stored run of a `serve` whose lease ended (SPEC §11) as resume does, but the claim is
 * df_store_run_adopt's compare-and-set (committed before anything else), the old owner is not
 * killed (its writes are fenced off), and its attempts' process groups on this host are. Returns
 * 0, DF_EREFUSED (not adoptable; reason in err), DF_ESTORE, DF_ENOMEM. */
int df_run_adopt_prepare(df_run *r, const df_stored_run *loaded, char *err, size_t errlen);

/* Reopens a finished stored run for `retry` (task NULL or an id). Returns 0, DF_EREFUSED (reason
 * in err), DF_ESTORE (store failure), DF_ENOMEM. */
int df_run_retry_prepare(df_run *r, const df_stored_run *loaded, const char *task, char *err,
                         size_t errlen);

/* ---- runner.c ---- */

/* Queues every PENDING task for evaluation (start of a run or of a resume) and wakes the engine,
 * whose ticks evaluate them with df_run_evaluate. */
void df_run_start(df_run *r);

/* Evaluates the trigger rules of at most max queued tasks, writing the verdicts (QUEUED,
 * SKIPPED, UPSTREAM_FAILED) into the open transaction. Returns true when tasks are left. */
bool df_run_evaluate(df_run *r, size_t max);

/* Handles one attempt's result (takes ownership of res). */
void df_run_on_result(df_engine *e, df_job_result *res);

/* Starts ready tasks while slots allow, at most max of them: writes their RUNNING states and open
 * attempts into the open transaction; df_run_submit hands them to the pool once that transaction
 * has committed. Returns true when it stopped at max with more tasks ready to start, so the
 * caller commits and submits these and then calls again (small ticks let the first attempts run
 * and the first results come back while later ones are still being recorded). */
bool df_run_dispatch(df_run *r, size_t max);

/* Submits the attempts df_run_dispatch started (call only after the commit). */
void df_run_submit(df_run *r);

/* After a commit, before df_run_submit: the tasks made ready (QUEUED) in the transaction just
 * committed are ready as of e->last_commit_us, the start of their ready->running wait. */
void df_run_stamp_ready(df_run *r);

/* Called after each commit: finishes the run when every task is final and nothing is in flight.
 * Returns true once the run has ended. */
bool df_run_check_end(df_run *r);

/* Stop: cancel every attempt in flight and every retry timer (df_engine_stop). */
void df_run_cancel_all(df_run *r);

/* Stores a cancel request for run_id (reason borrowed) and cancels it now when this engine runs
 * it (engine_cancel.c); failures are the store's (the engine turns fatal) or a finished run's
 * (nothing to do). Engine thread. */
void df_engine_cancel_run(df_engine *e, long long run_id, const char *reason);

/* ---- subworkflow.c: the built-in `workflow` plugin's attempts (SPEC §10) ---- */

/* Whether task ti (a task index) of r is a `workflow` task run by the engine itself. */
bool df_subworkflow_task(const df_run *r, size_t ti);

/* Starts the attempt of unit (task ti, map index mi or -1) as a child run of params' file
 * (taking params, already resolved and validated), or takes over the child an earlier attempt
 * left unfinished; the attempt is handed over (rec recorded, the core told, its concurrency slot
 * given back). Returns 0, or -1 with err filled (the caller fails the attempt). */
int df_subworkflow_submit(df_run *r, df_attempt_rec *rec, size_t unit, size_t ti, long long mi,
                          json_t *params, char *err, size_t errlen);

/* A run that ended: if it is a child whose parent's attempt waits, posts that attempt's result
 * to the inbox. */
void df_subworkflow_ended(df_run *child);

/* A cancelled run's children that an earlier engine left unfinished (`dagflow cancel` of a
 * parent whose engine died): each gets a cancel request, and this engine takes over those that no
 * engine runs, which cancels them. reason unused (the children's reason names the parent). */
void df_subworkflow_cancel_orphans(df_run *r, const char *reason);

/* The parent's attempt rec was cancelled: cancels its child (not on a stop, which stops it). */
void df_subworkflow_cancel(df_attempt_rec *rec);

/* A cancel request for the run (reason borrowed, may be NULL): its core cancels it
 * (df_run_core_request_cancel), the engine is woken. */
void df_run_request_cancel(df_run *r, const char *reason);

/* The engine became fatal (df_engine_fail): the run changes nothing more, and cancels as on a
 * stop. */
void df_run_fail(df_run *r);

/* Records attempts that did not come back within the grace period as CANCELLED (shutdown). */
void df_run_abandon_in_flight(df_run *r);

/* True while attempts refused by the pool's full queue wait to be submitted again. */
bool df_run_waiting_for_pool(const df_run *r);

bool df_run_ended(const df_run *r);
df_run_state df_run_final_state(const df_run *r);
long long df_run_id(const df_run *r);

/* Frees the run (its timers must be closed: call df_run_close_handles and let the loop run). */
void df_run_close_handles(df_run *r);
void df_run_free(df_run *r);

/* ---- engine_admission.c ---- */

/* Starts sampling (a no-op without a limit), and takes the first sample at once. */
void df_engine_admission_open(df_engine *e);
void df_engine_admission_close(df_engine *e);
/* Whether admission is paused: no new attempt starts. */
bool df_engine_admission_paused(const df_engine *e);
/* While paused: records the pause with the live runs that came after it began. */
void df_engine_admission_hold(df_engine *e);
/* Adds the run's admission record (when it has one) to its end-of-run metrics (borrowed). */
void df_engine_admission_run_end(df_run *r, json_t *metrics);
/* How the run's engine stands, for reads that show a dead engine's run INTERRUPTED at once (as
 * resume would treat it) instead of RUNNING until its heartbeat is 30 s old (api.c, history).
 * DF_OWNER_ENDED: the stored run is no longer RUNNING (its engine ended it, perhaps just now: a
 * row read before is stale); DF_OWNER_GONE: still RUNNING after its engine was found gone from
 * this host (process dead or pid reused; the row is read again after that check, since only then
 * can it not change any more); DF_OWNER_LIVE otherwise, and when the store cannot say. Engine
 * thread or the reading caller's own engine; reads the store. */
typedef enum { DF_OWNER_LIVE, DF_OWNER_ENDED, DF_OWNER_GONE } df_owner_state;
df_owner_state df_engine_run_owner(df_engine *e, long long run_id);

/* Replaces the probe (unit tests; before the first run): the limits stay the configuration's. */
void df_engine_set_admission_probe(df_engine *e, df_admission_probe_fn probe, void *ud);

#endif
