/* workflow: owns the strict loader of workflow files (SPEC §1) into the df_workflow model: the
 * document, its top-level keys and sections (pools, breakers, alerts), and the public functions
 * of workflow.h (loading, lookup, freeing, path resolution against the workflow's folder). Task
 * defaults and the tasks are workflow_task.c's; messages and typed fields workflow_fields.c's
 * (see workflow_loader.h).
 *
 * The loader never stops at the first problem: each check appends its message to the caller's
 * df_errlist and goes on with what it could read, so one run of `dagflow validate` lists every
 * error in the file. Messages are `FILE: WHERE: KEY: PROBLEM`, where WHERE is `task "id"`,
 * `tasks[N]` (a task without a usable id), `defaults`, `pools`, `breaker "name"` or `alerts[N]`,
 * and is left out for top-level keys. Work is linear in the size of the file. */
#include "expr.h"
#include "workflow.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "path.h"
#include "schedule.h"
#include "suggest.h"
#include "workflow_loader.h"

static const char *const top_keys[] = {
    "name",       "description", "params", "defaults", "max_active_tasks", "pools",
    "breakers",   "alerts",      "tasks",  "schedule", "env_passthrough",  "env",
    "timeout_ms", "on_exit"};
static const char *const breaker_keys[] = {"failure_rate", "window", "min_calls", "open_ms"};
static const char *const sink_types[] = {"command", "webhook", "file"};
static const char *const sink_keys[] = {"type", "on", "argv", "url", "headers", "path"};
static const char *const alert_events[] = {"task_failed",   "task_retry",    "run_failed",
                                           "run_succeeded", "run_cancelled", "breaker_opened",
                                           "breaker_closed"};

/* ---- top-level sections ---------------------------------------------------------------------- */

static void load_pools(df_wfl_loader *L, const json_t *pools, const char ***names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_object(pools)) {
        df_wfl_err(L, NULL, "pools: must be an object (pool name -> slots), got %s",
                   df_wfl_describe(pools, d, sizeof d));
        return;
    }
    size_t n = json_object_size(pools);
    wf->pools = calloc(n ? n : 1, sizeof *wf->pools);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!wf->pools || !*names) {
        df_wfl_err(L, NULL, "out of memory");
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
            df_wfl_err(L, NULL, "out of memory");
            return;
        }
        (*names)[wf->n_pools++] = p->name;
        p->slots = 1;
        if (key[0] == '\0') {
            df_wfl_err(L, "pools", "a pool name must not be empty");
            continue;
        }
        char k[160];
        snprintf(k, sizeof k, "\"%.128s\"", key);
        df_wfl_want_int(L, "pools", k, v, 1, true, &p->slots);
    }
}

static void load_breakers(df_wfl_loader *L, const json_t *breakers, const char ***names)
{
    df_workflow *wf = L->wf;
    char d[128];
    if (!json_is_object(breakers)) {
        df_wfl_err(L, NULL, "breakers: must be an object (breaker name -> settings), got %s",
                   df_wfl_describe(breakers, d, sizeof d));
        return;
    }
    size_t n = json_object_size(breakers);
    wf->breakers = calloc(n ? n : 1, sizeof *wf->breakers);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!wf->breakers || !*names) {
        df_wfl_err(L, NULL, "out of memory");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)breakers, key, v)
    {
        df_breaker_def *b = &wf->breakers[wf->n_breakers];
        b->name = strdup(key);
        if (!b->name) {
            df_wfl_err(L, NULL, "out of memory");
            return;
        }
        (*names)[wf->n_breakers++] = b->name;
        b->failure_rate = 0.5;
        b->window = 10;
        b->min_calls = 5;
        b->open_ms = 30000;
        if (key[0] == '\0') {
            df_wfl_err(L, "breakers", "a breaker name must not be empty");
            continue;
        }
        char where[160];
        snprintf(where, sizeof where, "breaker \"%.128s\"", key);
        if (!json_is_object(v)) {
            df_wfl_err(L, where, "must be an object (settings), got %s",
                       df_wfl_describe(v, d, sizeof d));
            continue;
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "failure_rate") == 0) {
                double r = json_number_value(x);
                if (!json_is_number(x))
                    df_wfl_err(L, where, "failure_rate: must be a number in (0, 1], got %s",
                               df_wfl_describe(x, d, sizeof d));
                else if (!(r > 0.0 && r <= 1.0))
                    df_wfl_err(L, where, "failure_rate: must be a number in (0, 1], got %s",
                               df_wfl_num_text(x, d, sizeof d));
                else
                    b->failure_rate = r;
            } else if (strcmp(k, "window") == 0) {
                df_wfl_want_int(L, where, k, x, 1, true, &b->window);
            } else if (strcmp(k, "min_calls") == 0) {
                df_wfl_want_int(L, where, k, x, 1, true, &b->min_calls);
            } else if (strcmp(k, "open_ms") == 0) {
                df_wfl_want_int(L, where, k, x, 0, true, &b->open_ms);
            } else {
                df_wfl_unknown_key(L, where, k, breaker_keys, DF_WFL_COUNT(breaker_keys));
            }
        }
    }
}

