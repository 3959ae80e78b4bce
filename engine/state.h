/* state: the one transition table of SPEC §3 and what trigger rules count as failed. The states
 * themselves and their names are model.h's. Every state change in the engine is checked against
 * df_transition_allowed. */
#ifndef DF_STATE_H
#define DF_STATE_H

#include <stdbool.h>

#include "model.h"

/* Why a transition happens; some transitions are allowed only for one cause (SPEC §3). */
typedef enum df_transition_cause {
    DF_TC_NORMAL = 0, /* the run core driving a run forward */
    DF_TC_CREATE,     /* run creation (PENDING -> INVALID) */
    DF_TC_RECOVER,   /* an attempt lost to an engine crash or shutdown (RUNNING -> QUEUED, QUEUED ->
                        PENDING) */
    DF_TC_RETRY_CMD, /* the `retry` command (FAILED | UPSTREAM_FAILED | SKIPPED -> PENDING) */
    DF_TC_MAP,       /* a mapped task's expansion (PENDING -> RUNNING, SPEC §10) */
} df_transition_cause;

/* True when from -> to is in SPEC §3's table for this cause. Pure; thread-safe. */
bool df_transition_allowed(df_task_state from, df_task_state to, df_transition_cause cause);

/* True for FAILED, UPSTREAM_FAILED, INVALID: "failed" as trigger rules count it. */
bool df_task_state_failed(df_task_state s);

#endif
