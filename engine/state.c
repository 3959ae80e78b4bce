/* state: names and the single transition table of SPEC §3. */
#include "state.h"

#include <string.h>

static const char *const task_names[DF_TS__COUNT] = {
    "PENDING", "QUEUED",          "RUNNING", "UP_FOR_RETRY", "SUCCESS",
    "FAILED",  "UPSTREAM_FAILED", "SKIPPED", "INVALID",
};
static const char *const run_names[DF_RS__COUNT] = {"RUNNING", "SUCCESS", "FAILED", "INVALID",
                                                    "INTERRUPTED"};
static const char *const outcome_names[DF_AO__COUNT] = {"RUNNING",   "SUCCESS",   "FAILED",
                                                        "TIMED_OUT", "CANCELLED", "LOST"};

const char *df_task_state_name(df_task_state s)
{
    return (unsigned)s < DF_TS__COUNT ? task_names[s] : "?";
}

const char *df_run_state_name(df_run_state s)
{
    return (unsigned)s < DF_RS__COUNT ? run_names[s] : "?";
}

const char *df_attempt_outcome_name(df_attempt_outcome o)
{
    return (unsigned)o < DF_AO__COUNT ? outcome_names[o] : "?";
}

static int parse(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int df_task_state_parse(const char *name, df_task_state *out)
{
    int i = parse(task_names, DF_TS__COUNT, name);
    if (i < 0)
        return -1;
    *out = (df_task_state)i;
    return 0;
}

int df_run_state_parse(const char *name, df_run_state *out)
{
    int i = parse(run_names, DF_RS__COUNT, name);
    if (i < 0)
        return -1;
    *out = (df_run_state)i;
    return 0;
}

int df_attempt_outcome_parse(const char *name, df_attempt_outcome *out)
{
    int i = parse(outcome_names, DF_AO__COUNT, name);
    if (i < 0)
        return -1;
    *out = (df_attempt_outcome)i;
    return 0;
}

bool df_transition_allowed(df_task_state from, df_task_state to, df_transition_cause cause)
{
    switch (from) {
    case DF_TS_PENDING:
        if (to == DF_TS_INVALID)
            return cause == DF_TC_CREATE;
        return to == DF_TS_QUEUED || to == DF_TS_UPSTREAM_FAILED || to == DF_TS_SKIPPED;
    case DF_TS_QUEUED:
        if (to == DF_TS_PENDING)
            return cause == DF_TC_RECOVER;
        return to == DF_TS_RUNNING;
    case DF_TS_RUNNING:
        if (to == DF_TS_QUEUED)
            return cause == DF_TC_RECOVER;
        return to == DF_TS_SUCCESS || to == DF_TS_FAILED || to == DF_TS_UP_FOR_RETRY;
    case DF_TS_UP_FOR_RETRY:
        return to == DF_TS_QUEUED;
    case DF_TS_FAILED:
    case DF_TS_UPSTREAM_FAILED:
    case DF_TS_SKIPPED:
        return to == DF_TS_PENDING && cause == DF_TC_RETRY_CMD;
    case DF_TS_SUCCESS:
        /* `retry --task ID` re-runs that task "whatever its state" (SPEC §6), which SPEC §3's
         * table does not list: allowed for the retry command only. */
        return to == DF_TS_PENDING && cause == DF_TC_RETRY_CMD;
    default:
        return false;
    }
}

bool df_task_state_final(df_task_state s)
{
    return s == DF_TS_SUCCESS || s == DF_TS_FAILED || s == DF_TS_UPSTREAM_FAILED ||
           s == DF_TS_SKIPPED || s == DF_TS_INVALID;
}

bool df_task_state_failed(df_task_state s)
{
    return s == DF_TS_FAILED || s == DF_TS_UPSTREAM_FAILED || s == DF_TS_INVALID;
}
