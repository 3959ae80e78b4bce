/* workflow_task: the workflow loader's tasks (SPEC §1) (trigger rule names are model.h's): the task
 * defaults and the `defaults` object, then the `tasks` array in passes: ids first (so that
 * dependencies can name tasks in any order), then each task's keys, its depends_on and the
 * ${tasks.X} references of its params, then the downstream lists; the search for cycles is
 * workflow_cycles.c's. See workflow_loader.h; the document and its other sections are
 * workflow.c's.
 *
 * Work is linear in the size of the file: ids are looked up in a hash map (wf->id_slots),
 * dependencies are de-duplicated with a stamp array, and "did you mean" among task ids (O(n) each)
 * is offered for the first 50 unknown ones only. */
#include "workflow_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "suggest.h"
#include "template.h"

static const char *const task_keys[] = {"id",
                                        "plugin",
                                        "params",
                                        "depends_on",
                                        "trigger_rule",
                                        "retries",
                                        "retry_delay_ms",
                                        "retry_backoff",
                                        "retry_max_delay_ms",
                                        "retry_jitter",
                                        "timeout_ms",
                                        "priority",
                                        "pool",
                                        "breaker",
                                        "continue_on_failure",
                                        "retry_max_total_ms",
                                        "when",
                                        "for_each",
                                        "max_parallel",
                                        "branch",
                                        "queue"};
/* The task keys `defaults` may set: everything but what only makes sense per task. */
static const char *const default_keys[] = {"trigger_rule",
                                           "retries",
                                           "retry_delay_ms",
                                           "retry_backoff",
                                           "retry_max_delay_ms",
                                           "retry_jitter",
                                           "timeout_ms",
                                           "priority",
                                           "pool",
                                           "breaker",
                                           "continue_on_failure",
                                           "retry_max_total_ms",
                                           "queue"};

/* ---- the keys `defaults` may set ---------------------------------------------------------------
 */

static void trigger_rule_field(df_wfl_loader *L, const char *where, const char *key,
                               const json_t *v, df_task_def *t)
{
    if (!df_wfl_want_string(L, where, key, v, false))
        return;
    const char *name = json_string_value(v);
    if (df_trigger_rule_parse(name, &t->trigger_rule) != 0) {
        const char *s = df_suggest(name, df_trigger_rule_names, DF_TR__COUNT);
        if (s)
            df_wfl_err(L, where, "trigger_rule: unknown trigger rule \"%s\"; did you mean \"%s\"?",
                       name, s);
        else
            df_wfl_err(L, where, "trigger_rule: unknown trigger rule \"%s\"", name);
    }
}

