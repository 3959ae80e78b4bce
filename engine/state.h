/* state: task instance, run and attempt states, their names, and the one transition table
 * (SPEC §3). Every state change in the engine is checked against df_transition_allowed. */
#ifndef DF_STATE_H
#define DF_STATE_H

#include <stdbool.h>

typedef enum df_task_state {
    DF_TS_PENDING = 0,
    DF_TS_QUEUED,
    DF_TS_RUNNING,
    DF_TS_UP_FOR_RETRY,
    DF_TS_SUCCESS,
    DF_TS_FAILED,
    DF_TS_UPSTREAM_FAILED,
    DF_TS_SKIPPED,
    DF_TS_INVALID,
    DF_TS__COUNT
} df_task_state;

typedef enum df_run_state {
    DF_RS_RUNNING = 0,
    DF_RS_SUCCESS,
    DF_RS_FAILED,
    DF_RS_INVALID,
    DF_RS_INTERRUPTED,
    DF_RS__COUNT
} df_run_state;

typedef enum df_attempt_outcome {
    DF_AO_RUNNING = 0, /* still open: no outcome yet */
    DF_AO_SUCCESS,
    DF_AO_FAILED,
    DF_AO_TIMED_OUT,
    DF_AO_CANCELLED,
    DF_AO_LOST,
    DF_AO__COUNT
} df_attempt_outcome;

/* Why a transition happens; some transitions are allowed only for one cause (SPEC §3). */
typedef enum df_transition_cause {
    DF_TC_NORMAL = 0, /* the scheduler driving a run forward */
    DF_TC_CREATE,     /* run creation (PENDING -> INVALID) */
    DF_TC_RECOVER,   /* an attempt lost to an engine crash or shutdown (RUNNING -> QUEUED, QUEUED ->
                        PENDING) */
    DF_TC_RETRY_CMD, /* the `retry` command (FAILED | UPSTREAM_FAILED | SKIPPED -> PENDING) */
} df_transition_cause;

/* Upper-case names as in SPEC §3 ("UP_FOR_RETRY"). Static strings; "?" for out-of-range. */
const char *df_task_state_name(df_task_state s);
const char *df_run_state_name(df_run_state s);
const char *df_attempt_outcome_name(df_attempt_outcome o);

/* Parses a name back. Returns 0 and sets *out, or -1 for an unknown name. */
int df_task_state_parse(const char *name, df_task_state *out);
int df_run_state_parse(const char *name, df_run_state *out);
int df_attempt_outcome_parse(const char *name, df_attempt_outcome *out);

/* True when from -> to is in SPEC §3's table for this cause. Pure; thread-safe. */
bool df_transition_allowed(df_task_state from, df_task_state to, df_transition_cause cause);

/* True for SUCCESS, FAILED, UPSTREAM_FAILED, SKIPPED, INVALID. */
bool df_task_state_final(df_task_state s);

/* True for FAILED, UPSTREAM_FAILED, INVALID: "failed" as trigger rules count it. */
bool df_task_state_failed(df_task_state s);

#endif
