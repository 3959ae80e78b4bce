/* api: the calls of the embedding API (include/dagflow/dagflow.h) that are thin layers over the
 * engine: the error texts, workflows loaded for the caller, starting and waiting for runs (over
 * engine.c and launch.c), checking a workflow file, listing plugins, and reading the history
 * (status, summary, history: the store opened on demand, never created, no pool started). Every
 * call accepts a NULL df_errlist: the messages then go to a scratch list that is dropped. */
#include "engine_internal.h"
#include "liveness.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "subworkflow.h"
#include "suggest.h"

/* ---- errors ---- */

const char *df_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case DF_EINPUT:
        return "unusable input";
    case DF_EREFUSED:
        return "refused: the run's state does not allow it";
    case DF_ESTORE:
        return "store error";
    case DF_ECONFLICT:
        return "conflict: another engine changed it first";
    case DF_ENOTFOUND:
        return "not found";
    case DF_EBUSY:
        return "store busy: the database stayed locked";
    case DF_ENOMEM:
        return "out of memory";
    case DF_EINTERNAL:
        return "internal error";
    case DF_EINTERRUPTED:
        return "interrupted: the engine was stopped";
    case DF_EFULL:
        return "queue full";
    case DF_ESHUTDOWN:
        return "shutting down";
    default:
        return "unknown error";
    }
}

/* The list a call writes to: the caller's, or the scratch one when the caller passed NULL. */
#define ERRS_OR(scratch) (errs ? errs : &(scratch))

/* ---- workflows ---- */

int df_workflow_load(const char *path, df_workflow **out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    size_t before = l->n;
    int rc = df_workflow_load_file(path, out, l);
    if (rc == 0 && df_subworkflow_check(*out, l) != 0) { /* child workflows (SPEC §10) */
        df_workflow_free(*out);
        *out = NULL;
        rc = -1;
    }
    if (rc != 0 && l->n == before)
        df_errlist_add(l, "%s: cannot be loaded", path);
    df_errlist_clear(&scratch);
    return rc == 0 ? 0 : DF_EINPUT;
}

const char *df_workflow_name(const df_workflow *wf)
{
    return wf->name;
}

size_t df_workflow_task_count(const df_workflow *wf)
{
    return wf->n_tasks;
}

/* ---- starting and waiting for runs ---- */

int df_engine_start_file(df_engine *e, const char *path, const json_t *params, long long *run_id,
                         df_errlist *errs)
{
    df_run_options o = {.params = params};
    return df_engine_start_file_opts(e, path, &o, run_id, errs);
}

int df_engine_start_workflow(df_engine *e, const df_workflow *wf, const json_t *params,
                             long long *run_id, df_errlist *errs)
{
    df_run_options o = {.params = params};
    return df_engine_start_workflow_opts(e, wf, &o, run_id, errs);
}

