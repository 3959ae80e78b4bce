/* template_ref: the ${...} reference of template.c's grammar (see the top of template.c):
 * tokens of a string, one reference parsed and checked, and its lookup in a scope (params, run,
 * task, item, env, upstream results, walking KEY paths into objects and arrays). See
 * template_ref.h. */
#include "template_ref.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_kind.h"
#include "suggest.h"
#include "template_shell.h"

/* ---- small growable byte buffer ------------------------------------------------------------ */

void df_tpl_sb_put(sbuf *b, const char *s, size_t len)
{
    if (b->oom || len == 0)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void df_tpl_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- tokens ---------------------------------------------------------------------------------- */

/* See template_ref.h. */
int df_tpl_next_tok(const char *s, size_t len, size_t *i, tok *t, char *err, size_t errlen)
{
    size_t j = *i;
    if (j >= len) {
        t->kind = TOK_END;
        return 0;
    }
    if (s[j] == '$' && j + 2 < len && s[j + 1] == '$' && s[j + 2] == '{') {
        t->kind = TOK_ESC;
        t->p = s + j + 1;
        t->len = 2;
        *i = j + 3;
        return 0;
    }
    if (s[j] == '$' && j + 1 < len && s[j + 1] == '{') {
        const char *close = memchr(s + j + 2, '}', len - j - 2);
        if (!close) {
            df_tpl_set_err(err, errlen, "unterminated reference \"%.*s\" (no closing \"}\")",
                           (int)(len - j > QMAX ? QMAX : len - j), s + j);
            return -1;
        }
        t->kind = TOK_REF;
        t->p = s + j + 2;
        t->len = (size_t)(close - t->p);
        t->raw = s + j;
        t->raw_len = t->len + 3;
        *i = (size_t)(close - s) + 1;
        return 0;
    }
    size_t k = j;
    while (k < len) {
        if (s[k] == '$' && k + 1 < len && s[k + 1] == '{')
            break;
        if (s[k] == '$' && k + 2 < len && s[k + 1] == '$' && s[k + 2] == '{')
            break;
        k++;
    }
    if (k == j) /* cannot happen: s[j] starts neither form, so k advanced */
        k++;
    t->kind = TOK_LIT;
    t->p = s + j;
    t->len = k - j;
    *i = k;
    return 0;
}

/* ---- references ------------------------------------------------------------------------------ */

static const char *const ns_names[] = {"params", "run",  "task",      "env",
                                       "tasks",  "item", "item_index"};
#define NS_COUNT 7

static bool seg_eq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* The keys of ${run.KEY}: 0 id, 1 workflow, then the run context of SPEC §10; -1 for another. */
static int run_key(const char *name, size_t n)
{
    static const char *const keys[] = {"id",         "workflow", "logical_time", "logical_date",
                                       "started_at", "trigger",  "state",        "failed_tasks"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (seg_eq(name, n, keys[i]))
            return (int)i;
    return -1;
}

/* The scope's value of a run context key (logical_time, logical_date, started_at, trigger), or
 * NULL when the scope does not know it. */
static const char *run_context(const df_template_scope *sc, const char *name, size_t n)
{
    switch (run_key(name, n)) {
    case 2:
        return sc->logical_time;
    case 3:
        return sc->logical_date;
    case 4:
        return sc->started_at;
    case 5:
        return sc->trigger;
    default:
        return NULL;
    }
}

/* Splits off the segment starting at *p (up to the next '.' or end). */
static void take_seg(const char **p, const char *end, const char **seg, size_t *n)
{
    const char *dot = memchr(*p, '.', (size_t)(end - *p));
    const char *stop = dot ? dot : end;
    *seg = *p;
    *n = (size_t)(stop - *p);
    *p = dot ? dot + 1 : end;
}

static bool valid_task_id(const char *p, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '_' && p[i] != '-')
            return false;
    return true;
}

/* The rest of ${item[.KEY...]} or ${item_index} (SPEC §8, dynamic mapping) from p: item takes
 * KEYs as params and results do, item_index none. Returns 0, or -1 with a message. */
static int parse_item_ref(ref *r, const char *p, const char *end, int q, char *err, size_t errlen)
{
    if (r->ns == NS_ITEM_INDEX && p != end) {
        df_tpl_set_err(err, errlen, "${%.*s}: ${item_index} takes no path", q, r->text);
        return -1;
    }
    if (p != end) {
        r->keys = p;
        r->keys_len = (size_t)(end - p);
        r->keys_at = (size_t)(p - r->text);
    }
    return 0;
}

/* ${run.state} / ${run.failed_tasks} from the scope (SPEC §10): a new reference, or NULL with a
 * message when the scope has none (not an on_exit handler). */
static json_t *handler_run_field(const ref *r, const df_template_scope *sc, char *err,
                                 size_t errlen)
{
    int q = (int)(r->len > QMAX ? QMAX : r->len);
    bool state = seg_eq(r->name, r->name_len, "state");
    if (state && sc->run_state)
        return json_string(sc->run_state);
    if (!state && sc->failed_tasks)
        return json_deep_copy(sc->failed_tasks);
    df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: only on_exit handlers know it", q,
                   r->text);
    return NULL;
}

