/* test_template: unit tests of engine/template.c — typed and interpolated references, escapes,
 * unresolvable references and their messages, nested params, result paths (object keys, array
 * indexes), scope flags that leave references as written (and resolving such output again), and
 * df_template_scan's syntax errors and callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/template.h"

/* ---- fixture -------------------------------------------------------------------------------- */

typedef struct fx {
    json_t *params;
    json_t *results; /* task id -> result */
    df_template_scope scope;
} fx;

static const json_t *result_of(void *ud, const char *task_id)
{
    fx *f = ud;
    return json_object_get(f->results, task_id);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->params = json_loads("{\"day\": \"2026-11-29\", \"n\": 5, \"ratio\": 0.1, \"flag\": true,"
                           " \"nothing\": null, \"obj\": {\"a\": 1, \"b\": [1, 2]},"
                           " \"list\": [\"x\", \"y\"], \"tricky\": \"a${b\", \"dollar\": \"5$\"}",
                           0, NULL);
    f->results = json_loads("{\"extract\": {\"stdout\": \"rows.csv\", \"exit_code\": 0,"
                            " \"json\": {\"rows\": [{\"name\": \"ann\"}, {\"name\": \"bob\"}],"
                            " \"10\": \"ten\"}},"
                            " \"count\": 42, \"text\": \"plain\"}",
                            0, NULL);
    if (!f->params || !f->results)
        return -1;
    f->scope = (df_template_scope){.params = f->params,
                                   .run_id = 17,
                                   .workflow = "daily_sales",
                                   .task_id = "load",
                                   .attempt = 2,
                                   .resolve_tasks = true,
                                   .task_result = result_of,
                                   .ud = f};
    setenv("DF_TEMPLATE_TEST_VAR", "from-env", 1);
    unsetenv("DF_TEMPLATE_TEST_UNSET");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    json_decref(f->params);
    json_decref(f->results);
    free(f);
    return 0;
}

/* Resolves a JSON text (a document, or a bare string when it starts with no '{' '[' '"'). */
static json_t *resolve_text(const fx *f, const df_template_scope *sc, const char *in, char *err,
                            size_t errlen)
{
    json_t *v = json_loads(in, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    json_t *out = df_template_resolve(v, sc ? sc : &f->scope, err, errlen);
    json_decref(v);
    return out;
}

/* Asserts that resolving in (JSON text) gives want (JSON text). */
static void expect(const fx *f, const df_template_scope *sc, const char *in, const char *want)
{
    char err[256] = "";
    json_t *out = resolve_text(f, sc, in, err, sizeof err);
    if (!out)
        fail_msg("%s: unexpected error: %s", in, err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal(out, w)) {
        char *got = json_dumps(out, JSON_ENCODE_ANY);
        fail_msg("%s: got %s, want %s", in, got, want);
    }
    json_decref(w);
    json_decref(out);
}

/* Asserts that resolving in fails with a message containing each of the given parts. */
static void expect_error(const fx *f, const df_template_scope *sc, const char *in,
                         const char *part1, const char *part2)
{
    char err[256] = "";
    json_t *out = resolve_text(f, sc, in, err, sizeof err);
    if (out) {
        char *got = json_dumps(out, JSON_ENCODE_ANY);
        fail_msg("%s: expected an error, got %s", in, got);
    }
    if (!strstr(err, part1) || (part2 && !strstr(err, part2)))
        fail_msg("%s: message \"%s\" lacks \"%s\" / \"%s\"", in, err, part1, part2 ? part2 : "");
}

/* ---- typed ---------------------------------------------------------------------------------- */

static void test_typed(void **state)
{
    fx *f = *state;
    expect(f, NULL, "\"${params.n}\"", "5");
    expect(f, NULL, "\"${params.ratio}\"", "0.1");
    expect(f, NULL, "\"${params.flag}\"", "true");
    expect(f, NULL, "\"${params.nothing}\"", "null");
    expect(f, NULL, "\"${params.obj}\"", "{\"a\": 1, \"b\": [1, 2]}");
    expect(f, NULL, "\"${params.obj.b}\"", "[1, 2]");
    expect(f, NULL, "\"${params.day}\"", "\"2026-11-29\"");
    expect(f, NULL, "\"${run.id}\"", "17");
    expect(f, NULL, "\"${run.workflow}\"", "\"daily_sales\"");
    expect(f, NULL, "\"${task.id}\"", "\"load\"");
    expect(f, NULL, "\"${task.attempt}\"", "2");
    expect(f, NULL, "\"${env.DF_TEMPLATE_TEST_VAR}\"", "\"from-env\"");
    expect(f, NULL, "\"${tasks.count.result}\"", "42");
    expect(f, NULL, "\"${tasks.extract.result}\"",
           "{\"stdout\": \"rows.csv\", \"exit_code\": 0, \"json\": {\"rows\": [{\"name\": "
           "\"ann\"}, {\"name\": \"bob\"}], \"10\": \"ten\"}}");
    expect(f, NULL, "\"${tasks.extract.result.exit_code}\"", "0");
}

static void test_typed_value_is_a_copy(void **state)
{
    fx *f = *state;
    json_t *in = json_string("${params.obj}");
    char err[128];
    json_t *out = df_template_resolve(in, &f->scope, err, sizeof err);
    assert_non_null(out);
    assert_ptr_not_equal(out, json_object_get(f->params, "obj"));
    json_object_set_new(out, "a", json_integer(99)); /* must not reach the run params */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f->params, "obj"), "a")),
                     1);
    json_decref(out);
    json_decref(in);
}

