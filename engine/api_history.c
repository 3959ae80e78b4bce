/* api_history: the embedding API's history upkeep and live reads (include/dagflow/dagflow.h):
 * history with filters, gc, a run's events after a sequence number, and the counts by state for
 * metrics. Like api.c's reads, the store is opened on demand and never created; every call
 * accepts a NULL df_errlist. */
#include "engine_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ERRS_OR(scratch) (errs ? errs : &(scratch))

/* Opens the store for a read that answers "nothing" for a store that does not exist: sets
 * *missing then (and returns 0). */
static int open_existing(df_engine *e, bool *missing, df_errlist *l)
{
    *missing = !e->store && !df_store_exists(e->db);
    return *missing ? 0 : df_engine_open_store(e, false, false, l);
}

static int store_failed(df_engine *e, int src, df_errlist *l)
{
    df_errlist_add(l, "%s", df_store_error(e->store));
    return src;
}

/* Shows the RUNNING rows whose owner is gone as INTERRUPTED (df_engine_run_owner, as `status`
 * does; SPEC §7's views wait for the heartbeat to be 30 s old); with keep "RUNNING" drops them,
 * with keep "INTERRUPTED" drops the RUNNING rows whose owner lives (keep NULL: drops nothing). */
static void show_dead_owners(df_engine *e, json_t *rows, const char *keep)
{
    for (size_t i = 0; i < json_array_size(rows);) {
        json_t *row = json_array_get(rows, i);
        const char *st = json_string_value(json_object_get(row, "state"));
        bool running = st && strcmp(st, "RUNNING") == 0;
        /* a row whose run ended since it was read stays as read: a moment old, not false */
        bool gone =
            running && df_engine_run_owner(e, json_integer_value(json_object_get(row, "run_id"))) ==
                           DF_OWNER_GONE;
        if (gone)
            json_object_set_new(row, "state", json_string("INTERRUPTED"));
        if (keep && running && (strcmp(keep, "RUNNING") == 0) == gone)
            json_array_remove(rows, i);
        else
            i++;
    }
}

