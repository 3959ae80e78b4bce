/* test_plugins_builtin: the built-in TaskUnits noop, sleep and shell (NAME.so in the plugin folder,
 * loaded with dlopen from $DF_PLUGIN_DIR) run through the real coroutine pool — results, validation
 * (template strings accepted, bad params rejected with clear messages), exit codes and errors, JSON
 * stdout, environment, working directory, stdin, limits, cancellation — plus a sanity run of the
 * test-only plugins ($DF_TEST_PLUGIN_DIR) other suites rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/pool/pool.h"

/* ---- plugin loading ---- */

static void *handles[32];
static size_t n_handles;

/* dir from the environment, else <folder of this executable>/../<fallback> */
static void plugin_dir(const char *var, const char *fallback, char *out, size_t len)
{
    const char *d = getenv(var);
    if (d && *d) {
        snprintf(out, len, "%s", d);
        return;
    }
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s/../%s", exe, fallback);
}

static const df_taskunit *load(const char *var, const char *fallback, const char *name)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    plugin_dir(var, fallback, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("dlopen %s: %s", path, dlerror());
    handles[n_handles++] = h;
    df_taskunit_entry_fn entry = (df_taskunit_entry_fn)dlsym(h, DF_TASKUNIT_ENTRY);
    if (!entry)
        fail_msg("%s: no %s", path, DF_TASKUNIT_ENTRY);
    const df_taskunit *u = entry();
    assert_int_equal(u->abi, DF_TASKUNIT_ABI);
    assert_string_equal(u->name, name);
    assert_non_null(u->execute);
    return u;
}

static const df_taskunit *builtin(const char *name)
{
    return load("DF_PLUGIN_DIR", "plugins", name);
}

static const df_taskunit *testplugin(const char *name)
{
    return load("DF_TEST_PLUGIN_DIR", "tests/plugins", name);
}

/* ---- running one task through the pool ---- */

static df_pool *pool;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static df_job_result *last;

static void on_done(df_job_result *r, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&mu);
    df_job_result_free(last);
    last = r;
    pthread_mutex_unlock(&mu);
}

static char workdir[] = "/tmp/df_test_builtin_XXXXXX";

typedef struct run_opts {
    unsigned attempt;
    uint64_t cancel_after_ms; /* 0: never */
} run_opts;

/* Runs unit with params (JSON text) and returns the result (owned by this file, valid until the
 * next run). */
static df_job_result *run_opt(const df_taskunit *unit, const char *params_json, const run_opts *o)
{
    json_error_t je;
    json_t *params = json_loads(params_json, 0, &je);
    if (!params)
        fail_msg("bad test JSON %s: %s", params_json, je.text);
    df_job *j = calloc(1, sizeof *j);
    j->unit = unit;
    j->params = params;
    j->task_id = strdup("mytask");
    j->workdir = strdup(workdir);
    j->run_id = 7;
    j->attempt = o && o->attempt ? o->attempt : 1;
    pthread_mutex_lock(&mu);
    df_job_result_free(last);
    last = NULL;
    pthread_mutex_unlock(&mu);
    df_pool_job *h;
    assert_int_equal(df_pool_submit(pool, j, &h), 0);
    uint64_t t0 = df_mono_ms();
    int cancelled = 0;
    for (;;) {
        pthread_mutex_lock(&mu);
        df_job_result *r = last;
        pthread_mutex_unlock(&mu);
        if (r)
            return r;
        if (o && o->cancel_after_ms && !cancelled && df_mono_ms() - t0 >= o->cancel_after_ms) {
            df_pool_cancel(pool, h);
            cancelled = 1;
        }
        if (df_mono_ms() - t0 > 20000)
            fail_msg("task did not finish");
        usleep(1000);
    }
}

static df_job_result *run(const df_taskunit *unit, const char *params_json)
{
    return run_opt(unit, params_json, NULL);
}

static const char *rstr(const df_job_result *r, const char *key)
{
    return json_string_value(json_object_get(r->result, key));
}

