/* test_template_shell: unit tests of references in /bin/sh scripts (engine/template_shell.c and
 * df_template_mark_shell, SPEC §12): for hostile values in each place a reference can stand
 * (outside quotes, double quotes, single quotes, $( ), a comment), the script run by /bin/sh
 * prints the value exactly and runs nothing else; places where no escaping is safe are refused;
 * resolving in two steps (params first, upstream results later) gives what one step gives; a
 * marker cannot be written by a workflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/template.h"

static const char *const hostile[] = {
    "$(touch PWNED)",
    "`touch PWNED`",
    "a'b",
    "'",
    "\"",
    "\\",
    "x\\",
    "$HOME ${HOME}",
    "line1\nline2; touch PWNED\nx", /* not ending in a newline: $( ) strips those */
    "'; touch PWNED; echo '",
    "\"; touch PWNED; echo \"",
    "#not a comment",
    "",
    "-n",
    "*",
    "~",
    "a}b)c",
    "a[$(touch PWNED)]",
    "1)); touch PWNED; echo $((1",
};

static json_t *result_of(void *ud, const char *task_id)
{
    (void)task_id;
    return ud;
}

/* Marks script, resolves it with params {"v": v} and the upstream "up" result {"out": v}, and
 * returns the resolved text (malloc'd). */
static char *resolve_script(const char *script, const char *v, bool two_steps)
{
    json_t *params = json_pack("{s:s}", "v", v);
    json_t *res = json_pack("{s:s}", "out", v);
    json_t *in = json_string(script);
    char err[512] = "";
    json_t *marked = df_template_mark_shell(in, err, sizeof err);
    if (!marked)
        fail_msg("mark %s: %s", script, err);
    df_template_scope sc = {.params = params,
                            .run_id = 1,
                            .workflow = "w",
                            .task_id = "t",
                            .attempt = 1,
                            .resolve_tasks = true,
                            .task_result = (const json_t *(*)(void *, const char *))result_of,
                            .ud = res};
    json_t *out;
    if (two_steps) {
        df_template_scope first = sc;
        first.resolve_tasks = false;
        first.attempt = 0;
        json_t *mid = df_template_resolve(marked, &first, err, sizeof err);
        if (!mid)
            fail_msg("first step %s: %s", script, err);
        out = df_template_resolve(mid, &sc, err, sizeof err);
        json_decref(mid);
    } else {
        out = df_template_resolve(marked, &sc, err, sizeof err);
    }
    if (!out || !json_is_string(out))
        fail_msg("resolve %s: %s", script, err);
    char *text = strdup(json_string_value(out));
    json_decref(out);
    json_decref(marked);
    json_decref(in);
    json_decref(params);
    json_decref(res);
    return text;
}

/* Runs text with /bin/sh -c in the current folder; returns its stdout (malloc'd). */
static char *run_sh(const char *text)
{
    FILE *p = popen(text, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    pclose(p);
    return buf;
}

/* For each hostile value, script (with %s where the expected output has the value) prints want. */
static void check_prints(const char *script, const char *want_fmt)
{
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        /* Two steps only where a reference is left for the second (as at run creation). */
        int steps = strstr(script, "${tasks.") ? 2 : 1;
        for (int two = 0; two < steps; two++) {
            char *text = resolve_script(script, hostile[i], two);
            char *got = run_sh(text);
            char want[512];
            snprintf(want, sizeof want, want_fmt, hostile[i], hostile[i]);
            if (strcmp(got, want) != 0)
                fail_msg("script %s with value [%s] (%s): ran [%s], printed [%s], want [%s]",
                         script, hostile[i], two ? "two steps" : "one step", text, got, want);
            if (access("PWNED", F_OK) == 0)
                fail_msg("script %s with value [%s]: ran [%s], which touched PWNED", script,
                         hostile[i], text);
            free(text);
            free(got);
        }
    }
}

static int in_tmp(void **state)
{
    (void)state;
    char dir[] = "/tmp/df-template-shell.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    return 0;
}

static void test_outside_quotes(void **state)
{
    (void)state;
    check_prints("printf '%s|' ${params.v} ${tasks.up.result.out}", "%s|%s|");
    check_prints("printf '[%s]' x${params.v}y", "[x%sy]");
}

static void test_double_quotes(void **state)
{
    (void)state;
    check_prints("printf '%s|' \"a ${params.v} b\" \"${tasks.up.result.out}\"", "a %s b|%s|");
    check_prints("printf '%s' \"$(printf '%s' \"${params.v}\")\"", "%s");
}

static void test_single_quotes(void **state)
{
    (void)state;
    check_prints("printf '%s|' 'a ${params.v} b' '${tasks.up.result.out}'", "a %s b|%s|");
}

static void test_command_substitution(void **state)
{
    (void)state;
    check_prints("printf '%s|' \"$(printf '%s' ${params.v})\" $((1+2))", "%s|3|");
}

