/* run_internal: the run core's structure and the helpers its three files share (run.c: events,
 * evaluation, dispatch, end; run_attempt.c: attempt outcomes, retries, timeouts, breakers;
 * run_recover.c: resume and retry). Not used outside them (and the core's unit test). No I/O
 * header may be included here (see run.h). */
#ifndef DF_RUN_INTERNAL_H
#define DF_RUN_INTERNAL_H

#include <dagflow/taskunit.h> /* DF_TASK_OK and the other statuses */

#include "run.h"
#include "state.h"

typedef struct df_task_rt {
    df_task_state state;
    unsigned attempt;    /* latest attempt number (0 before the first) */
    unsigned retry_base; /* attempt number when the retry budget was last reset */
    unsigned failures;   /* failed or timed-out attempts since the budget was reset */
    unsigned lost_streak;
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
    uint64_t cancel_mono_ms; /* when the deadline cancelled it */
} df_task_rt;

struct df_run_core {
    long long id;
    const df_workflow *wf;
    df_run_limits *limits;
    df_slot_pool **pools;
    df_breaker **breakers;
    double (*random)(void *ud);
    void *random_ud;
    const json_t *params;
    df_task_rt *t;
    size_t *heap; /* QUEUED tasks waiting for a slot: a binary heap */
    size_t heap_n;
    size_t *eval; /* tasks whose upstreams changed */
    size_t eval_n;
    size_t *held;          /* dispatch's scratch: tasks held back by a pool or breaker */
    unsigned char *reopen; /* retry's plan */
    size_t unsubmitted;    /* attempts started and not handed over yet */
    size_t running;        /* attempts in flight */
    size_t n_final, n_failed;
    bool cancelling, stopping, fatal;
    bool timed_out;         /* the run's own timeout_ms passed (SPEC §8) */
    bool deadline_armed;    /* a DF_RT_RUN_DEADLINE timer is out */
    int64_t deadline_since; /* wall ms the run's timeout counts from, or 0 = when armed */
    bool ending;            /* DF_FX_RUN_END emitted, not recorded yet */
    bool ended;
    df_run_state final_state;
    df_effect *fx; /* the effect queue: fx[fx_head .. fx_n) */
    size_t fx_n, fx_cap, fx_head;
    bool oom; /* an effect could not be queued: DF_FX_FATAL comes next */
};

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
/* The run's own timeout passed: cancels everything unfinished (run_attempt.c). */
void df_run_timed_out(df_run_core *c, const df_run_clock *clk);
/* "run timed out after N ms" into buf. */
const char *df_run_timeout_msg(const df_run_core *c, char *buf, size_t len);
/* Records how task i's attempt ended and moves the task on (run_attempt.c). */
void df_run_finish_attempt(df_run_core *c, size_t i, int status, const json_t *result,
                           const char *error, const char *log, const df_run_clock *clk);
/* The breaker of task i, or NULL. */
df_breaker *df_run_task_breaker(df_run_core *c, size_t i);
/* Emits a breaker's change caused by task i (record, alert, and a wake-up when it opened). */
void df_run_breaker_changed(df_run_core *c, size_t i, const df_breaker_change *ch,
                            const df_run_clock *clk);

#endif
