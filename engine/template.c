/* template: owns the ${...} reference syntax and its resolution in task params (SPEC §4), see
 * template.h.
 *
 * Grammar of a string (read left to right):
 *   "$${"            a literal "${"
 *   "${" REF "}"     a reference; REF is everything up to the first "}"
 *   any other byte   itself (a "$" not followed by "{" or "${" is literal)
 * REF is a dot-separated path of non-empty segments without whitespace, control characters or
 * "{":
 *   params.NAME[.KEY...]          a run parameter (KEYs walk into it, as for results)
 *   run.id | run.workflow | run.logical_time | run.logical_date | run.started_at | run.trigger
 *   run.state | run.failed_tasks  (on_exit handlers; left as written while the scope has no
 *                                 value for them)
 *   task.id | task.attempt | task.map_index
 *   item[.KEY...] | item_index    a mapped instance's element and its index (SPEC §8)
 *   env.NAME
 *   tasks.ID.result[.KEY...]      an upstream's result; ID is a task id ([A-Za-z0-9_-]{1,128})
 * Each KEY selects a member of an object; on an array, a KEY written as a decimal index without
 * sign or leading zeros ("0", "12") selects that element. A consequence of the grammar: a
 * literal "$" cannot directly precede a reference ("$${" is always the escape).
 *
 * Leaving references as written (resolve_tasks false, task_id NULL, attempt 0): the output is
 * then meant to be resolved again later with a fuller scope and give the same result as resolving
 * the input once. So in a string where some reference is left as written, the rest stays in
 * template form: escapes stay "$${", and text substituted for the other references has each "${"
 * written "$${". (A substituted text ending in "$" right before a reference left as written has
 * no such form; that reference is then left as written too.) */
#include "template.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_kind.h"
#include "suggest.h"
#include "template_shell.h"

/* ---- small growable byte buffer ------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t len)
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

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Longest reference text quoted in a message. */
#define QMAX 200

/* ---- tokens ---------------------------------------------------------------------------------- */

typedef enum tok_kind { TOK_END, TOK_LIT, TOK_ESC, TOK_REF } tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *p; /* LIT: the text; ESC: points at "${" inside "$${"; REF: the text inside ${} */
    size_t len;
    const char *raw; /* REF: the whole "${...}" */
    size_t raw_len;
} tok;

/* Reads the token at *i and advances past it. Returns 0, or -1 for an unterminated "${". */
static int next_tok(const char *s, size_t len, size_t *i, tok *t, char *err, size_t errlen)
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
            set_err(err, errlen, "unterminated reference \"%.*s\" (no closing \"}\")",
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

typedef enum ns { NS_PARAMS, NS_RUN, NS_TASK, NS_ENV, NS_TASKS, NS_ITEM, NS_ITEM_INDEX } ns;
static const char *const ns_names[] = {"params", "run",  "task",      "env",
                                       "tasks",  "item", "item_index"};
#define NS_COUNT 7

typedef struct ref {
    const char *text; /* inside ${} */
    size_t len;
    ns ns;
    const char *name; /* params: NAME; run/task: the field; env: NAME; tasks: ID */
    size_t name_len;
    const char *keys; /* the KEY... part (dot-separated), or NULL */
    size_t keys_len;
    size_t keys_at; /* offset of keys in text (for messages) */
    char esc;       /* a DF_SH_* context letter when the reference is marked (shell script) */
} ref;

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
        set_err(err, errlen, "${%.*s}: ${item_index} takes no path", q, r->text);
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
    set_err(err, errlen, "cannot resolve ${%.*s}: only on_exit handlers know it", q, r->text);
    return NULL;
}

/* Parses the text inside ${ } (len bytes at t); with marks, a shell context marker
 * (template_shell.h) may lead it. Returns 0, or -1 with a message. */
