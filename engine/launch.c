/* launch: starting runs on an engine — a new run from a loaded workflow (params merged, every
 * task's plugin and params checked, the run recorded, its first tasks queued), and a stored run
 * reopened for `resume` or `retry` (its DAG rebuilt from the store, recover.c preparing it).
 * A run that could not be started is taken back; a started one advances in df_engine_wait. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "clock.h"
#include "json_kind.h"

/* Registers the workflow's breakers; an existing one keeps its settings and state. */
static int add_breakers(df_engine *e, const df_workflow *wf)
{
    for (size_t i = 0; i < wf->n_breakers; i++) {
        if (df_engine_breaker_find(e, wf->breakers[i].name))
            continue;
        df_engine_breaker *g = realloc(e->breakers, (e->n_breakers + 1) * sizeof *g);
        if (!g)
            return DF_ENOMEM;
        e->breakers = g;
        g[e->n_breakers].timer = NULL;
        if (!(g[e->n_breakers].b = df_breaker_new(&wf->breakers[i])))
            return DF_ENOMEM;
        e->n_breakers++;
    }
    return 0;
}

/* Registers the workflow's pools; an existing pool keeps its slot count (first run wins). Returns
 * 0 or DF_ENOMEM. */
static int add_pools(df_engine *e, const df_workflow *wf)
{
    for (size_t i = 0; i < wf->n_pools; i++) {
        if (df_engine_slot_pool(e, wf->pools[i].name))
            continue;
        df_slot_pool **g = realloc(e->slot_pools, (e->n_slot_pools + 1) * sizeof *g);
        if (!g)
            return DF_ENOMEM;
        e->slot_pools = g;
        df_slot_pool *p = calloc(1, sizeof *p);
        if (!p || !(p->name = strdup(wf->pools[i].name))) {
            free(p);
            return DF_ENOMEM;
        }
        p->slots = wf->pools[i].slots;
        g[e->n_slot_pools] = p;
        e->n_slot_pools++;
    }
    return 0;
}

static int engine_add_run(df_engine *e, df_run *r)
{
    df_run **g = realloc(e->runs, (e->n_runs + 1) * sizeof *g);
    if (!g)
        return DF_ENOMEM;
    e->runs = g;
    e->runs[e->n_runs++] = r;
    return 0;
}

/* Takes back a run that could not be started (it never ran: no attempt, no outbox item) and
 * frees it. */
static void engine_drop_run(df_engine *e, df_run *r)
{
    for (size_t i = 0; i < e->n_runs; i++)
        if (e->runs[i] == r) {
            memmove(&e->runs[i], &e->runs[i + 1], (e->n_runs - i - 1) * sizeof *e->runs);
            e->n_runs--;
            break;
        }
    df_run_close_handles(r);
    df_run_free(r);
}

int df_engine_can_start(df_engine *e, df_errlist *errs)
{
    if (atomic_load(&e->stop_requests) > 0 || e->stopping) {
        df_errlist_add(errs, "the engine is stopping: no new run starts");
        return DF_EINTERRUPTED;
    }
    if (e->fatal) {
        df_errlist_add(errs, "%s", e->fatal_msg);
        return e->taken_over ? DF_ECONFLICT : DF_ESTORE;
    }
    return 0;
}

/* Where run params come from, as a param error names them: the CLI's `--param`, or for a run
 * not started from the command line, the place its params were given (SPEC §9 API body,
 * schedule.params, a `workflow` task's params). */
static const char *params_given(df_run_trigger t)
{
    switch (t) {
    case DF_TRIGGER_API:
        return "in the request's \"params\"";
    case DF_TRIGGER_SCHEDULE:
        return "in \"schedule\".\"params\"";
    case DF_TRIGGER_WORKFLOW:
        return "by the parent's `workflow` task";
    default:
        return "";
    }
}

/* The error of a string given for a typed param when it did not come from `--param`: the
 * typed form as JSON ({"params": {"ms": 5}}) when the string reads as a value of the default's
 * kind (typed, owned by the caller: NULL otherwise). */
