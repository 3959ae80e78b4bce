/* workflow: owns the strict loader of workflow files (SPEC §1) into the df_workflow model, and
 * path resolution against the workflow's folder (see workflow.h). Trigger rule names are
 * model.h's.
 *
 * The loader never stops at the first problem: each check appends its message to the caller's
 * df_errlist and goes on with what it could read, so one run of `dagflow validate` lists every
 * error in the file. Messages are `FILE: WHERE: KEY: PROBLEM`, where WHERE is `task "id"`,
 * `tasks[N]` (a task without a usable id), `defaults`, `pools`, `breaker "name"` or `alerts[N]`,
 * and is left out for top-level keys. Work is linear in the size of the file: ids are looked up in
 * a hash map (a jansson object), dependencies are de-duplicated with a stamp array, and cycles are
 * found by df_dag_toposort in O(V+E). */
#include "workflow.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dag.h"
#include "suggest.h"
#include "template.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_keys[] = {"name",     "description",      "params",
                                       "defaults", "max_active_tasks", "pools",
                                       "breakers", "alerts",           "tasks"};
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
                                        "breaker"};
/* The task keys `defaults` may set: everything but what only makes sense per task. */
static const char *const default_keys[] = {
    "trigger_rule", "retries",    "retry_delay_ms", "retry_backoff", "retry_max_delay_ms",
    "retry_jitter", "timeout_ms", "priority",       "pool",          "breaker"};
static const char *const breaker_keys[] = {"failure_rate", "window", "min_calls", "open_ms"};
static const char *const sink_types[] = {"command", "webhook", "file"};
static const char *const sink_keys[] = {"type", "on", "argv", "url", "headers", "path"};
static const char *const alert_events[] = {"task_failed",   "task_retry",     "run_failed",
                                           "run_succeeded", "breaker_opened", "breaker_closed"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* [A-Za-z0-9_.-]{1,128} for workflow names (dots allowed), [A-Za-z0-9_-]{1,128} for task ids. */
static bool valid_name(const char *s, bool allow_dot)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && !(allow_dot && c == '.'))
            return false;
    }
    return true;
}

/* ---- messages -------------------------------------------------------------------------------- */

typedef struct loader {
    const char *file; /* for messages */
    df_errlist *errs;
    size_t nerr0; /* errs->n when loading began */
    df_workflow *wf;
} loader;

/* Appends `FILE: WHERE: message` (or `FILE: message` without WHERE). */
static void lerr(loader *L, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lerr(loader *L, const char *where, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    const char *m = msg ? msg : "out of memory";
    if (where && *where)
        df_errlist_add(L->errs, "%s: %s: %s", L->file, where, m);
    else
        df_errlist_add(L->errs, "%s: %s", L->file, m);
    free(msg);
}

/* A short description of a JSON value for "got ..." in messages. */
static const char *describe(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *t = text ? text : "?";
    int tl = (int)strlen(t);
    int cut = tl > 60 ? 57 : tl;
    const char *ell = tl > 60 ? "..." : "";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(buf, len, "an object");
        break;
    case JSON_ARRAY:
        snprintf(buf, len, "an array");
        break;
    case JSON_STRING:
        snprintf(buf, len, "a string (%.*s%s)", cut, t, ell);
        break;
    case JSON_INTEGER:
        snprintf(buf, len, "an integer (%s)", t);
        break;
    case JSON_REAL:
        snprintf(buf, len, "a real number (%.*s%s)", cut, t, ell);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(buf, len, "a boolean (%s)", t);
        break;
    default:
        snprintf(buf, len, "null");
        break;
    }
    free(text);
    return buf;
}

/* A number as written in JSON, for range errors ("0.5", "3"). */
static const char *num_text(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    snprintf(buf, len, "%s", text ? text : "?");
    free(text);
    return buf;
}

/* `unknown key "k"; did you mean "x"?` */
static void unknown_key(loader *L, const char *where, const char *key, const char *const *known,
                        size_t n)
{
    const char *s = df_suggest(key, known, n);
    if (s)
        lerr(L, where, "unknown key \"%s\"; did you mean \"%s\"?", key, s);
    else
        lerr(L, where, "unknown key \"%s\"", key);
}

/* ---- typed fields ---------------------------------------------------------------------------- */