/* An alert sink's "type": returns it when it is a known type, else NULL (after reporting it
 * when it is missing, not a string or unknown). */
static const char *sink_type(df_wfl_loader *L, const char *where, const json_t *sink)
{
    const json_t *type = json_object_get(sink, "type");
    if (!type) {
        df_wfl_err(L, where, "missing required key \"type\" (command, webhook or file)");
    } else if (df_wfl_want_string(L, where, "type", type, false)) {
        const char *t = json_string_value(type);
        if (df_wfl_in_list(t, sink_types, DF_WFL_COUNT(sink_types)))
            return t;
        const char *s = df_suggest(t, sink_types, DF_WFL_COUNT(sink_types));
        df_wfl_err(L, where,
                   "type: unknown sink type \"%s\"%s%s%s (expected command, webhook or file)", t,
                   s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    }
    return NULL;
}

/* An alert sink's "on": an array of event names. */
static void sink_events(df_wfl_loader *L, const char *where, const json_t *v)
{
    char d[128];
    if (!json_is_array(v)) {
        df_wfl_err(L, where, "on: must be an array of event names, got %s",
                   df_wfl_describe(v, d, sizeof d));
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        char k[32];
        snprintf(k, sizeof k, "on[%zu]", i);
        if (!df_wfl_want_string(L, where, k, e, false))
            continue;
        const char *name = json_string_value(e);
        if (df_wfl_in_list(name, alert_events, DF_WFL_COUNT(alert_events)))
            continue;
        const char *s = df_suggest(name, alert_events, DF_WFL_COUNT(alert_events));
        df_wfl_err(L, where,
                   "%s: unknown event \"%s\"%s%s%s (expected task_failed, task_retry, "
                   "run_failed, run_succeeded, run_cancelled, breaker_opened or breaker_closed)",
                   k, name, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    }
}

/* One of the keys that belong to one sink type (argv, url, headers, path), in a sink of type
 * tname (NULL when the type is not known). */
static void sink_typed_key(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                           const char *tname)
{
    char d[128];
    const char *owner = strcmp(key, "argv") == 0   ? "command"
                        : strcmp(key, "path") == 0 ? "file"
                                                   : "webhook";
    if (tname && strcmp(tname, owner) != 0) {
        df_wfl_err(L, where, "key \"%s\" does not belong in a \"%s\" sink (it is for \"%s\" sinks)",
                   key, tname, owner);
        return;
    }
    if (strcmp(key, "argv") == 0) {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            df_wfl_err(L, where, "argv: must be a non-empty array of strings, got %s",
                       json_is_array(v) ? "an empty array" : df_wfl_describe(v, d, sizeof d));
            return;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            char k[32];
            snprintf(k, sizeof k, "argv[%zu]", i);
            df_wfl_want_string(L, where, k, json_array_get(v, i), i == 0);
        }
    } else if (strcmp(key, "url") == 0) {
        if (df_wfl_want_string(L, where, key, v, true)) {
            const char *u = json_string_value(v);
            if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
                df_wfl_err(L, where, "url: must start with http:// or https://, got \"%.100s\"", u);
        }
    } else if (strcmp(key, "headers") == 0) {
        if (!json_is_object(v)) {
            df_wfl_err(L, where, "headers: must be an object of strings, got %s",
                       df_wfl_describe(v, d, sizeof d));
            return;
        }
        const char *hk;
        json_t *hv;
        json_object_foreach((json_t *)v, hk, hv)
        {
            if (!json_is_string(hv))
                df_wfl_err(L, where, "headers: \"%.128s\": must be a string, got %s", hk,
                           df_wfl_describe(hv, d, sizeof d));
        }
    } else { /* path */
        df_wfl_want_string(L, where, key, v, true);
    }
}

/* One alert sink (SPEC §5): its type, its keys, and the key its type requires. */
static void load_sink(df_wfl_loader *L, const char *where, const json_t *sink)
{
    char d[128];
    if (!json_is_object(sink)) {
        df_wfl_err(L, where, "must be an object (an alert sink), got %s",
                   df_wfl_describe(sink, d, sizeof d));
        return;
    }
    const char *tname = sink_type(L, where, sink); /* a known type, or NULL */
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)sink, key, v)
    {
        if (strcmp(key, "type") == 0)
            continue;
        if (!df_wfl_in_list(key, sink_keys, DF_WFL_COUNT(sink_keys)))
            df_wfl_unknown_key(L, where, key, sink_keys, DF_WFL_COUNT(sink_keys));
        else if (strcmp(key, "on") == 0)
            sink_events(L, where, v);
        else /* argv, url, headers, path: each belongs to one sink type. */
            sink_typed_key(L, where, key, v, tname);
    }
    if (tname) {
        const char *req = strcmp(tname, "command") == 0   ? "argv"
                          : strcmp(tname, "webhook") == 0 ? "url"
                                                          : "path";
        if (!json_object_get(sink, req))
            df_wfl_err(L, where, "missing required key \"%s\" (a %s sink needs it)", req, tname);
    }
}

