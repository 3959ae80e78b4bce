/* plan: `dagflow plan` (SPEC §10), a dry run of a workflow file — the order its tasks would
 * become ready in if every task succeeded, each with its params resolved as far as they can be
 * before running (df_engine_plan_file in dagflow.h). Nothing is run or recorded; plugins are
 * loaded only to check the params, as `validate` does. The order is a simulation over the DAG in
 * steps: a task is ready one step after its upstreams are decided (after the first of them to
 * succeed for one_success and one_done; at step 1 for `always` and tasks without upstreams),
 * its verdict given by the trigger rule as the run core would (dag.h) with every task run
 * counted a success. As `dagu dry` and `airflow dags test` users expect. */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "expr.h"
#include "template.h"
#include "template_shell.h"

/* One task's place in the simulation. */
typedef struct plan_slot {
    size_t step;  /* the step it is decided at (1-based) */
    bool skipped; /* it would not run */
} plan_slot;

/* Decides task i from its upstreams (all decided: i comes after them in topological order). */
static void decide(const df_workflow *wf, plan_slot *s, size_t i)
{
    const df_task_def *d = &wf->tasks[i];
    df_upstream_counts n = {.total = d->n_upstream};
    size_t last = 0, first_ok = (size_t)-1;
    for (size_t k = 0; k < d->n_upstream; k++) {
        const plan_slot *u = &s[d->upstream[k]];
        if (u->skipped)
            n.skipped++;
        else
            n.success++;
        if (u->step > last)
            last = u->step;
        if (!u->skipped && u->step < first_ok)
            first_ok = u->step;
    }
    df_trigger_verdict v = df_trigger_evaluate(d->trigger_rule, &n);
    s[i].skipped = v != DF_TV_READY;
    bool one = d->trigger_rule == DF_TR_ONE_SUCCESS || d->trigger_rule == DF_TR_ONE_DONE;
    if (d->n_upstream == 0 || d->trigger_rule == DF_TR_ALWAYS)
        s[i].step = 1;
    else if (one && !s[i].skipped && first_ok != (size_t)-1)
        s[i].step = first_ok + 1;
    else if (s[i].skipped)
        s[i].step = last; /* decided as soon as its upstreams are, as the run core does */
    else
        s[i].step = last + 1;
}

/* Order of the plan: ready tasks by step, then priority (higher first), then file order; the
 * tasks that would not run last, in file order. */
typedef struct plan_sort {
    const df_workflow *wf;
    const plan_slot *s;
} plan_sort;

static int plan_cmp(const void *pa, const void *pb, void *ud)
{
    const plan_sort *ps = ud;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const plan_slot *x = &ps->s[a], *y = &ps->s[b];
    if (x->skipped != y->skipped)
        return x->skipped ? 1 : -1;
    if (!x->skipped && x->step != y->step)
        return x->step < y->step ? -1 : 1;
    int64_t p = ps->wf->tasks[a].priority, q = ps->wf->tasks[b].priority;
    if (!x->skipped && p != q)
        return p > q ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Removes the shell-context marks (template_shell.h) that `shell`'s param rules put in the
 * references of a script and that a reference left as written keeps: the plan shows the
 * reference as the user wrote it. Works in place on every string of v (a new value). */
static void unmark(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (!memchr(s, DF_SH_MARK, n))
            return;
        char *t = malloc(n + 1);
        if (!t)
            return;
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
            if (s[k] == DF_SH_MARK && k >= 2 && s[k - 2] == '$' && s[k - 1] == '{' && k + 1 < n &&
                df_sh_context_valid(s[k + 1])) {
                k++; /* the mark and its context letter */
                continue;
            }
            t[m++] = s[k];
        }
        json_string_setn(v, t, m);
        free(t);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x)
        {
            unmark(x);
        }
    } else if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v); k++)
            unmark(json_array_get(v, k));
    }
}

/* Task i's entry: a new object, or NULL with errs filled (a template that cannot resolve) or out
 * of memory. */