/* One of the task keys `defaults` may also set (default_keys), read into t. */
static void task_field(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                       df_task_def *t, const char *const *pool_names,
                       const char *const *breaker_names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (strcmp(key, "trigger_rule") == 0) {
        trigger_rule_field(L, where, key, v, t);
    } else if (strcmp(key, "retries") == 0) {
        df_wfl_want_int(L, where, key, v, 0, true, &t->retries);
    } else if (strcmp(key, "retry_delay_ms") == 0) {
        df_wfl_want_int(L, where, key, v, 0, true, &t->retry_delay_ms);
    } else if (strcmp(key, "retry_max_delay_ms") == 0) {
        df_wfl_want_int(L, where, key, v, 0, true, &t->retry_max_delay_ms);
    } else if (strcmp(key, "timeout_ms") == 0) {
        df_wfl_want_int(L, where, key, v, 0, true, &t->timeout_ms);
    } else if (strcmp(key, "retry_max_total_ms") == 0) {
        df_wfl_want_int(L, where, key, v, 0, true, &t->retry_max_total_ms);
    } else if (strcmp(key, "continue_on_failure") == 0) {
        if (!json_is_boolean(v))
            df_wfl_err(L, where, "continue_on_failure: must be a boolean, got %s",
                       df_wfl_describe(v, d, sizeof d));
        else
            t->continue_on_failure = json_is_true(v);
    } else if (strcmp(key, "priority") == 0) {
        df_wfl_want_int(L, where, key, v, 0, false, &t->priority);
    } else if (strcmp(key, "retry_backoff") == 0) {
        if (!json_is_number(v))
            df_wfl_err(L, where, "retry_backoff: must be a number >= 1, got %s",
                       df_wfl_describe(v, d, sizeof d));
        else if (!(json_number_value(v) >= 1.0))
            df_wfl_err(L, where, "retry_backoff: must be a number >= 1, got %s",
                       df_wfl_num_text(v, d, sizeof d));
        else
            t->retry_backoff = json_number_value(v);
    } else if (strcmp(key, "retry_jitter") == 0) {
        if (!json_is_boolean(v))
            df_wfl_err(L, where, "retry_jitter: must be a boolean, got %s",
                       df_wfl_describe(v, d, sizeof d));
        else
            t->retry_jitter = json_is_true(v);
    } else if (strcmp(key, "pool") == 0) {
        if (df_wfl_want_string(L, where, key, v, false))
            t->pool = df_wfl_find_named(L, where, key, "pool", "pools", json_string_value(v),
                                        pool_names, wf->n_pools);
    } else if (strcmp(key, "queue") == 0) {
        /* SPEC §8, §11: the queue whose workers run it (with --executor workers) */
        if (df_wfl_want_string(L, where, key, v, false)) {
            const char *q = json_string_value(v);
            if (!*q || strlen(q) >= DF_QUEUE_NAME_MAX)
                df_wfl_err(L, where, "queue: must be a name of 1 to %d bytes",
                           DF_QUEUE_NAME_MAX - 1);
            else if (!(t->queue = df_wfl_intern(wf, q)))
                df_wfl_err(L, NULL, "out of memory");
        }
    } else if (strcmp(key, "breaker") == 0) {
        if (df_wfl_want_string(L, where, key, v, false))
            t->breaker = df_wfl_find_named(L, where, key, "breaker", "breakers",
                                           json_string_value(v), breaker_names, wf->n_breakers);
    }
}

/* See workflow_loader.h. */
void df_wfl_load_defaults(df_wfl_loader *L, const json_t *defaults, df_task_def *base,
                          const char *const *pool_names, const char *const *breaker_names)
{
    /* Task defaults (SPEC §1), then `defaults`, then (df_wfl_load_tasks) each task's own keys. */
    *base = (df_task_def){.trigger_rule = DF_TR_ALL_SUCCESS,
                          .retries = 0,
                          .retry_delay_ms = 1000,
                          .retry_backoff = 2.0,
                          .retry_max_delay_ms = 300000,
                          .retry_jitter = false,
                          .timeout_ms = 0,
                          .priority = 0,
                          .pool = -1,
                          .breaker = -1};
    if (!defaults)
        return;
    char d[128];
    if (!json_is_object(defaults)) {
        df_wfl_err(L, NULL, "defaults: must be an object, got %s",
                   df_wfl_describe(defaults, d, sizeof d));
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)defaults, k, x)
    {
        if (df_wfl_in_list(k, default_keys, DF_WFL_COUNT(default_keys)))
            task_field(L, "defaults", k, x, base, pool_names, breaker_names);
        else if (df_wfl_in_list(k, task_keys, DF_WFL_COUNT(task_keys)))
            df_wfl_err(L, "defaults", "key \"%s\" cannot have a default (set it in each task)", k);
        else
            df_wfl_unknown_key(L, "defaults", k, default_keys, DF_WFL_COUNT(default_keys));
    }
}

/* ---- references to other tasks -----------------------------------------------------------------
 */

/* The task id closest to name, while *suggestions_left allows one more search (each costs O(n):
 * many errors must not cost O(n^2)); NULL otherwise. Borrowed from ids. */
static const char *suggest_task(const df_workflow *wf, const char *name, size_t *suggestions_left)
{
    if (*suggestions_left == 0)
        return NULL;
    (*suggestions_left)--;
    df_suggester sg;
    df_suggest_init(&sg, name);
    df_wfl_ids_suggest(wf, &sg);
    return df_suggest_best(&sg);
}

