/* engine_admission: resource-aware admission in the engine (issue 10; `--max-memory`,
 * `--max-load`): samples every DF_ADMISSION_MS while the loop's handles are open (admission.c
 * decides), holds dispatch while paused (engine.c's tick asks df_engine_admission_paused), holds
 * the pool's growth over the soft threshold, and records each pause: the engine's
 * admission_paused metric, one notice event (run_id 0) when a pause begins and one when it ends,
 * and, in the store, each run live at the time gets the pause in its runs.metrics "admission"
 * object (written in the group commit when the pause begins and ends, and with the run's end):
 *   {"pauses": 2, "paused_ms": 3100,
 *    "events": [{"paused_at": "2026-12-07T19:30:00.250Z", "resumed_at": "...Z" or null,
 *                "ms": 1250 or null, "reason": "load 3.10 per core over --max-load 2"}, ...]}
 * ("events" keeps the first DF_ADMISSION_EVENTS_MAX; "pauses" and "paused_ms" count every one).
 * Engine thread only. */
#include "admission.h"
#include "clock.h"
#include "runner.h"

#include <stdio.h>

#define DF_ADMISSION_EVENTS_MAX 100

void df_engine_set_admission_probe(df_engine *e, df_admission_probe_fn probe, void *ud)
{
    e->admission.probe = probe;
    e->admission.probe_ud = ud;
}

bool df_engine_admission_paused(const df_engine *e)
{
    return e->admission.paused;
}

/* The run's "admission" object (created on first use), or NULL out of memory. */
static json_t *run_record(df_run *r)
{
    if (!r->admission)
        r->admission = json_pack("{s:i, s:i, s:[]}", "pauses", 0, "paused_ms", 0, "events");
    return r->admission;
}

/* Notes that the pause holds r from at (ms) on: a new event in its record. */
static void note_start(df_engine *e, df_run *r, int64_t at)
{
    json_t *rec = run_record(r);
    if (!rec)
        return;
    r->admission_since = at;
    json_t *events = json_object_get(rec, "events");
    char buf[40];
    json_object_set_new(rec, "pauses",
                        json_integer(json_integer_value(json_object_get(rec, "pauses")) + 1));
    if (json_array_size(events) < DF_ADMISSION_EVENTS_MAX)
        json_array_append_new(events, json_pack("{s:s, s:n, s:n, s:s}", "paused_at",
                                                df_iso8601(at, buf, sizeof buf), "resumed_at", "ms",
                                                "reason", e->admission.reason));
}

/* Notes that the pause no longer holds r (resumed, or r ended) at now (ms). */
static void note_end(df_run *r, int64_t now)
{
    json_t *rec = r->admission;
    if (!rec || !r->admission_since)
        return;
    int64_t ms = now > r->admission_since ? now - r->admission_since : 0;
    r->admission_since = 0;
    json_object_set_new(rec, "paused_ms",
                        json_integer(json_integer_value(json_object_get(rec, "paused_ms")) + ms));
    json_t *events = json_object_get(rec, "events");
    json_t *last = json_array_get(events, json_array_size(events) - 1);
    char buf[40];
    if (last && json_is_null(json_object_get(last, "resumed_at"))) {
        json_object_set_new(last, "resumed_at", json_string(df_iso8601(now, buf, sizeof buf)));
        json_object_set_new(last, "ms", json_integer(ms));
    }
}

/* Writes r's record into the open transaction (the run's end writes it with its metrics). */
static void write_run(df_engine *e, df_run *r)
{
    if (!r->admission || df_engine_tx(e) != 0)
        return;
    json_t *m = json_pack("{s:O}", "admission", r->admission);
    if (m && df_store_run_set_metrics(e->store, r->id, m) != DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    json_decref(m);
}

void df_engine_admission_hold(df_engine *e)
{
    int64_t now = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        df_run *r = e->runs[i];
        if (df_run_ended(r) || r->admission_since)
            continue;
        note_start(e, r, now ? now : (now = df_now_ms()));
        write_run(e, r);
    }
}

/* A pause began or ended: the runs' records, the notice, the metric. */
static void admission_changed(df_engine *e, int change, int64_t now)
{
    bool resumed = change == DF_ADMISSION_RESUMED;
    for (size_t i = 0; i < e->n_runs; i++) {
        df_run *r = e->runs[i];
        if (df_run_ended(r) || (resumed && !r->admission_since))
            continue;
        if (resumed)
            note_end(r, now);
        else
            note_start(e, r, e->admission.paused_at_ms);
        write_run(e, r);
    }
    char msg[320];
    if (resumed)
        snprintf(msg, sizeof msg, "admission resumed after %.1f s: new attempts start again",
                 (double)(now - e->admission.paused_at_ms) / 1000.0);
    else
        snprintf(msg, sizeof msg, "admission paused: %s; no new attempt starts until it falls back",
                 e->admission.reason);
    df_engine_event ev = {.notice = msg};
    df_engine_emit(e, &ev);
    atomic_store(&e->metrics.admission_paused, e->admission.paused);
    df_engine_wake(e); /* commits the records; after a resume, dispatches */
}

/* Takes a sample and acts on the decision. */
static void admission_check(df_engine *e)
{
    int64_t now = df_now_ms();
    int change = df_admission_check(&e->admission, now);
    if (e->pool)
        df_pool_hold_growth(e->pool, e->admission.soft);
    if (change != DF_ADMISSION_SAME)
        admission_changed(e, change, now);
}

static void on_admission_timer(uv_timer_t *h)
{
    admission_check(h->data);
}

void df_engine_admission_open(df_engine *e)
{
    if (!df_admission_enabled(&e->admission))
        return;
    if (e->admission.probe == df_admission_probe_system)
        e->admission.probe_ud = e->pool; /* its children are the engine's task processes */
    uv_timer_init(&e->loop, &e->admission_timer);
    e->admission_timer.data = e;
    uv_timer_start(&e->admission_timer, on_admission_timer, DF_ADMISSION_MS, DF_ADMISSION_MS);
    uv_unref((uv_handle_t *)&e->admission_timer);
    e->admission_open = true;
    admission_check(e); /* before the first dispatch */
}

void df_engine_admission_close(df_engine *e)
{
    if (!e->admission_open)
        return;
    e->admission_open = false;
    uv_close((uv_handle_t *)&e->admission_timer, NULL);
}

void df_engine_admission_run_end(df_run *r, json_t *metrics)
{
    if (!r->admission || !metrics)
        return;
    note_end(r, df_now_ms()); /* ends during a pause: the pause so far */
    json_object_set(metrics, "admission", r->admission);
}
