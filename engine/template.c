/* template: owns the ${...} reference syntax and its resolution in task params (SPEC §4), see
 * template.h: whole values resolved, strings split and joined, script references marked for
 * shell escaping, references scanned. One reference (tokens, parsing, lookup) is template_ref.c.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_ref.h"
#include "template_shell.h"

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
            df_tpl_sb_put(b, "$", 1);
        df_tpl_sb_put(b, s + i, 1);
    }
}

/* The value text (owned, len bytes) of the marked reference r escaped for its place in a shell
 * script (SPEC §12). Frees text. Returns a new buffer, or NULL with a message. */
static char *shell_escaped(const ref *r, char *text, size_t *len, char *err, size_t errlen)
{
    if (memchr(text, '\0', *len)) {
        /* sh -c takes a C string: the rest of the script would be lost. */
        df_tpl_set_err(err, errlen,
                       "cannot insert ${%.*s} into the script: its value contains a NUL byte",
                       (int)(r->len > QMAX ? QMAX : r->len), r->text);
        free(text);
        return NULL;
    }
    char *out = df_sh_escape(r->esc, text, *len, len);
    free(text);
    if (!out)
        df_tpl_set_err(err, errlen, "out of memory");
    return out;
}

/* Splits the string s (len bytes) into pieces (*ps, *n; free_pieces them also on failure),
 * resolving the references the scope does not defer; *keep is set when some reference is left
 * as written. Returns 0, or -1 with a message. */
static int split_pieces(const char *s, size_t len, const df_template_scope *sc, piece **ps,
                        size_t *n, bool *keep, char *err, size_t errlen)
{
    size_t cap = 0, i = 0;
    tok t;
    ref r;
    for (;;) {
        if (df_tpl_next_tok(s, len, &i, &t, err, errlen) != 0)
            return -1;
        if (t.kind == TOK_END)
            return 0;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            piece *np = realloc(*ps, cap * sizeof *np);
            if (!np) {
                df_tpl_set_err(err, errlen, "out of memory");
                return -1;
            }
            *ps = np;
        }
        piece *pc = &(*ps)[*n];
        memset(pc, 0, sizeof *pc);
        if (t.kind != TOK_REF) {
            pc->kind = P_TEXT;
            pc->p = t.p;
            pc->len = t.len;
            (*n)++;
            continue;
        }
        if (df_tpl_parse_ref(t.p, t.len, &r, true, err, errlen) != 0)
            return -1;
        pc->raw = t.raw;
        pc->raw_len = t.raw_len;
        if (df_tpl_deferred(&r, sc)) {
            pc->kind = P_RAW;
            *keep = true;
            (*n)++;
            continue;
        }
        json_t *v = df_tpl_lookup(&r, sc, err, errlen);
        if (!v)
            return -1;
        char *text = value_text(v, &pc->len);
        json_decref(v);
        if (!text) {
            df_tpl_set_err(err, errlen, "out of memory");
            return -1;
        }
        if (r.esc && !(text = shell_escaped(&r, text, &pc->len, err, errlen)))
            return -1;
        pc->kind = P_SUB;
        pc->p = text;
        (*n)++;
    }
}

