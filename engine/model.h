/* model: the vocabulary the engine and the store share — task instance, run and attempt states,
 * trigger rules, alert delivery status and circuit breaker state as enums, their names, and the
 * heartbeat staleness limit. No logic (the transition table is state.c's) and no include of any
 * other engine or store header (only the public dagflow.h), so that store/ can use it without
 * depending on the engine.
 * Every function here is pure and thread-safe. */
#ifndef DF_MODEL_H
#define DF_MODEL_H

#include <stdbool.h>

/* How old (ms) the heartbeat of a RUNNING run's engine may be before that engine counts as dead:
 * the run shows as INTERRUPTED, `resume` may take it over, and the engine that wakes up after
 * such a pause finds the run taken (SPEC §6, README "Durability"). The run_history view of
 * store/sqlite/schema.sql and 002_check_lists.sql must keep the literal 30000 (a released
 * migration never changes, and a view cannot read a C constant); tests/unit/test_store_schema.c
 * checks that the view and this constant agree. */
#define DF_HEARTBEAT_STALE_MS 30000

/* Task instance states (df_task_state) and run states (df_run_state) of SPEC §3 are declared by
 * the public embedding API, which returns them; it is a public header (jansson and the system's
 * only), so the store still depends on no engine header. The numeric values are not stored
 * anywhere (the store keeps the names). */
#include <dagflow/dagflow.h>

/* Outcome of one attempt (the attempt_history view's "outcome"). */
typedef enum df_attempt_outcome {
    DF_AO_RUNNING = 0, /* still open: no outcome yet */
    DF_AO_SUCCESS,
    DF_AO_FAILED,
    DF_AO_TIMED_OUT,
    DF_AO_CANCELLED,
    DF_AO_LOST,
    DF_AO_SKIPPED, /* the plugin returned DF_TASK_SKIPPED (SPEC §10) */
    DF_AO__COUNT
} df_attempt_outcome;

/* Trigger rules as in Airflow (SPEC §3). */
typedef enum df_trigger_rule {
    DF_TR_ALL_SUCCESS = 0,
    DF_TR_ALL_FAILED,
    DF_TR_ALL_DONE,
    DF_TR_ALL_SKIPPED,
    DF_TR_ONE_SUCCESS,
    DF_TR_ONE_FAILED,
    DF_TR_ONE_DONE,
    DF_TR_NONE_FAILED,
    DF_TR_NONE_FAILED_MIN_ONE_SUCCESS,
    DF_TR_NONE_SKIPPED,
    DF_TR_ALWAYS,
    DF_TR__COUNT
} df_trigger_rule;

/* Delivery status of one alert (SPEC §5; the alert_history view's "status"). */
typedef enum df_alert_status {
    DF_ALERT_PENDING = 0, /* not delivered yet; another try follows (or `resume` delivers it) */
    DF_ALERT_DELIVERED,
    DF_ALERT_FAILED, /* every try failed */
    DF_ALERT__COUNT
} df_alert_status;

/* Circuit breaker states (SPEC §3a; the breaker_history view's from_state/to_state). */
typedef enum df_breaker_state {
    DF_BREAKER_CLOSED = 0,
    DF_BREAKER_OPEN,
    DF_BREAKER_HALF_OPEN,
    DF_BREAKER__COUNT
} df_breaker_state;

/* Names as SPEC and the views spell them: "UP_FOR_RETRY", "INTERRUPTED", "TIMED_OUT",
 * "all_success", "delivered", "HALF_OPEN". Static strings; "?" for a value out of range. */
const char *df_task_state_name(df_task_state s);
const char *df_run_state_name(df_run_state s);
const char *df_attempt_outcome_name(df_attempt_outcome o);
const char *df_trigger_rule_name(df_trigger_rule r);
const char *df_alert_status_name(df_alert_status s);
const char *df_breaker_state_name(df_breaker_state s);

/* Parses a name back (exact, case-sensitive). Returns 0 and sets *out, or -1 for an unknown name
 * or NULL (*out untouched). */
int df_task_state_parse(const char *name, df_task_state *out);
int df_run_state_parse(const char *name, df_run_state *out);
int df_attempt_outcome_parse(const char *name, df_attempt_outcome *out);
int df_trigger_rule_parse(const char *name, df_trigger_rule *out);
int df_alert_status_parse(const char *name, df_alert_status *out);
int df_breaker_state_parse(const char *name, df_breaker_state *out);

/* The trigger rule names in enum order (for "did you mean" suggestions). */
extern const char *const df_trigger_rule_names[DF_TR__COUNT];

/* True for the final task states: SUCCESS, FAILED, UPSTREAM_FAILED, SKIPPED, INVALID, CANCELLED (a
 * property of the state itself; which changes lead there is state.c's table). */
bool df_task_state_final(df_task_state s);

#endif