static void load_alerts(df_wfl_loader *L, const json_t *alerts)
{
    char d[128];
    if (!json_is_array(alerts)) {
        df_wfl_err(L, NULL, "alerts: must be an array of sinks, got %s",
                   df_wfl_describe(alerts, d, sizeof d));
        return;
    }
    for (size_t i = 0; i < json_array_size(alerts); i++) {
        char where[32];
        snprintf(where, sizeof where, "alerts[%zu]", i);
        load_sink(L, where, json_array_get(alerts, i));
    }
}
/* ---- the document ---------------------------------------------------------------------------- */

/* A variable name, or with pattern a name that may end with one "*" (SPEC §8 env_passthrough). */
static bool env_name_ok(const char *s, bool pattern)
{
    size_t n = strlen(s);
    if (pattern && n > 0 && s[n - 1] == '*')
        n--;
    if (n == 0 && pattern && s[0] == '*')
        return true; /* "*": everything */
    if (n == 0 || n > 256 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* "env" (object of strings: added to tasks' and alert commands' environment) and
 * "env_passthrough" (array of names or NAME* patterns of the engine's environment), SPEC §8, §12.
 */
static void load_env(df_wfl_loader *L, df_workflow *wf, json_t *doc)
{
    char d[64];
    json_t *v = json_object_get(doc, "env");
    if (v && !json_is_object(v)) {
        df_wfl_err(L, NULL, "env: must be an object of strings, got %s",
                   df_wfl_describe(v, d, sizeof d));
    } else if (v) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!env_name_ok(k, false))
                df_wfl_err(L, NULL, "env: \"%.200s\" is not a valid variable name", k);
            else if (!json_is_string(x))
                df_wfl_err(L, NULL, "env.%s: must be a string, got %s", k,
                           df_wfl_describe(x, d, sizeof d));
        }
        wf->env = json_incref(v);
    }
    v = json_object_get(doc, "env_passthrough");
    if (v && !json_is_array(v)) {
        df_wfl_err(L, NULL, "env_passthrough: must be an array of names, got %s",
                   df_wfl_describe(v, d, sizeof d));
        return;
    }
    size_t n = json_array_size(v);
    if (n && !(wf->env_passthrough = calloc(n + 1, sizeof *wf->env_passthrough))) {
        df_wfl_err(L, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s || !env_name_ok(s, true))
            df_wfl_err(L, NULL,
                       "env_passthrough[%zu]: expected a variable name, with an optional \"*\" at "
                       "the end",
                       i);
        else if (!(wf->env_passthrough[wf->n_env_passthrough++] = strdup(s)))
            df_wfl_err(L, NULL, "out of memory");
    }
}

/* The document's own keys: unknown top-level keys, name (required), description, params and
 * max_active_tasks. */