static long long rint_(const df_job_result *r, const char *key)
{
    return json_integer_value(json_object_get(r->result, key));
}

static int validate(const df_taskunit *u, const char *params_json, char *err, size_t errlen)
{
    json_t *p = json_loads(params_json, JSON_DECODE_ANY, NULL);
    if (!p)
        fail_msg("bad test JSON %s", params_json);
    err[0] = '\0';
    int rc = u->validate ? u->validate(p, err, errlen) : 0;
    json_decref(p);
    return rc;
}

/* Asserts validate rejects params with a message containing want. */
static void rejects(const df_taskunit *u, const char *params_json, const char *want)
{
    char err[512];
    if (validate(u, params_json, err, sizeof err) == 0)
        fail_msg("%s accepted %s", u->name, params_json);
    if (!strstr(err, want))
        fail_msg("%s: message for %s was \"%s\", expected it to contain \"%s\"", u->name,
                 params_json, err, want);
}

static void accepts(const df_taskunit *u, const char *params_json)
{
    char err[512];
    if (validate(u, params_json, err, sizeof err) != 0)
        fail_msg("%s rejected %s: %s", u->name, params_json, err);
}

/* ---- noop ---- */

static void test_noop_returns_its_params(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("noop");
    assert_string_equal(u->version, "1.0.0");
    assert_true(strlen(u->description) > 0 && !strchr(u->description, '\n'));
    assert_null(u->validate);
    df_job_result *r = run(u, "{\"a\": [1, 2, {\"b\": null}], \"s\": \"x\"}");
    assert_int_equal(r->status, DF_TASK_OK);
    json_t *want = json_loads("{\"a\": [1, 2, {\"b\": null}], \"s\": \"x\"}", 0, NULL);
    assert_true(json_equal(r->result, want));
    json_decref(want);
    r = run(u, "{}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_true(json_is_object(r->result) && json_object_size(r->result) == 0);
}

/* ---- sleep ---- */

static void test_sleep_validate(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("sleep");
    assert_string_equal(u->version, "1.0.0");
    accepts(u, "{\"ms\": 0}");
    accepts(u, "{\"ms\": 1500}");
    accepts(u, "{\"ms\": \"${tasks.a.result.json.ms}\"}");
    rejects(u, "{}", "missing required key \"ms\"");
    rejects(u, "{\"ms\": -1}", "integer >= 0");
    rejects(u, "{\"ms\": 1.5}", "integer >= 0");
    rejects(u, "{\"ms\": \"soon\"}", "integer >= 0");
    rejects(u, "{\"ms\": 1, \"seconds\": 2}", "unknown key \"seconds\"");
    rejects(u, "[1]", "object");
}

static void test_sleep_runs_and_stops_when_cancelled(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("sleep");
    df_job_result *r = run(u, "{\"ms\": 60}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_true(rint_(r, "slept_ms") >= 60 && rint_(r, "slept_ms") < 1000);

    run_opts o = {.cancel_after_ms = 150};
    uint64_t t0 = df_mono_ms();
    r = run_opt(u, "{\"ms\": 30000}", &o);
    assert_true(df_mono_ms() - t0 < 2000);
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_int_equal(r->cancelled, 1);
    assert_non_null(r->error);
    long long n = -1;
    assert_int_equal(sscanf(r->error, "cancelled after %lld ms", &n), 1);
    assert_true(n >= 100 && n < 2000);
}

/* ---- shell ---- */

static void test_shell_validate(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    assert_string_equal(u->version, "1.0.0");
    accepts(u, "{\"argv\": [\"echo\", \"hi\"]}");
    accepts(u, "{\"script\": \"echo hi\", \"env\": {\"A\": \"1\"}, \"cwd\": \"sub\", \"stdin\": "
               "\"x\", \"parse_json_stdout\": true, \"retry_on_exit_codes\": [75, 3], "
               "\"limits\": {\"cpu_seconds\": 5, \"memory_mb\": 256, \"open_files\": 64}}");
    /* at run creation, ${tasks.*} references are still strings wherever a value is expected */
    accepts(u, "{\"argv\": \"${tasks.x.result.json.list}\"}");
    accepts(u, "{\"argv\": [\"echo\", \"${tasks.a.result.stdout}\"]}");
    accepts(u, "{\"script\": \"${tasks.a.result.stdout}\"}");
    accepts(u, "{\"script\": \"x\", \"env\": \"${tasks.a.result.json}\"}");
    accepts(u, "{\"script\": \"x\", \"parse_json_stdout\": \"${tasks.a.result.json.p}\"}");
    accepts(u, "{\"script\": \"x\", \"retry_on_exit_codes\": \"${tasks.a.result.json.c}\"}");
    accepts(u, "{\"script\": \"x\", \"retry_on_exit_codes\": [\"${tasks.a.result.exit_code}\"]}");
    accepts(u, "{\"script\": \"x\", \"limits\": \"${tasks.a.result.json}\"}");
    accepts(u, "{\"script\": \"x\", \"limits\": {\"memory_mb\": \"${tasks.a.result.json.m}\"}}");
    accepts(u, "{\"script\": \"x\", \"stdin\": {\"any\": \"json\"}}");
    accepts(u, "{\"argv\": [\"sleep\", 1]}"); /* numbers are written as text */

    rejects(u, "{}", "missing \"argv\"");
    rejects(u, "{\"argv\": [\"a\"], \"script\": \"b\"}", "not both");
    rejects(u, "{\"argv\": []}", "non-empty array");
    rejects(u, "{\"argv\": \"ls -l\"}", "non-empty array");
    rejects(u, "{\"argv\": [\"ls\", {\"x\": 1}]}", "\"argv\"[1] must be a string");
    rejects(u, "{\"argv\": [\"\"]}", "\"argv\"[0]");
    rejects(u, "{\"script\": 3}", "\"script\" must be a string");
    rejects(u, "{\"scirpt\": \"echo\"}", "unknown key \"scirpt\"; did you mean \"script\"?");
    rejects(u, "{\"script\": \"x\", \"zzzzzzzzzz\": 1}", "unknown key \"zzzzzzzzzz\" (known:");
    rejects(u, "{\"script\": \"x\", \"env\": {\"A\": [1]}}", "\"env\".\"A\" must be a string");
    rejects(u, "{\"script\": \"x\", \"env\": [\"A=1\"]}", "\"env\" must be an object");
    rejects(u, "{\"script\": \"x\", \"cwd\": 1}", "\"cwd\" must be a string");
    rejects(u, "{\"script\": \"x\", \"parse_json_stdout\": \"yes\"}", "must be a boolean");
    rejects(u, "{\"script\": \"x\", \"retry_on_exit_codes\": [\"a\"]}", "must be an integer");
    rejects(u, "{\"script\": \"x\", \"retry_on_exit_codes\": 3}", "array of integers");
    rejects(u, "{\"script\": \"x\", \"limits\": {\"memory\": 5}}",
            "unknown key \"memory\" in \"limits\"; did you mean \"memory_mb\"?");
    rejects(u, "{\"script\": \"x\", \"limits\": {\"memory_mb\": 0}}",
            "\"limits\".\"memory_mb\" must be an integer >= 1");
    rejects(u, "\"echo\"", "params must be an object");
}

static void test_shell_success_and_output(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    df_job_result *r = run(u, "{\"argv\": [\"echo\", \"hello\", 42]}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_null(r->error);
    assert_int_equal(rint_(r, "exit_code"), 0);
    assert_string_equal(rstr(r, "stdout"), "hello 42"); /* trailing newline removed */
    assert_string_equal(rstr(r, "stderr"), "");
    assert_null(json_object_get(r->result, "json"));

    /* only one trailing newline goes */
    r = run(u, "{\"script\": \"printf 'a\\\\n\\\\n'; printf 'e\\\\n' >&2\"}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(rstr(r, "stdout"), "a\n");
    assert_string_equal(rstr(r, "stderr"), "e");

    /* invalid UTF-8 is replaced, not fatal */
    r = run(u, "{\"script\": \"printf '\\\\377ok'\"}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(rstr(r, "stdout"), "\xEF\xBF\xBDok");
}

static void test_shell_exit_codes_and_errors(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    df_job_result *r = run(u, "{\"argv\": [\"sh\", \"-c\", \"echo out; echo bad thing >&2; "
                              "exit 3\"]}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_string_equal(r->error, "exit code 3: bad thing");
    /* the result is kept with the failure (SPEC §10) */
    assert_non_null(r->result);
    assert_int_equal(json_integer_value(json_object_get(r->result, "exit_code")), 3);
    assert_string_equal(rstr(r, "stdout"), "out");
    assert_string_equal(rstr(r, "stderr"), "bad thing");

    r = run(u, "{\"script\": \"exit 4\"}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_string_equal(r->error, "exit code 4");

    r = run(u, "{\"script\": \"kill -9 $$\"}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_string_equal(r->error, "killed by signal 9 (SIGKILL)");
    assert_true(json_is_null(json_object_get(r->result, "exit_code")));

    /* the error ends with the last lines of stderr, at most 1 KiB, whole lines */
    r = run(u, "{\"script\": \"i=0; while [ $i -lt 500 ]; do echo \\\"line $i of stderr\\\" "
               ">&2; i=$((i+1)); done; exit 1\"}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    const char *prefix = "exit code 1: ";
    assert_int_equal(strncmp(r->error, prefix, strlen(prefix)), 0);
    const char *tail = r->error + strlen(prefix);
    assert_true(strlen(tail) <= 1024);
    assert_true(strlen(tail) > 900);
    assert_int_equal(strncmp(tail, "line ", 5), 0);
    size_t tl = strlen(tail);
    assert_string_equal(tail + tl - strlen("line 499 of stderr"), "line 499 of stderr");

    /* spawn errors */
    r = run(u, "{\"argv\": [\"./no-such-tool\"]}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_string_equal(r->error, "spawn ./no-such-tool: no such file or directory");
}

static void test_shell_retry_on_exit_codes(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    df_job_result *r = run(u, "{\"script\": \"exit 75\", \"retry_on_exit_codes\": [75, 76]}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    r = run(u, "{\"script\": \"exit 3\", \"retry_on_exit_codes\": [75, 76]}");
    assert_int_equal(r->status, DF_TASK_FAILED_PERMANENT);
    assert_string_equal(r->error, "exit code 3");
    r = run(u, "{\"script\": \"exit 3\", \"retry_on_exit_codes\": []}");
    assert_int_equal(r->status, DF_TASK_FAILED_PERMANENT);
    r = run(u, "{\"script\": \"exit 0\", \"retry_on_exit_codes\": [75]}");
    assert_int_equal(r->status, DF_TASK_OK);
}

static void test_shell_json_stdout(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    df_job_result *r = run(u, "{\"script\": \"echo '{\\\"x\\\": [1, 2]}'\", "
                              "\"parse_json_stdout\": true}");
    assert_int_equal(r->status, DF_TASK_OK);
    json_t *want = json_pack("{s[ii]}", "x", 1, 2);
    assert_true(json_equal(json_object_get(r->result, "json"), want));
    json_decref(want);
    assert_string_equal(rstr(r, "stdout"), "{\"x\": [1, 2]}");

    r = run(u, "{\"script\": \"echo 17\", \"parse_json_stdout\": true}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_int_equal(json_integer_value(json_object_get(r->result, "json")), 17);

    r = run(u, "{\"script\": \"echo not json\", \"parse_json_stdout\": true}");
    assert_int_equal(r->status, DF_TASK_FAILED_PERMANENT);
    assert_non_null(strstr(r->error, "stdout is not valid JSON"));
}

static void test_shell_env_cwd_stdin(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    run_opts o = {.attempt = 2};
    df_job_result *r = run_opt(u,
                               "{\"script\": \"echo $DAGFLOW_RUN_ID $DAGFLOW_TASK_ID "
                               "$DAGFLOW_ATTEMPT $FOO $N\", \"env\": {\"FOO\": \"bar\", "
                               "\"N\": 5}}",
                               &o);
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(rstr(r, "stdout"), "7 mytask 2 bar 5");

    /* default working directory: the workflow folder; cwd relative to it */
    char real[PATH_MAX], want[PATH_MAX + 8];
    assert_non_null(realpath(workdir, real));
    r = run(u, "{\"argv\": [\"pwd\", \"-P\"]}");
    assert_string_equal(rstr(r, "stdout"), real);
    r = run(u, "{\"argv\": [\"pwd\", \"-P\"], \"cwd\": \"sub\"}");
    snprintf(want, sizeof want, "%s/sub", real);
    assert_string_equal(rstr(r, "stdout"), want);
    r = run(u, "{\"argv\": [\"pwd\"], \"cwd\": \"nowhere\"}");
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_non_null(strstr(r->error, "working directory"));

    r = run(u, "{\"argv\": [\"cat\"], \"stdin\": \"one\\ntwo\"}");
    assert_string_equal(rstr(r, "stdout"), "one\ntwo");
    r = run(u, "{\"argv\": [\"cat\"], \"stdin\": {\"k\": [1]}}");
    assert_string_equal(rstr(r, "stdout"), "{\"k\":[1]}");
}

static void test_shell_limits(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    df_job_result *r = run(u, "{\"script\": \"ulimit -v; ulimit -n\", \"limits\": "
                              "{\"memory_mb\": 128, \"open_files\": 32}}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(rstr(r, "stdout"), "131072\n32");

    /* a greedy child (a 256 MiB string) fails under a 64 MiB memory limit... */
    const char *greedy = "{\"argv\": [\"awk\", \"BEGIN { s = \\\"x\\\"; for (i = 0; i < 28; "
                         "i++) s = s s; print length(s) }\"], \"limits\": {\"memory_mb\": 64}}";
    r = run(u, greedy);
    assert_int_not_equal(r->status, DF_TASK_OK);
    assert_non_null(r->error);
    assert_non_null(strstr(r->error, "exit code"));
    /* ...and a modest one succeeds under the same limit */
    r = run(u, "{\"argv\": [\"awk\", \"BEGIN { s = \\\"x\\\"; for (i = 0; i < 20; i++) s = s s; "
               "print length(s) }\"], \"limits\": {\"memory_mb\": 64}}");
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(rstr(r, "stdout"), "1048576");
}

static void test_shell_cancel_kills_the_child(void **state)
{
    (void)state;
    const df_taskunit *u = builtin("shell");
    run_opts o = {.cancel_after_ms = 200};
    uint64_t t0 = df_mono_ms();
    df_job_result *r = run_opt(u, "{\"script\": \"sleep 30 & sleep 30\"}", &o);
    assert_true(df_mono_ms() - t0 < 1500);
    assert_int_equal(r->cancelled, 1);
    assert_int_equal(r->status, DF_TASK_FAILED);
    assert_string_equal(r->error, "cancelled: killed by signal 15 (SIGTERM)");
}

/* ---- test-only plugins ---- */

static void test_test_plugins(void **state)
{
    (void)state;
    const df_taskunit *flaky = testplugin("flaky");
    run_opts o = {.attempt = 2};
    assert_int_equal(run_opt(flaky, "{\"fail_times\": 2}", &o)->status, DF_TASK_FAILED);
    o.attempt = 3;
    df_job_result *r = run_opt(flaky, "{\"fail_times\": 2}", &o);
    assert_int_equal(r->status, DF_TASK_OK);
    assert_int_equal(rint_(r, "attempt"), 3);

    const df_taskunit *fail = testplugin("fail");
    r = run(fail, "{\"message\": \"nope\"}");
    assert_int_equal(r->status, DF_TASK_FAILED_PERMANENT);
    assert_string_equal(r->error, "nope");
    assert_int_equal(run(fail, "{\"retryable\": true}")->status, DF_TASK_FAILED);

    const df_taskunit *sleepy = testplugin("sleepy");
    run_opts c = {.cancel_after_ms = 50};
    uint64_t t0 = df_mono_ms();
    r = run_opt(sleepy, "{\"ms\": 400, \"ignore_cancel\": true}", &c);
    assert_true(df_mono_ms() - t0 >= 390);
    assert_int_equal(r->status, DF_TASK_OK);
    assert_int_equal(r->cancelled, 1);
    assert_true(json_is_true(json_object_get(r->result, "cancelled")));

    const df_taskunit *spin = testplugin("spin");
    t0 = df_mono_ms();
    r = run_opt(spin, "{\"ms\": 200}", &c);
    assert_true(df_mono_ms() - t0 >= 200);
    assert_int_equal(r->status, DF_TASK_OK);

    const df_taskunit *counter = testplugin("counter");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/count.txt", workdir);
    assert_int_equal(run(counter, "{\"path\": \"count.txt\"}")->status, DF_TASK_OK);
    o.attempt = 4;
    assert_int_equal(run_opt(counter, "{\"path\": \"count.txt\"}", &o)->status, DF_TASK_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_string_equal(buf, "mytask 1\nmytask 4\n");
    unlink(path);

    const df_taskunit *crash = testplugin("crash");
    assert_int_equal(run(crash, "{}")->status, DF_TASK_FAILED_PERMANENT); /* not really */

    char err[128];
    const df_taskunit *rej = testplugin("rejects");
    assert_int_not_equal(validate(rej, "{}", err, sizeof err), 0);
    assert_string_equal(err, "rejected by test");
}

static void test_refusal_plugins_are_what_they_claim(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 64];
    plugin_dir("DF_TEST_PLUGIN_DIR", "tests/plugins", dir, sizeof dir);
    const char *names[] = {"badabi", "nosym", "misnamed", "noexec"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.so", dir, names[i]);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        assert_non_null(h);
        df_taskunit_entry_fn e = (df_taskunit_entry_fn)dlsym(h, DF_TASKUNIT_ENTRY);
        if (i == 1) {
            assert_null(e);
        } else {
            assert_non_null(e);
            const df_taskunit *u = e();
            if (i == 0)
                assert_int_equal(u->abi, 999);
            if (i == 2)
                assert_string_equal(u->name, "something_else");
            if (i == 3)
                assert_null(u->execute);
        }
        dlclose(h);
    }
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(workdir))
        return -1;
    char sub[sizeof workdir + 8];
    snprintf(sub, sizeof sub, "%s/sub", workdir);
    mkdir(sub, 0755);
    df_pool_config cfg;
    df_pool_config_default(&cfg);
    cfg.workers_min = cfg.workers_max = 2;
    char err[256];
    return df_pool_create(&cfg, on_done, NULL, &pool, err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    df_pool_destroy(pool, 2000);
    df_job_result_free(last);
    last = NULL;
    for (size_t i = 0; i < n_handles; i++)
        dlclose(handles[i]);
    char sub[sizeof workdir + 8];
    snprintf(sub, sizeof sub, "%s/sub", workdir);
    rmdir(sub);
    rmdir(workdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop_returns_its_params),
        cmocka_unit_test(test_sleep_validate),
        cmocka_unit_test(test_sleep_runs_and_stops_when_cancelled),
        cmocka_unit_test(test_shell_validate),
        cmocka_unit_test(test_shell_success_and_output),
        cmocka_unit_test(test_shell_exit_codes_and_errors),
        cmocka_unit_test(test_shell_retry_on_exit_codes),
        cmocka_unit_test(test_shell_json_stdout),
        cmocka_unit_test(test_shell_env_cwd_stdin),
        cmocka_unit_test(test_shell_limits),
        cmocka_unit_test(test_shell_cancel_kills_the_child),
        cmocka_unit_test(test_test_plugins),
        cmocka_unit_test(test_refusal_plugins_are_what_they_claim),
    };
    if (getenv("DF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("DF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
