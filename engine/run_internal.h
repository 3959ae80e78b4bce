/* run_internal: the run core's structure and the helpers its three files share (run.c: events,
 * evaluation, dispatch, end; run_attempt.c: attempt outcomes, retries, timeouts, breakers;
 * run_recover.c: resume and retry; run_cancel.c: the run's timeout and cancel requests). Not used
 * outside them (and the core's unit test). No I/O header may be included here (see run.h). */
#ifndef DF_RUN_INTERNAL_H
#define DF_RUN_INTERNAL_H

#include <dagflow/taskunit.h> /* DF_TASK_OK and the other statuses */

#include "run.h"
#include "state.h"

typedef struct df_task_rt {
    size_t task;         /* its task (wf->tasks index): itself, or a mapped instance's task */
    long long map_index; /* a mapped instance's index (SPEC §8), or -1 */
    df_task_state state;
    unsigned attempt;         /* latest attempt number (0 before the first) */
    unsigned retry_base;      /* attempt number when the retry budget was last reset */
    unsigned failures;        /* failed or timed-out attempts since the budget was reset */
    unsigned lost_streak;     /* LOST attempts in a row */
    unsigned charged_streak;  /* ... of which charged to the task's own code */
    int64_t first_started_at; /* wall ms: the first attempt since the budget was reset, or 0 */
    json_t *result;           /* owned */
    size_t up_success, up_failed, up_skipped; /* upstreams final in each way */
    bool in_eval;                             /* on the evaluation stack */
    bool retry_armed;                         /* a DF_RT_RETRY timer is out */
    /* the attempt in flight (number: attempt) */
    bool busy;      /* holds its slots */
    bool submitted; /* handed over by the shell */
    bool in_pool;   /* ... to the pool (it can be cancelled there) */
    bool timed_out; /* the deadline passed: the outcome is TIMED_OUT */
    bool probe;     /* the half-open probe of its task's breaker */
    bool timer_armed;
    bool detached;           /* waits for a child run: holds no slot of the engine's concurrency */
    uint64_t cancel_mono_ms; /* when the deadline cancelled it */
} df_task_rt;

/* A mapped task (SPEC §8, run_map.c): its instances are the units first .. first + n - 1 of
 * df_run_core.t (after the tasks), those waiting for a slot in a ring of their unit numbers. */
typedef struct df_map_rt {
    size_t first, n;                     /* its instances' units */
    size_t n_final, n_failed, n_skipped; /* instances final; of them failed; skipped */
    size_t in_flight;                    /* attempts of its instances in flight (max_parallel) */
    size_t *q;                           /* ring of QUEUED instances (n entries) */
    size_t q_head, q_len;
    bool in_heap;  /* the task is in the ready heap (it stands for its queue there) */
    json_t *items; /* owned: the for_each array, or NULL until needed again */
} df_map_rt;

struct df_run_core {
    long long id;
    const df_workflow *wf;
    df_run_limits *limits;
    df_slot_pool **pools;
    df_breaker **breakers;
    double (*random)(void *ud);
    void *random_ud;
    const json_t *params;
    df_task_rt *t; /* per unit: the tasks (0 .. n_tasks - 1), then mapped instances */
    size_t n_units, cap_units;
    df_map_rt *map; /* per task (used for tasks with for_each) */
    size_t *heap;   /* QUEUED tasks waiting for a slot: a binary heap */
    size_t heap_n;
    size_t *eval; /* tasks whose upstreams changed */
    size_t eval_n;
    size_t *held;          /* dispatch's scratch: tasks held back by a pool or breaker */
    unsigned char *reopen; /* retry's plan */
    size_t unsubmitted;    /* attempts started and not handed over yet */
    size_t fresh;   /* of those, started since the last submission round (df_run_core_submit_done):
                       waiting for their commit, not refused by the pool */
    size_t running; /* attempts in flight */
    size_t n_final, n_failed;
    bool cancelling, stopping, fatal;
    bool timed_out;         /* the run's own timeout_ms passed (SPEC §8) */
    bool cancelled;         /* a cancel request (SPEC §10): the run ends CANCELLED */
    char *cancel_reason;    /* its reason (owned), or NULL */
    bool deadline_armed;    /* a DF_RT_RUN_DEADLINE timer is out */
    int64_t deadline_since; /* wall ms the run's timeout counts from, or 0 = when armed */
    bool ending;            /* DF_FX_RUN_END emitted, not recorded yet */
    bool ended;
    df_run_state final_state;
    df_effect *fx; /* the effect queue: fx[fx_head .. fx_n) */
    size_t fx_n, fx_cap, fx_head;
    bool oom; /* an effect could not be queued: DF_FX_FATAL comes next */
};