static void load_top_keys(df_wfl_loader *L, json_t *doc)
{
    df_workflow *wf = L->wf;
    char d[128];
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        if (!df_wfl_in_list(key, top_keys, DF_WFL_COUNT(top_keys)))
            df_wfl_unknown_key(L, NULL, key, top_keys, DF_WFL_COUNT(top_keys));
    }
    v = json_object_get(doc, "name");
    if (!v) {
        df_wfl_err(L, NULL, "missing required key \"name\"");
    } else if (df_wfl_want_string(L, NULL, "name", v, false)) {
        if (!df_wfl_valid_name(json_string_value(v), true))
            df_wfl_err(L, NULL,
                       "name: \"%.200s\" is not a valid workflow name (it must match "
                       "[A-Za-z0-9_.-]{1,128})",
                       json_string_value(v));
        else if (!(wf->name = strdup(json_string_value(v))))
            df_wfl_err(L, NULL, "out of memory");
    }
    if ((v = json_object_get(doc, "description")) &&
        df_wfl_want_string(L, NULL, "description", v, false))
        if (!(wf->description = strdup(json_string_value(v))))
            df_wfl_err(L, NULL, "out of memory");
    if ((v = json_object_get(doc, "params"))) {
        if (json_is_object(v))
            wf->params = json_incref(v);
        else
            df_wfl_err(L, NULL, "params: must be an object, got %s",
                       df_wfl_describe(v, d, sizeof d));
    }
    if (!wf->params && !(wf->params = json_object()))
        df_wfl_err(L, NULL, "out of memory");
    if ((v = json_object_get(doc, "max_active_tasks")))
        df_wfl_want_int(L, NULL, "max_active_tasks", v, 1, true, &wf->max_active_tasks);
    if ((v = json_object_get(doc, "timeout_ms")))
        df_wfl_want_int(L, NULL, "timeout_ms", v, 0, true, &wf->timeout_ms);
    load_env(L, wf, doc);
}

/* The whole document, in the order of its messages: top-level keys, pools, breakers, alerts,
 * defaults, tasks (which need the names of pools and breakers). */
static void load_doc(df_wfl_loader *L, json_t *doc)
{
    df_workflow *wf = L->wf;
    char d[128];
    const char **pool_names = NULL, **breaker_names = NULL;
    if (!json_is_object(doc)) {
        df_wfl_err(L, NULL, "the document must be a JSON object, got %s",
                   df_wfl_describe(doc, d, sizeof d));
        return;
    }
    load_top_keys(L, doc);
    json_t *v;
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
        df_wfl_err(L, NULL, "out of memory");
    if ((v = json_object_get(doc, "schedule")))
        df_wfl_load_schedule(L, v);

    df_task_def base;
    df_wfl_load_defaults(L, json_object_get(doc, "defaults"), &base, pool_names, breaker_names);
    v = json_object_get(doc, "tasks");
    if (!v)
        df_wfl_err(L, NULL, "missing required key \"tasks\"");
    else
        df_wfl_load_tasks(L, v, json_object_get(doc, "on_exit"), &base, pool_names, breaker_names);
    free(pool_names);
    free(breaker_names);
}

/* A streamed load's text (workflow_stream.c), or all NULL/0. */
typedef struct stream_src {
    const char *text;
    size_t len, n;
} stream_src;

/* Loads doc (borrowed) into a new workflow; see workflow.h. src: a streamed load's text, whose
 * tasks doc holds as an empty array, or NULL. */
static int load(json_t *doc, const char *path, char *dir, const stream_src *src, df_workflow **out,
                df_errlist *errs)
{
    df_workflow *wf = calloc(1, sizeof *wf);
    df_wfl_loader L = {.file = path, .errs = errs, .nerr0 = errs->n, .wf = wf};
    if (src && src->text) {
        L.stream_text = src->text;
        L.stream_len = src->len;
        L.stream_n = src->n;
    }
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
        df_wfl_err(&L, NULL, "out of memory");
    load_doc(&L, doc);
    if (errs->n != L.nerr0) {
        df_workflow_free(wf);
        return -1;
    }
    *out = wf;
    return 0;
}

/* Files of at least this many bytes are streamed (workflow_stream.c); see workflow.h. */
static size_t stream_bytes = 4u << 20;

void df_workflow_set_stream_bytes(size_t n)
{
    stream_bytes = n;
}