int df_engine_start_file_opts(df_engine *e, const char *path, const df_run_options *opts,
                              long long *run_id, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *run_id = 0;
    df_workflow *wf = NULL;
    int rc = df_engine_can_start(e, l);
    if (rc == 0 && df_workflow_load_file(path, &wf, l) != 0) {
        df_plugin_check_raw(e->plugins, path, l); /* every error in the file at once */
        rc = DF_EINPUT;
    } else if (rc == 0 && df_subworkflow_check(wf, l) != 0) { /* child workflows (SPEC §10) */
        df_workflow_free(wf);
        rc = DF_EINPUT;
    }
    if (rc == 0)
        rc = df_engine_start_loaded(e, wf, opts, run_id, l);
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_start_workflow_opts(df_engine *e, const df_workflow *wf, const df_run_options *opts,
                                  long long *run_id, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *run_id = 0;
    /* The engine's own copy, from the file's bytes or a deep copy of the document: wf may be in
     * use elsewhere (another thread, another engine), and even a reference count is a write. */
    df_workflow *copy = NULL;
    int rc = 0;
    if (wf->source) { /* from the file's bytes (a big file's document holds no tasks) */
        if (df_workflow_load_text(wf->source, wf->source_len, JSON_REJECT_DUPLICATES, wf->path,
                                  wf->dir, &copy, l) != 0)
            rc = DF_EINPUT;
    } else {
        json_t *doc = json_deep_copy(wf->doc);
        rc = doc ? 0 : DF_ENOMEM;
        if (rc != 0)
            df_errlist_add(l, "out of memory");
        else if (df_workflow_load_json(doc, wf->path, wf->dir, &copy, l) != 0)
            rc = DF_EINPUT;
        json_decref(doc);
    }
    if (rc == 0)
        rc = df_engine_start_loaded(e, copy, opts, run_id, l);
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_start_resume(df_engine *e, long long run_id, df_errlist *errs)
{
    df_errlist scratch = {0};
    int rc = df_engine_start_stored(e, run_id, false, NULL, ERRS_OR(scratch));
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_start_retry(df_engine *e, long long run_id, const char *task, df_errlist *errs)
{
    df_errlist scratch = {0};
    int rc = df_engine_start_stored(e, run_id, true, task, ERRS_OR(scratch));
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_wait(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs)
{
    df_errlist scratch = {0};
    int rc = df_engine_wait_run(e, run_id, state, ERRS_OR(scratch));
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_run_file(df_engine *e, const char *path, const json_t *params, long long *run_id,
                       df_run_state *state, df_errlist *errs)
{
    *state = DF_RS_RUNNING;
    int rc = df_engine_start_file(e, path, params, run_id, errs);
    return rc != 0 ? rc : df_engine_wait(e, *run_id, state, errs);
}

int df_engine_resume(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs)
{
    *state = DF_RS_RUNNING;
    int rc = df_engine_start_resume(e, run_id, errs);
    return rc != 0 ? rc : df_engine_wait(e, run_id, state, errs);
}

int df_engine_retry(df_engine *e, long long run_id, const char *task, df_run_state *state,
                    df_errlist *errs)
{
    *state = DF_RS_RUNNING;
    int rc = df_engine_start_retry(e, run_id, task, errs);
    return rc != 0 ? rc : df_engine_wait(e, run_id, state, errs);
}

/* ---- checking a workflow file ---- */

/* Adds msg to out, prefixed with "path: " unless it already names the file that way (path "-",
 * standard input, is named "<stdin>"). */
void df_engine_add_named(df_errlist *out, const char *path, const df_errlist *msgs)
{
    if (strcmp(path, "-") == 0)
        path = DF_WORKFLOW_STDIN;
    size_t n = strlen(path);
    for (size_t i = 0; i < msgs->n; i++) {
        const char *msg = msgs->msgs[i];
        if (strncmp(msg, path, n) == 0 && msg[n] == ':')
            df_errlist_add(out, "%s", msg);
        else
            df_errlist_add(out, "%s: %s", path, msg);
    }
}

/* See engine_internal.h. */
int df_engine_validate_loaded(df_engine *e, const df_workflow *wf, const json_t *params,
                              df_errlist *load, df_errlist *invalid)
{
    size_t before = load->n;
    json_t *run_params = df_engine_merge_params(wf, params, DF_TRIGGER_MANUAL, load);
    const df_plugin **plugins = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *plugins);
    unsigned char *mask = calloc(wf->n_tasks ? wf->n_tasks : 1, 1);
    int rc = 0;
    if (!run_params || !plugins || !mask) {
        df_errlist_add(load, "out of memory");
        rc = DF_ENOMEM;
    } else if (load->n == before) {
        df_workflow_check_plugins(e->plugins, wf, run_params, 0, plugins, mask, load, invalid);
    }
    free(mask);
    free(plugins);
    json_decref(run_params);
    return rc;
}

int df_engine_validate_file(df_engine *e, const char *path, const json_t *params, size_t *n_tasks,
                            df_errlist *errs)
{
    df_errlist scratch = {0}, load = {0}, invalid = {0};
    df_errlist *l = ERRS_OR(scratch);
    if (n_tasks)
        *n_tasks = 0;
    df_workflow *wf = NULL;
    int rc = 0;
    if (df_workflow_load_file(path, &wf, &load) != 0) {
        if (load.n == 0)
            df_errlist_add(&load, "%s: cannot be loaded", path);
        /* Every error at once: what the plugins say about the tasks, too. */
        df_plugin_check_raw(e->plugins, path, &load);
    } else if (df_subworkflow_check(wf, &load) != 0) { /* child workflows (SPEC §10) */
        rc = DF_EINPUT;
    } else {
        rc = df_engine_validate_loaded(e, wf, params, &load, &invalid);
        if (n_tasks)
            *n_tasks = wf->n_tasks;
    }
    df_engine_add_named(l, path, &load);
    df_engine_add_named(l, path, &invalid);
    if (rc == 0 && (load.n || invalid.n))
        rc = DF_EINPUT;
    df_workflow_free(wf);
    df_errlist_clear(&load);
    df_errlist_clear(&invalid);
    df_errlist_clear(&scratch);
    return rc;
}

/* ---- plugins ---- */

int df_engine_plugins(df_engine *e, json_t **out, df_errlist *warnings)
{
    df_errlist scratch = {0};
    const df_plugin *const *list = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = df_plugin_list(e->plugins, &list, &n, warnings ? warnings : &scratch);
    df_errlist_clear(&scratch);
    json_t *arr = rc == 0 ? json_array() : NULL;
    for (size_t i = 0; arr && i < n; i++) {
        const df_taskunit *u = list[i]->unit;
        json_t *o = json_pack("{s:s, s:s?, s:s?, s:s}", "name", list[i]->name, "version",
                              u->version, "description", u->description, "path", list[i]->path);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr)
        return DF_ENOMEM;
    *out = arr;
    return 0;
}

/* ---- reading the history ---- */

/* True when the store is not open and does not exist (read calls do not create it). */
static bool store_missing(const df_engine *e)
{
    return !e->store && !df_store_exists(e->db);
}

/* The store error of the last call, with its DF_E* code. */
static int store_failed(df_engine *e, int store_rc, df_errlist *l)
{
    df_errlist_add(l, "%s", df_store_error(e->store));
    return store_rc;
}

int df_engine_latest_run(df_engine *e, long long *run_id, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0) {
        int src = df_store_latest_run(e->store, run_id);
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    df_errlist_clear(&scratch);
    return rc;
}

/* See engine_internal.h. */
df_owner_state df_engine_run_owner(df_engine *e, long long run_id)
{
    df_stored_run *r = NULL, *again = NULL;
    df_owner_state st = DF_OWNER_LIVE;
    if (df_store_load_run(e->store, run_id, &r) != DF_STORE_OK)
        return st;
    if (r->state != DF_RS_RUNNING)
        st = DF_OWNER_ENDED;
    else if (r->has_engine && df_engine_owner_gone(&r->engine) &&
             df_store_load_run(e->store, run_id, &again) == DF_STORE_OK)
        st = again->state == DF_RS_RUNNING ? DF_OWNER_GONE : DF_OWNER_ENDED;
    df_stored_run_free(again);
    df_stored_run_free(r);
    return st;
}

/* A run st shows RUNNING whose engine is gone from this host is shown INTERRUPTED
 * (df_engine_run_owner). Returns true when st is stale: the engine ended the run between the
 * read of st and this check (seen once as `cancel --wait` exiting 2), so the caller reads st
 * again. */
static bool show_dead_owner(df_engine *e, long long run_id, json_t *st)
{
    const char *state = json_string_value(json_object_get(st, "state"));
    if (!state || strcmp(state, "RUNNING") != 0)
        return false;
    df_owner_state o = df_engine_run_owner(e, run_id);
    if (o == DF_OWNER_GONE)
        json_object_set_new(st, "state", json_string("INTERRUPTED"));
    return o == DF_OWNER_ENDED;
}

int df_engine_run_status(df_engine *e, long long run_id, json_t **out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0) {
        int src = df_store_run_status(e->store, run_id, out);
        if (src == DF_STORE_OK && show_dead_owner(e, run_id, *out)) {
            json_decref(*out);
            *out = NULL;
            src = df_store_run_status(e->store, run_id, out);
        }
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_run_summary(df_engine *e, long long run_id, size_t max_tasks, json_t **out,
                          df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0) {
        int most = max_tasks > INT_MAX ? INT_MAX : (int)max_tasks;
        int src = df_store_run_summary(e->store, run_id, most, out);
        if (src == DF_STORE_OK && show_dead_owner(e, run_id, *out)) {
            json_decref(*out);
            *out = NULL;
            src = df_store_run_summary(e->store, run_id, most, out);
        }
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    df_errlist_clear(&scratch);
    return rc;
}

/* The message of an unknown run or task for df_engine_task_attempts, with the closest task id of
 * the run when one is close. */
static void attempts_not_found(df_engine *e, long long run_id, const char *task_id, df_errlist *l)
{
    json_t *st = NULL;
    if (df_store_run_status(e->store, run_id, &st) != DF_STORE_OK) {
        df_errlist_add(l, "unknown run %lld", run_id);
        return;
    }
    df_suggester sg;
    df_suggest_init(&sg, task_id);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(st, "tasks"), i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        if (id)
            df_suggest_add(&sg, id);
    }
    const char *best = df_suggest_best(&sg);
    if (best)
        df_errlist_add(l, "run %lld has no task \"%s\"; did you mean \"%s\"?", run_id, task_id,
                       best);
    else
        df_errlist_add(l, "run %lld has no task \"%s\"", run_id, task_id);
    json_decref(st);
}

int df_engine_task_attempts(df_engine *e, long long run_id, const char *task_id, json_t **out,
                            df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = df_engine_open_store(e, false, false, l);
    /* A mapped instance is named ID[N] (SPEC §10). */
    char id[200];
    long long mi = DF_NO_MAP_INDEX;
    const char *given = task_id; /* as typed, for the message ("x[99999999999999999999]") */
    size_t len = strlen(task_id);
    const char *br = strchr(task_id, '[');
    if (br && len < sizeof id && task_id[len - 1] == ']' && br > task_id && br[1] != ']' &&
        strspn(br + 1, "0123456789") == (size_t)(task_id + len - 1 - (br + 1))) {
        snprintf(id, sizeof id, "%.*s", (int)(br - task_id), task_id);
        mi = strtoll(br + 1, NULL, 10);
        task_id = id;
    }
    if (rc == 0) {
        int src = df_store_instance_attempts(e->store, run_id, task_id, mi, out);
        if (src == DF_STORE_NOTFOUND && mi != DF_NO_MAP_INDEX &&
            strstr(df_store_error(e->store), "has no task \"")) {
            df_errlist_add(l, "run %lld has no task \"%s\"", run_id, given);
            rc = DF_ENOTFOUND;
        } else if (src == DF_STORE_NOTFOUND) {
            attempts_not_found(e, run_id, task_id, l);
            rc = DF_ENOTFOUND;
        } else if (src != DF_STORE_OK) {
            rc = store_failed(e, src, l);
        }
    }
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_history(df_engine *e, const char *workflow, size_t limit, json_t **out,
                      df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = 0;
    if (store_missing(e)) {
        if (!(*out = json_array())) {
            df_errlist_add(l, "out of memory");
            rc = DF_ENOMEM;
        }
    } else if ((rc = df_engine_open_store(e, false, false, l)) == 0) {
        int src = df_store_history(e->store, workflow, limit > INT_MAX ? INT_MAX : (int)limit, out);
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    df_errlist_clear(&scratch);
    return rc;
}

/* ---- for programs hosting engines ---- */

bool df_db_exists(const char *db)
{
    return df_store_exists(db);
}

size_t df_levenshtein(const char *a, const char *b)
{
    return df_edit_distance_opt(a, b, 0);
}

void df_kill_task_processes(void)
{
    df_proc_kill_all_now();
}
