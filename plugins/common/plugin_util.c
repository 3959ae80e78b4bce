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

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0)
        return 0; /* surrogate */
    if (c == 0xF0 && s[1] < 0x90)
        return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90)
        return 0; /* beyond U+10FFFF */
    return len;
}

json_t *dfp_text_json(const char *data, size_t n)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(s + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(data, n);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

/* df_path_resolve (engine/path.c, compiled into this plugin). */
char *dfp_resolve_path(const char *workdir, const char *path)
{
    return df_path_resolve(workdir, path);
}