static void test_comment(void **state)
{
    (void)state;
    /* The value is not printed: a newline in it must not end the comment. */
    char *text = resolve_script("printf ok # ${params.v}", "x\ntouch PWNED", false);
    char *got = run_sh(text);
    assert_string_equal(got, "ok");
    assert_int_not_equal(access("PWNED", F_OK), 0);
    free(text);
    free(got);
    /* A '#' inside a word is not a comment. */
    check_prints("printf '%s' a#${params.v}", "a#%s");
}

static void expect_refused(const char *script, const char *why)
{
    json_t *in = json_string(script);
    char err[512] = "";
    json_t *out = df_template_mark_shell(in, err, sizeof err);
    if (out)
        fail_msg("%s: expected a refusal, got %s", script, json_string_value(out));
    if (!strstr(err, why))
        fail_msg("%s: message [%s] lacks [%s]", script, err, why);
    json_decref(in);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("echo `echo ${params.v}`", "inside backquotes");
    expect_refused("echo \"`echo ${params.v}`\"", "inside backquotes");
    expect_refused("cat <<EOF\n${params.v}\nEOF\n", "inside a here-document");
    expect_refused("cat <<-'EOF'\n\tx ${params.v}\n\tEOF\n", "inside a here-document");
    expect_refused("echo \\${params.v}", "right after a backslash");
    expect_refused("echo \"\\${params.v}\"", "right after a backslash");
    expect_refused("echo $${x:-${params.v}}", "parameter expansion");
    expect_refused("echo ${params.v", "unterminated reference");
    /* Arithmetic expansion: the shell expands its text as in double quotes, where single quotes
       do not quote, so a value 'a[$(touch PWNED)]' ran the command (dash; bash also evaluates a
       subscript inside a value) (newuser finding 1). */
    expect_refused("echo $((${params.v}))", "arithmetic expansion");
    expect_refused("echo $(( 1 + ${params.v} ))", "arithmetic expansion");
    expect_refused("echo \"$(( ${params.v} ))\"", "arithmetic expansion");
    expect_refused("echo $(( 1 + \"${params.v}\" ))", "arithmetic expansion");
    expect_refused("echo $(( (2) * $(echo ${params.v}) ))", "arithmetic expansion");
    expect_refused("x=$(($((1)) + ${params.v}))", "arithmetic expansion");
    /* bash's $'...' lets \' stand inside, dash ends the string there: references after one are
       refused, as bash (a /bin/sh elsewhere) and dash would quote them differently. */
    expect_refused("echo $'a' ${params.v}", "after a $'...' string");
    expect_refused("echo $'a\\' x ' ${params.v}", "after a $'...' string");
    check_prints("printf '%s|' \"$'\" ${params.v}", "$'|%s|");
    /* After the arithmetic expansion, and in a command substitution's subshell, fine again. */
    check_prints("printf '%s|' $((1 + (2))) ${params.v}", "3|%s|");
    check_prints("printf '%s|' \"$( (printf '%s' ${params.v}) )\"", "%s|");
    check_prints("printf '%s|' \"$((2))${params.v}\"", "2%s|");
    /* After the here-document's delimiter line, references are fine again. */
    check_prints("cat <<'EOF'\nhi\nEOF\nprintf '%s' ${params.v}", "hi\n%s");
    check_prints("cat <<-EOF\n\thi\n\tEOF\nprintf '%s' \"${params.v}\"", "hi\n%s");
}

static void test_whole_script_is_text(void **state)
{
    (void)state;
    /* A script that is one reference is one quoted word, not a typed value or a command. */
    char *text = resolve_script("${params.v}", "echo hi", false);
    assert_string_equal(text, "'echo hi'");
    free(text);
}

static void test_marker_not_writable(void **state)
{
    (void)state;
    json_t *in = json_string("echo ${params.v}");
    char err[256];
    json_t *marked = df_template_mark_shell(in, err, sizeof err);
    assert_non_null(marked);
    /* The marked text is for resolving only: scanning (what the loader does) refuses it. */
    assert_int_equal(df_template_scan(marked, NULL, NULL, err, sizeof err), -1);
    /* Marking twice refuses it too. */
    assert_null(df_template_mark_shell(marked, err, sizeof err));
    json_decref(marked);
    json_decref(in);
    /* A NUL byte would cut the script short: refused at resolution. */
    json_t *params = json_loads("{\"v\": \"a\\u0000b\"}", JSON_ALLOW_NUL, NULL);
    assert_non_null(params);
    in = json_string("echo ${params.v}; rm -rf x");
    marked = df_template_mark_shell(in, err, sizeof err);
    df_template_scope sc = {.params = params, .workflow = "w", .task_id = "t", .attempt = 1};
    assert_null(df_template_resolve(marked, &sc, err, sizeof err));
    assert_non_null(strstr(err, "NUL byte"));
    json_decref(marked);
    json_decref(in);
    json_decref(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_quotes),
        cmocka_unit_test(test_double_quotes),
        cmocka_unit_test(test_single_quotes),
        cmocka_unit_test(test_command_substitution),
        cmocka_unit_test(test_comment),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_whole_script_is_text),
        cmocka_unit_test(test_marker_not_writable),
    };
    return cmocka_run_group_tests(tests, in_tmp, NULL);
}
