/* subworkflow: the built-in `workflow` plugin's attempts (SPEC §10), run by the engine itself —
 * each attempt starts a child run of the workflow file `file` (relative to the parent's folder)
 * in the same engine (same pool, pools, breakers and concurrency), with the parent's logical
 * time, trigger `workflow` and parent_run_id/parent_task_id, and waits for it without a pool
 * worker (its slot of the engine's concurrency given back: df_run_core_detach). When the child
 * ends, its result {"run_id", "state", "tasks": {ID: result}} comes back to the parent as an
 * attempt result through the engine's inbox: SUCCESS succeeds, FAILED (or INVALID) fails,
 * CANCELLED fails permanently. Cancelling the attempt (the parent cancelled or timed out, or the
 * task's own timeout) cancels the child; a stop interrupts both; an attempt after a resume takes
 * over the child that an earlier attempt left unfinished instead of starting another. At load
 * time, subworkflow_check.c loads every child file and refuses a workflow that runs itself. */
#include "runner.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "path.h"
#include "subworkflow.h"

bool df_subworkflow_task(const df_run *r, size_t ti)
{
    return strcmp(r->wf->tasks[ti].plugin, "workflow") == 0 && r->plugins[ti] &&
           strcmp(r->plugins[ti]->name, "workflow") == 0;
}

/* The run this engine holds with this id, or NULL. */
static df_run *find_run(df_engine *e, long long id)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (df_run_id(e->runs[i]) == id)
            return e->runs[i];
    return NULL;
}

/* errs' messages joined into err ("; "). */
static void join_errs(const df_errlist *errs, const char *prefix, char *err, size_t errlen)
{
    size_t n = (size_t)snprintf(err, errlen, "%s", prefix);
    for (size_t i = 0; i < errs->n && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? "; " : "", errs->msgs[i]);
}

/* The child an earlier attempt of this task left unfinished (a resumed parent), taken over:
 * 1 and *child set, 0 when there is none, -1 with err filled. */
static int adopt_unfinished(df_run *r, const char *task_id, df_run **child, char *err,
                            size_t errlen)
{
    df_engine *e = r->e;
    long long id = 0;
    df_run_state st;
    int rc = df_store_child_run(e->store, r->id, task_id, &id, &st);
    if (rc == DF_STORE_NOTFOUND ||
        (rc == DF_STORE_OK && st != DF_RS_RUNNING && st != DF_RS_INTERRUPTED))
        return 0;
    if (rc != DF_STORE_OK) {
        snprintf(err, errlen, "%s", df_store_error(e->store));
        return -1;
    }
    df_run *c = find_run(e, id);
    if (c && !df_run_ended(c)) {
        *child = c;
        return 1;
    }
    df_errlist errs = {0};
    rc = df_engine_start_stored(e, id, false, NULL, &errs);
    if (rc == 0 && (c = find_run(e, id)) != NULL) {
        df_errlist_clear(&errs);
        *child = c;
        return 1;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "resuming child run %lld: ", id);
    join_errs(&errs, prefix, err, errlen);
    df_errlist_clear(&errs);
    return -1;
}

/* The real path of the workflow file run r was started from, or NULL (a stored DAG, a file
 * gone). Free it. */
static char *run_file(const df_run *r)
{
    const char *p = r->wf->path;
    if (!p || strcmp(p, "<stored>") == 0)
        return NULL;
    const char *base = strrchr(p, '/');
    char *full = df_path_resolve(r->wf->dir, base ? base + 1 : p);
    char *real = full ? realpath(full, NULL) : NULL;
    free(full);
    return real;
}

/* Refuses a child of file path (resolved) under r when that file already runs in r or in a run
 * above it (its parent through a `workflow` task, and so on), or when the chain is as deep as
 * loading allows: a `file` given by a template (`${params.f}`) escapes the load-time check, and a
 * workflow running itself started child runs without end (3,437 in 30 s). Returns 0, or -1 with
 * err filled. */
static int check_ancestors(df_run *r, const char *path, char *err, size_t errlen)
{
    char *real = realpath(path, NULL);
    size_t depth = 0;
    int rc = 0;
    for (df_run *a = r; a && rc == 0; a = a->parent_rec ? a->parent_rec->run : NULL) {
        char *mine = real ? run_file(a) : NULL;
        if (mine && strcmp(mine, real) == 0) {
            snprintf(err, errlen,
                     "a workflow that runs itself: %s already runs as run %lld above this task "
                     "(SPEC §10; its `file` came from a template)",
                     real, a->id);
            rc = -1;
        } else if (++depth >= DF_SUBWORKFLOW_MAX_DEPTH) {
            snprintf(err, errlen,
                     "workflows nested too deep: %zu runs above this task (at most %d)", depth,
                     DF_SUBWORKFLOW_MAX_DEPTH);
            rc = -1;
        }
        free(mine);
    }
    free(real);
    return rc;
}

