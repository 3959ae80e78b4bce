/* fuzz_template: libFuzzer target for ${...} templates (engine/template.c: df_template_scan and
 * df_template_resolve, and df_template_mark_shell for a script). The first input byte picks how the
 * rest becomes a JSON value: bit 0 clear: the rest is one string value (any bytes; invalid UTF-8 is
 * replaced by '?'), wrapped per bits 1-2 in nothing, an object {"k": s}, an array [s, s], or
 *                {"a": [{"b": s}], "c": "x${params.day}"};
 *   bit 0 set:   the rest is parsed as JSON (any value); if that fails, it is used as a string.
 * The value is scanned and resolved against a fixed scope (run params, run id, workflow, task,
 * attempt, and upstream results of tasks "up" and "arr"), both at run time (every reference
 * resolved) and at creation time (bit 3: ${tasks.*} and ${task.*} left as written). It aborts
 * when a promise of template.h is broken: a failure returns NULL (-1 for scan) with a non-empty,
 * NUL-terminated message; a value without "${" resolves to an equal value.
 * Build: tests/fuzz/build.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/template.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_template: broken promise: %s (%s:%d)\n", #cond, __FILE__,        \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static json_t *g_params, *g_up, *g_arr;

static const json_t *task_result(void *ud, const char *task_id)
{
    (void)ud;
    CHECK(task_id != NULL);
    if (strcmp(task_id, "up") == 0)
        return g_up;
    if (strcmp(task_id, "arr") == 0)
        return g_arr;
    return NULL;
}

static int on_ref(void *ud, const char *ref)
{
    CHECK(ref != NULL);
    size_t *n = ud;
    (*n)++;
    (void)strlen(ref);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("DF_FUZZ_ENV", "from the environment", 1);
    g_params = json_pack("{s:s, s:i, s:f, s:b, s:n, s:{s:[i, i, {s:s}]}, s:s}", "day", "2026-11-29",
                         "n", 3, "ratio", 0.5, "flag", 1, "nothing", "obj", "a", 1, 2, "b", "x",
                         "tricky", "${params.day}");
    g_up = json_pack("{s:s, s:i, s:{s:[s, {s:i}]}, s:s}", "stdout", "hello", "exit_code", 0, "json",
                     "rows", "r0", "id", 42, "empty", "");
    g_arr = json_pack("[i, s, [i], {}]", 1, "two", 3);
    return 0;
}

/* A JSON string from arbitrary bytes: NULs and invalid UTF-8 become '?'. */
static json_t *string_of(const uint8_t *data, size_t size)
{
    json_t *s = json_stringn((const char *)data, size);
    if (s)
        return s;
    char *copy = malloc(size + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < size; i++)
        copy[i] = data[i] < 0x80 && data[i] != 0 ? (char)data[i] : '?';
    copy[size] = '\0';
    s = json_string(copy);
    free(copy);
    return s;
}

/* Whether any string in v (keys excluded: they are never templated) contains "${". */
static int has_ref(const json_t *v)
{
    if (json_is_string(v)) /* by length: a JSON string may hold NULs */
        return memmem(json_string_value(v), json_string_length(v), "${", 2) != NULL;
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (has_ref(x)) return 1;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (has_ref(x)) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    json_t *v = NULL;
    if (mode & 1) {
        v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    }
    if (!v) {
        json_t *s = string_of(data, size);
        if (!s)
            return 0;
        switch ((mode >> 1) & 3) {
        case 0:
            v = s;
            break;
        case 1:
            v = json_pack("{s:o}", "k", s);
            break;
        case 2:
            v = json_pack("[O, o]", s, s);
            break;
        default:
            v = json_pack("{s:[{s:o}], s:s}", "a", "b", s, "c", "x${params.day}");
            break;
        }
        if (!v)
            return 0;
    }

    char err[256];
    memset(err, 'Z', sizeof err);
    size_t refs = 0;
    int src = df_template_scan(v, on_ref, &refs, err, sizeof err);
    if (src != 0) {
        CHECK(src == -1);
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
    }

    bool creation = (mode & 8) != 0;
    df_template_scope scope = {.params = g_params,
                               .run_id = 7,
                               .workflow = "wf",
                               .task_id = creation ? NULL : "t",
                               .attempt = creation ? 0 : 2,
                               .resolve_tasks = !creation,
                               .task_result = task_result,
                               .ud = NULL};
    memset(err, 'Z', sizeof err);
    json_t *r = df_template_resolve(v, &scope, err, sizeof err);
    if (!r) {
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        /* A value without any reference always resolves. */
        CHECK(has_ref(v));
    } else {
        if (!has_ref(v)) /* "$${" contains "${": such values are excluded too */
            CHECK(json_equal(r, v));
        json_decref(r);
    }
    /* A tiny error buffer must still be NUL-terminated. */
    char small[8];
    memset(small, 'Z', sizeof small);
    r = df_template_resolve(v, &scope, small, sizeof small);
    if (!r)
        CHECK(memchr(small, '\0', sizeof small) != NULL);
    json_decref(r);
    /* As a shell script (SPEC §12): marking refuses or marks; a marked string resolves to a
     * string (never a typed value), and marking it again is refused. */
    if (json_is_string(v)) {
        memset(err, 'Z', sizeof err);
        json_t *m = df_template_mark_shell(v, err, sizeof err);
        if (!m) {
            CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        } else {
            r = df_template_resolve(m, &scope, err, sizeof err);
            if (r)
                CHECK(json_is_string(r));
            json_decref(r);
            if (src == 0 && refs > 0) /* a real reference: marked, so scan refuses */
                CHECK(df_template_scan(m, NULL, NULL, err, sizeof err) != 0);
            json_decref(m);
        }
    }
    json_decref(v);
    return 0;
}
