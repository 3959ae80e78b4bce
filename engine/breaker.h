/* breaker: the circuit breaker state machine of SPEC §3a (as resilience4j's count-based breaker):
 * CLOSED keeps the outcomes of the last `window` attempts; once it holds at least `min_calls` and
 * the share of failures is >= `failure_rate` it OPENs for `open_ms`; then HALF_OPEN lets exactly
 * one probe attempt through, whose success CLOSEs it (outcomes forgotten) and whose failure OPENs
 * it again. Pure logic with a caller-given monotonic clock: the engine records the changes and
 * raises the alerts. Not thread-safe (engine thread only). */
#ifndef DF_BREAKER_H
#define DF_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h" /* df_breaker_state and its names */
#include "workflow.h"

typedef struct df_breaker {
    char *name;          /* owned */
    df_breaker_def cfg;  /* settings (cfg.name borrowed from name) */
    unsigned char *ring; /* owned: last `window` outcomes, 1 = failure */
    size_t count;        /* outcomes held (<= window) */
    size_t pos;          /* next slot to write */
    size_t failures;     /* failures among the held outcomes */
    df_breaker_state state;
    uint64_t open_until; /* OPEN: monotonic ms when it turns HALF_OPEN */
    bool probe_out;      /* HALF_OPEN: the probe attempt is running */
} df_breaker;

/* A change of state, for the caller to record. */
typedef struct df_breaker_change {
    df_breaker_state from, to;
    double failure_rate; /* over `calls` outcomes at the moment of the change */
    size_t calls;
} df_breaker_change;

/* A new CLOSED breaker with def's settings (copied). NULL on allocation failure. */
df_breaker *df_breaker_new(const df_breaker_def *def);
void df_breaker_free(df_breaker *b);

/* May an attempt start at monotonic time now (ms)? CLOSED: yes. OPEN: no, until open_until, when
 * it turns HALF_OPEN (reported in *change, returns true for that first attempt, the probe).
 * HALF_OPEN: yes only when no probe is out (that attempt becomes the probe). *probe is set when
 * the allowed attempt is the probe. *change->from == *change->to when nothing changed. */
bool df_breaker_allow(df_breaker *b, uint64_t now, bool *probe, df_breaker_change *change);

/* Records an attempt's outcome (failed: FAILED or TIMED_OUT). probe: it was the HALF_OPEN probe.
 * Outcomes of attempts that started before the breaker opened are ignored while it is not
 * CLOSED. Returns true when the state changed (details in *change). */
bool df_breaker_record(df_breaker *b, bool failed, bool probe, uint64_t now,
                       df_breaker_change *change);

/* The probe ended without an outcome (cancelled, lost): the next attempt may probe instead. */
void df_breaker_probe_aborted(df_breaker *b);

#endif