/* What a task's template references are checked against. */
typedef struct ref_check {
    df_wfl_loader *L;
    const char *where; /* the task's label */
    const char *path;  /* e.g. params.argv[1] */
    size_t self;       /* the task's index */
    const df_task_def *task;
    const df_workflow *wf;
    const size_t *stamp; /* stamp[j] == self + 1 when j is in the task's depends_on */
    size_t n_dag;        /* tasks before this index are DAG tasks, the others on_exit handlers */
    size_t *suggestions_left;
} ref_check;

/* df_template_scan's callback: a ${tasks.X...} reference must name an upstream of the task. */
static int check_ref(void *ud, const char *ref)
{
    ref_check *c = ud;
    df_wfl_map_check_ref(c->L, c->where, c->path, c->task, ref);
    if (df_wfl_handler_ref(c->L, c->where, c->path, ref, c->task->handler, c->wf, c->n_dag))
        return 0;
    if (strncmp(ref, "tasks.", 6) != 0)
        return 0;
    /* The scan only reports well-formed references: tasks.ID.result[...]. */
    const char *id = ref + 6;
    size_t n = strcspn(id, ".");
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)(n > 128 ? 128 : n), id);
    if (c->task->id && strcmp(name, c->task->id) == 0) {
        df_wfl_err(c->L, c->where, "%s: ${%s} references the task itself", c->path, ref);
        return 0;
    }
    long idx = df_workflow_find_task(c->wf, name);
    if (idx < 0) {
        const char *s = suggest_task(c->wf, name, c->suggestions_left);
        df_wfl_err(c->L, c->where, "%s: ${%s} references task \"%s\", which does not exist%s%s%s",
                   c->path, ref, name, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        return 0;
    }
    if (c->task->trigger_rule == DF_TR_ALWAYS) {
        df_wfl_err(c->L, c->where,
                   "%s: ${%s}: a task with trigger_rule \"always\" may not reference upstream "
                   "results (it starts without waiting for its upstreams)",
                   c->path, ref);
        return 0;
    }
    size_t j = (size_t)idx;
    if (c->stamp[j] != c->self + 1)
        df_wfl_err(c->L, c->where,
                   "%s: ${%s} references task \"%s\", which is not an upstream (add it to "
                   "depends_on)",
                   c->path, ref, name);
    return 0;
}

/* Appends a then b (may be NULL) to the path of len bytes in a buffer of cap bytes; returns the
 * new length. What does not fit becomes "..." (bytes before len are never changed, so the caller
 * restores its path with path[len] = '\0'). */
static size_t path_push(char *path, size_t len, size_t cap, const char *a, const char *b)
{
    int w = snprintf(path + len, cap - len, "%s%s", a, b ? b : "");
    if (w < 0 || (size_t)w >= cap - len) {
        if (cap - len < 4) {
            path[len] = '\0';
            return len;
        }
        memcpy(path + len, "...", 4);
        return len + 3;
    }
    return len + (size_t)w;
}

/* Walks a task's params, checking every string's template syntax and ${tasks.X} references.
 * path holds the JSON path so far (cap bytes, truncated with "..." when too deep). */
static void check_templates(ref_check *c, const json_t *v, char *path, size_t len, size_t cap)
{
    if (json_is_string(v)) {
        char err[512];
        c->path = path;
        if (df_template_scan(v, check_ref, c, err, sizeof err) != 0)
            df_wfl_err(c->L, c->where, "%s: %s", path, err);
        return;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x)
        {
            check_templates(c, x, path, path_push(path, len, cap, ".", key), cap);
            path[len] = '\0';
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            char idx[32];
            snprintf(idx, sizeof idx, "[%zu]", i);
            check_templates(c, json_array_get(v, i), path, path_push(path, len, cap, idx, NULL),
                            cap);
            path[len] = '\0';
        }
    }
}

/* ---- the tasks array ---------------------------------------------------------------------------
 */

/* What the passes over the tasks array share. */
typedef struct task_pass {
    df_wfl_loader *L;
    const json_t *tasks;
    const json_t *on_exit;   /* the on_exit array (SPEC §8), or NULL */
    size_t n_dag;            /* tasks from `tasks`; on_exit handlers follow them in wf->tasks */
    char **label;            /* per task: `task "id"`, `task "id" (tasks[N])` or `tasks[N]` */
    size_t *stamp;           /* per task: i + 1 while task i's depends_on is read */
    size_t suggestions_left; /* "did you mean" searches among task ids still allowed */
    const char *const *pool_names;
    const char *const *breaker_names;
    const json_t *cur; /* a streamed load: the element of task cur_i now parsed (borrowed) */
    size_t cur_i;
    json_t *empty; /* owned: the one empty params object the tasks without params share */
} task_pass;