/* An integer >= min. Returns true and sets *out when valid; otherwise reports it. */
static bool want_int(loader *L, const char *where, const char *key, const json_t *v, int64_t min,
                     bool bounded, int64_t *out)
{
    char d[128];
    if (!json_is_integer(v)) {
        if (bounded)
            lerr(L, where, "%s: must be an integer >= %lld, got %s", key, (long long)min,
                 describe(v, d, sizeof d));
        else
            lerr(L, where, "%s: must be an integer, got %s", key, describe(v, d, sizeof d));
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (bounded && x < min) {
        lerr(L, where, "%s: must be an integer >= %lld, got %lld", key, (long long)min,
             (long long)x);
        return false;
    }
    *out = (int64_t)x;
    return true;
}

static bool want_string(loader *L, const char *where, const char *key, const json_t *v,
                        bool nonempty)
{
    char d[128];
    if (!json_is_string(v)) {
        lerr(L, where, "%s: must be a string, got %s", key, describe(v, d, sizeof d));
        return false;
    }
    if (nonempty && json_string_length(v) == 0) {
        lerr(L, where, "%s: must not be empty", key);
        return false;
    }
    return true;
}

/* Looks a pool or breaker name up among n names; reports an unknown one with a suggestion. */
static int find_named(loader *L, const char *where, const char *key, const char *what,
                      const char *plural, const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    const char *s = df_suggest(name, names, n);
    if (n == 0)
        lerr(L, where, "%s: unknown %s \"%s\" (the workflow defines no %s)", key, what, name,
             plural);
    else if (s)
        lerr(L, where, "%s: unknown %s \"%s\"; did you mean \"%s\"?", key, what, name, s);
    else
        lerr(L, where, "%s: unknown %s \"%s\"", key, what, name);
    return -1;
}

/* One of the task keys `defaults` may also set (default_keys), read into t. */
static void task_field(loader *L, const char *where, const char *key, const json_t *v,
                       df_task_def *t, const char *const *pool_names,
                       const char *const *breaker_names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (strcmp(key, "trigger_rule") == 0) {
        if (!want_string(L, where, key, v, false))
            return;
        const char *name = json_string_value(v);
        if (df_trigger_rule_parse(name, &t->trigger_rule) != 0) {
            const char *s = df_suggest(name, df_trigger_rule_names, DF_TR__COUNT);
            if (s)
                lerr(L, where, "trigger_rule: unknown trigger rule \"%s\"; did you mean \"%s\"?",
                     name, s);
            else
                lerr(L, where, "trigger_rule: unknown trigger rule \"%s\"", name);
        }
    } else if (strcmp(key, "retries") == 0) {
        want_int(L, where, key, v, 0, true, &t->retries);
    } else if (strcmp(key, "retry_delay_ms") == 0) {
        want_int(L, where, key, v, 0, true, &t->retry_delay_ms);
    } else if (strcmp(key, "retry_max_delay_ms") == 0) {
        want_int(L, where, key, v, 0, true, &t->retry_max_delay_ms);
    } else if (strcmp(key, "timeout_ms") == 0) {
        want_int(L, where, key, v, 0, true, &t->timeout_ms);
    } else if (strcmp(key, "priority") == 0) {
        want_int(L, where, key, v, 0, false, &t->priority);
    } else if (strcmp(key, "retry_backoff") == 0) {
        if (!json_is_number(v))
            lerr(L, where, "retry_backoff: must be a number >= 1, got %s",
                 describe(v, d, sizeof d));
        else if (!(json_number_value(v) >= 1.0))
            lerr(L, where, "retry_backoff: must be a number >= 1, got %s",
                 num_text(v, d, sizeof d));
        else
            t->retry_backoff = json_number_value(v);
    } else if (strcmp(key, "retry_jitter") == 0) {
        if (!json_is_boolean(v))
            lerr(L, where, "retry_jitter: must be a boolean, got %s", describe(v, d, sizeof d));
        else
            t->retry_jitter = json_is_true(v);
    } else if (strcmp(key, "pool") == 0) {
        if (want_string(L, where, key, v, false))
            t->pool = find_named(L, where, key, "pool", "pools", json_string_value(v), pool_names,
                                 wf->n_pools);
    } else if (strcmp(key, "breaker") == 0) {
        if (want_string(L, where, key, v, false))
            t->breaker = find_named(L, where, key, "breaker", "breakers", json_string_value(v),
                                    breaker_names, wf->n_breakers);
    }
}

/* ---- top-level sections ---------------------------------------------------------------------- */

static void load_pools(loader *L, const json_t *pools, const char ***names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_object(pools)) {
        lerr(L, NULL, "pools: must be an object (pool name -> slots), got %s",
             describe(pools, d, sizeof d));
        return;
    }
    size_t n = json_object_size(pools);
    wf->pools = calloc(n ? n : 1, sizeof *wf->pools);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!wf->pools || !*names) {
        lerr(L, NULL, "out of memory");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)pools, key, v)
    {
        df_pool_def *p = &wf->pools[wf->n_pools];
        /* Every named pool is registered, even an invalid one, so that tasks naming it do not
         * also report "unknown pool". */
        p->name = strdup(key);
        if (!p->name) {
            lerr(L, NULL, "out of memory");
            return;
        }
        (*names)[wf->n_pools++] = p->name;
        p->slots = 1;
        if (key[0] == '\0') {
            lerr(L, "pools", "a pool name must not be empty");
            continue;
        }
        char k[160];
        snprintf(k, sizeof k, "\"%.128s\"", key);
        want_int(L, "pools", k, v, 1, true, &p->slots);
    }
}