static json_t *task_entry(const df_workflow *wf, const plan_slot *s, size_t i,
                          const json_t *run_params, df_errlist *errs)
{
    const df_task_def *d = &wf->tasks[i];
    df_template_scope scope = {.params = run_params,
                               .workflow = wf->name,
                               .task_id = d->id,
                               .attempt = 1,
                               .resolve_tasks = false,
                               .env = wf->env,
                               .defer_run_id = true};
    char err[1024];
    json_t *params = df_template_resolve(d->params, &scope, err, sizeof err);
    if (!params) {
        df_errlist_add(errs, "%s: task \"%s\": %s", wf->path, d->id, err);
        return NULL;
    }
    unmark(params);
    json_t *deps = json_array();
    for (size_t k = 0; deps && !d->handler && k < d->n_upstream; k++)
        json_array_append_new(deps, json_string(wf->tasks[d->upstream[k]].id));
    json_t *o = json_pack("{s:o, s:s, s:s, s:o, s:s, s:o}", "step",
                          s[i].skipped ? json_null() : json_integer((json_int_t)s[i].step), "id",
                          d->id, "plugin", d->plugin, "depends_on", deps ? deps : json_array(),
                          "trigger_rule", df_trigger_rule_name(d->trigger_rule), "params", params);
    if (!o)
        return NULL;
    if (d->when)
        json_object_set_new(o, "when", json_string(df_expr_source(d->when)));
    if (d->branch)
        json_object_set_new(o, "branch", json_true());
    if (d->handler)
        json_object_set_new(o, "on_exit", json_true());
    if (s[i].skipped)
        json_object_set_new(o, "skipped",
                            json_string("its trigger rule would not be met if every task "
                                        "succeeded"));
    return o;
}

/* The plan of a loaded, checked workflow: a new object, or NULL (errs filled, or no memory). */
static json_t *make_plan(const df_workflow *wf, const json_t *run_params, df_errlist *errs)
{
    size_t n = wf->n_tasks;
    plan_slot *s = calloc(n ? n : 1, sizeof *s);
    size_t *order = calloc(n ? n : 1, sizeof *order);
    json_t *tasks = json_array();
    json_t *plan = NULL;
    if (!s || !order || !tasks)
        goto out;
    for (size_t k = 0; k < n; k++) {
        decide(wf, s, wf->topo[k]);
        order[k] = k;
    }
    qsort_r(order, n, sizeof *order, plan_cmp, &(plan_sort){wf, s});
    for (size_t k = 0; k < n; k++) {
        json_t *o = task_entry(wf, s, order[k], run_params, errs);
        if (!o || json_array_append_new(tasks, o) != 0)
            goto out;
    }
    plan = json_pack("{s:s, s:O, s:O}", "workflow", wf->name, "params", run_params, "tasks", tasks);
out:
    json_decref(tasks);
    free(order);
    free(s);
    return plan;
}

int df_engine_plan_file(df_engine *e, const char *path, const json_t *params, json_t **plan,
                        df_errlist *errs)
{
    df_errlist scratch = {0}, load = {0}, invalid = {0};
    df_errlist *l = errs ? errs : &scratch;
    df_workflow *wf = NULL;
    json_t *run_params = NULL;
    int rc = 0;
    *plan = NULL;
    if (df_workflow_load_file(path, &wf, &load) != 0) {
        if (load.n == 0)
            df_errlist_add(&load, "%s: cannot be loaded", path);
    } else {
        rc = df_engine_validate_loaded(e, wf, params, &load, &invalid);
        if (rc == 0 && !load.n && !invalid.n &&
            (run_params = df_engine_merge_params(wf, params, DF_TRIGGER_MANUAL, &load)) &&
            !(*plan = make_plan(wf, run_params, &load)) && !load.n)
            rc = DF_ENOMEM;
    }
    df_engine_add_named(l, path, &load);
    df_engine_add_named(l, path, &invalid);
    if (rc == 0 && (load.n || invalid.n))
        rc = DF_EINPUT;
    if (rc != 0) {
        json_decref(*plan);
        *plan = NULL;
    }
    json_decref(run_params);
    df_workflow_free(wf);
    df_errlist_clear(&load);
    df_errlist_clear(&invalid);
    df_errlist_clear(&scratch);
    return rc;
}