static int parse_ref(const char *t, size_t len, ref *r, bool marks, char *err, size_t errlen)
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
    if (len == 0) {
        set_err(err, errlen, "empty reference \"${}\"");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (isspace(c) || iscntrl(c) || c == '{') {
            set_err(err, errlen, "${%.*s}: invalid character %s in a reference", q, t,
                    c == '{'     ? "'{'"
                    : isspace(c) ? "(white space)"
                                 : "(control character)");
            return -1;
        }
    }
    /* Every segment must be non-empty. */
    if (t[0] == '.' || t[len - 1] == '.' || memmem(t, len, "..", 2)) {
        set_err(err, errlen, "${%.*s}: empty path segment (stray \".\")", q, t);
        return -1;
    }
    const char *p = t, *end = t + len, *seg;
    size_t n;
    take_seg(&p, end, &seg, &n);
    int found = -1;
    for (int i = 0; i < NS_COUNT; i++)
        if (seg_eq(seg, n, ns_names[i]))
            found = i;
    if (found < 0) {
        char word[QMAX + 1];
        snprintf(word, sizeof word, "%.*s", (int)(n > QMAX ? QMAX : n), seg);
        const char *s = df_suggest(word, ns_names, NS_COUNT);
        set_err(err, errlen,
                "${%.*s}: unknown namespace \"%s\"%s%s%s (expected params, run, task, env or "
                "tasks; item or item_index in a task with for_each)",
                q, t, word, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        return -1;
    }
    r->ns = (ns)found;
    if (r->ns == NS_ITEM || r->ns == NS_ITEM_INDEX)
        return parse_item_ref(r, p, end, q, err, errlen);
    if (p == end) {
        static const char *const forms[] = {"${params.NAME}", "${run.id}, ${run.workflow} ...",
                                            "${task.id} or ${task.attempt}", "${env.NAME}",
                                            "${tasks.ID.result...}"};
        set_err(err, errlen, "${%.*s}: incomplete reference (expected %s)", q, t, forms[found]);
        return -1;
    }
    take_seg(&p, end, &r->name, &r->name_len);
    switch (r->ns) {
    case NS_PARAMS:
        break;
    case NS_RUN:
        if (p != end || run_key(r->name, r->name_len) < 0) {
            set_err(err, errlen,
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
            set_err(err, errlen,
                    "${%.*s}: unknown reference (expected ${task.id} or ${task.attempt}, or "
                    "${task.map_index} in a task with for_each)",
                    q, t);
            return -1;
        }
        return 0;
    case NS_ENV:
        if (p != end) {
            set_err(err, errlen,
                    "${%.*s}: an environment variable takes no path (expected ${env.NAME})", q, t);
            return -1;
        }
        return 0;
    case NS_ITEM:
    case NS_ITEM_INDEX:
        return 0; /* parse_item_ref's */
    case NS_TASKS:
        if (!valid_task_id(r->name, r->name_len)) {
            set_err(err, errlen, "${%.*s}: \"%.*s\" is not a valid task id", q, t,
                    (int)(r->name_len > QMAX ? QMAX : r->name_len), r->name);
            return -1;
        }
        if (p == end) {
            set_err(err, errlen, "${%.*s}: incomplete reference (expected ${tasks.%.*s.result...})",
                    q, t, (int)r->name_len, r->name);
            return -1;
        }
        take_seg(&p, end, &seg, &n);
        if (!seg_eq(seg, n, "result")) {
            set_err(err, errlen,
                    "${%.*s}: expected \"result\" after the task id, got \"%.*s\" (write "
                    "${tasks.%.*s.result...})",
                    q, t, (int)(n > QMAX ? QMAX : n), seg, (int)r->name_len, r->name);
            return -1;
        }
        break;
    }
    if (p != end) {
        r->keys = p;
        r->keys_len = (size_t)(end - p);
        r->keys_at = (size_t)(p - t);
    }
    return 0;
}

/* Whether the scope leaves this reference as written. */
static bool deferred(const ref *r, const df_template_scope *sc)
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
                set_err(err, errlen, "cannot resolve ${%.*s}: %s has no key \"%.*s\"", q, r->text,
                        here, kq, k);
                return NULL;
            }
        } else if (json_is_array(v)) {
            if (!as_index(k, n, &idx)) {
                set_err(err, errlen,
                        "cannot resolve ${%.*s}: %s is an array and \"%.*s\" is not an index", q,
                        r->text, here, kq, k);
                return NULL;
            }
            next = json_array_get(v, idx);
            if (!next) {
                set_err(err, errlen,
                        "cannot resolve ${%.*s}: %s has no index %zu (it has %zu elements)", q,
                        r->text, here, idx, json_array_size(v));
                return NULL;
            }
        } else {
            set_err(err, errlen, "cannot resolve ${%.*s}: %s is %s and has no key \"%.*s\"", q,
                    r->text, here, df_json_kind(v), kq, k);
            return NULL;
        }
        v = next;
        /* Name what we reached by its path in the reference, e.g. "tasks.a.result.x". */
        size_t upto = (size_t)(k + n - r->text);
        snprintf(here, sizeof here, "%.*s", (int)(upto > QMAX ? QMAX : upto), r->text);
    }
    return v;
}