static void load_breakers(loader *L, const json_t *breakers, const char ***names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_object(breakers)) {
        lerr(L, NULL, "breakers: must be an object (breaker name -> settings), got %s",
             describe(breakers, d, sizeof d));
        return;
    }
    size_t n = json_object_size(breakers);
    wf->breakers = calloc(n ? n : 1, sizeof *wf->breakers);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!wf->breakers || !*names) {
        lerr(L, NULL, "out of memory");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)breakers, key, v)
    {
        df_breaker_def *b = &wf->breakers[wf->n_breakers];
        b->name = strdup(key);
        if (!b->name) {
            lerr(L, NULL, "out of memory");
            return;
        }
        (*names)[wf->n_breakers++] = b->name;
        b->failure_rate = 0.5;
        b->window = 10;
        b->min_calls = 5;
        b->open_ms = 30000;
        if (key[0] == '\0') {
            lerr(L, "breakers", "a breaker name must not be empty");
            continue;
        }
        char where[160];
        snprintf(where, sizeof where, "breaker \"%.128s\"", key);
        if (!json_is_object(v)) {
            lerr(L, where, "must be an object (settings), got %s", describe(v, d, sizeof d));
            continue;
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "failure_rate") == 0) {
                double r = json_number_value(x);
                if (!json_is_number(x))
                    lerr(L, where, "failure_rate: must be a number in (0, 1], got %s",
                         describe(x, d, sizeof d));
                else if (!(r > 0.0 && r <= 1.0))
                    lerr(L, where, "failure_rate: must be a number in (0, 1], got %s",
                         num_text(x, d, sizeof d));
                else
                    b->failure_rate = r;
            } else if (strcmp(k, "window") == 0) {
                want_int(L, where, k, x, 1, true, &b->window);
            } else if (strcmp(k, "min_calls") == 0) {
                want_int(L, where, k, x, 1, true, &b->min_calls);
            } else if (strcmp(k, "open_ms") == 0) {
                want_int(L, where, k, x, 0, true, &b->open_ms);
            } else {
                unknown_key(L, where, k, breaker_keys, COUNT(breaker_keys));
            }
        }
    }
}