/* Whether the run was stopped for task i: the engine is stopping, or the run is being cancelled
 * (a store failure, a timeout, a cancel request) — but not an on_exit handler of a run that
 * timed out or was cancelled, which runs anyway (SPEC §8, §10). */
static inline bool df_run_halted_for(const df_run_core *c, size_t i)
{
    if (c->stopping)
        return true;
    if (!c->cancelling)
        return false;
    return !((c->timed_out || c->cancelled) && i != DF_RUN_NO_TASK &&
             c->wf->tasks[c->t[i].task].handler);
}

/* Sets "state" and "failed_tasks" (SPEC §10: what on_exit handlers see) in the object run.
 * Returns 0, or -1 when out of memory. */
int df_run_handler_fields(const df_run_core *c, json_t *run);

/* Whether every DAG task (on_exit handlers aside) is final. */
bool df_run_dag_final(const df_run_core *c);

/* A new zeroed effect at the queue's end (valid until the next push), or NULL (out of memory:
 * the core then reports DF_FX_FATAL). */
df_effect *df_run_fx_push(df_run_core *c, df_effect_kind kind, size_t task);
/* A copy of s for an effect (NULL for NULL; out of memory flags the core). */
char *df_run_fx_str(df_run_core *c, const char *s);

/* A state change of task i: checked against the transition table, emitted (DF_FX_TRANSITION,
 * then DF_FX_NOTIFY), applied to memory, its downstream queued for evaluation. */
typedef struct df_change {
    df_task_state to;
    unsigned to_attempt;
    df_transition_cause cause;
    const char *detail;
    const char *error;       /* NULL leaves, "" clears */
    const char *result_json; /* NULL leaves */
    int64_t next_retry_at;
    bool reset_budget;
} df_change;

/* Returns 0, or -1 when the core is fatal or the change is not allowed (DF_FX_FATAL). */
int df_run_set_state(df_run_core *c, size_t i, const df_change *ch, const df_run_clock *clk);

void df_run_heap_push(df_run_core *c, size_t i);
/* Evaluates queued tasks, at most max. True when tasks are left. */
bool df_run_drain_eval(df_run_core *c, size_t max, const df_run_clock *clk);
/* Raises alert `alert` about task i (DF_RUN_NO_TASK for the run). */
void df_run_alert(df_run_core *c, const char *alert, size_t i, const char *state_name,
                  const char *error, unsigned attempt);
void df_run_timer_arm(df_run_core *c, df_run_timer_kind kind, size_t i, uint64_t delay_ms);
void df_run_timer_stop(df_run_core *c, df_run_timer_kind kind, size_t i);
/* Releases the slots task i's attempt held (engine, run, named pool) and its timer. */
void df_run_release(df_run_core *c, size_t i);
/* The run's own timeout passed: cancels everything unfinished (run_cancel.c). */
void df_run_timed_out(df_run_core *c, const df_run_clock *clk);
/* Longest text of df_run_cancel_msg. */
#define DF_CANCEL_MSG_MAX 600
/* "run cancelled" or "run cancelled: REASON" into buf (run_cancel.c). */
const char *df_run_cancel_msg(const df_run_core *c, char *buf, size_t len);
/* Cancels task i's attempt in the pool, as its deadline does: its outcome is decided when it
 * comes back, or at the end of the grace period (run_attempt.c). */
void df_run_cancel_attempt(df_run_core *c, size_t i, const df_run_clock *clk);
/* "run timed out after N ms" into buf. */
const char *df_run_timeout_msg(const df_run_core *c, char *buf, size_t len);
/* Records how task i's attempt ended and moves the task on (run_attempt.c). */
void df_run_finish_attempt(df_run_core *c, size_t i, int status, const json_t *result,
                           const char *error, const char *log, const df_run_clock *clk);