static void add_typed_error(const df_workflow *wf, const char *k, const json_t *dflt,
                            const char *text, json_t *typed, df_run_trigger t, df_errlist *errs)
{
    char *hint = NULL;
    if (typed) {
        json_t *body = json_pack("{s{sO}}", "params", k, typed);
        hint = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(body);
    }
    df_errlist_add(errs,
                   "%s: param \"%s\" given %s is the string \"%.200s\", but its default is %s: "
                   "give %s as JSON%s%.300s%s",
                   wf->path, k, params_given(t), text, df_json_kind(dflt), df_json_kind(dflt),
                   hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    free(hint);
}

/* A string given for a param whose default is a number, a boolean, an array or an object (not a
 * string, not null) is an error (a load error: no run is recorded), with the typed form of the
 * same text to use instead: `--param ms=5` for an integer default is meant as `--param ms:=5`
 * (SPEC §6's K=V gives a string, K:=JSON a typed value); for a run not started from the command
 * line, the message names where the params came from (the API body, ...) instead of `--param`.
 * Returns 0, or -1 after adding it. */
static int check_param_type(const df_workflow *wf, const char *k, const json_t *dflt,
                            const json_t *v, df_run_trigger t, df_errlist *errs)
{
    if (!json_is_string(v) || json_is_string(dflt) || json_is_null(dflt))
        return 0;
    const char *text = json_string_value(v);
    json_t *typed = json_loads(text, JSON_DECODE_ANY, NULL);
    bool fits = typed && (json_typeof(typed) == json_typeof(dflt) ||
                          (json_is_number(typed) && json_is_number(dflt)) ||
                          (json_is_boolean(typed) && json_is_boolean(dflt)));
    if (t != DF_TRIGGER_MANUAL)
        add_typed_error(wf, k, dflt, text, fits ? typed : NULL, t, errs);
    else if (fits)
        df_errlist_add(errs,
                       "%s: --param %s=%s gives the string \"%s\", but the default of param \"%s\" "
                       "is %s: use --param %s:=%s for %s",
                       wf->path, k, text, text, k, df_json_kind(dflt), k, text, df_json_kind(dflt));
    else
        df_errlist_add(errs,
                       "%s: --param %s: the default of param \"%s\" is %s, not a string: give "
                       "%s as JSON with --param %s:=JSON",
                       wf->path, k, k, df_json_kind(dflt), df_json_kind(dflt), k);
    json_decref(typed);
    return -1;
}

/* See engine_internal.h (a string for a typed param: check_param_type). */
json_t *df_engine_merge_params(const df_workflow *wf, const json_t *overrides, df_run_trigger t,
                               df_errlist *errs)
{
    json_t *p = json_deep_copy(wf->params);
    if (!p)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)overrides, k, v)
    {
        const json_t *dflt = json_object_get(wf->params, k);
        if (!dflt && t == DF_TRIGGER_MANUAL) {
            df_errlist_add(errs, "%s: --param %s: the workflow declares no param \"%s\"", wf->path,
                           k, k);
            continue;
        }
        if (!dflt) {
            df_errlist_add(errs, "%s: param \"%s\" given %s: the workflow declares no param \"%s\"",
                           wf->path, k, params_given(t), k);
            continue;
        }
        if (check_param_type(wf, k, dflt, v, t, errs) == 0)
            json_object_set(p, k, v);
    }
    return p;
}

/* Refuses run params over the engine's cap (SPEC §12), naming the largest one. Returns 0, or -1
 * with a message in errs. */
static int check_params_size(const df_engine *e, const df_workflow *wf, const json_t *params,
                             df_errlist *errs)
{
    size_t n = json_dumpb(params, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n <= e->cfg.max_params_bytes)
        return 0;
    const char *k, *big = "?";
    json_t *v;
    size_t most = 0;
    json_object_foreach((json_t *)params, k, v)
    {
        size_t s = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s >= most) {
            most = s;
            big = k;
        }
    }
    df_errlist_add(errs,
                   "%s: the run params are %zu bytes of JSON, over the cap of %zu bytes "
                   "(--max-params-bytes); the largest is \"%.200s\" (%zu bytes)",
                   wf->path, n, e->cfg.max_params_bytes, big, most);
    return -1;
}

/* Frees the workflow's document once its run is recorded, and gives the pages it held back to
 * the system: the pool threads allocate from arenas of their own, which would not reuse them,
 * so without the trim the freed document stays in the process's resident size for the run. */
static void drop_doc(df_workflow *wf)
{
    bool big = wf->doc && wf->n_tasks >= 10000;
    df_workflow_drop_doc(wf);
#ifdef __GLIBC__
    if (big)
        malloc_trim(0);
#endif
}

