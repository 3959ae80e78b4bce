/* workflow_fields: the workflow loader's messages (`FILE: WHERE: KEY: PROBLEM`, descriptions of
 * the JSON values found, "did you mean" for unknown keys and names) and its checks of typed
 * fields (integers, strings, names of pools and breakers). See workflow_loader.h. */
#include "workflow_loader.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

/* See workflow_loader.h (for all the functions of this file). */
bool df_wfl_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* [A-Za-z0-9_.-]{1,128} for workflow names (dots allowed), [A-Za-z0-9_-]{1,128} for task ids. */
bool df_wfl_valid_name(const char *s, bool allow_dot)
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

/* Appends `FILE: WHERE: message` (or `FILE: message` without WHERE). */
void df_wfl_err(df_wfl_loader *L, const char *where, const char *fmt, ...)
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

/* A short description of a JSON value for "got ..." in messages. Strings and reals are cut to
 * 57 characters and "...". */
const char *df_wfl_describe(const json_t *v, char *buf, size_t len)
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
const char *df_wfl_num_text(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    snprintf(buf, len, "%s", text ? text : "?");
    free(text);
    return buf;
}

/* `unknown key "k"; did you mean "x"?` */
void df_wfl_unknown_key(df_wfl_loader *L, const char *where, const char *key,
                        const char *const *known, size_t n)
{
    const char *s = df_suggest(key, known, n);
    if (s)
        df_wfl_err(L, where, "unknown key \"%s\"; did you mean \"%s\"?", key, s);
    else
        df_wfl_err(L, where, "unknown key \"%s\"", key);
}

/* ---- typed fields ---------------------------------------------------------------------------- */

/* An integer >= min. Returns true and sets *out when valid; otherwise reports it. */
bool df_wfl_want_int(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                     int64_t min, bool bounded, int64_t *out)
{
    char d[128];
    if (!json_is_integer(v)) {
        if (bounded)
            df_wfl_err(L, where, "%s: must be an integer >= %lld, got %s", key, (long long)min,
                       df_wfl_describe(v, d, sizeof d));
        else
            df_wfl_err(L, where, "%s: must be an integer, got %s", key,
                       df_wfl_describe(v, d, sizeof d));
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (bounded && x < min) {
        df_wfl_err(L, where, "%s: must be an integer >= %lld, got %lld", key, (long long)min,
                   (long long)x);
        return false;
    }
    *out = (int64_t)x;
    return true;
}

bool df_wfl_want_string(df_wfl_loader *L, const char *where, const char *key, const json_t *v,
                        bool nonempty)
{
    char d[128];
    if (!json_is_string(v)) {
        df_wfl_err(L, where, "%s: must be a string, got %s", key, df_wfl_describe(v, d, sizeof d));
        return false;
    }
    if (nonempty && json_string_length(v) == 0) {
        df_wfl_err(L, where, "%s: must not be empty", key);
        return false;
    }
    return true;
}

/* Looks a pool or breaker name up among n names; reports an unknown one with a suggestion. */
int df_wfl_find_named(df_wfl_loader *L, const char *where, const char *key, const char *what,
                      const char *plural, const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    const char *s = df_suggest(name, names, n);
    if (n == 0)
        df_wfl_err(L, where, "%s: unknown %s \"%s\" (the workflow defines no %s)", key, what, name,
                   plural);
    else if (s)
        df_wfl_err(L, where, "%s: unknown %s \"%s\"; did you mean \"%s\"?", key, what, name, s);
    else
        df_wfl_err(L, where, "%s: unknown %s \"%s\"", key, what, name);
    return -1;
}
