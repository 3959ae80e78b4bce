/* state: the single transition table of SPEC §3. */
#include "state.h"

bool df_transition_allowed(df_task_state from, df_task_state to, df_transition_cause cause)
{
    /* SPEC §10: PENDING | QUEUED | UP_FOR_RETRY | RUNNING -> CANCELLED (the run was cancelled or
     * timed out). */
    if (to == DF_TS_CANCELLED)
        return from == DF_TS_PENDING || from == DF_TS_QUEUED || from == DF_TS_UP_FOR_RETRY ||
               from == DF_TS_RUNNING;
    switch (from) {
    case DF_TS_PENDING:
        if (to == DF_TS_INVALID)
            return cause == DF_TC_CREATE;
        if (to == DF_TS_RUNNING) /* SPEC §10: a mapped task at its expansion */
            return cause == DF_TC_MAP;
        /* FAILED: a `when` that fails at run time, before any attempt (SPEC §10) */
        return to == DF_TS_QUEUED || to == DF_TS_UPSTREAM_FAILED || to == DF_TS_SKIPPED ||
               to == DF_TS_FAILED;
    case DF_TS_QUEUED:
        if (to == DF_TS_PENDING)
            return cause == DF_TC_RECOVER;
        return to == DF_TS_RUNNING;
    case DF_TS_RUNNING:
        if (to == DF_TS_QUEUED)
            return cause == DF_TC_RECOVER;
        /* SKIPPED: the plugin returned DF_TASK_SKIPPED (SPEC §10) */
        return to == DF_TS_SUCCESS || to == DF_TS_FAILED || to == DF_TS_UP_FOR_RETRY ||
               to == DF_TS_SKIPPED;
    case DF_TS_UP_FOR_RETRY:
        return to == DF_TS_QUEUED;
    case DF_TS_FAILED:
    case DF_TS_UPSTREAM_FAILED:
    case DF_TS_SKIPPED:
    case DF_TS_CANCELLED: /* SPEC §10: reopened by retry as failed tasks are */
        return to == DF_TS_PENDING && cause == DF_TC_RETRY_CMD;
    case DF_TS_SUCCESS:
        /* `retry --task ID` re-runs that task "whatever its state" (SPEC §6), which SPEC §3's
         * table does not list: allowed for the retry command only. */
        return to == DF_TS_PENDING && cause == DF_TC_RETRY_CMD;
    default:
        return false;
    }
}

bool df_task_state_failed(df_task_state s)
{
    /* SPEC §10: a CANCELLED task counts as failed for trigger rules. */
    return s == DF_TS_FAILED || s == DF_TS_UPSTREAM_FAILED || s == DF_TS_INVALID ||
           s == DF_TS_CANCELLED;
}