/* Resolves one reference the scope does not defer. Returns a new reference, or NULL with a
 * message. */
static json_t *lookup(const ref *r, const df_template_scope *sc, char *err, size_t errlen)
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
            set_err(err, errlen, "cannot resolve ${%.*s}: no run parameter \"%.*s\"", q, r->text,
                    nq, r->name);
            return NULL;
        }
        snprintf(what, sizeof what, "run parameter \"%.*s\"", nq, r->name);
        v = walk(r, v, what, err, errlen);
        return v ? json_deep_copy(v) : NULL;
    case NS_RUN:
        if (seg_eq(r->name, r->name_len, "id"))
            return json_integer(sc->run_id);
        if (seg_eq(r->name, r->name_len, "state") || seg_eq(r->name, r->name_len, "failed_tasks"))
            return handler_run_field(r, sc, err, errlen);
        if (!seg_eq(r->name, r->name_len, "workflow")) {
            const char *v = run_context(sc, r->name, r->name_len);
            if (!v) {
                set_err(err, errlen, "cannot resolve ${%.*s}: not known before the run starts", q,
                        r->text);
                return NULL;
            }
            return json_string(v);
        }
        if (!sc->workflow) {
            set_err(err, errlen, "cannot resolve ${%.*s}: the workflow name is not known", q,
                    r->text);
            return NULL;
        }
        return json_string(sc->workflow);
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
    case NS_ENV: {
        const json_t *wv = sc->env && json_is_object(sc->env)
                               ? json_object_getn((json_t *)sc->env, r->name, r->name_len)
                               : NULL;
        if (json_is_string(wv))
            return json_incref((json_t *)wv);
        char *name = strndup(r->name, r->name_len);
        if (!name) {
            set_err(err, errlen, "out of memory");
            return NULL;
        }
        const char *val = getenv(name);
        free(name);
        if (!val) {
            set_err(err, errlen, "cannot resolve ${%.*s}: environment variable \"%.*s\" is not set",
                    q, r->text, nq, r->name);
            return NULL;
        }
        json_t *s = json_string(val);
        if (!s)
            set_err(err, errlen,
                    "cannot resolve ${%.*s}: environment variable \"%.*s\" is not valid UTF-8", q,
                    r->text, nq, r->name);
        return s;
    }
    case NS_TASKS: {
        char id[129];
        snprintf(id, sizeof id, "%.*s", (int)r->name_len, r->name);
        v = sc->task_result ? sc->task_result(sc->ud, id) : NULL;
        if (!v && sc->missing_result_null)
            return json_null(); /* SPEC §8: in a handler, a task without a result gives null */
        if (!v) {
            set_err(err, errlen, "cannot resolve ${%.*s}: task \"%s\" has no result", q, r->text,
                    id);
            return NULL;
        }
        snprintf(what, sizeof what, "task \"%s\" result", id);
        v = walk(r, v, what, err, errlen);
        return v ? json_deep_copy(v) : NULL;
    }
    }
    return NULL;
}

/* ---- resolution ------------------------------------------------------------------------------ */