/* A new run as the store records it (rec), with the storage rec borrows from. */
typedef struct run_record {
    df_run_record rec;
    df_task_record *tasks;
    df_plugin_version *plugins;
    char *dag_json, *params_json; /* owned (dag_json NULL when the file's bytes are stored) */
} run_record;

static void run_record_free(run_record *r)
{
    free(r->tasks);
    free(r->plugins);
    free(r->dag_json);
    free(r->params_json);
}

/* Fills r with the record of a new run of wf (borrowing from wf, plugins and e). Returns 0, or
 * DF_ENOMEM (r is still to be freed with run_record_free). */
static int run_record_init(run_record *r, df_engine *e, const df_workflow *wf, const json_t *params,
                           const df_plugin **plugins, const df_run_options *o)
{
    memset(r, 0, sizeof *r);
    size_t n = wf->n_tasks;
    r->tasks = calloc(n ? n : 1, sizeof *r->tasks);
    r->plugins = calloc(n ? n : 1, sizeof *r->plugins);
    /* The stored DAG: the file's bytes as read (a valid JSON document: the loader parsed them),
     * or, for a workflow without them (a stored DAG, a deep copy), the document serialised. */
    if (!wf->source)
        r->dag_json = json_dumps(wf->doc, JSON_COMPACT | JSON_ENCODE_ANY);
    r->params_json = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!r->tasks || !r->plugins || (!wf->source && !r->dag_json) || !r->params_json)
        return DF_ENOMEM;
    size_t n_plugins = 0;
    for (size_t i = 0; i < n; i++) {
        const df_task_def *t = &wf->tasks[i];
        r->tasks[i] = (df_task_record){.id = t->id,
                                       .plugin = t->plugin,
                                       .depends_on = t->upstream,
                                       .n_depends_on = t->n_upstream};
        if (plugins[i])
            r->plugins[n_plugins++] =
                (df_plugin_version){.name = plugins[i]->name, .version = plugins[i]->unit->version};
    }
    r->rec = (df_run_record){.workflow = wf->name,
                             .dag_json = wf->source ? wf->source : r->dag_json,
                             .path = wf->path,
                             .dir = wf->dir,
                             .params_json = r->params_json,
                             .plugins = r->plugins,
                             .n_plugins = n_plugins,
                             .started_at = df_now_ms(),
                             .engine = &e->engine_info,
                             .tasks = r->tasks,
                             .n_tasks = n,
                             .trigger = o->trigger,
                             .logical_time = o->logical_time,
                             .parent_run_id = o->parent_run_id,
                             .parent_task_id = o->parent_task_id};
    return 0;
}

/* Makes the run of a recorded workflow live: the run (owning wf, plugins and params), its INVALID
 * tasks marked, its first tasks queued. */