static void load_sink(loader *L, const char *where, const json_t *sink)
{
    char d[128];
    if (!json_is_object(sink)) {
        lerr(L, where, "must be an object (an alert sink), got %s", describe(sink, d, sizeof d));
        return;
    }
    const json_t *type = json_object_get(sink, "type");
    const char *tname = NULL; /* a known type, or NULL */
    if (!type) {
        lerr(L, where, "missing required key \"type\" (command, webhook or file)");
    } else if (want_string(L, where, "type", type, false)) {
        const char *t = json_string_value(type);
        if (in_list(t, sink_types, COUNT(sink_types))) {
            tname = t;
        } else {
            const char *s = df_suggest(t, sink_types, COUNT(sink_types));
            lerr(L, where,
                 "type: unknown sink type \"%s\"%s%s%s (expected command, webhook or file)", t,
                 s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sink, key, v)
    {
        if (strcmp(key, "type") == 0)
            continue;
        if (!in_list(key, sink_keys, COUNT(sink_keys))) {
            unknown_key(L, where, key, sink_keys, COUNT(sink_keys));
            continue;
        }
        if (strcmp(key, "on") == 0) {
            if (!json_is_array(v)) {
                lerr(L, where, "on: must be an array of event names, got %s",
                     describe(v, d, sizeof d));
                continue;
            }
            for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *e = json_array_get(v, i);
                char k[32];
                snprintf(k, sizeof k, "on[%zu]", i);
                if (!want_string(L, where, k, e, false))
                    continue;
                const char *name = json_string_value(e);
                if (in_list(name, alert_events, COUNT(alert_events)))
                    continue;
                const char *s = df_suggest(name, alert_events, COUNT(alert_events));
                lerr(L, where,
                     "%s: unknown event \"%s\"%s%s%s (expected task_failed, task_retry, "
                     "run_failed, run_succeeded, breaker_opened or breaker_closed)",
                     k, name, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
            }
            continue;
        }
        /* argv, url, headers, path: each belongs to one sink type. */
        const char *owner = strcmp(key, "argv") == 0   ? "command"
                            : strcmp(key, "path") == 0 ? "file"
                                                       : "webhook";
        if (tname && strcmp(tname, owner) != 0) {
            lerr(L, where, "key \"%s\" does not belong in a \"%s\" sink (it is for \"%s\" sinks)",
                 key, tname, owner);
            continue;
        }
        if (strcmp(key, "argv") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                lerr(L, where, "argv: must be a non-empty array of strings, got %s",
                     json_is_array(v) ? "an empty array" : describe(v, d, sizeof d));
                continue;
            }
            for (size_t i = 0; i < json_array_size(v); i++) {
                char k[32];
                snprintf(k, sizeof k, "argv[%zu]", i);
                want_string(L, where, k, json_array_get(v, i), i == 0);
            }
        } else if (strcmp(key, "url") == 0) {
            if (want_string(L, where, key, v, true)) {
                const char *u = json_string_value(v);
                if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
                    lerr(L, where, "url: must start with http:// or https://, got \"%.100s\"", u);
            }
        } else if (strcmp(key, "headers") == 0) {
            if (!json_is_object(v)) {
                lerr(L, where, "headers: must be an object of strings, got %s",
                     describe(v, d, sizeof d));
                continue;
            }
            const char *hk;
            json_t *hv;
            json_object_foreach(v, hk, hv)
            {
                if (!json_is_string(hv))
                    lerr(L, where, "headers: \"%.128s\": must be a string, got %s", hk,
                         describe(hv, d, sizeof d));
            }
        } else { /* path */
            want_string(L, where, key, v, true);
        }
    }
    if (tname) {
        const char *req = strcmp(tname, "command") == 0   ? "argv"
                          : strcmp(tname, "webhook") == 0 ? "url"
                                                          : "path";
        if (!json_object_get(sink, req))
            lerr(L, where, "missing required key \"%s\" (a %s sink needs it)", req, tname);
    }
}

static void load_alerts(loader *L, const json_t *alerts)
{
    char d[128];
    if (!json_is_array(alerts)) {
        lerr(L, NULL, "alerts: must be an array of sinks, got %s", describe(alerts, d, sizeof d));
        return;
    }
    for (size_t i = 0; i < json_array_size(alerts); i++) {
        char where[32];
        snprintf(where, sizeof where, "alerts[%zu]", i);
        load_sink(L, where, json_array_get(alerts, i));
    }
}

/* ---- tasks ----------------------------------------------------------------------------------- */

/* What a task's template references are checked against. */
typedef struct ref_check {
    loader *L;
    const char *where; /* the task's label */
    const char *path;  /* e.g. params.argv[1] */
    size_t self;       /* the task's index */
    const df_task_def *task;
    json_t *ids;
    const size_t *stamp; /* stamp[j] == self + 1 when j is in the task's depends_on */
    size_t *suggestions_left;
} ref_check;

static int check_ref(void *ud, const char *ref)
{
    ref_check *c = ud;
    if (strncmp(ref, "tasks.", 6) != 0)
        return 0;
    /* The scan only reports well-formed references: tasks.ID.result[...]. */
    const char *id = ref + 6;
    size_t n = strcspn(id, ".");
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)(n > 128 ? 128 : n), id);
    if (c->task->id && strcmp(name, c->task->id) == 0) {
        lerr(c->L, c->where, "%s: ${%s} references the task itself", c->path, ref);
        return 0;
    }
    const json_t *idx = json_object_get(c->ids, name);
    if (!idx) {
        const char *s = NULL;
        df_suggester sg;
        if (*c->suggestions_left > 0) {
            (*c->suggestions_left)--;
            df_suggest_init(&sg, name);
            const char *k;
            json_t *v;
            json_object_foreach(c->ids, k, v)
            {
                df_suggest_add(&sg, k);
            }
            s = df_suggest_best(&sg);
        }
        lerr(c->L, c->where, "%s: ${%s} references task \"%s\", which does not exist%s%s%s",
             c->path, ref, name, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        return 0;
    }
    if (c->task->trigger_rule == DF_TR_ALWAYS) {
        lerr(c->L, c->where,
             "%s: ${%s}: a task with trigger_rule \"always\" may not reference upstream results "
             "(it starts without waiting for its upstreams)",
             c->path, ref);
        return 0;
    }
    size_t j = (size_t)json_integer_value(idx);
    if (c->stamp[j] != c->self + 1)
        lerr(c->L, c->where,
             "%s: ${%s} references task \"%s\", which is not an upstream (add it to depends_on)",
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
            lerr(c->L, c->where, "%s: %s", path, err);
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

/* Reports cycles among the tasks' dependencies, each as a path. After a cycle is found its tasks
 * are left out and the search repeats, so disjoint cycles are all reported (at most 20). On an
 * acyclic graph fills wf->topo and returns 0. */
static int check_cycles(loader *L)
{
    df_workflow *wf = L->wf;
    size_t n = wf->n_tasks;
    wf->topo = malloc((n ? n : 1) * sizeof *wf->topo);
    size_t **up = malloc((n ? n : 1) * sizeof *up);
    size_t *nup = malloc((n ? n : 1) * sizeof *nup);
    unsigned char *gone = calloc(n ? n : 1, 1);
    size_t *buf = NULL;
    int rc = -1;
    if (!wf->topo || !up || !nup || !gone) {
        lerr(L, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        up[i] = wf->tasks[i].upstream;
        nup[i] = wf->tasks[i].n_upstream;
    }
    for (int found = 0;; found++) {
        size_t *cycle = NULL, clen = 0;
        int r = df_dag_toposort(n, (const size_t *const *)up, nup, wf->topo, &cycle, &clen);
        if (r == 0) {
            rc = found ? -1 : 0;
            break;
        }
        if (r == -2) {
            lerr(L, NULL, "out of memory");
            break;
        }
        if (found == 20) {
            lerr(L, NULL, "more cycles (only the first 20 are shown)");
            free(cycle);
            break;
        }
        /* "cycle: a -> b -> a" */
        size_t tlen = 8;
        for (size_t k = 0; k < clen; k++)
            tlen += strlen(wf->tasks[cycle[k]].id) + 4;
        char *text = malloc(tlen);
        if (text) {
            size_t at = 0;
            for (size_t k = 0; k < clen; k++)
                at += (size_t)snprintf(text + at, tlen - at, "%s%s", k ? " -> " : "",
                                       wf->tasks[cycle[k]].id);
            lerr(L, NULL, "cycle: %s", text);
            free(text);
        } else {
            lerr(L, NULL, "cycle (out of memory while printing it)");
        }
        for (size_t k = 0; k < clen; k++)
            gone[cycle[k]] = 1;
        free(cycle);
        /* Rebuild the upstream lists without the tasks of the cycles found so far. */
        if (!buf) {
            size_t total = 0;
            for (size_t i = 0; i < n; i++)
                total += wf->tasks[i].n_upstream;
            buf = malloc((total ? total : 1) * sizeof *buf);
            if (!buf) {
                lerr(L, NULL, "out of memory");
                break;
            }
        }
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            up[i] = buf + at;
            nup[i] = 0;
            if (gone[i])
                continue;
            for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
                if (!gone[wf->tasks[i].upstream[k]])
                    buf[at + nup[i]++] = wf->tasks[i].upstream[k];
            at += nup[i];
        }
    }
out:
    free(up);
    free(nup);
    free(gone);
    free(buf);
    return rc;
}

static void load_tasks(loader *L, const json_t *tasks, const df_task_def *base,
                       const char *const *pool_names, const char *const *breaker_names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_array(tasks)) {
        lerr(L, NULL, "tasks: must be an array of tasks, got %s", describe(tasks, d, sizeof d));
        return;
    }
    size_t n = json_array_size(tasks);
    if (n == 0) {
        lerr(L, NULL, "tasks: must not be empty");
        return;
    }
    wf->tasks = calloc(n, sizeof *wf->tasks);
    char **label = calloc(n, sizeof *label);
    size_t *stamp = calloc(n, sizeof *stamp);
    wf->ids = json_object();
    if (!wf->tasks || !label || !stamp || !wf->ids) {
        lerr(L, NULL, "out of memory");
        goto out;
    }
    wf->n_tasks = n;

    /* Pass 1: ids, so that dependencies can be looked up whatever their order. */
    for (size_t i = 0; i < n; i++) {
        df_task_def *t = &wf->tasks[i];
        *t = *base;
        t->index = i;
        const json_t *obj = json_array_get(tasks, i);
        char pos[32];
        snprintf(pos, sizeof pos, "tasks[%zu]", i);
        const json_t *id = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
        if (!json_is_object(obj)) {
            lerr(L, pos, "must be an object (a task), got %s", describe(obj, d, sizeof d));
        } else if (!id) {
            lerr(L, pos, "missing required key \"id\"");
        } else if (!json_is_string(id)) {
            lerr(L, pos, "id: must be a string, got %s", describe(id, d, sizeof d));
        } else if (!valid_name(json_string_value(id), false)) {
            lerr(L, pos,
                 "id: \"%.200s\" is not a valid task id (it must match [A-Za-z0-9_-]{1,128})",
                 json_string_value(id));
        } else {
            const char *s = json_string_value(id);
            const json_t *prev = json_object_get(wf->ids, s);
            t->id = strdup(s);
            if (!t->id) {
                lerr(L, NULL, "out of memory");
                goto out;
            }
            if (prev) {
                lerr(L, pos, "duplicate task id \"%s\" (first defined at tasks[%lld])", s,
                     (long long)json_integer_value(prev));
                if (asprintf(&label[i], "task \"%s\" (tasks[%zu])", s, i) < 0)
                    label[i] = NULL;
            } else {
                if (json_object_set_new(wf->ids, s, json_integer((json_int_t)i)) != 0) {
                    lerr(L, NULL, "out of memory");
                    goto out;
                }
                if (asprintf(&label[i], "task \"%s\"", s) < 0)
                    label[i] = NULL;
            }
        }
        if (!label[i])
            label[i] = strdup(pos);
        if (!label[i]) {
            lerr(L, NULL, "out of memory");
            goto out;
        }
    }

    /* Pass 2: everything else. */
    size_t suggestions_left = 50; /* each costs O(n): keep many errors from costing O(n^2) */
    for (size_t i = 0; i < n; i++) {
        df_task_def *t = &wf->tasks[i];
        const json_t *obj = json_array_get(tasks, i);
        const char *where = label[i];
        if (!json_is_object(obj))
            continue;
        const json_t *deps = NULL;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v)
        {
            if (strcmp(key, "id") == 0)
                continue;
            if (strcmp(key, "plugin") == 0) {
                if (want_string(L, where, key, v, true) &&
                    !(t->plugin = strdup(json_string_value(v))))
                    lerr(L, NULL, "out of memory");
            } else if (strcmp(key, "params") == 0) {
                if (json_is_object(v))
                    t->params = json_incref(v);
                else
                    lerr(L, where, "params: must be an object, got %s", describe(v, d, sizeof d));
            } else if (strcmp(key, "depends_on") == 0) {
                deps = v;
            } else if (in_list(key, default_keys, COUNT(default_keys))) {
                task_field(L, where, key, v, t, pool_names, breaker_names);
            } else {
                unknown_key(L, where, key, task_keys, COUNT(task_keys));
            }
        }
        if (!json_object_get(obj, "plugin"))
            lerr(L, where, "missing required key \"plugin\"");
        if (!t->params && !(t->params = json_object()))
            lerr(L, NULL, "out of memory");

        if (deps && !json_is_array(deps)) {
            lerr(L, where, "depends_on: must be an array of task ids, got %s",
                 describe(deps, d, sizeof d));
        } else if (deps && json_array_size(deps) > 0) {
            size_t nd = json_array_size(deps);
            t->upstream = malloc(nd * sizeof *t->upstream);
            if (!t->upstream) {
                lerr(L, NULL, "out of memory");
                continue;
            }
            for (size_t k = 0; k < nd; k++) {
                const json_t *dv = json_array_get(deps, k);
                char dk[40];
                snprintf(dk, sizeof dk, "depends_on[%zu]", k);
                if (!json_is_string(dv)) {
                    lerr(L, where, "%s: must be a string (a task id), got %s", dk,
                         describe(dv, d, sizeof d));
                    continue;
                }
                const char *dep = json_string_value(dv);
                if (t->id && strcmp(dep, t->id) == 0) {
                    lerr(L, where, "depends_on: a task cannot depend on itself");
                    continue;
                }
                const json_t *idx = json_object_get(wf->ids, dep);
                if (!idx) {
                    const char *s = NULL;
                    df_suggester sg;
                    if (suggestions_left > 0) {
                        suggestions_left--;
                        df_suggest_init(&sg, dep);
                        const char *k2;
                        json_t *v2;
                        json_object_foreach(wf->ids, k2, v2)
                        {
                            df_suggest_add(&sg, k2);
                        }
                        s = df_suggest_best(&sg);
                    }
                    lerr(L, where, "depends_on: unknown task \"%.200s\"%s%s%s", dep,
                         s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
                    continue;
                }
                size_t j = (size_t)json_integer_value(idx);
                if (stamp[j] == i + 1) {
                    lerr(L, where, "depends_on: \"%s\" is listed more than once", dep);
                    continue;
                }
                stamp[j] = i + 1;
                t->upstream[t->n_upstream++] = j;
            }
        }

        if (t->params) {
            char path[512] = "params";
            ref_check c = {.L = L,
                           .where = where,
                           .self = i,
                           .task = t,
                           .ids = wf->ids,
                           .stamp = stamp,
                           .suggestions_left = &suggestions_left};
            check_templates(&c, t->params, path, strlen(path), sizeof path);
        }
    }

    /* Downstream lists: ascending, because tasks are visited in index order. */
    size_t *count = stamp; /* reuse: stamps are no longer needed */
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
            count[wf->tasks[i].upstream[k]]++;
    for (size_t j = 0; j < n; j++) {
        if (count[j] == 0)
            continue;
        wf->tasks[j].downstream = malloc(count[j] * sizeof(size_t));
        if (!wf->tasks[j].downstream) {
            lerr(L, NULL, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++) {
            df_task_def *u = &wf->tasks[wf->tasks[i].upstream[k]];
            u->downstream[u->n_downstream++] = i;
        }

    /* Cycles need every task to have an id for the message; tasks without one have no edges. */
    for (size_t i = 0; i < n; i++)
        if (!wf->tasks[i].id && !(wf->tasks[i].id = strdup(label[i]))) {
            lerr(L, NULL, "out of memory");
            goto out;
        }
    check_cycles(L);
out:
    if (label)
        for (size_t i = 0; i < n; i++)
            free(label[i]);
    free(label);
    free(stamp);
}

/* ---- the document ---------------------------------------------------------------------------- */

static void load_doc(loader *L, json_t *doc)
{
    df_workflow *wf = L->wf;
    char d[128];
    const char **pool_names = NULL, **breaker_names = NULL;
    if (!json_is_object(doc)) {
        lerr(L, NULL, "the document must be a JSON object, got %s", describe(doc, d, sizeof d));
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        if (!in_list(key, top_keys, COUNT(top_keys)))
            unknown_key(L, NULL, key, top_keys, COUNT(top_keys));
    }

    v = json_object_get(doc, "name");
    if (!v) {
        lerr(L, NULL, "missing required key \"name\"");
    } else if (want_string(L, NULL, "name", v, false)) {
        if (!valid_name(json_string_value(v), true))
            lerr(L, NULL,
                 "name: \"%.200s\" is not a valid workflow name (it must match "
                 "[A-Za-z0-9_.-]{1,128})",
                 json_string_value(v));
        else if (!(wf->name = strdup(json_string_value(v))))
            lerr(L, NULL, "out of memory");
    }
    if ((v = json_object_get(doc, "description")) && want_string(L, NULL, "description", v, false))
        if (!(wf->description = strdup(json_string_value(v))))
            lerr(L, NULL, "out of memory");
    if ((v = json_object_get(doc, "params"))) {
        if (json_is_object(v))
            wf->params = json_incref(v);
        else
            lerr(L, NULL, "params: must be an object, got %s", describe(v, d, sizeof d));
    }
    if (!wf->params && !(wf->params = json_object()))
        lerr(L, NULL, "out of memory");
    if ((v = json_object_get(doc, "max_active_tasks")))
        want_int(L, NULL, "max_active_tasks", v, 1, true, &wf->max_active_tasks);
    if ((v = json_object_get(doc, "pools")))
        load_pools(L, v, &pool_names);
    if ((v = json_object_get(doc, "breakers")))
        load_breakers(L, v, &breaker_names);
    if ((v = json_object_get(doc, "alerts"))) {
        load_alerts(L, v);
        if (json_is_array(v))
            wf->alerts = json_incref(v);
    }
    if (!wf->alerts && !(wf->alerts = json_array()))
        lerr(L, NULL, "out of memory");

    /* Task defaults (SPEC §1), then `defaults`, then each task's own keys. */
    df_task_def base = {.trigger_rule = DF_TR_ALL_SUCCESS,
                        .retries = 0,
                        .retry_delay_ms = 1000,
                        .retry_backoff = 2.0,
                        .retry_max_delay_ms = 300000,
                        .retry_jitter = false,
                        .timeout_ms = 0,
                        .priority = 0,
                        .pool = -1,
                        .breaker = -1};
    if ((v = json_object_get(doc, "defaults"))) {
        if (!json_is_object(v)) {
            lerr(L, NULL, "defaults: must be an object, got %s", describe(v, d, sizeof d));
        } else {
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x)
            {
                if (in_list(k, default_keys, COUNT(default_keys)))
                    task_field(L, "defaults", k, x, &base, pool_names, breaker_names);
                else if (in_list(k, task_keys, COUNT(task_keys)))
                    lerr(L, "defaults", "key \"%s\" cannot have a default (set it in each task)",
                         k);
                else
                    unknown_key(L, "defaults", k, default_keys, COUNT(default_keys));
            }
        }
    }

    v = json_object_get(doc, "tasks");
    if (!v)
        lerr(L, NULL, "missing required key \"tasks\"");
    else
        load_tasks(L, v, &base, pool_names, breaker_names);
    free(pool_names);
    free(breaker_names);
}

/* Loads doc (borrowed) into a new workflow; see workflow.h. */
static int load(json_t *doc, const char *path, char *dir, df_workflow **out, df_errlist *errs)
{
    df_workflow *wf = calloc(1, sizeof *wf);
    loader L = {.file = path, .errs = errs, .nerr0 = errs->n, .wf = wf};
    *out = NULL;
    if (!wf) {
        free(dir);
        df_errlist_add(errs, "%s: out of memory", path);
        return -1;
    }
    wf->dir = dir;
    wf->path = strdup(path);
    wf->doc = json_incref(doc);
    if (!wf->path || !wf->dir)
        lerr(&L, NULL, "out of memory");
    load_doc(&L, doc);
    if (errs->n != L.nerr0) {
        df_workflow_free(wf);
        return -1;
    }
    *out = wf;
    return 0;
}

/* Reads the file with jansson (JSON_REJECT_DUPLICATES: a key given twice in one object is an
 * error) and loads it; see workflow.h. wf->dir is the realpath of the file's folder. */
int df_workflow_load_file(const char *path, df_workflow **out, df_errlist *errs)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        df_errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    json_error_t jerr;
    json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!doc) {
        if (jerr.line > 0)
            df_errlist_add(errs, "%s: line %d, column %d: JSON error: %s", path, jerr.line,
                           jerr.column, jerr.text);
        else
            df_errlist_add(errs, "%s: JSON error: %s", path, jerr.text);
        return -1;
    }
    char *copy = strdup(path);
    char *dir = copy ? realpath(dirname(copy), NULL) : NULL;
    if (!dir) {
        df_errlist_add(errs, "%s: cannot resolve the file's folder: %s", path,
                       copy ? strerror(errno) : "out of memory");
        free(copy);
        json_decref(doc);
        return -1;
    }
    free(copy);
    int rc = load(doc, path, dir, out, errs);
    json_decref(doc);
    return rc;
}