/* The characters of the text inside ${ } (len bytes at t): not empty, no white space, control
 * character or "{", no empty segment. Returns 0, or -1 with a message. */
static int check_chars(const char *t, size_t len, int q, char *err, size_t errlen)
{
    if (len == 0) {
        df_tpl_set_err(err, errlen, "empty reference \"${}\"");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (isspace(c) || iscntrl(c) || c == '{') {
            df_tpl_set_err(err, errlen, "${%.*s}: invalid character %s in a reference", q, t,
                           c == '{'     ? "'{'"
                           : isspace(c) ? "(white space)"
                                        : "(control character)");
            return -1;
        }
    }
    /* Every segment must be non-empty. */
    if (t[0] == '.' || t[len - 1] == '.' || memmem(t, len, "..", 2)) {
        df_tpl_set_err(err, errlen, "${%.*s}: empty path segment (stray \".\")", q, t);
        return -1;
    }
    return 0;
}

/* The namespace named by the first segment (n bytes at seg) of the reference t, or -1 with a
 * message suggesting the nearest. */
static int find_namespace(const char *t, int q, const char *seg, size_t n, char *err, size_t errlen)
{
    for (int i = 0; i < NS_COUNT; i++)
        if (seg_eq(seg, n, ns_names[i]))
            return i;
    char word[QMAX + 1];
    snprintf(word, sizeof word, "%.*s", (int)(n > QMAX ? QMAX : n), seg);
    const char *s = df_suggest(word, ns_names, NS_COUNT);
    df_tpl_set_err(err, errlen,
                   "${%.*s}: unknown namespace \"%s\"%s%s%s (expected params, run, task, env or "
                   "tasks; item or item_index in a task with for_each)",
                   q, t, word, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    return -1;
}

/* ${tasks.ID.result[.KEY...]} after "tasks.ID" (r->name), from p: "result" must follow; *p is
 * left after it. Returns 0, or -1 with a message. */
static int parse_tasks_ref(const ref *r, const char **p, const char *end, int q, char *err,
                           size_t errlen)
{
    const char *t = r->text, *seg;
    size_t n;
    if (!valid_task_id(r->name, r->name_len)) {
        df_tpl_set_err(err, errlen, "${%.*s}: \"%.*s\" is not a valid task id", q, t,
                       (int)(r->name_len > QMAX ? QMAX : r->name_len), r->name);
        return -1;
    }
    if (*p == end) {
        df_tpl_set_err(err, errlen,
                       "${%.*s}: incomplete reference (expected ${tasks.%.*s.result...})", q, t,
                       (int)r->name_len, r->name);
        return -1;
    }
    take_seg(p, end, &seg, &n);
    if (!seg_eq(seg, n, "result")) {
        df_tpl_set_err(err, errlen,
                       "${%.*s}: expected \"result\" after the task id, got \"%.*s\" (write "
                       "${tasks.%.*s.result...})",
                       q, t, (int)(n > QMAX ? QMAX : n), seg, (int)r->name_len, r->name);
        return -1;
    }
    return 0;
}

/* The rest of a params, run, task, env or tasks reference after its name (r->name), from p.
 * Returns 0, or -1 with a message. */
static int parse_named_ref(ref *r, const char *p, const char *end, int q, char *err, size_t errlen)
{
    const char *t = r->text;
    switch (r->ns) {
    case NS_PARAMS:
        break;
    case NS_RUN:
        if (p != end || run_key(r->name, r->name_len) < 0) {
            df_tpl_set_err(err, errlen,
                           "${%.*s}: unknown reference (expected ${run.id}, ${run.workflow}, "
                           "${run.logical_time}, ${run.logical_date}, ${run.started_at} or "
                           "${run.trigger}; in an on_exit handler also ${run.state} or "
                           "${run.failed_tasks})",
                           q, t);
            return -1;
        }
        return 0;
    case NS_TASK:
        if (p != end ||
            !(seg_eq(r->name, r->name_len, "id") || seg_eq(r->name, r->name_len, "attempt") ||
              seg_eq(r->name, r->name_len, "map_index"))) {
            df_tpl_set_err(err, errlen,
                           "${%.*s}: unknown reference (expected ${task.id} or ${task.attempt}, "
                           "or ${task.map_index} in a task with for_each)",
                           q, t);
            return -1;
        }
        return 0;
    case NS_ENV:
        if (p != end) {
            df_tpl_set_err(err, errlen,
                           "${%.*s}: an environment variable takes no path (expected ${env.NAME})",
                           q, t);
            return -1;
        }
        return 0;
    case NS_ITEM:
    case NS_ITEM_INDEX:
        return 0; /* parse_item_ref's */
    case NS_TASKS:
        if (parse_tasks_ref(r, &p, end, q, err, errlen) != 0)
            return -1;
        break;
    }
    if (p != end) {
        r->keys = p;
        r->keys_len = (size_t)(end - p);
        r->keys_at = (size_t)(p - t);
    }
    return 0;
}

/* See template_ref.h. */
int df_tpl_parse_ref(const char *t, size_t len, ref *r, bool marks, char *err, size_t errlen)
{
    char esc = 0;
    if (marks && len >= 2 && t[0] == DF_SH_MARK && df_sh_context_valid(t[1])) {
        esc = t[1];
        t += 2;
        len -= 2;
    }
    int q = (int)(len > QMAX ? QMAX : len);
    memset(r, 0, sizeof *r);
    r->esc = esc;
    r->text = t;
    r->len = len;
    if (check_chars(t, len, q, err, errlen) != 0)
        return -1;
    const char *p = t, *end = t + len, *seg;
    size_t n;
    take_seg(&p, end, &seg, &n);
    int found = find_namespace(t, q, seg, n, err, errlen);
    if (found < 0)
        return -1;
    r->ns = (ns)found;
    if (r->ns == NS_ITEM || r->ns == NS_ITEM_INDEX)
        return parse_item_ref(r, p, end, q, err, errlen);
    if (p == end) {
        static const char *const forms[] = {"${params.NAME}", "${run.id}, ${run.workflow} ...",
                                            "${task.id} or ${task.attempt}", "${env.NAME}",
                                            "${tasks.ID.result...}"};
        df_tpl_set_err(err, errlen, "${%.*s}: incomplete reference (expected %s)", q, t,
                       forms[found]);
        return -1;
    }
    take_seg(&p, end, &r->name, &r->name_len);
    return parse_named_ref(r, p, end, q, err, errlen);
}

/* See template_ref.h. */
bool df_tpl_deferred(const ref *r, const df_template_scope *sc)
{
    switch (r->ns) {
    case NS_TASKS:
        return !sc->resolve_tasks;
    case NS_TASK:
        return !sc->task_id || (seg_eq(r->name, r->name_len, "attempt") && sc->attempt == 0) ||
               (seg_eq(r->name, r->name_len, "map_index") && !sc->mapped);
    case NS_RUN:
        if (seg_eq(r->name, r->name_len, "state")) /* on_exit handlers: known once final */
            return !sc->run_state;
        if (seg_eq(r->name, r->name_len, "failed_tasks"))
            return !sc->failed_tasks;
        if (seg_eq(r->name, r->name_len, "id"))
            return sc->defer_run_id; /* dagflow plan: no run yet */
        return run_key(r->name, r->name_len) >= 2 && !run_context(sc, r->name, r->name_len);
    case NS_ITEM:
    case NS_ITEM_INDEX:
        return !sc->mapped;
    default:
        return false;
    }
}

/* A KEY that reads as an array index: decimal digits, no sign, no leading zero. */
static bool as_index(const char *k, size_t n, size_t *out)
{
    if (n == 0 || n > 18 || (n > 1 && k[0] == '0'))
        return false;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)k[i]))
            return false;
        v = v * 10 + (size_t)(k[i] - '0');
    }
    *out = v;
    return true;
}