/* ---- branch tasks (run_branch.c, SPEC §8) ---- */

/* Checks branch task i's result (borrowed, may be NULL): 0 when it names only direct downstream
 * tasks (an id, an array of ids, null or []; see run_branch.c for where in the result), else -1
 * with the reason in err (the task then fails permanently). */
int df_run_branch_check(const df_run_core *c, size_t i, const json_t *result, char *err,
                        size_t errlen);
/* Branch task i succeeded: its direct downstream tasks that its result does not name and that
 * are still PENDING become SKIPPED. */
void df_run_branch_skip(df_run_core *c, size_t i, const df_run_clock *clk);
/* The id of an upstream branch task of j that succeeded without naming j (borrowed), or NULL:
 * j is then SKIPPED when its trigger rule is met (a task reopened by retry or left PENDING by a
 * crash). */
const char *df_run_branch_unchosen(const df_run_core *c, size_t j);

/* The breaker of task i, or NULL. */
df_breaker *df_run_task_breaker(df_run_core *c, size_t i);
/* Emits a breaker's change caused by task i (record, alert, and a wake-up when it opened). */
void df_run_breaker_changed(df_run_core *c, size_t i, const df_breaker_change *ch,
                            const df_run_clock *clk);

/* ---- mapped instances (run_map.c) ---- */

/* The definition of unit u (a task or a mapped instance). */
static inline const df_task_def *df_run_def(const df_run_core *c, size_t u)
{
    return &c->wf->tasks[c->t[u].task];
}

static inline bool df_run_is_instance(const df_run_core *c, size_t u)
{
    return u >= c->wf->n_tasks;
}

/* Task i (with for_each) is ready: expands it (SPEC §8): FAILED or SKIPPED when the value is
 * not an array, too long or empty; else RUNNING with its instances QUEUED. May grow c->t. */
void df_run_map_expand(df_run_core *c, size_t i, const df_run_clock *clk);
/* Unit u becomes QUEUED: onto the ready heap, or its task's queue for an instance. */
void df_run_ready_push(df_run_core *c, size_t u);
/* Dispatch popped mapped task i: takes its next instance that may start (max_parallel, pool,
 * breaker) into *u. 1: *u, start it (*sp its pool); 0: none may start now (hold i); -1: its
 * queue is empty (drop i from the heap). */
int df_run_map_next(df_run_core *c, size_t i, size_t *u);
/* Puts instance u back at the front of mapped task i's queue (dispatch could not start it). */
void df_run_map_unpop(df_run_core *c, size_t i, size_t u);
/* Empties every mapped task's queue (the ready heap was emptied). */
void df_run_map_clear_queues(df_run_core *c);
/* Instance u's state changed from `from` (after df_run_set_state applied it): its task's counts,
 * and the task's end once every instance is final. */
void df_run_map_changed(df_run_core *c, size_t u, df_task_state from, const df_run_clock *clk);
/* Attempt bookkeeping of an instance: +1 at its start, -1 at its release. */
void df_run_map_in_flight(df_run_core *c, size_t u, int delta);
/* Retry reopened mapped task i: its instances that did not succeed (all of them with --task,
 * whose task expands again) go back to PENDING with a fresh budget (SPEC §10). */
void df_run_map_reopen(df_run_core *c, size_t i, bool all, const df_run_clock *clk);
/* Frees the mapped tasks' memory. */
void df_run_map_free(df_run_core *c);
/* Restore: creates the units of the instances among the snapshots. 0, or -1 (out of memory). */
int df_run_map_restore(df_run_core *c, const df_task_snapshot *tasks, size_t n, char *err,
                       size_t errlen);
/* The unit of snapshot st (its task's, or an instance's), or -1. */
long df_run_map_unit(const df_run_core *c, const df_task_snapshot *st);
/* Resume: a mapped task RUNNING whose instances are all final ends now. */
void df_run_map_resume(df_run_core *c, const df_run_clock *clk);

#endif