/* Loads a document already in memory (a stored DAG on resume); see workflow.h. path NULL means
 * "<stored>"; dir NULL means the current directory. */
int df_workflow_load_json(json_t *doc, const char *path, const char *dir, df_workflow **out,
                          df_errlist *errs)
{
    *out = NULL;
    if (!path)
        path = "<stored>";
    if (!doc) {
        df_errlist_add(errs, "%s: no document", path);
        return -1;
    }
    char *d = dir ? strdup(dir) : getcwd(NULL, 0);
    if (!d) {
        df_errlist_add(errs, "%s: %s", path, dir ? "out of memory" : strerror(errno));
        return -1;
    }
    return load(doc, path, d, out, errs);
}

/* Index of the task with this id, or -1 (also for NULL). O(1) through wf->ids when the workflow
 * was loaded; a linear scan otherwise. Thread-safe for concurrent readers. */
long df_workflow_find_task(const df_workflow *wf, const char *id)
{
    if (!wf || !id)
        return -1;
    if (wf->ids) {
        const json_t *v = json_object_get(wf->ids, id);
        return v ? (long)json_integer_value(v) : -1;
    }
    for (size_t i = 0; i < wf->n_tasks; i++)
        if (wf->tasks[i].id && strcmp(wf->tasks[i].id, id) == 0)
            return (long)i;
    return -1;
}