/* Walks r's KEY path from v (borrowed); what names v at the start. Returns the value reached
 * (borrowed) or NULL with a message. */
static const json_t *walk(const ref *r, const json_t *v, const char *what, char *err, size_t errlen)
{
    if (!r->keys)
        return v;
    int q = (int)(r->len > QMAX ? QMAX : r->len);
    const char *p = r->keys, *end = r->keys + r->keys_len, *k;
    size_t n;
    char here[QMAX + 64];
    snprintf(here, sizeof here, "%s", what);
    while (p < end) {
        take_seg(&p, end, &k, &n);
        int kq = (int)(n > QMAX ? QMAX : n);
        size_t idx;
        const json_t *next = NULL;
        if (json_is_object(v)) {
            next = json_object_getn((json_t *)v, k, n);
            if (!next) {
                df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: %s has no key \"%.*s\"", q,
                               r->text, here, kq, k);
                return NULL;
            }
        } else if (json_is_array(v)) {
            if (!as_index(k, n, &idx)) {
                df_tpl_set_err(
                    err, errlen,
                    "cannot resolve ${%.*s}: %s is an array and \"%.*s\" is not an index", q,
                    r->text, here, kq, k);
                return NULL;
            }
            next = json_array_get(v, idx);
            if (!next) {
                df_tpl_set_err(err, errlen,
                               "cannot resolve ${%.*s}: %s has no index %zu (it has %zu elements)",
                               q, r->text, here, idx, json_array_size(v));
                return NULL;
            }
        } else {
            df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: %s is %s and has no key \"%.*s\"",
                           q, r->text, here, df_json_kind(v), kq, k);
            return NULL;
        }
        v = next;
        /* Name what we reached by its path in the reference, e.g. "tasks.a.result.x". */
        size_t upto = (size_t)(k + n - r->text);
        snprintf(here, sizeof here, "%.*s", (int)(upto > QMAX ? QMAX : upto), r->text);
    }
    return v;
}

