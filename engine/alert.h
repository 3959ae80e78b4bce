/* alert: the alert payload, which sinks want which events, the outbox, and delivery with retries
 * (SPEC §5). The engine writes every alert to the store first (df_store_alert_add, in its open
 * transaction), queues it in this module's outbox, and flushes the outbox once the transaction has
 * committed; each try's outcome comes back through a callback so the engine records it. This
 * module never touches the store. Runs on the engine's event loop. */
#ifndef DF_ALERT_H
#define DF_ALERT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "model.h"

/* Tries per alert (the first try and two retries, 500 ms then 1000 ms apart). */
#define DF_ALERT_MAX_TRIES 3
/* Delay before try k+1 after try k failed: DF_ALERT_BACKOFF_MS << (k - 1), 500 ms then 1000 ms. */
#define DF_ALERT_BACKOFF_MS 500

/* Bytes of an error kept in an alert (its JSON and DAGFLOW_ERROR); longer ones are cut. */
#define DF_ALERT_ERROR_MAX 4096

typedef struct df_alerts df_alerts;

/* Outcome of one delivery try: status DF_ALERT_DELIVERED, DF_ALERT_PENDING (another try follows)
 * or DF_ALERT_FAILED (no tries left); tries counts every try so far; delivered_at in ms (0 unless
 * delivered); error (borrowed) or NULL; the sink and the alert JSON text (borrowed), to say which
 * alert went where. Called on the loop's thread. */
typedef void (*df_alert_outcome_fn)(void *ud, long long alert_id, df_alert_status status, int tries,
                                    int64_t delivered_at, const char *error, const json_t *sink,
                                    const char *payload);

/* Creates a deliverer on loop. Returns NULL on allocation failure. */
df_alerts *df_alerts_new(uv_loop_t *loop, df_alert_outcome_fn fn, void *ud);

/* Starts delivering one alert, asynchronously. sink is the sink object from the workflow
 * (borrowed, must outlive the delivery: the workflow's document keeps it), and so are env (the
 * workflow's "env" object, or NULL) and passthrough (its "env_passthrough", NULL-terminated, or
 * NULL), which a command sink's environment gets (SPEC §8, §12); base_dir resolves
 * relative paths (borrowed, copied); payload is the alert JSON text (copied); tries_done counts
 * tries made before (resume). Returns 0, or -1 on allocation failure. */
int df_alerts_deliver(df_alerts *a, long long alert_id, const json_t *sink, const char *base_dir,
                      const char *payload, int tries_done, const json_t *env,
                      const char *const *passthrough);

/* The outbox (the engine's transactional outbox): queues one alert the engine has just written to
 * the store in its open transaction, to be delivered by df_alerts_flush once that transaction has
 * committed, so that no alert goes out whose record could still roll back. Arguments as
 * df_alerts_deliver's (sink, env, passthrough borrowed; base_dir, payload copied). Returns 0, or
 * -1 on allocation failure. */
int df_alerts_queue(df_alerts *a, long long alert_id, const json_t *sink, const char *base_dir,
                    const char *payload, int tries_done, const json_t *env,
                    const char *const *passthrough);

/* Starts delivering every queued alert, in order (call after the commit). Returns 0, or -1 when
 * one could not start (out of memory; the others still do, and the record stays "pending"). */
int df_alerts_flush(df_alerts *a);

/* Forgets every alert waiting in the outbox without delivering it: the transaction that recorded
 * them was lost (never committed), so their rows do not exist. */
void df_alerts_drop_queued(df_alerts *a);

/* True while alerts wait in the outbox. */
bool df_alerts_queued(const df_alerts *a);

/* Names and fnmatch patterns of the engine's environment that every command sink gets beyond
 * the base environment (proc.h), NULL-terminated, or NULL. Borrowed: must outlive a. */
void df_alerts_set_pass_env(df_alerts *a, const char *const *pass_env);

/* Deliveries not finished yet (including ones waiting for their next try). */
size_t df_alerts_busy(const df_alerts *a);

/* Closes the deliverer's handles (alerts still in the outbox are dropped) and frees it once the
 * loop has run them down (call uv_run afterwards). Deliveries still busy are dropped (they stay
 * "pending" in the store and are delivered on resume). NULL is fine. */
void df_alerts_close(df_alerts *a);

/* The alert JSON (SPEC §5) as a new object: {"event", "run_id", "workflow", "task_id" (null for
 * run events), "state", "error" (or null), "attempt" (or null), "at" (ISO-8601 UTC)}. */
json_t *df_alert_payload(const char *event, long long run_id, const char *workflow,
                         const char *task_id, const char *state, const char *error,
                         unsigned attempt, int64_t at_ms);

/* True when the sink subscribes to event: its "on" list, or task_failed and run_failed when it
 * has none (SPEC §5). */
bool df_alert_sink_wants(const json_t *sink, const char *event);

/* A short description of a sink for alert_history.sink ("command:./notify.sh",
 * "file:alerts.jsonl", "webhook:http://..."). New malloc'd string, or NULL. */
char *df_alert_sink_describe(const json_t *sink);

#endif