/* Starts a new child run of params' file. Returns 0 and sets *child, or -1 with err filled. */
static int start_child(df_run *r, const char *task_id, const json_t *params, df_run **child,
                       char *err, size_t errlen)
{
    df_engine *e = r->e;
    const char *file = json_string_value(json_object_get(params, "file"));
    char *path = df_path_resolve(r->wf->dir, file);
    df_errlist errs = {0};
    df_workflow *cwf = NULL;
    if (path && check_ancestors(r, path, err, errlen) != 0) {
        free(path);
        return -1;
    }
    /* Checked again: the file may have changed since the parent loaded (a run of itself would
     * start child runs without end). */
    if (!path || df_workflow_load_file(path, &cwf, &errs) != 0 ||
        df_subworkflow_check(cwf, &errs) != 0) {
        df_workflow_free(cwf);
        join_errs(&errs, "the child workflow does not load: ", err, errlen);
        if (!path)
            snprintf(err, errlen, "out of memory");
        df_errlist_clear(&errs);
        free(path);
        return -1;
    }
    free(path);
    df_run_options opts = {.params = json_object_get(params, "params"),
                           .trigger = DF_TRIGGER_WORKFLOW,
                           .logical_time = r->logical_time,
                           .parent_run_id = r->id,
                           .parent_task_id = task_id};
    long long id = 0;
    int rc = df_engine_start_loaded(e, cwf, &opts, &id, &errs); /* takes cwf */
    df_run *c = id > 0 ? find_run(e, id) : NULL;
    if (!c) {
        join_errs(&errs, "the child run did not start: ", err, errlen);
        if (errs.n == 0)
            snprintf(err, errlen, "the child run did not start: %s", df_strerror(rc));
        df_errlist_clear(&errs);
        return -1;
    }
    df_errlist_clear(&errs); /* an INVALID child's rejections: the child run's own */
    *child = c;
    return 0;
}

int df_subworkflow_submit(df_run *r, df_attempt_rec *rec, size_t unit, size_t ti, long long mi,
                          json_t *params, char *err, size_t errlen)
{
    const char *task_id = r->wf->tasks[ti].id;
    df_run *child = NULL;
    int rc = 0;
    /* A mapped instance's child is not told apart from its siblings' in the store: never
     * adopted. */
    if (mi < 0)
        rc = adopt_unfinished(r, task_id, &child, err, errlen);
    if (rc == 0)
        rc = start_child(r, task_id, params, &child, err, errlen) == 0 ? 1 : -1;
    json_decref(params);
    if (rc < 0)
        return -1;
    rec->child = child;
    child->parent_rec = rec;
    df_run_io(r, unit)->rec = rec;
    df_run_core_submitted(r->core, unit, true);
    df_run_core_detach(r->core, unit);
    return 0;
}

/* The child's result for its parent's attempt: {"run_id", "state", "tasks": {ID: result}}. */
static json_t *child_result(df_run *c)
{
    json_t *tasks = json_object();
    for (size_t i = 0; tasks && i < c->wf->n_tasks; i++) {
        const json_t *v = df_run_core_result(c->core, i);
        json_object_set_new(tasks, c->wf->tasks[i].id, v ? json_deep_copy(v) : json_null());
    }
    return json_pack("{s:I, s:s, s:o*}", "run_id", (json_int_t)c->id, "state",
                     df_run_state_name(df_run_final_state(c)), "tasks", tasks);
}

void df_subworkflow_ended(df_run *c)
{
    df_attempt_rec *rec = c->parent_rec;
    if (!rec)
        return;
    c->parent_rec = NULL;
    rec->child = NULL;
    if (rec->abandoned) /* recorded already (its grace period ran out) */
        return;
    df_job_result *res = calloc(1, sizeof *res);
    if (!res) {
        df_engine_fail(c->e, "out of memory");
        return;
    }
    df_run_state st = df_run_final_state(c);
    res->status = st == DF_RS_SUCCESS     ? DF_TASK_OK
                  : st == DF_RS_CANCELLED ? DF_TASK_FAILED_PERMANENT
                                          : DF_TASK_FAILED;
    res->result = child_result(c);
    if (st != DF_RS_SUCCESS) {
        char msg[128];
        snprintf(msg, sizeof msg, "child run %lld ended %s", c->id, df_run_state_name(st));
        res->error = strdup(msg);
    }
    res->started_mono_ms = res->ended_mono_ms = df_mono_ms();
    res->user = rec;
    df_engine_post_result(c->e, res);
}

void df_subworkflow_cancel(df_attempt_rec *rec)
{
    df_run *c = rec->child;
    df_engine *e = rec->run->e;
    /* A stop interrupts every run of the engine, the child included, on its own. */
    if (!c || e->stopping || df_run_ended(c))
        return;
    char reason[160];
    long long mi;
    size_t ti = df_run_core_unit_task(rec->run->core, rec->task, &mi);
    snprintf(reason, sizeof reason, "its parent run %lld (task \"%s\") was cancelled", rec->run->id,
             rec->run->wf->tasks[ti].id);
    df_engine_cancel_run(e, c->id, reason);
}

void df_subworkflow_cancel_orphans(df_run *r, const char *reason)
{
    df_engine *e = r->e;
    char why[200];
    snprintf(why, sizeof why, "its parent run %lld was cancelled", r->id);
    (void)reason;
    for (size_t i = 0; i < r->wf->n_tasks && !e->fatal; i++) {
        if (!df_subworkflow_task(r, i))
            continue;
        long long id = 0;
        df_run_state st;
        if (df_store_child_run(e->store, r->id, r->wf->tasks[i].id, &id, &st) != DF_STORE_OK ||
            (st != DF_RS_RUNNING && st != DF_RS_INTERRUPTED))
            continue;
        df_run *c = find_run(e, id);
        if (c && !df_run_ended(c)) {
            df_engine_cancel_run(e, id, why);
            continue;
        }
        /* No engine runs it: the request is stored, and this engine takes the child over, which
         * cancels it (a live engine elsewhere refuses, and acts on the request itself). */
        df_run_state now;
        if (df_store_cancel_request(e->store, id, why, df_now_ms(), &now) != DF_STORE_OK)
            continue;
        df_errlist errs = {0};
        df_engine_start_stored(e, id, false, NULL, &errs);
        df_errlist_clear(&errs);
    }
}