/* ${run.KEY}: a new reference, or NULL with a message. */
static json_t *lookup_run(const ref *r, const df_template_scope *sc, int q, char *err,
                          size_t errlen)
{
    if (seg_eq(r->name, r->name_len, "id"))
        return json_integer(sc->run_id);
    if (seg_eq(r->name, r->name_len, "state") || seg_eq(r->name, r->name_len, "failed_tasks"))
        return handler_run_field(r, sc, err, errlen);
    if (!seg_eq(r->name, r->name_len, "workflow")) {
        const char *v = run_context(sc, r->name, r->name_len);
        if (!v) {
            df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: not known before the run starts",
                           q, r->text);
            return NULL;
        }
        return json_string(v);
    }
    if (!sc->workflow) {
        df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: the workflow name is not known", q,
                       r->text);
        return NULL;
    }
    return json_string(sc->workflow);
}

/* ${env.NAME}: the workflow's env first, then the process environment. A new reference, or
 * NULL with a message. */
static json_t *lookup_env(const ref *r, const df_template_scope *sc, int q, char *err,
                          size_t errlen)
{
    int nq = (int)(r->name_len > QMAX ? QMAX : r->name_len);
    const json_t *wv = sc->env && json_is_object(sc->env)
                           ? json_object_getn((json_t *)sc->env, r->name, r->name_len)
                           : NULL;
    if (json_is_string(wv))
        return json_incref((json_t *)wv);
    char *name = strndup(r->name, r->name_len);
    if (!name) {
        df_tpl_set_err(err, errlen, "out of memory");
        return NULL;
    }
    const char *val = getenv(name);
    free(name);
    if (!val) {
        df_tpl_set_err(err, errlen,
                       "cannot resolve ${%.*s}: environment variable \"%.*s\" is not set", q,
                       r->text, nq, r->name);
        return NULL;
    }
    json_t *s = json_string(val);
    if (!s)
        df_tpl_set_err(err, errlen,
                       "cannot resolve ${%.*s}: environment variable \"%.*s\" is not valid UTF-8",
                       q, r->text, nq, r->name);
    return s;
}