static int newest_first(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "run_id"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "run_id"));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* rows sorted newest first and cut to limit, as a new array (rows is released). */
static json_t *first_rows(json_t *rows, size_t limit)
{
    size_t n = json_array_size(rows);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    json_t *out = json_array();
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(rows, i);
    if (v)
        qsort(v, n, sizeof *v, newest_first);
    for (size_t i = 0; v && out && i < n && i < limit; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(rows);
    if (!v) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The history query with states as `status` shows them (show_dead_owners). For --state RUNNING
 * or INTERRUPTED, the store's RUNNING rows are read page by page until limit rows are kept, so
 * the filter and the state shown agree; for INTERRUPTED they add to the store's INTERRUPTED
 * rows. Returns a DF_STORE_* code; *out a new array. */
static int query_shown(df_engine *e, const df_history_query *q0, json_t **out)
{
    const char *want = q0->state;
    if (!want || (strcmp(want, "RUNNING") != 0 && strcmp(want, "INTERRUPTED") != 0)) {
        int src = df_store_history_query(e->store, q0, out);
        if (src == DF_STORE_OK)
            show_dead_owners(e, *out, NULL);
        return src;
    }
    size_t limit = q0->limit > 0 ? (size_t)q0->limit : 20;
    json_t *acc = NULL;
    df_history_query q = *q0;
    int src = DF_STORE_OK;
    if (strcmp(want, "INTERRUPTED") == 0)
        src = df_store_history_query(e->store, &q, &acc);
    else
        acc = json_array();
    q.state = "RUNNING";
    size_t kept = 0;
    while (src == DF_STORE_OK && acc && kept < limit) {
        json_t *page = NULL;
        if ((src = df_store_history_query(e->store, &q, &page)) != DF_STORE_OK)
            break;
        size_t n = json_array_size(page);
        long long last = n ? (long long)json_integer_value(
                                 json_object_get(json_array_get(page, n - 1), "run_id"))
                           : 0;
        show_dead_owners(e, page, want);
        kept += json_array_size(page);
        json_array_extend(acc, page);
        json_decref(page);
        if (n < limit || last <= 1)
            break;
        q.before = last;
    }
    if (src != DF_STORE_OK) {
        json_decref(acc);
        return src;
    }
    *out = acc ? first_rows(acc, limit) : NULL;
    return DF_STORE_OK;
}

int df_engine_history_query(df_engine *e, const df_history_filter *f, json_t **out,
                            df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    df_run_state st;
    bool missing = false;
    int rc = 0;
    if (!f) {
        df_errlist_add(l, "history: no filter given");
        rc = DF_EINPUT;
    } else if (f->state && df_run_state_parse(f->state, &st) != 0) {
        df_errlist_add(l,
                       "unknown run state \"%s\" (RUNNING, SUCCESS, FAILED, INVALID, "
                       "INTERRUPTED or CANCELLED)",
                       f->state);
        rc = DF_EINPUT;
    } else if ((rc = open_existing(e, &missing, l)) == 0 && missing) {
        *out = json_array();
    } else if (rc == 0) {
        df_history_query q = {.workflow = f->workflow,
                              .state = f->state,
                              .since = f->since_ms,
                              .before = f->before,
                              .limit = f->limit > INT_MAX ? INT_MAX : (int)f->limit};
        int src = query_shown(e, &q, out);
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    if (rc == 0 && !*out) {
        df_errlist_add(l, "out of memory");
        rc = DF_ENOMEM;
    }
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_gc(df_engine *e, int64_t cutoff_ms, bool dry_run, df_gc_stats *out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = (df_gc_stats){0};
    bool missing = false;
    int rc = open_existing(e, &missing, l);
    if (rc == 0 && !missing) {
        df_gc_result r;
        int src = df_store_gc(e->store, cutoff_ms, dry_run, &r);
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
        else
            *out = (df_gc_stats){.runs = r.runs, .rows = r.rows, .bytes = r.bytes};
    }
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_run_events(df_engine *e, long long run_id, long long after, size_t limit,
                         json_t **out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0) {
        int src = df_store_run_events(e->store, run_id, after,
                                      limit > INT_MAX ? INT_MAX : (int)limit, out);
        if (src == DF_STORE_NOTFOUND) {
            df_errlist_add(l, "unknown run %lld", run_id);
            rc = DF_ENOTFOUND;
        } else if (src != DF_STORE_OK) {
            rc = store_failed(e, src, l);
        }
    }
    df_errlist_clear(&scratch);
    return rc;
}

int df_engine_state_counts(df_engine *e, json_t **out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    bool missing = false;
    int rc = open_existing(e, &missing, l);
    if (rc == 0 && missing) {
        *out = json_pack("{s{} s{}}", "runs", "task_instances");
    } else if (rc == 0) {
        int src = df_store_state_counts(e->store, out);
        if (src != DF_STORE_OK)
            rc = store_failed(e, src, l);
    }
    df_errlist_clear(&scratch);
    return rc;
}

/* {"workflow", "tasks": [{"id", "plugin", "depends_on"}]} from a stored workflow document. */
static json_t *dag_of(const df_stored_run *r)
{
    json_t *doc = json_loads(r->dag_json, 0, NULL);
    json_t *tasks = json_object_get(doc, "tasks");
    if (!json_is_array(tasks)) {
        json_decref(doc);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_t *deps = json_object_get(t, "depends_on");
        json_t *plugin = json_object_get(t, "plugin");
        json_array_append_new(out,
                              json_pack("{sO sO so}", "id", json_object_get(t, "id"), "plugin",
                                        plugin ? plugin : json_null(), "depends_on",
                                        json_is_array(deps) ? json_deep_copy(deps) : json_array()));
    }
    json_decref(doc);
    return json_pack("{ss so}", "workflow", r->workflow ? r->workflow : "", "tasks", out);
}

int df_engine_run_dag(df_engine *e, long long run_id, json_t **out, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = ERRS_OR(scratch);
    *out = NULL;
    int rc = df_engine_open_store(e, false, false, l);
    if (rc == 0) {
        df_stored_run *r = NULL;
        int src = df_store_load_run(e->store, run_id, &r);
        if (src == DF_STORE_NOTFOUND) {
            df_errlist_add(l, "unknown run %lld", run_id);
            rc = DF_ENOTFOUND;
        } else if (src != DF_STORE_OK) {
            rc = store_failed(e, src, l);
        } else if (!(*out = dag_of(r))) {
            df_errlist_add(l, "run %lld: its stored workflow has no task list", run_id);
            rc = DF_ESTORE;
        }
        df_stored_run_free(r);
    }
    df_errlist_clear(&scratch);
    return rc;
}