typedef enum piece_kind { P_TEXT, P_SUB, P_RAW } piece_kind;

typedef struct piece {
    piece_kind kind;
    const char *p; /* TEXT: decoded text (borrowed); SUB: substituted text (owned) */
    size_t len;
    const char *raw; /* SUB and RAW: the reference as written */
    size_t raw_len;
} piece;

static void free_pieces(piece *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ps[i].kind == P_SUB)
            free((char *)ps[i].p);
    free(ps);
}

/* The text that replaces a value inside a longer string: strings as they are, anything else in
 * compact JSON (a real number in its shortest exact form). Returns a malloc'd buffer (length in
 * *len), or NULL on allocation failure. */
static char *value_text(const json_t *v, size_t *len)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        char *s = malloc(*len + 1);
        if (s) {
            memcpy(s, json_string_value(v), *len);
            s[*len] = '\0';
        }
        return s;
    }
    char *s = NULL;
    if (json_is_real(v)) {
        /* The shortest text that reads back as the same number ("0.1", not jansson's default
         * "0.10000000000000001"); jansson formats it, so the locale cannot change the point. */
        for (int prec = 1; prec <= 17 && !s; prec++) {
            char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec));
            json_t *back = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
            if (back && json_number_value(back) == json_real_value(v))
                s = t;
            else
                free(t);
            json_decref(back);
        }
    }
    if (!s)
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s)
        *len = strlen(s);
    return s;
}

/* Appends decoded text in template form: an extra "$" before each "$" followed by "{". */
static void put_encoded(sbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{')
            sb_put(b, "$", 1);
        sb_put(b, s + i, 1);
    }
}

/* The value text (owned, len bytes) of the marked reference r escaped for its place in a shell
 * script (SPEC §12). Frees text. Returns a new buffer, or NULL with a message. */
static char *shell_escaped(const ref *r, char *text, size_t *len, char *err, size_t errlen)
{
    if (memchr(text, '\0', *len)) {
        /* sh -c takes a C string: the rest of the script would be lost. */
        set_err(err, errlen, "cannot insert ${%.*s} into the script: its value contains a NUL byte",
                (int)(r->len > QMAX ? QMAX : r->len), r->text);
        free(text);
        return NULL;
    }
    char *out = df_sh_escape(r->esc, text, *len, len);
    free(text);
    if (!out)
        set_err(err, errlen, "out of memory");
    return out;
}

