/* model: the name tables of model.h's enums and their lookups. Pure, thread-safe. */
#include "model.h"

#include <string.h>

static const char *const task_names[DF_TS__COUNT] = {
    "PENDING", "QUEUED",          "RUNNING", "UP_FOR_RETRY", "SUCCESS",
    "FAILED",  "UPSTREAM_FAILED", "SKIPPED", "INVALID",      "CANCELLED",
};
static const char *const run_names[DF_RS__COUNT] = {"RUNNING", "SUCCESS",     "FAILED",
                                                    "INVALID", "INTERRUPTED", "CANCELLED"};
static const char *const outcome_names[DF_AO__COUNT] = {
    "RUNNING", "SUCCESS", "FAILED", "TIMED_OUT", "CANCELLED", "LOST", "SKIPPED"};
const char *const df_trigger_rule_names[DF_TR__COUNT] = {
    "all_success",  "all_failed",  "all_done",
    "all_skipped",  "one_success", "one_failed",
    "one_done",     "none_failed", "none_failed_min_one_success",
    "none_skipped", "always",
};
static const char *const run_trigger_names[DF_TRIGGER__COUNT] = {"manual", "schedule", "api",
                                                                 "workflow"};
static const char *const alert_names[DF_ALERT__COUNT] = {"pending", "delivered", "failed"};
static const char *const breaker_names[DF_BREAKER__COUNT] = {"CLOSED", "OPEN", "HALF_OPEN"};

static const char *name_of(const char *const *names, unsigned n, unsigned v)
{
    return v < n ? names[v] : "?";
}

/* Index of name in names (n entries), or -1. */
static int index_of(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *df_task_state_name(df_task_state s)
{
    return name_of(task_names, DF_TS__COUNT, (unsigned)s);
}

const char *df_run_state_name(df_run_state s)
{
    return name_of(run_names, DF_RS__COUNT, (unsigned)s);
}

const char *df_run_trigger_name(df_run_trigger t)
{
    return name_of(run_trigger_names, DF_TRIGGER__COUNT, (unsigned)t);
}

int df_run_trigger_parse(const char *name, df_run_trigger *out)
{
    int i = index_of(run_trigger_names, DF_TRIGGER__COUNT, name);
    if (i < 0)
        return DF_EINPUT;
    *out = (df_run_trigger)i;
    return 0;
}

const char *df_attempt_outcome_name(df_attempt_outcome o)
{
    return name_of(outcome_names, DF_AO__COUNT, (unsigned)o);
}

const char *df_trigger_rule_name(df_trigger_rule r)
{
    return name_of(df_trigger_rule_names, DF_TR__COUNT, (unsigned)r);
}

const char *df_alert_status_name(df_alert_status s)
{
    return name_of(alert_names, DF_ALERT__COUNT, (unsigned)s);
}

const char *df_breaker_state_name(df_breaker_state s)
{
    return name_of(breaker_names, DF_BREAKER__COUNT, (unsigned)s);
}

/* Each parser: the index of name in its table, stored in *out as the enum. */
#define DEFINE_PARSE(fn, type, names, count)                                                       \
    int fn(const char *name, type *out)                                                            \
    {                                                                                              \
        int i = index_of(names, count, name);                                                      \
        if (i < 0)                                                                                 \
            return -1;                                                                             \
        *out = (type)i;                                                                            \
        return 0;                                                                                  \
    }

DEFINE_PARSE(df_task_state_parse, df_task_state, task_names, DF_TS__COUNT)
DEFINE_PARSE(df_run_state_parse, df_run_state, run_names, DF_RS__COUNT)
DEFINE_PARSE(df_attempt_outcome_parse, df_attempt_outcome, outcome_names, DF_AO__COUNT)
DEFINE_PARSE(df_trigger_rule_parse, df_trigger_rule, df_trigger_rule_names, DF_TR__COUNT)
DEFINE_PARSE(df_alert_status_parse, df_alert_status, alert_names, DF_ALERT__COUNT)
DEFINE_PARSE(df_breaker_state_parse, df_breaker_state, breaker_names, DF_BREAKER__COUNT)

bool df_task_state_final(df_task_state s)
{
    return s == DF_TS_SUCCESS || s == DF_TS_FAILED || s == DF_TS_UPSTREAM_FAILED ||
           s == DF_TS_SKIPPED || s == DF_TS_INVALID || s == DF_TS_CANCELLED;
}