/* Reads the document at path ("-": standard input) and parses it; see df_workflow_read_doc. On
 * success *text (when text is not NULL) gets the bytes parsed (byte order mark skipped,
 * NUL-terminated, *len bytes; the caller frees them). With src (and text) a file of
 * stream_bytes or more is streamed when it can be: the document returned then holds its tasks
 * array empty and src gets the text and the number of tasks (src->text NULL otherwise). */
static json_t *read_doc(const char *path, df_errlist *errs, char **text_out, size_t *len_out,
                        stream_src *src)
{
    bool in = strcmp(path, "-") == 0;
    const char *name = in ? DF_WORKFLOW_STDIN : path;
    FILE *f = in ? stdin : fopen(path, "r");
    if (src)
        *src = (stream_src){0};
    if (!f) {
        df_errlist_add(errs, "%s: cannot open: %s", name, strerror(errno));
        return NULL;
    }
    size_t len = 0;
    char *text = df_workflow_read_text(f, name, &len, errs);
    if (!in)
        fclose(f);
    if (!text)
        return NULL;
    /* A UTF-8 byte order mark, as some editors write: RFC 8259 §8.1 lets a parser ignore it. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        memmove(text, text + 3, len - 3 + 1);
        len -= 3;
    }
    if (text_out) {
        char *fit = realloc(text, len + 1); /* read_all's buffer is up to twice that */
        text = fit ? fit : text;
    }
    json_t *doc = NULL;
    size_t n = 0;
    if (src && text_out && len >= stream_bytes &&
        df_wfl_stream(text, len, &doc, &n, NULL, NULL) == 0)
        *src = (stream_src){.text = text, .len = len, .n = n};
    json_error_t jerr;
    if (!doc && !(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        if (jerr.line > 0)
            df_errlist_add(errs, "%s: line %d, column %d: JSON error: %s", name, jerr.line,
                           jerr.column, jerr.text);
        else
            df_errlist_add(errs, "%s: JSON error: %s", name, jerr.text);
    }
    if (doc && text_out) {
        *text_out = text;
        *len_out = len;
    } else {
        free(text);
    }
    return doc;
}

/* See workflow.h. */
json_t *df_workflow_read_doc(const char *path, df_errlist *errs)
{
    return read_doc(path, errs, NULL, NULL, NULL);
}

/* Reads the file (df_workflow_read_doc: "-" is standard input, a byte order mark is skipped;
 * JSON_REJECT_DUPLICATES: a key given twice in one object is an error) and loads it; see
 * workflow.h. wf->dir is the realpath of the file's folder (the current folder for stdin). */
int df_workflow_load_file(const char *path, df_workflow **out, df_errlist *errs)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    stream_src src;
    json_t *doc = read_doc(path, errs, &text, &len, &src);
    if (!doc)
        return -1;
    bool in = strcmp(path, "-") == 0;
    char *copy = in ? strdup(".") : strdup(path);
    char *dir = copy ? realpath(in ? copy : dirname(copy), NULL) : NULL;
    if (!dir) {
        df_errlist_add(errs, "%s: cannot resolve the file's folder: %s",
                       in ? DF_WORKFLOW_STDIN : path, copy ? strerror(errno) : "out of memory");
        free(copy);
        free(text);
        json_decref(doc);
        return -1;
    }
    free(copy);
    int rc = load(doc, in ? DF_WORKFLOW_STDIN : path, dir, &src, out, errs);
    json_decref(doc);
    if (rc == 0) {
        (*out)->source = text;
        (*out)->source_len = len;
    } else {
        free(text);
    }
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
    return load(doc, path, d, NULL, out, errs);
}

/* See workflow.h. */
int df_workflow_load_text(const char *text, size_t len, size_t flags, const char *path,
                          const char *dir, df_workflow **out, df_errlist *errs)
{
    *out = NULL;
    if (!path)
        path = "<stored>";
    char *copy = malloc(len + 1);
    char *d = dir ? strdup(dir) : getcwd(NULL, 0);
    if (!copy || !d) {
        df_errlist_add(errs, "%s: %s", path, !copy || dir ? "out of memory" : strerror(errno));
        free(copy);
        free(d);
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    json_t *doc = NULL;
    stream_src src = {0};
    size_t n = 0;
    if (len >= stream_bytes && df_wfl_stream(copy, len, &doc, &n, NULL, NULL) == 0)
        src = (stream_src){.text = copy, .len = len, .n = n};
    json_error_t jerr;
    if (!doc && !(doc = json_loadb(copy, len, flags, &jerr))) {
        df_errlist_add(errs, "%s: JSON error: %s", path, jerr.text);
        free(copy);
        free(d);
        return -1;
    }
    int rc = load(doc, path, d, &src, out, errs);
    json_decref(doc);
    if (rc == 0) {
        (*out)->source = copy;
        (*out)->source_len = len;
    } else {
        free(copy);
    }
    return rc;
}

/* See workflow_loader.h. */
char *df_wfl_intern(df_workflow *wf, const char *s)
{
    if (!wf->strings && !(wf->strings = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL)))
        return NULL;
    char *have = g_hash_table_lookup(wf->strings, s);
    if (have)
        return have;
    char *copy = strdup(s);
    if (copy)
        g_hash_table_add(wf->strings, copy);
    return copy;
}