static json_t *resolve_string(const json_t *in, const df_template_scope *sc, char *err,
                              size_t errlen)
{
    const char *s = json_string_value(in);
    size_t len = json_string_length(in);
    size_t i = 0;
    tok t;
    ref r;

    /* A string that is exactly one reference takes the value with its type. */
    if (next_tok(s, len, &i, &t, err, errlen) != 0)
        return NULL;
    if (t.kind == TOK_END)
        return json_stringn(s, len);
    if (t.kind == TOK_REF && i == len) {
        if (parse_ref(t.p, t.len, &r, true, err, errlen) != 0)
            return NULL;
        if (deferred(&r, sc))
            return json_stringn(s, len);
        if (!r.esc) /* a marked one is text in a script: escaped below */
            return lookup(&r, sc, err, errlen);
    }

    /* Otherwise: split into pieces, resolving references. */
    piece *ps = NULL;
    size_t n = 0, cap = 0;
    bool keep = false; /* some reference is left as written */
    json_t *out = NULL;
    i = 0;
    for (;;) {
        if (next_tok(s, len, &i, &t, err, errlen) != 0)
            goto done;
        if (t.kind == TOK_END)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            piece *np = realloc(ps, cap * sizeof *np);
            if (!np) {
                set_err(err, errlen, "out of memory");
                goto done;
            }
            ps = np;
        }
        piece *pc = &ps[n];
        memset(pc, 0, sizeof *pc);
        if (t.kind != TOK_REF) {
            pc->kind = P_TEXT;
            pc->p = t.p;
            pc->len = t.len;
            n++;
            continue;
        }
        if (parse_ref(t.p, t.len, &r, true, err, errlen) != 0)
            goto done;
        pc->raw = t.raw;
        pc->raw_len = t.raw_len;
        if (deferred(&r, sc)) {
            pc->kind = P_RAW;
            keep = true;
            n++;
            continue;
        }
        json_t *v = lookup(&r, sc, err, errlen);
        if (!v)
            goto done;
        char *text = value_text(v, &pc->len);
        json_decref(v);
        if (!text) {
            set_err(err, errlen, "out of memory");
            goto done;
        }
        if (r.esc && !(text = shell_escaped(&r, text, &pc->len, err, errlen)))
            goto done;
        pc->kind = P_SUB;
        pc->p = text;
        n++;
    }

    sbuf b = {0};
    if (keep) {
        /* A substitution ending in "$" right before a reference left as written cannot be put in
         * template form: leave it as written too (right to left, so that this cascades). */
        for (size_t k = n; k-- > 1;)
            if (ps[k].kind == P_RAW && ps[k - 1].kind == P_SUB && ps[k - 1].len > 0 &&
                ps[k - 1].p[ps[k - 1].len - 1] == '$') {
                free((char *)ps[k - 1].p);
                ps[k - 1].kind = P_RAW;
            }
        /* Encode each run of decoded text as a whole (a "$" and a "{" may meet across pieces). */
        sbuf run = {0};
        for (size_t k = 0; k <= n; k++) {
            if (k == n || ps[k].kind == P_RAW) {
                put_encoded(&b, run.p, run.n);
                run.n = 0;
                if (k < n)
                    sb_put(&b, ps[k].raw, ps[k].raw_len);
            } else {
                sb_put(&run, ps[k].p, ps[k].len);
            }
        }
        b.oom |= run.oom;
        free(run.p);
    } else {
        for (size_t k = 0; k < n; k++)
            sb_put(&b, ps[k].p, ps[k].len);
    }
    if (b.oom) {
        set_err(err, errlen, "out of memory");
    } else {
        out = json_stringn(b.p ? b.p : "", b.n);
        if (!out)
            set_err(err, errlen, "out of memory");
    }
    free(b.p);
done:
    free_pieces(ps, n);
    return out;
}

/* Resolves every string value of in, at any depth (object keys are never templated), against
 * scope, as documented in template.h and at the top of this file. Returns a new reference, or
 * NULL with a message naming the first reference that could not be resolved (or the first syntax
 * error). in is borrowed; the result shares nothing with in or with the scope's values. Pure
 * apart from getenv; thread-safe as long as the environment is not modified meanwhile. */
