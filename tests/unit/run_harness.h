/* run_harness: the unit tests' driver of the run core (engine/run.c): a workflow loaded from
 * JSON, a core over it, every effect drained and kept, and helpers that feed results and timers
 * as the shell would. Included by test_run_core.c and test_run_expr.c (static helpers: one copy
 * per test program). No processes, no files, no clock. */
#ifndef DF_RUN_HARNESS_H
#define DF_RUN_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/run.h"

#define TASK_OK 0 /* DF_TASK_OK etc., without including the plugin header */
#define TASK_FAILED 1
#define TASK_PERMANENT 2

/* ---- the harness ---- */

typedef struct harness {
    df_workflow *wf;
    df_run_core *c;
    df_run_limits limits;
    df_slot_pool *pool_store;
    df_slot_pool **pools;
    df_breaker **breakers;
    df_run_clock clk;
    df_effect fx[4096]; /* every effect drained so far */
    size_t n_fx;
    size_t mark; /* effects before this index are "old" for the find helpers */
    double rnd;
} harness;

static inline double fixed_random(void *ud)
{
    return ((harness *)ud)->rnd;
}

/* A core over json's workflow with the run params given (borrowed; NULL for none). */
static inline harness *h_new_params(const char *json, size_t concurrency, const json_t *params);

static inline harness *h_new(const char *json, size_t concurrency)
{
    return h_new_params(json, concurrency, NULL);
}

static inline harness *h_new_params(const char *json, size_t concurrency, const json_t *params)
{
    harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    if (!doc)
        fail_msg("bad test JSON: %s", jerr.text);
    df_errlist errs = {0};
    int rc = df_workflow_load_json(doc, "t.json", "/", &h->wf, &errs);
    if (rc != 0)
        fail_msg("workflow: %s", errs.n ? errs.msgs[0] : "?");
    json_decref(doc);
    df_errlist_clear(&errs);
    h->limits.concurrency = concurrency;
    size_t np = h->wf->n_pools, nb = h->wf->n_breakers;
    h->pool_store = calloc(np + 1, sizeof *h->pool_store);
    h->pools = calloc(np + 1, sizeof *h->pools);
    h->breakers = calloc(nb + 1, sizeof *h->breakers);
    for (size_t k = 0; k < np; k++) {
        h->pool_store[k].name = h->wf->pools[k].name;
        h->pool_store[k].slots = h->wf->pools[k].slots;
        h->pools[k] = &h->pool_store[k];
    }
    for (size_t k = 0; k < nb; k++)
        h->breakers[k] = df_breaker_new(&h->wf->breakers[k]);
    h->clk = (df_run_clock){.now_ms = 1000000, .mono_ms = 5000};
    h->rnd = 0.5;
    df_run_core_config cfg = {.run_id = 7,
                              .wf = h->wf,
                              .limits = &h->limits,
                              .pools = h->pools,
                              .breakers = h->breakers,
                              .random = fixed_random,
                              .random_ud = h,
                              .params = params};
    h->c = df_run_core_new(&cfg);
    assert_non_null(h->c);
    return h;
}

static inline void h_free(harness *h)
{
    for (size_t k = 0; k < h->n_fx; k++)
        df_effect_clear(&h->fx[k]);
    df_run_core_free(h->c);
    for (size_t k = 0; k < h->wf->n_breakers; k++)
        df_breaker_free(h->breakers[k]);
    free(h->breakers);
    free(h->pools);
    free(h->pool_store);
    df_workflow_free(h->wf);
    free(h);
}

/* Drains the core's effects into h->fx. Returns how many came. */
static inline size_t drain(harness *h)
{
    size_t n = 0;
    while (h->n_fx < sizeof h->fx / sizeof h->fx[0] && df_run_core_next(h->c, &h->fx[h->n_fx])) {
        assert_int_not_equal(h->fx[h->n_fx].kind, DF_FX_FATAL);
        h->n_fx++;
        n++;
    }
    return n;
}

static inline size_t task(harness *h, const char *id)
{
    long i = df_workflow_find_task(h->wf, id);
    assert_true(i >= 0);
    return (size_t)i;
}

static inline df_task_state state(harness *h, const char *id)
{
    return df_run_core_task_state(h->c, task(h, id));
}

/* The first effect of this kind about task (or any task with DF_RUN_NO_TASK + 1) since the
 * mark, or NULL. */
#define ANY_TASK ((size_t)-2)
static inline df_effect *find(harness *h, df_effect_kind kind, size_t t)
{
    for (size_t k = h->mark; k < h->n_fx; k++)
        if (h->fx[k].kind == kind && (t == ANY_TASK || h->fx[k].task == t))
            return &h->fx[k];
    return NULL;
}

static inline size_t count(harness *h, df_effect_kind kind)
{
    size_t n = 0;
    for (size_t k = h->mark; k < h->n_fx; k++)
        n += h->fx[k].kind == kind;
    return n;
}

static inline void mark(harness *h)
{
    drain(h);
    h->mark = h->n_fx;
}

/* Evaluates and dispatches everything, then hands every attempt asked for to the pool. */
static inline void step(harness *h)
{
    df_run_core_evaluate(h->c, SIZE_MAX, &h->clk);
    df_run_core_dispatch(h->c, SIZE_MAX, &h->clk);
    size_t from = h->n_fx;
    drain(h);
    for (size_t k = from; k < h->n_fx; k++)
        if (h->fx[k].kind == DF_FX_SUBMIT &&
            df_run_core_wants_submit(h->c, h->fx[k].task, h->fx[k].attempt))
            df_run_core_submitted(h->c, h->fx[k].task, true);
    drain(h);
}

static inline void start(harness *h)
{
    df_run_core_start(h->c);
    step(h);
}

static inline void result(harness *h, const char *id, int status, const char *error)
{
    size_t i = task(h, id);
    json_t *res = status == TASK_OK ? json_pack("{s:s}", "out", id) : NULL;
    df_run_core_result_in(h->c, i, df_run_core_task_attempt(h->c, i), status, res, error, NULL,
                          &h->clk);
    json_decref(res);
    drain(h);
}

/* Ends the run when it can, recording its end as the shell would. */
static inline bool end(harness *h)
{
    df_run_core_check_end(h->c, &h->clk);
    drain(h);
    if (find(h, DF_FX_RUN_END, DF_RUN_NO_TASK))
        df_run_core_end_recorded(h->c);
    drain(h);
    return df_run_core_ended(h->c);
}

#endif
