/* schedule: a workflow's "schedule" object (SPEC §9) as a model, and the pure decisions the
 * `serve` loop takes with it: the next fire time after an instant (cron expressions read in an
 * IANA time zone with SPEC §9's DST rules, or interval_ms from an anchor; start_at and end_at),
 * the catch-up of fire times missed while no engine ran, and what a fire time becomes given the
 * runs in flight (max_active_runs, overlap).
 *
 * Nothing here does I/O (the zone is read once, when the schedule is loaded: tz.h), stores
 * anything or starts a run: the caller records each decision (schedule_history) with its run.
 * Times are milliseconds since the epoch (UTC); cron fire times fall on whole seconds.
 * A df_schedule is immutable once loaded: its functions are thread-safe. */
#ifndef DF_SCHEDULE_H
#define DF_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron.h"
#include "tz.h"

/* `catchup`: what happens to fire times missed while no `serve` ran. */
typedef enum df_catchup {
    DF_CATCHUP_LATEST = 0, /* only the most recent one runs (the default) */
    DF_CATCHUP_NONE,       /* all dropped */
    DF_CATCHUP_ALL,        /* every one runs, oldest first */
} df_catchup;

/* `overlap`: a fire time reached while max_active_runs runs are in flight. */
typedef enum df_overlap {
    DF_OVERLAP_SKIP = 0,       /* recorded skipped (the default) */
    DF_OVERLAP_QUEUE,          /* recorded queued, started oldest first when a place frees */
    DF_OVERLAP_CANCEL_RUNNING, /* cancels the oldest run in flight, starts once it has ended */
} df_overlap;

typedef struct df_schedule {
    df_cron *crons;    /* owned: the parsed `cron` expressions (none with interval_ms) */
    char **cron_texts; /* owned: each as written */
    size_t n_crons;
    int64_t interval_ms; /* >= 1000, or 0 for a cron schedule */
    df_tz *tz;           /* owned: `timezone` (UTC by default) */
    bool has_start, has_end;
    int64_t start_ms, end_ms; /* `start_at`, `end_at` */
    df_catchup catchup;
    int64_t max_active_runs; /* >= 1, default 1 */
    df_overlap overlap;
    json_t *params; /* owned reference: `params` (object, maybe empty) */
} df_schedule;

/* The names of the enums as the workflow file writes them ("latest", "cancel_running"). */
extern const char *const df_catchup_names[3];
extern const char *const df_overlap_names[3];

/* A new schedule with SPEC §9's defaults (no cron, no interval, UTC, catchup latest,
 * max_active_runs 1, overlap skip, params {}), or NULL when out of memory (or when the UTC zone
 * cannot be had). Free with df_schedule_free (NULL is fine). */
df_schedule *df_schedule_new(void);
void df_schedule_free(df_schedule *s);

/* Adds one cron expression (parsed with df_cron_parse). Returns 0, -1 with the parser's message
 * in err, DF_ENOMEM. */
int df_schedule_add_cron(df_schedule *s, const char *expr, char *err, size_t len);

/* The next fire time strictly after after_ms: the earliest over the cron expressions, or
 * anchor + k x interval_ms (k >= 1) where the anchor is start_at when set, else anchor_ms (the
 * first time a `serve` loaded the workflow: the caller's to store). None before start_at, none
 * after end_at. Returns 0 and sets *at_ms; DF_ENOTFOUND when there is no further fire time
 * (end_at passed, or none in the next 400 years). */
int df_schedule_next(const df_schedule *s, int64_t after_ms, int64_t anchor_ms, int64_t *at_ms);

/* One cron expression's next fire time strictly after instant `after` (seconds), at most
 * `limit`, in zone tz (SPEC §9): with an unrestricted hour field (starting with '*'), the real
 * instants whose wall-clock time matches (a time skipped by a forward change never occurs, a
 * repeated one fires at each occurrence); with a restricted hour field, the matching wall-clock
 * times skipped by one forward change fire once, together, at the first instant after the gap,
 * and a repeated one fires once, at its first occurrence. Returns true and sets *at. */
bool df_schedule_cron_next(const df_cron *c, const df_tz *tz, int64_t after, int64_t limit,
                           int64_t *at);

/* The date of instant t_ms in the schedule's zone (UTC when s is NULL) as `YYYY-MM-DD`, written
 * into buf (len >= 16): `${run.logical_date}` of SPEC §10. Returns buf. */
char *df_schedule_local_date(const df_schedule *s, int64_t t_ms, char *buf, size_t len);

/* What a fire time becomes; the names are schedule_history's `decision` (df_fire_decision). */
typedef enum df_fire_action {
    DF_FIRE_RUN = 0,       /* start a run now; record `run` with it */
    DF_FIRE_QUEUE,         /* record `queued`; start it, oldest first, when a place frees */
    DF_FIRE_SKIP,          /* record `skipped` (overlap skip) */
    DF_FIRE_DROP,          /* record `dropped` (catchup) */
    DF_FIRE_CANCEL_OLDEST, /* record `queued` and cancel the oldest run in flight not already
                              being cancelled; the fire time starts when a place frees */
} df_fire_action;

/* "run", "queued", "skipped", "dropped", "queued" (for DF_FIRE_CANCEL_OLDEST). */
const char *df_fire_decision(df_fire_action a);

/* Where a fire time to be run goes, given the workflow's non-final runs on the database
 * (`active`, every trigger counted, SPEC §9) and its fire times recorded queued and not yet
 * started (`queued`, which take free places first): DF_FIRE_RUN when a place is free; when none,
 * a catch-up fire time (catchup true) waits (DF_FIRE_QUEUE) whatever `overlap` says, and an
 * on-time one follows `overlap` (SKIP, QUEUE or CANCEL_OLDEST). */
df_fire_action df_schedule_place(const df_schedule *s, size_t active, size_t queued, bool catchup);

/* Whether the oldest queued fire time may start now, with `active` non-final runs. */
bool df_schedule_can_start_queued(const df_schedule *s, size_t active);

/* Where missed fire times start counting: after the last fire time decided (last_ms, when
 * has_last); else after the first load (first_load_ms) — nothing before a workflow's first load
 * counts as missed — unless start_at lies before it, then from start_at on. Exclusive bound. */
int64_t df_schedule_catchup_since(const df_schedule *s, bool has_last, int64_t last_ms,
                                  int64_t first_load_ms);

/* One missed fire time and its catch-up decision: DF_FIRE_DROP, or DF_FIRE_RUN (to be placed
 * with df_schedule_place(..., catchup = true)). */
typedef struct df_missed {
    int64_t at_ms;
    df_fire_action action;
} df_missed;

/* The fire times in (since_ms, now_ms], oldest first, at most max of them, each with its
 * `catchup` decision: none drops them all, latest runs only the most recent and drops the
 * others, all runs each one. Sets *n; *more is true when more were missed than returned (call
 * again with since_ms = the last at_ms returned: the decisions stay the same). anchor_ms as for
 * df_schedule_next. Returns 0. */
int df_schedule_missed(const df_schedule *s, int64_t since_ms, int64_t now_ms, int64_t anchor_ms,
                       df_missed *out, size_t max, size_t *n, bool *more);

#endif