/* FNV-1a of a task id. */
static size_t id_hash(const char *id)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

/* Index of the task with this id, or -1 (also for NULL). O(1) through wf->id_slots when the
 * workflow was loaded; a linear scan otherwise. Thread-safe for concurrent readers. */
long df_workflow_find_task(const df_workflow *wf, const char *id)
{
    if (!wf || !id)
        return -1;
    if (wf->id_slots) {
        for (size_t k = id_hash(id) & wf->id_mask;; k = (k + 1) & wf->id_mask) {
            uint32_t v = wf->id_slots[k];
            if (v == 0)
                return -1;
            if (strcmp(wf->tasks[v - 1].id, id) == 0)
                return (long)v - 1;
        }
    }
    for (size_t i = 0; i < wf->n_tasks; i++)
        if (wf->tasks[i].id && strcmp(wf->tasks[i].id, id) == 0)
            return (long)i;
    return -1;
}

/* See workflow_loader.h. */
int df_wfl_ids_init(df_workflow *wf, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (n >= UINT32_MAX || !(wf->id_slots = calloc(cap, sizeof *wf->id_slots)))
        return -1;
    wf->id_mask = cap - 1;
    return 0;
}

/* See workflow_loader.h. */
void df_wfl_ids_suggest(const df_workflow *wf, df_suggester *sg)
{
    for (size_t i = 0; i < wf->n_tasks; i++)
        if (wf->tasks[i].id && df_workflow_find_task(wf, wf->tasks[i].id) == (long)i)
            df_suggest_add(sg, wf->tasks[i].id);
}

/* See workflow_loader.h. */
void df_wfl_ids_add(df_workflow *wf, size_t i)
{
    size_t k = id_hash(wf->tasks[i].id) & wf->id_mask;
    while (wf->id_slots[k] != 0)
        k = (k + 1) & wf->id_mask;
    wf->id_slots[k] = (uint32_t)(i + 1);
}

/* Frees the workflow and everything it owns (see the field comments in workflow.h). */
void df_workflow_free(df_workflow *wf)
{
    if (!wf)
        return;
    for (size_t i = 0; i < wf->n_tasks; i++) {
        df_task_def *t = &wf->tasks[i];
        free(t->id);
        json_decref(t->params);
        df_expr_free(t->when);
        json_decref(t->for_each);
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
    df_schedule_free(wf->schedule);
    free(wf->id_slots);
    if (wf->strings)
        g_hash_table_destroy(wf->strings);
    json_decref(wf->alerts);
    json_decref(wf->params);
    df_workflow_drop_doc(wf);
    json_decref(wf->env);
    for (size_t i = 0; i < wf->n_env_passthrough; i++)
        free(wf->env_passthrough[i]);
    free(wf->env_passthrough);
    free(wf->description);
    free(wf->name);
    free(wf->dir);
    free(wf->path);
    free(wf);
}

/* See workflow.h. */
void df_workflow_drop_doc(df_workflow *wf)
{
    if (!wf)
        return;
    json_decref(wf->doc);
    wf->doc = NULL;
    free(wf->source);
    wf->source = NULL;
    wf->source_len = 0;
}

/* Resolves a path written in the workflow (SPEC §1 "Paths") with df_path_resolve: an absolute
 * path is returned as is, a relative one is joined to wf->dir (or returned as is when the
 * workflow has no dir). Returns a new malloc'd string (the caller frees it), or NULL for a NULL
 * path or on allocation failure. Thread-safe. */
char *df_workflow_resolve_path(const df_workflow *wf, const char *path)
{
    return df_path_resolve(wf ? wf->dir : NULL, path);
}