/* ---- interpolated --------------------------------------------------------------------------- */

static void test_interpolated(void **state)
{
    fx *f = *state;
    expect(f, NULL, "\"day=${params.day}\"", "\"day=2026-11-29\"");
    expect(f, NULL, "\"${params.day}/${params.n}\"", "\"2026-11-29/5\"");
    expect(f, NULL, "\"n=${params.n} r=${params.ratio} f=${params.flag} z=${params.nothing}\"",
           "\"n=5 r=0.1 f=true z=null\"");
    expect(f, NULL, "\"o=${params.obj}\"", "\"o={\\\"a\\\":1,\\\"b\\\":[1,2]}\"");
    expect(f, NULL, "\"l=${params.list}\"", "\"l=[\\\"x\\\",\\\"y\\\"]\"");
    expect(f, NULL, "\"run ${run.id} of ${run.workflow}\"", "\"run 17 of daily_sales\"");
    expect(f, NULL, "\"${task.id}#${task.attempt}\"", "\"load#2\"");
    expect(f, NULL, "\"file: ${tasks.extract.result.stdout}\"", "\"file: rows.csv\"");
    expect(f, NULL, "\"x${env.DF_TEMPLATE_TEST_VAR}x\"", "\"xfrom-envx\"");
    /* a substituted value is not templated again */
    expect(f, NULL, "\"<${params.tricky}>\"", "\"<a${b>\"");
    expect(f, NULL, "\"${params.tricky}\"", "\"a${b\"");
}

/* ---- escapes and literal dollars --------------------------------------------------------------
 */

static void test_escapes(void **state)
{
    fx *f = *state;
    expect(f, NULL, "\"$${params.day}\"", "\"${params.day}\"");
    expect(f, NULL, "\"a $${x} b ${params.n}\"", "\"a ${x} b 5\"");
    expect(f, NULL, "\"cost: $5, pid $$, end $\"", "\"cost: $5, pid $$, end $\"");
    expect(f, NULL, "\"$$${params.n}\"", "\"$${params.n}\""); /* "$" then the escape */
    expect(f, NULL, "\"$${\"", "\"${\"");
    expect(f, NULL, "\"}{ $ {\"", "\"}{ $ {\"");
    expect(f, NULL, "\"\"", "\"\"");
    expect(f, NULL, "\"no references\"", "\"no references\"");
}

/* ---- nested values ----------------------------------------------------------------------------
 */

static void test_nested(void **state)
{
    fx *f = *state;
    expect(f, NULL,
           "{\"argv\": [\"./load.sh\", \"${params.day}\", \"${params.n}\"],"
           " \"env\": {\"N\": \"n=${params.n}\", \"deep\": [[{\"x\": \"${tasks.count.result}\"}]]},"
           " \"${params.day}\": \"keys are not templated\", \"k\": 3, \"b\": false, \"z\": null}",
           "{\"argv\": [\"./load.sh\", \"2026-11-29\", 5],"
           " \"env\": {\"N\": \"n=5\", \"deep\": [[{\"x\": 42}]]},"
           " \"${params.day}\": \"keys are not templated\", \"k\": 3, \"b\": false, \"z\": null}");
    expect(f, NULL, "[]", "[]");
    expect(f, NULL, "7", "7");
}

/* ---- result paths -----------------------------------------------------------------------------
 */

static void test_result_paths(void **state)
{
    fx *f = *state;
    /* a numeric KEY indexes an array */
    expect(f, NULL, "\"${tasks.extract.result.json.rows.1.name}\"", "\"bob\"");
    expect(f, NULL, "\"${tasks.extract.result.json.rows.0}\"", "{\"name\": \"ann\"}");
    /* on an object, a numeric KEY is an ordinary key */
    expect(f, NULL, "\"${tasks.extract.result.json.10}\"", "\"ten\"");
    expect(f, NULL, "\"${params.list.1}\"", "\"y\"");
    expect_error(f, NULL, "\"${tasks.extract.result.json.rows.2}\"",
                 "${tasks.extract.result.json.rows.2}", "has no index 2 (it has 2 elements)");
    expect_error(f, NULL, "\"${tasks.extract.result.json.rows.01}\"", "is not an index", NULL);
    expect_error(f, NULL, "\"${tasks.extract.result.json.rows.-1}\"", "is not an index", NULL);
    expect_error(f, NULL, "\"${tasks.extract.result.stdout.x}\"", "is a string", "\"x\"");
}