/* The pieces joined into b; with keep (some reference left as written), in template form. */
static void join_pieces(piece *ps, size_t n, bool keep, sbuf *b)
{
    if (!keep) {
        for (size_t k = 0; k < n; k++)
            df_tpl_sb_put(b, ps[k].p, ps[k].len);
        return;
    }
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
            put_encoded(b, run.p, run.n);
            run.n = 0;
            if (k < n)
                df_tpl_sb_put(b, ps[k].raw, ps[k].raw_len);
        } else {
            df_tpl_sb_put(&run, ps[k].p, ps[k].len);
        }
    }
    b->oom |= run.oom;
    free(run.p);
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
    if (df_tpl_next_tok(s, len, &i, &t, err, errlen) != 0)
        return NULL;
    if (t.kind == TOK_END)
        return json_stringn(s, len);
    if (t.kind == TOK_REF && i == len) {
        if (df_tpl_parse_ref(t.p, t.len, &r, true, err, errlen) != 0)
            return NULL;
        if (df_tpl_deferred(&r, sc))
            return json_stringn(s, len);
        if (!r.esc) /* a marked one is text in a script: escaped below */
            return df_tpl_lookup(&r, sc, err, errlen);
    }

    /* Otherwise: split into pieces, resolving references, and join them. */
    piece *ps = NULL;
    size_t n = 0;
    bool keep = false; /* some reference is left as written */
    json_t *out = NULL;
    if (split_pieces(s, len, sc, &ps, &n, &keep, err, errlen) == 0) {
        sbuf b = {0};
        join_pieces(ps, n, keep, &b);
        if (b.oom) {
            df_tpl_set_err(err, errlen, "out of memory");
        } else {
            out = json_stringn(b.p ? b.p : "", b.n);
            if (!out)
                df_tpl_set_err(err, errlen, "out of memory");
        }
        free(b.p);
    }
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
        df_tpl_set_err(err, errlen, "no value to resolve");
        return NULL;
    }
    if (json_is_string(in))
        return resolve_string(in, scope, err, errlen);
    if (json_is_object(in)) {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        if (!out) {
            df_tpl_set_err(err, errlen, "out of memory");
            return NULL;
        }
        json_object_foreach((json_t *)in, key, v)
        {
            json_t *rv = df_template_resolve(v, scope, err, errlen);
            if (!rv || json_object_set_new(out, key, rv) != 0) {
                if (rv)
                    df_tpl_set_err(err, errlen, "out of memory");
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (json_is_array(in)) {
        json_t *out = json_array();
        if (!out) {
            df_tpl_set_err(err, errlen, "out of memory");
            return NULL;
        }
        for (size_t k = 0; k < json_array_size(in); k++) {
            json_t *rv = df_template_resolve(json_array_get(in, k), scope, err, errlen);
            if (!rv || json_array_append_new(out, rv) != 0) {
                if (rv)
                    df_tpl_set_err(err, errlen, "out of memory");
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    json_t *out = json_deep_copy(in);
    if (!out)
        df_tpl_set_err(err, errlen, "out of memory");
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
        if (df_tpl_next_tok(s, len, &i, &t, err, errlen) != 0)
            goto fail;
        if (t.kind == TOK_END)
            break;
        if (t.kind == TOK_LIT) {
            df_tpl_sb_put(&b, t.p, t.len);
            df_sh_lex_feed(&lx, t.p, t.len);
            continue;
        }
        if (t.kind == TOK_ESC) {
            df_tpl_sb_put(&b, "$${", 3);
            df_sh_lex_feed(&lx, "${", 2);
            continue;
        }
        if (df_tpl_parse_ref(t.p, t.len, &r, false, err, errlen) != 0)
            goto fail;
        const char *why = "";
        char ctx = df_sh_lex_context(&lx, &why);
        if (!ctx) {
            df_tpl_set_err(err, errlen,
                           "${%.*s} cannot be escaped where it stands in the script: %s",
                           (int)(t.len > QMAX ? QMAX : t.len), t.p, why);
            goto fail;
        }
        char mark[4] = {'$', '{', DF_SH_MARK, ctx};
        df_tpl_sb_put(&b, mark, 4);
        df_tpl_sb_put(&b, t.p, t.len);
        df_tpl_sb_put(&b, "}", 1);
        df_sh_lex_value(&lx);
    }
    json_t *out = b.oom ? NULL : json_stringn(b.p ? b.p : "", b.n);
    if (!out)
        df_tpl_set_err(err, errlen, "out of memory");
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
            if (df_tpl_next_tok(s, len, &i, &t, err, errlen) != 0)
                return -1;
            if (t.kind == TOK_END)
                return 0;
            if (t.kind != TOK_REF)
                continue;
            if (df_tpl_parse_ref(t.p, t.len, &r, false, err, errlen) != 0)
                return -1;
            if (fn) {
                char *text = strndup(t.p, t.len);
                if (!text) {
                    df_tpl_set_err(err, errlen, "out of memory");
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