/* A new reference to the empty params object the tasks share (~200 bytes each otherwise: a
 * million-task DAG of no-ops holds 0.2 GB of `{}`). Shared safely: params are never changed in
 * place (plugin.c's param rules change a copy), and jansson's reference counts are atomic.
 * NULL when out of memory. */
static json_t *empty_params(task_pass *tp)
{
    if (!tp->empty)
        tp->empty = json_object();
    return json_incref(tp->empty);
}

/* The JSON object of task i: tasks[i] (in a streamed load, the element being parsed), or
 * on_exit[i - n_dag] for a handler (borrowed). */
static const json_t *task_obj(const task_pass *tp, size_t i)
{
    if (i < tp->n_dag && tp->L->stream_text)
        return i == tp->cur_i ? tp->cur : NULL;
    return i < tp->n_dag ? json_array_get(tp->tasks, i)
                         : json_array_get(tp->on_exit, i - tp->n_dag);
}

/* Where task i stands in the file: "tasks[N]" or "on_exit[N]", into buf. */
static const char *task_pos(const task_pass *tp, size_t i, char *buf, size_t len)
{
    if (i < tp->n_dag)
        snprintf(buf, len, "tasks[%zu]", i);
    else
        snprintf(buf, len, "on_exit[%zu]", i - tp->n_dag);
    return buf;
}

/* Pass 1 for task i: checks its id and registers it in wf->ids (the first of duplicates wins),
 * and sets its label for messages. Returns 0, or -1 when out of memory (reported). */