/* ---- unresolvable ---------------------------------------------------------------------------- */

static void test_unresolvable(void **state)
{
    fx *f = *state;
    expect_error(f, NULL, "\"${params.nope}\"", "${params.nope}", "no run parameter \"nope\"");
    expect_error(f, NULL, "\"x ${params.nope} y\"", "${params.nope}", NULL);
    expect_error(f, NULL, "\"${env.DF_TEMPLATE_TEST_UNSET}\"", "${env.DF_TEMPLATE_TEST_UNSET}",
                 "is not set");
    expect_error(f, NULL, "\"${tasks.extract.result.x}\"", "${tasks.extract.result.x}",
                 "task \"extract\" result has no key \"x\"");
    expect_error(f, NULL, "\"${tasks.extract.result.json.nope}\"",
                 "tasks.extract.result.json has no key \"nope\"", NULL);
    expect_error(f, NULL, "\"${tasks.ghost.result}\"", "${tasks.ghost.result}",
                 "task \"ghost\" has no result");
    expect_error(f, NULL, "\"${params.obj.c}\"", "run parameter \"obj\" has no key \"c\"", NULL);
    /* the first failure anywhere in a nested value fails the whole */
    expect_error(f, NULL, "{\"a\": [\"ok\", {\"b\": \"${params.nope}\"}]}", "${params.nope}", NULL);
    /* no params object, no callback */
    df_template_scope bare = {.workflow = NULL, .resolve_tasks = true};
    expect_error(f, &bare, "\"${params.day}\"", "no run parameter \"day\"", NULL);
    expect_error(f, &bare, "\"${tasks.a.result}\"", "task \"a\" has no result", NULL);
    expect_error(f, &bare, "\"${run.workflow}\"", "${run.workflow}", NULL);
}

/* ---- syntax errors -------------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    fx *f = *state;
    expect_error(f, NULL, "\"abc ${params.day\"", "unterminated", "${params.day");
    expect_error(f, NULL, "\"${\"", "unterminated", NULL);
    expect_error(f, NULL, "\"${}\"", "empty reference", NULL);
    expect_error(f, NULL, "\"${foo.bar}\"", "unknown namespace \"foo\"", NULL);
    expect_error(f, NULL, "\"${param.day}\"", "did you mean \"params\"?", NULL);
    expect_error(f, NULL, "\"${params}\"", "incomplete reference", NULL);
    expect_error(f, NULL, "\"${params..day}\"", "empty path segment", NULL);
    expect_error(f, NULL, "\"${params.day.}\"", "empty path segment", NULL);
    expect_error(f, NULL, "\"${ params.day }\"", "invalid character", NULL);
    expect_error(f, NULL, "\"${params.${x}}\"", "invalid character '{'", NULL);
    expect_error(f, NULL, "\"${run.name}\"", "${run.id}, ${run.workflow}", NULL);
    expect_error(f, NULL, "\"${task.name}\"", "${task.id} or ${task.attempt}", NULL);
    expect_error(f, NULL, "\"${env.A.B}\"", "takes no path", NULL);
    expect_error(f, NULL, "\"${tasks.a}\"", "incomplete reference", NULL);
    expect_error(f, NULL, "\"${tasks.a.stdout}\"", "expected \"result\"", NULL);
    expect_error(f, NULL, "\"${tasks.a/b.result}\"", "not a valid task id", NULL);
}

/* ---- scope flags ---------------------------------------------------------------------------- */

static void test_deferred_references(void **state)
{
    fx *f = *state;
    df_template_scope sc = f->scope;
    sc.resolve_tasks = false;
    sc.task_id = NULL;
    sc.attempt = 0;
    /* left exactly as written, typed position or not */
    expect(f, &sc, "\"${tasks.extract.result.stdout}\"", "\"${tasks.extract.result.stdout}\"");
    expect(f, &sc, "\"${task.id}\"", "\"${task.id}\"");
    expect(f, &sc, "\"${task.attempt}\"", "\"${task.attempt}\"");
    expect(f, &sc, "\"f=${tasks.extract.result} d=${params.day}\"",
           "\"f=${tasks.extract.result} d=2026-11-29\"");
    /* the other references still resolve, and still fail when unresolvable */
    expect(f, &sc, "\"${params.n}\"", "5");
    expect_error(f, &sc, "\"${tasks.a.result} ${params.nope}\"", "${params.nope}", NULL);
    /* task_id set but attempt 0: only ${task.attempt} stays */
    sc.task_id = "load";
    expect(f, &sc, "\"${task.id}/${task.attempt}\"", "\"load/${task.attempt}\"");
    /* syntax is still checked in references left as written */
    expect_error(f, &sc, "\"${tasks.a}\"", "incomplete reference", NULL);
}