json_t *df_template_resolve(const json_t *in, const df_template_scope *scope, char *err,
                            size_t errlen)
{
    if (!in || !scope) {
        set_err(err, errlen, "no value to resolve");
        return NULL;
    }
    if (json_is_string(in))
        return resolve_string(in, scope, err, errlen);
    if (json_is_object(in)) {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        if (!out) {
            set_err(err, errlen, "out of memory");
            return NULL;
        }
        json_object_foreach((json_t *)in, key, v)
        {
            json_t *rv = df_template_resolve(v, scope, err, errlen);
            if (!rv || json_object_set_new(out, key, rv) != 0) {
                if (rv)
                    set_err(err, errlen, "out of memory");
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (json_is_array(in)) {
        json_t *out = json_array();
        if (!out) {
            set_err(err, errlen, "out of memory");
            return NULL;
        }
        for (size_t k = 0; k < json_array_size(in); k++) {
            json_t *rv = df_template_resolve(json_array_get(in, k), scope, err, errlen);
            if (!rv || json_array_append_new(out, rv) != 0) {
                if (rv)
                    set_err(err, errlen, "out of memory");
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    json_t *out = json_deep_copy(in);
    if (!out)
        set_err(err, errlen, "out of memory");
    return out;
}

/* ---- shell scripts ------------------------------------------------------------------------- */

/* Marks each reference in the string in with the place where it stands in a /bin/sh script
 * (template_shell.h), for df_template_resolve to escape its value there (SPEC §12). Returns a new
 * reference (in itself when it is not a string), or NULL with a message naming the reference and
 * why no escaping is safe where it stands, or the first syntax error. in is borrowed; a string
 * already marked is refused as a syntax error (mark once). Thread-safe. */
json_t *df_template_mark_shell(const json_t *in, char *err, size_t errlen)
{
    if (!json_is_string(in))
        return json_incref((json_t *)in);
    const char *s = json_string_value(in);
    size_t len = json_string_length(in), i = 0;
    sbuf b = {0};
    df_sh_lexer lx;
    df_sh_lex_init(&lx);
    tok t;
    ref r;
    for (;;) {
        if (next_tok(s, len, &i, &t, err, errlen) != 0)
            goto fail;
        if (t.kind == TOK_END)
            break;
        if (t.kind == TOK_LIT) {
            sb_put(&b, t.p, t.len);
            df_sh_lex_feed(&lx, t.p, t.len);
            continue;
        }
        if (t.kind == TOK_ESC) {
            sb_put(&b, "$${", 3);
            df_sh_lex_feed(&lx, "${", 2);
            continue;
        }
        if (parse_ref(t.p, t.len, &r, false, err, errlen) != 0)
            goto fail;
        const char *why = "";
        char ctx = df_sh_lex_context(&lx, &why);
        if (!ctx) {
            set_err(err, errlen, "${%.*s} cannot be escaped where it stands in the script: %s",
                    (int)(t.len > QMAX ? QMAX : t.len), t.p, why);
            goto fail;
        }
        char mark[4] = {'$', '{', DF_SH_MARK, ctx};
        sb_put(&b, mark, 4);
        sb_put(&b, t.p, t.len);
        sb_put(&b, "}", 1);
        df_sh_lex_value(&lx);
    }
    json_t *out = b.oom ? NULL : json_stringn(b.p ? b.p : "", b.n);
    if (!out)
        set_err(err, errlen, "out of memory");
    free(b.p);
    return out;
fail:
    free(b.p);
    return NULL;
}

/* ---- scanning -------------------------------------------------------------------------------- */

/* 1 = stopped by fn, 0 = done, -1 = syntax error. */
static int scan(const json_t *in, df_template_ref_fn fn, void *ud, char *err, size_t errlen)
{
    if (json_is_string(in)) {
        const char *s = json_string_value(in);
        size_t len = json_string_length(in), i = 0;
        tok t;
        ref r;
        for (;;) {
            if (next_tok(s, len, &i, &t, err, errlen) != 0)
                return -1;
            if (t.kind == TOK_END)
                return 0;
            if (t.kind != TOK_REF)
                continue;
            if (parse_ref(t.p, t.len, &r, false, err, errlen) != 0)
                return -1;
            if (fn) {
                char *text = strndup(t.p, t.len);
                if (!text) {
                    set_err(err, errlen, "out of memory");
                    return -1;
                }
                int stop = fn(ud, text);
                free(text);
                if (stop)
                    return 1;
            }
        }
    }
    if (json_is_object(in)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)in, key, v)
        {
            int rc = scan(v, fn, ud, err, errlen);
            if (rc != 0)
                return rc;
        }
    } else if (json_is_array(in)) {
        for (size_t k = 0; k < json_array_size(in); k++) {
            int rc = scan(json_array_get(in, k), fn, ud, err, errlen);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Checks the syntax of every reference in the string values of in (any depth; in itself may be a
 * string) and calls fn (may be NULL) with the text between "${" and "}" of each well-formed one,
 * in document order, until fn returns non-zero. Returns 0 when no syntax error was met (also when
 * fn stopped the scan), else -1 with the first error in err, e.g.
 * `unterminated reference "${params.x" (no closing "}")` or
 * `${foo.x}: unknown namespace "foo" (expected params, run, task, env or tasks)`.
 * in is borrowed. Thread-safe. */
int df_template_scan(const json_t *in, df_template_ref_fn fn, void *ud, char *err, size_t errlen)
{
    return scan(in, fn, ud, err, errlen) < 0 ? -1 : 0;
}