static int engine_launch(df_engine *e, long long run_id, df_workflow *wf, const df_plugin **plugins,
                         json_t *params, const unsigned char *invalid, const df_errlist *rejected,
                         const df_run_record *rec, df_errlist *errs)
{
    df_run *r = df_run_new(e, run_id, wf, plugins, params);
    if (r && df_run_set_origin(r, rec->trigger, rec->logical_time, rec->started_at,
                               rec->parent_run_id, rec->parent_task_id) != 0) {
        df_run_free(r);
        r = NULL;
    }
    if (!r || engine_add_run(e, r) != 0) {
        df_run_free(r);
        df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    int rc = df_engine_open_handles(e, errs);
    if (rc != 0) {
        engine_drop_run(e, r);
        return rc;
    }
    df_run_mark_invalid(r, invalid, (const char *const *)rejected->msgs);
    df_run_start(r);
    return 0;
}

/* Checks the options of a new run. Returns 0, or DF_EINPUT with a message. */
static int check_options(const df_run_options *o, df_errlist *errs)
{
    if ((unsigned)o->trigger >= DF_TRIGGER__COUNT) {
        df_errlist_add(errs, "invalid run trigger %d", (int)o->trigger);
        return DF_EINPUT;
    }
    if (o->parent_task_id && o->parent_run_id <= 0) {
        df_errlist_add(errs, "a parent task needs a parent run");
        return DF_EINPUT;
    }
    if (o->logical_time < 0) {
        df_errlist_add(errs, "a logical time before 1970 (%lld ms)", (long long)o->logical_time);
        return DF_EINPUT;
    }
    return 0;
}

int df_engine_start_loaded(df_engine *e, df_workflow *wf, const df_run_options *opts,
                           long long *run_id, df_errlist *errs)
{
    static const df_run_options none = {0};
    const df_run_options *o = opts ? opts : &none;
    const json_t *overrides = o->params;
    *run_id = 0;
    int st = df_engine_can_start(e, errs);
    if (st == 0)
        st = check_options(o, errs);
    if (st != 0) {
        df_workflow_free(wf);
        return st;
    }
    size_t before = errs->n;
    json_t *params = df_engine_merge_params(wf, overrides, o->trigger, errs);
    const df_plugin **plugins = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *plugins);
    unsigned char *invalid = calloc(wf->n_tasks ? wf->n_tasks : 1, 1);
    df_errlist rejected = {0};
    df_run_record origin = {0}; /* the recorded run's origin (its pointers are not read) */
    if (!params || !plugins || !invalid) {
        df_errlist_add(errs, "out of memory");
        st = DF_ENOMEM;
    } else if (errs->n != before || check_params_size(e, wf, params, errs) != 0) {
        st = DF_EINPUT;
    } else if (df_workflow_check_plugins(e->plugins, wf, params, 0, plugins, invalid, errs,
                                         &rejected) != 0) {
        st = DF_EINPUT;
    } else if (add_pools(e, wf) != 0 || add_breakers(e, wf) != 0) {
        df_errlist_add(errs, "out of memory");
        st = DF_ENOMEM;
    } else if ((st = df_engine_open_store(e, true, true, errs)) != 0) {
        /* reported */
    } else {
        /* The pool before the run: a pool that cannot start (threads, memory, file descriptors)
         * leaves no run behind that nothing will ever run. */
        st = df_engine_start_pool(e, errs);
    }
    if (st == 0) {
        run_record rec;
        bool built = run_record_init(&rec, e, wf, params, plugins, o) == 0;
        int rc = built ? df_store_create_run(e->store, &rec.rec, run_id) : DF_STORE_ERROR;
        /* its first running period (durations count time running: SPEC §12) */
        if (rc == DF_STORE_OK)
            rc = df_store_run_period_start(e->store, *run_id, rec.rec.started_at,
                                           rec.rec.started_at);
        if (rc != DF_STORE_OK) {
            df_errlist_add(errs, "%s", built ? df_store_error(e->store) : "out of memory");
            st = built ? rc : DF_ENOMEM;
        } else {
            origin = (df_run_record){.trigger = rec.rec.trigger,
                                     .logical_time = rec.rec.logical_time,
                                     .started_at = rec.rec.started_at,
                                     .parent_run_id = o->parent_run_id,
                                     .parent_task_id = o->parent_task_id};
        }
        run_record_free(&rec);
    }
    /* The run is recorded: from here on only the compact model is read (the document is most
     * of a big workflow's memory). */
    if (st == 0)
        drop_doc(wf);
    if (st != 0) {
        df_errlist_clear(&rejected);
        json_decref(params);
        free(plugins);
        free(invalid);
        df_workflow_free(wf);
        return st;
    }
    for (size_t i = 0; i < rejected.n; i++)
        df_errlist_add(errs, "%s", rejected.msgs[i]);
    st = engine_launch(e, *run_id, wf, plugins, params, invalid, &rejected, &origin, errs);
    free(invalid);
    df_errlist_clear(&rejected);
    return st;
}