/* Resolving with a partial scope and then with the full one gives what one full resolution
 * gives, including escapes and substituted text that looks like a reference. */
static void test_partial_then_full(void **state)
{
    fx *f = *state;
    df_template_scope partial = f->scope;
    partial.resolve_tasks = false;
    partial.attempt = 0;
    static const char *const inputs[] = {
        "\"${tasks.count.result}\"",
        "\"${tasks.count.result} and $${literal}\"",
        "\"${params.tricky}:${tasks.text.result}\"",
        "\"${params.dollar}${tasks.text.result}\"",
        "\"${params.dollar}{x} ${tasks.count.result}\"",
        "\"${params.dollar}$${y} ${task.attempt}\"",
        "\"$$${params.n}${tasks.count.result}\"",
        "\"cost $5 ${params.day} ${task.attempt} ${tasks.extract.result.json.rows.1.name}\"",
        "{\"a\": [\"${params.n}\", \"${tasks.count.result}/${params.tricky}\"]}",
    };
    char err[256];
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        json_t *in = json_loads(inputs[i], JSON_DECODE_ANY, NULL);
        assert_non_null(in);
        json_t *once = df_template_resolve(in, &f->scope, err, sizeof err);
        json_t *mid = df_template_resolve(in, &partial, err, sizeof err);
        assert_non_null(once);
        assert_non_null(mid);
        json_t *twice = df_template_resolve(mid, &f->scope, err, sizeof err);
        assert_non_null(twice);
        if (!json_equal(once, twice)) {
            char *a = json_dumps(once, JSON_ENCODE_ANY), *b = json_dumps(twice, JSON_ENCODE_ANY);
            fail_msg("%s: once %s, in two steps %s", inputs[i], a, b);
        }
        json_decref(in);
        json_decref(once);
        json_decref(mid);
        json_decref(twice);
    }
}

/* ---- scan ----------------------------------------------------------------------------------- */

typedef struct seen {
    char refs[8][64];
    int n;
    int stop_after;
} seen;

static int collect(void *ud, const char *ref)
{
    seen *s = ud;
    if (s->n < 8)
        snprintf(s->refs[s->n], sizeof s->refs[0], "%s", ref);
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void test_scan(void **state)
{
    (void)state;
    json_t *in = json_loads("{\"argv\": [\"x\", \"${params.day}-${tasks.a.result.k}\", 3],"
                            " \"${keys.are.not.scanned\": \"$${escaped} ${env.HOME}\"}",
                            0, NULL);
    seen s = {0};
    char err[256] = "";
    assert_int_equal(df_template_scan(in, collect, &s, err, sizeof err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.refs[0], "params.day");
    assert_string_equal(s.refs[1], "tasks.a.result.k");
    assert_string_equal(s.refs[2], "env.HOME");
    /* stopping early is not an error */
    seen s2 = {.stop_after = 1};
    assert_int_equal(df_template_scan(in, collect, &s2, err, sizeof err), 0);
    assert_int_equal(s2.n, 1);
    /* fn may be NULL */
    assert_int_equal(df_template_scan(in, NULL, NULL, err, sizeof err), 0);
    json_decref(in);
}

static void test_scan_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"[\"ok ${params.a}\", \"bad ${params.b\"]", "unterminated"},
        {"{\"x\": {\"y\": \"${nope.a}\"}}", "unknown namespace \"nope\""},
        {"\"${tasks.x.result..k}\"", "empty path segment"},
        {"\"${}\"", "empty reference"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *in = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
        assert_non_null(in);
        seen s = {0};
        char err[256] = "";
        assert_int_equal(df_template_scan(in, collect, &s, err, sizeof err), -1);
        if (!strstr(err, cases[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].in, err, cases[i].msg);
        json_decref(in);
    }
    /* a tiny error buffer is never overrun */
    json_t *in = json_string("${nope}");
    char small[8];
    memset(small, 'Z', sizeof small);
    assert_int_equal(df_template_scan(in, NULL, NULL, small, 5), -1);
    assert_int_equal(small[4], '\0');
    assert_int_equal(small[5], 'Z');
    assert_int_equal(df_template_scan(in, NULL, NULL, NULL, 0), -1);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_value_is_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interpolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_then_full, setup, teardown),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_scan_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