/* Frees the workflow and everything it owns (see the field comments in workflow.h). */
void df_workflow_free(df_workflow *wf)
{
    if (!wf)
        return;
    for (size_t i = 0; i < wf->n_tasks; i++) {
        df_task_def *t = &wf->tasks[i];
        free(t->id);
        free(t->plugin);
        json_decref(t->params);
        free(t->upstream);
        free(t->downstream);
    }
    free(wf->tasks);
    for (size_t i = 0; i < wf->n_pools; i++)
        free(wf->pools[i].name);
    free(wf->pools);
    for (size_t i = 0; i < wf->n_breakers; i++)
        free(wf->breakers[i].name);
    free(wf->breakers);
    free(wf->topo);
    json_decref(wf->ids);
    json_decref(wf->alerts);
    json_decref(wf->params);
    json_decref(wf->doc);
    free(wf->description);
    free(wf->name);
    free(wf->dir);
    free(wf->path);
    free(wf);
}

/* Resolves a path written in the workflow (SPEC §1 "Paths"): an absolute path is returned as is,
 * a relative one is joined to wf->dir (or returned as is when the workflow has no dir). Returns a
 * new malloc'd string (the caller frees it), or NULL for a NULL path or on allocation failure.
 * Thread-safe. */
char *df_workflow_resolve_path(const df_workflow *wf, const char *path)
{
    if (!path)
        return NULL;
    if (path[0] == '/' || !wf || !wf->dir || !wf->dir[0])
        return strdup(path);
    size_t dl = strlen(wf->dir);
    bool slash = wf->dir[dl - 1] == '/';
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", wf->dir, slash ? "" : "/", path) < 0)
        return NULL;
    return out;
}