/* Loads a stored run and rebuilds its workflow from the stored DAG. */
static int engine_load_stored(df_engine *e, long long run_id, df_stored_run **loaded_out,
                              df_run **run_out, df_errlist *errs)
{
    df_stored_run *loaded = NULL;
    int st = df_engine_open_store(e, true, true, errs);
    if (st != 0)
        return st;
    int rc = df_store_load_run(e->store, run_id, &loaded);
    if (rc == DF_STORE_NOTFOUND) {
        df_errlist_add(errs, "no run %lld in %s", run_id, e->db);
        return DF_ENOTFOUND;
    }
    if (rc != DF_STORE_OK) {
        df_errlist_add(errs, "%s", df_store_error(e->store));
        return rc;
    }
    df_workflow *wf = NULL;
    /* JSON_ALLOW_NUL: a document may hold "\u0000", which jansson refuses by default. A big DAG
     * is streamed (df_workflow_load_text). */
    if (df_workflow_load_text(loaded->dag_json, strlen(loaded->dag_json),
                              JSON_DECODE_ANY | JSON_ALLOW_NUL,
                              loaded->path ? loaded->path : "<stored>",
                              loaded->dir ? loaded->dir : ".", &wf, errs) != 0) {
        df_stored_run_free(loaded);
        return DF_EINPUT;
    }
    size_t before = errs->n;
    const df_plugin **plugins = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *plugins);
    json_t *params = json_loads(loaded->params_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    char err[2048];
    for (size_t i = 0; plugins && i < wf->n_tasks; i++)
        if (df_plugin_get(e->plugins, wf->tasks[i].plugin, wf->dir, &plugins[i], err, sizeof err) !=
                0 ||
            df_plugin_apply_rules(plugins[i], wf, &wf->tasks[i], err, sizeof err) != 0)
            df_errlist_add(errs, "run %lld: task \"%s\": %s", run_id, wf->tasks[i].id, err);
    if (!plugins || !params)
        st = DF_ENOMEM;
    else if (errs->n != before)
        st = DF_EINPUT;
    else if (add_pools(e, wf) != 0 || add_breakers(e, wf) != 0)
        st = DF_ENOMEM;
    if (st != 0) {
        if (st == DF_ENOMEM)
            df_errlist_add(errs, "out of memory");
        free(plugins);
        json_decref(params);
        df_workflow_free(wf);
        df_stored_run_free(loaded);
        return st;
    }
    drop_doc(wf); /* only the compact model is read from here on */
    df_run *r = df_run_new(e, run_id, wf, plugins, params);
    if (!r || engine_add_run(e, r) != 0) {
        df_run_free(r);
        df_stored_run_free(loaded);
        df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    *loaded_out = loaded;
    *run_out = r;
    return 0;
}

/* How a stored run is started again. */
enum stored_mode { STORED_RESUME, STORED_RETRY, STORED_ADOPT };

static int start_stored(df_engine *e, long long run_id, enum stored_mode mode, const char *task,
                        df_errlist *errs);

int df_engine_start_stored(df_engine *e, long long run_id, bool retry, const char *task,
                           df_errlist *errs)
{
    return start_stored(e, run_id, retry ? STORED_RETRY : STORED_RESUME, task, errs);
}

int df_engine_start_adopt(df_engine *e, long long run_id, df_errlist *errs)
{
    return start_stored(e, run_id, STORED_ADOPT, NULL, errs);
}

static int start_stored(df_engine *e, long long run_id, enum stored_mode mode, const char *task,
                        df_errlist *errs)
{
    int st = df_engine_can_start(e, errs);
    if (st != 0)
        return st;
    df_stored_run *loaded = NULL;
    df_run *r = NULL;
    if ((st = engine_load_stored(e, run_id, &loaded, &r, errs)) != 0)
        return st;
    if (df_run_set_origin(r, loaded->origin.trigger, loaded->origin.logical_time,
                          loaded->started_at, loaded->origin.parent_run_id,
                          loaded->origin.parent_task_id) != 0) {
        df_stored_run_free(loaded);
        engine_drop_run(e, r);
        df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    char err[1024];
    err[0] = '\0';
    /* The pool first (threads, stacks: it may take a while): the claim below opens the write
     * transaction, which stays short (SPEC §12). */
    st = df_engine_start_pool(e, errs);
    if (st != 0) {
        df_stored_run_free(loaded);
        engine_drop_run(e, r);
        return st;
    }
    st = mode == STORED_RETRY   ? df_run_retry_prepare(r, loaded, task, err, sizeof err)
         : mode == STORED_ADOPT ? df_run_adopt_prepare(r, loaded, err, sizeof err)
                                : df_run_resume_prepare(r, loaded, err, sizeof err);
    df_stored_run_free(loaded);
    if (st == 0)
        st = df_engine_open_handles(e, errs);
    else
        df_errlist_add(errs, "%s", err[0] ? err : e->fatal_msg);
    if (st != 0) {
        engine_drop_run(e, r);
        return st;
    }
    df_run_start(r);
    return 0;
}

void df_engine_reap_ended(df_engine *e)
{
    if (df_alerts_busy(e->alerts) || df_alerts_queued(e->alerts))
        return;
    size_t kept = 0;
    for (size_t i = 0; i < e->n_runs; i++) {
        df_run *r = e->runs[i];
        if (df_run_ended(r)) {
            df_run_close_handles(r);
            df_run_free(r);
        } else {
            e->runs[kept++] = r;
        }
    }
    e->n_runs = kept;
}
