/* plugin_util: the helpers shared by the built-in plugins (see plugin_util.h), compiled into each
 * plugin's .so with hidden visibility. */
#include "plugin_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../engine/path.h"
#include "../../engine/suggest.h"
#include "../../engine/utf8_text.h"

/* The longest key dfp_suggest_key compares. */
#define KEY_MAX 64

long long dfp_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dfp_is_template(const json_t *v)
{
    return json_is_string(v) && strstr(json_string_value(v), "${") != NULL;
}

int dfp_is_scalar_text(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

int dfp_int_in_array(const json_t *arr, long long n)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_integer(v) && json_integer_value(v) == n)
            return 1;
    }
    return 0;
}

const char *dfp_unknown_key(const json_t *obj, const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int found = 0;
        for (size_t i = 0; keys[i] && !found; i++)
            found = strcmp(keys[i], key) == 0;
        if (!found)
            return key;
    }
    return NULL;
}

/* Levenshtein distance of two short strings (SIZE_MAX when either is longer than KEY_MAX), the
 * engine's df_edit_distance_opt (engine/suggest.c, compiled into this plugin); with fold_case,
 * letters are compared without regard to case. */
static size_t edit_distance(const char *a, const char *b, int fold_case)
{
    if (strlen(a) > KEY_MAX || strlen(b) > KEY_MAX)
        return SIZE_MAX;
    return df_edit_distance_opt(a, b, fold_case ? DF_EDIT_FOLD_CASE : 0);
}

const char *dfp_suggest_key(const char *key, const char *const *keys, int fold_case)
{
    const char *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; keys[i]; i++) {
        size_t d = edit_distance(key, keys[i], fold_case);
        if (d < bd) {
            bd = d;
            best = keys[i];
        }
    }
    return best && bd <= 3 && bd < strlen(key) ? best : NULL;
}

void dfp_unknown_key_error(char *err, size_t errlen, const char *key, const char *where,
                           const char *hint, const char *about)
{
    if (hint)
        snprintf(err, errlen, "unknown key \"%s\"%s; did you mean \"%s\"?", key, where, hint);
    else
        snprintf(err, errlen, "unknown key \"%s\"%s (%s)", key, where, about);
}

int dfp_check_keys(const json_t *obj, const char *const *keys, const char *where, int fold_case,
                   const char *lead, char *err, size_t errlen)
{
    const char *key = dfp_unknown_key(obj, keys);
    if (!key)
        return 0;
    /* lead and the known keys: a few short names, far below the buffer. */
    char about[512];
    size_t o = (size_t)snprintf(about, sizeof about, "%s", lead);
    for (size_t i = 0; keys[i] && o < sizeof about; i++)
        o += (size_t)snprintf(about + o, sizeof about - o, "%s %s", i ? "," : "", keys[i]);
    dfp_unknown_key_error(err, errlen, key, where, dfp_suggest_key(key, keys, fold_case), about);
    return 1;
}

int dfp_check_final(df_task_ctx *ctx, dfp_check_fn check, const json_t *params, size_t errlen)
{
    char err[1024];
    if (errlen > sizeof err)
        errlen = sizeof err;
    if (check(params, 0, err, errlen) == 0)
        return 0;
    df_task_set_error(ctx, "%s", err);
    return 1;
}

/* df_text_json (engine/utf8_text.c, compiled into this plugin). */
json_t *dfp_text_json(const char *data, size_t n)
{
    return df_text_json(data, n);
}

/* df_path_resolve (engine/path.c, compiled into this plugin). */
char *dfp_resolve_path(const char *workdir, const char *path)
{
    return df_path_resolve(workdir, path);
}