static int read_task_id(task_pass *tp, size_t i)
{
    df_wfl_loader *L = tp->L;
    df_workflow *wf = L->wf;
    df_task_def *t = &wf->tasks[i];
    char d[128];
    const json_t *obj = task_obj(tp, i);
    char pos[32], first[32];
    task_pos(tp, i, pos, sizeof pos);
    const char *what = i < tp->n_dag ? "task" : "on_exit handler";
    const json_t *id = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
    if (!json_is_object(obj)) {
        df_wfl_err(L, pos, "must be an object (a%s), got %s",
                   i < tp->n_dag ? " task" : "n on_exit handler",
                   df_wfl_describe(obj, d, sizeof d));
    } else if (!id) {
        df_wfl_err(L, pos, "missing required key \"id\"");
    } else if (!json_is_string(id)) {
        df_wfl_err(L, pos, "id: must be a string, got %s", df_wfl_describe(id, d, sizeof d));
    } else if (!df_wfl_valid_name(json_string_value(id), false)) {
        df_wfl_err(L, pos,
                   "id: \"%.200s\" is not a valid task id (it must match [A-Za-z0-9_-]{1,128})",
                   json_string_value(id));
    } else {
        const char *s = json_string_value(id);
        long prev = df_workflow_find_task(wf, s);
        t->id = strdup(s);
        if (!t->id) {
            df_wfl_err(L, NULL, "out of memory");
            return -1;
        }
        if (prev >= 0) {
            /* on_exit handlers share the tasks' namespace (SPEC §8) */
            if (asprintf(&tp->label[i], "%s \"%s\" (%s)", what, s, pos) < 0)
                tp->label[i] = NULL;
            task_pos(tp, (size_t)prev, first, sizeof first);
            if (i < tp->n_dag)
                df_wfl_err(L, pos, "duplicate task id \"%s\" (first defined at %s)", s, first);
            else
                df_wfl_err(L, tp->label[i] ? tp->label[i] : pos,
                           "id: duplicate task id \"%s\" (first defined at %s; on_exit handlers "
                           "share one namespace with tasks)",
                           s, first);
        } else {
            df_wfl_ids_add(wf, i);
            if (asprintf(&tp->label[i], "%s \"%s\"", what, s) < 0)
                tp->label[i] = NULL;
        }
    }
    if (!tp->label[i])
        tp->label[i] = strdup(pos);
    if (!tp->label[i]) {
        df_wfl_err(L, NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* Reads task i's keys (an object) but id: plugin (required), params (an empty object when
 * missing), the keys `defaults` may also set, and reports unknown ones. Returns its depends_on
 * value (borrowed), or NULL when it has none. */
static const json_t *read_task_keys(task_pass *tp, size_t i, const json_t *obj)
{
    df_wfl_loader *L = tp->L;
    df_task_def *t = &L->wf->tasks[i];
    const char *where = tp->label[i];
    char d[128];
    const json_t *deps = NULL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcmp(key, "id") == 0 || (t->handler && df_wfl_handler_key(L, where, key)))
            continue;
        if (strcmp(key, "plugin") == 0) {
            if (df_wfl_want_string(L, where, key, v, true) &&
                !(t->plugin = df_wfl_intern(L->wf, json_string_value(v))))
                df_wfl_err(L, NULL, "out of memory");
        } else if (strcmp(key, "params") == 0) {
            if (json_is_object(v) && json_object_size(v) == 0) {
                if (!(t->params = empty_params(tp)))
                    df_wfl_err(L, NULL, "out of memory");
            } else if (json_is_object(v)) {
                t->params = json_incref(v);
            } else
                df_wfl_err(L, where, "params: must be an object, got %s",
                           df_wfl_describe(v, d, sizeof d));
        } else if (strcmp(key, "depends_on") == 0) {
            deps = v;
        } else if (strcmp(key, "when") == 0) {
            if (df_wfl_want_string(L, where, key, v, true)) {
                char msg[512];
                if (!(t->when = df_expr_compile(json_string_value(v), msg, sizeof msg)))
                    df_wfl_err(L, where, "when: the jq expression does not compile: %s", msg);
            }
        } else if (df_wfl_in_list(key, default_keys, DF_WFL_COUNT(default_keys))) {
            task_field(L, where, key, v, t, tp->pool_names, tp->breaker_names);
        } else if (df_wfl_map_key(L, where, key, v, t)) {
            continue;
        } else if (strcmp(key, "branch") == 0) {
            if (!json_is_boolean(v))
                df_wfl_err(L, where, "branch: must be a boolean, got %s",
                           df_wfl_describe(v, d, sizeof d));
            else
                t->branch = json_is_true(v);
        } else {
            df_wfl_unknown_key(L, where, key, task_keys, DF_WFL_COUNT(task_keys));
        }
    }
    if (!json_object_get(obj, "plugin"))
        df_wfl_err(L, where, "missing required key \"plugin\"");
    if (!t->params && !(t->params = empty_params(tp)))
        df_wfl_err(L, NULL, "out of memory");
    return deps;
}

/* One entry of task i's depends_on: a known task id, not the task itself, not listed twice;
 * appended to the task's upstream list. */