/* ${tasks.ID.result[.KEY...]}: a new reference, or NULL with a message. */
static json_t *lookup_result(const ref *r, const df_template_scope *sc, int q, char *err,
                             size_t errlen)
{
    char id[129], what[QMAX + 64];
    snprintf(id, sizeof id, "%.*s", (int)r->name_len, r->name);
    const json_t *v = sc->task_result ? sc->task_result(sc->ud, id) : NULL;
    if (!v && sc->missing_result_null)
        return json_null(); /* SPEC §8: in a handler, a task without a result gives null */
    if (!v) {
        df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: task \"%s\" has no result", q, r->text,
                       id);
        return NULL;
    }
    snprintf(what, sizeof what, "task \"%s\" result", id);
    v = walk(r, v, what, err, errlen);
    return v ? json_deep_copy(v) : NULL;
}

/* See template_ref.h. */
json_t *df_tpl_lookup(const ref *r, const df_template_scope *sc, char *err, size_t errlen)
{
    int q = (int)(r->len > QMAX ? QMAX : r->len);
    int nq = (int)(r->name_len > QMAX ? QMAX : r->name_len);
    char what[QMAX + 64];
    const json_t *v = NULL;
    switch (r->ns) {
    case NS_PARAMS:
        v = sc->params && json_is_object(sc->params)
                ? json_object_getn((json_t *)sc->params, r->name, r->name_len)
                : NULL;
        if (!v) {
            df_tpl_set_err(err, errlen, "cannot resolve ${%.*s}: no run parameter \"%.*s\"", q,
                           r->text, nq, r->name);
            return NULL;
        }
        snprintf(what, sizeof what, "run parameter \"%.*s\"", nq, r->name);
        v = walk(r, v, what, err, errlen);
        return v ? json_deep_copy(v) : NULL;
    case NS_RUN:
        return lookup_run(r, sc, q, err, errlen);
    case NS_TASK:
        if (seg_eq(r->name, r->name_len, "id"))
            return json_string(sc->task_id);
        if (seg_eq(r->name, r->name_len, "map_index"))
            return json_integer((json_int_t)sc->map_index);
        return json_integer(sc->attempt);
    case NS_ITEM_INDEX:
        return json_integer((json_int_t)sc->map_index);
    case NS_ITEM:
        v = walk(r, sc->item ? sc->item : json_null(), "the item", err, errlen);
        return v ? json_deep_copy(v) : NULL;
    case NS_ENV:
        return lookup_env(r, sc, q, err, errlen);
    case NS_TASKS:
        return lookup_result(r, sc, q, err, errlen);
    }
    return NULL;
}