static void read_dependency(task_pass *tp, size_t i, size_t k, const json_t *dv)
{
    df_wfl_loader *L = tp->L;
    df_workflow *wf = L->wf;
    df_task_def *t = &wf->tasks[i];
    const char *where = tp->label[i];
    char d[128];
    char dk[40];
    snprintf(dk, sizeof dk, "depends_on[%zu]", k);
    if (!json_is_string(dv)) {
        df_wfl_err(L, where, "%s: must be a string (a task id), got %s", dk,
                   df_wfl_describe(dv, d, sizeof d));
        return;
    }
    const char *dep = json_string_value(dv);
    if (t->id && strcmp(dep, t->id) == 0) {
        df_wfl_err(L, where, "depends_on: a task cannot depend on itself");
        return;
    }
    long idx = df_workflow_find_task(wf, dep);
    if (idx < 0) {
        const char *s = suggest_task(wf, dep, &tp->suggestions_left);
        df_wfl_err(L, where, "depends_on: unknown task \"%.200s\"%s%s%s", dep,
                   s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        return;
    }
    size_t j = (size_t)idx;
    if (tp->stamp[j] == i + 1) {
        df_wfl_err(L, where, "depends_on: \"%s\" is listed more than once", dep);
        return;
    }
    tp->stamp[j] = i + 1;
    t->upstream[t->n_upstream++] = j;
}

/* Resolves task i's depends_on (NULL when it has none) into its upstream list. Returns 0, or -1
 * when out of memory for the list (reported). */
static int read_depends_on(task_pass *tp, size_t i, const json_t *deps)
{
    df_wfl_loader *L = tp->L;
    df_task_def *t = &L->wf->tasks[i];
    char d[128];
    if (deps && !json_is_array(deps)) {
        df_wfl_err(L, tp->label[i], "depends_on: must be an array of task ids, got %s",
                   df_wfl_describe(deps, d, sizeof d));
    } else if (deps && json_array_size(deps) > 0) {
        size_t nd = json_array_size(deps);
        t->upstream = malloc(nd * sizeof *t->upstream);
        if (!t->upstream) {
            df_wfl_err(L, NULL, "out of memory");
            return -1;
        }
        for (size_t k = 0; k < nd; k++)
            read_dependency(tp, i, k, json_array_get(deps, k));
    }
    return 0;
}

/* Pass 2 for task i: its keys, its dependencies, then the templates of its params (which need
 * the dependencies: a ${tasks.X} reference must name an upstream). */
static void read_task(task_pass *tp, size_t i)
{
    df_workflow *wf = tp->L->wf;
    df_task_def *t = &wf->tasks[i];
    const json_t *obj = task_obj(tp, i);
    if (!json_is_object(obj))
        return;
    const json_t *deps = read_task_keys(tp, i, obj);
    if (t->handler ? df_wfl_handler_upstream(tp->L, i, tp->n_dag, tp->stamp) != 0
                   : read_depends_on(tp, i, deps) != 0)
        return;
    df_wfl_map_check(tp->L, tp->label[i], t, obj, wf, tp->stamp, i);
    if (t->params) {
        char path[512] = "params";
        ref_check c = {.L = tp->L,
                       .where = tp->label[i],
                       .self = i,
                       .task = t,
                       .wf = wf,
                       .stamp = tp->stamp,
                       .n_dag = tp->n_dag,
                       .suggestions_left = &tp->suggestions_left};
        check_templates(&c, t->params, path, strlen(path), sizeof path);
    }
}

/* Fills every task's downstream list from the upstream lists: ascending, because tasks are
 * visited in index order. count is scratch space for n_tasks counters. Returns 0, or -1 when
 * out of memory (reported). */
static int link_downstream(df_wfl_loader *L, size_t *count)
{
    df_workflow *wf = L->wf;
    size_t n = wf->n_tasks;
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
            count[wf->tasks[i].upstream[k]]++;
    for (size_t j = 0; j < n; j++) {
        if (count[j] == 0)
            continue;
        wf->tasks[j].downstream = malloc(count[j] * sizeof(size_t));
        if (!wf->tasks[j].downstream) {
            df_wfl_err(L, NULL, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++) {
            df_task_def *u = &wf->tasks[wf->tasks[i].upstream[k]];
            u->downstream[u->n_downstream++] = i;
        }
    return 0;
}

/* SPEC §8: a branch task needs direct downstream tasks (on_exit handlers do not count); one
 * with for_each is workflow_map.c's error. */
static void check_branches(task_pass *tp)
{
    df_workflow *wf = tp->L->wf;
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *t = &wf->tasks[i];
        if (!t->branch)
            continue;
        size_t n = 0;
        for (size_t k = 0; k < t->n_downstream; k++)
            n += !wf->tasks[t->downstream[k]].handler;
        if (n == 0)
            df_wfl_err(tp->L, tp->label[i],
                       "branch: a branch task needs downstream tasks to choose from (no task "
                       "depends on it)");
    }
}

/* Reports cycles; they need every task to have an id for the message, so tasks without a
 * usable one are named by their label (they have no edges). */
static void check_graph(task_pass *tp)
{
    df_workflow *wf = tp->L->wf;
    for (size_t i = 0; i < wf->n_tasks; i++)
        if (!wf->tasks[i].id && !(wf->tasks[i].id = strdup(tp->label[i]))) {
            df_wfl_err(tp->L, NULL, "out of memory");
            return;
        }
    df_wfl_check_cycles(tp->L);
}

/* One pass over every task: pass(tp, i) for the tasks in file order, then the handlers. In a
 * streamed load the tasks array is parsed again, each element current while its pass runs.
 * Returns 0, or -1 when a pass ran out of memory (reported). */
typedef int (*pass_fn)(task_pass *tp, size_t i);

typedef struct stream_pass {
    task_pass *tp;
    pass_fn fn;
} stream_pass;

static int stream_one(void *ctx, size_t i, json_t *task)
{
    stream_pass *sp = ctx;
    if (i >= sp->tp->n_dag)
        return -1;
    sp->tp->cur = task;
    sp->tp->cur_i = i;
    int rc = sp->fn(sp->tp, i);
    sp->tp->cur = NULL;
    return rc;
}

static int each_task(task_pass *tp, size_t n, pass_fn fn)
{
    df_wfl_loader *L = tp->L;
    size_t i = 0;
    if (L->stream_text) {
        stream_pass sp = {.tp = tp, .fn = fn};
        if (df_wfl_stream(L->stream_text, L->stream_len, NULL, NULL, stream_one, &sp) != 0) {
            df_wfl_err(L, NULL, "out of memory");
            return -1;
        }
        i = tp->n_dag;
    }
    for (; i < n; i++)
        if (fn(tp, i) != 0)
            return -1;
    return 0;
}

static int read_task_pass(task_pass *tp, size_t i)
{
    read_task(tp, i);
    return 0;
}

/* See workflow_loader.h. */
void df_wfl_load_tasks(df_wfl_loader *L, const json_t *tasks, const json_t *on_exit,
                       const df_task_def *base, const char *const *pool_names,
                       const char *const *breaker_names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_array(tasks)) {
        df_wfl_err(L, NULL, "tasks: must be an array of tasks, got %s",
                   df_wfl_describe(tasks, d, sizeof d));
        return;
    }
    size_t n_dag = L->stream_text ? L->stream_n : json_array_size(tasks);
    if (n_dag == 0) {
        df_wfl_err(L, NULL, "tasks: must not be empty");
        return;
    }
    if (on_exit && !json_is_array(on_exit)) {
        df_wfl_err(L, NULL, "on_exit: must be an array of handler tasks, got %s",
                   df_wfl_describe(on_exit, d, sizeof d));
        on_exit = NULL;
    }
    size_t n = n_dag + (on_exit ? json_array_size(on_exit) : 0);
    task_pass tp = {.L = L,
                    .tasks = tasks,
                    .on_exit = on_exit,
                    .n_dag = n_dag,
                    .label = calloc(n, sizeof(char *)),
                    .stamp = calloc(n, sizeof(size_t)),
                    .suggestions_left = 50,
                    .pool_names = pool_names,
                    .breaker_names = breaker_names};
    wf->tasks = calloc(n, sizeof *wf->tasks);
    if (!wf->tasks || !tp.label || !tp.stamp || df_wfl_ids_init(wf, n) != 0) {
        df_wfl_err(L, NULL, "out of memory");
        goto out;
    }
    wf->n_tasks = n;
    wf->n_dag = n_dag;
    for (size_t i = 0; i < n; i++) { /* every task starts from the defaults */
        wf->tasks[i] = *base;
        wf->tasks[i].index = i;
        if (i >= n_dag) { /* SPEC §8: a handler runs once every task is final */
            wf->tasks[i].handler = true;
            wf->tasks[i].trigger_rule = DF_TR_ALL_DONE;
        }
    }
    /* Pass 1: ids, so that dependencies can be looked up whatever their order. */
    if (each_task(&tp, n, read_task_id) != 0)
        goto out;
    /* Pass 2: everything else. */
    if (each_task(&tp, n, read_task_pass) != 0)
        goto out;
    if (link_downstream(L, tp.stamp) == 0) { /* the stamps are no longer needed */
        check_branches(&tp);
        check_graph(&tp);
    }
out:
    if (tp.label)
        for (size_t i = 0; i < n; i++)
            free(tp.label[i]);
    free(tp.label);
    free(tp.stamp);
    json_decref(tp.empty);
}
