/* test_workflow: unit tests of engine/workflow.c — loading a full valid file into the model
 * (defaults, pools, breakers, alerts, edges, topological order, folder), every error kind of
 * SPEC §1 from the fixtures in tests/data/workflows (each file's complete list of messages), a
 * file with several errors reported together, loading from memory (resume), trigger rule names,
 * path resolution, task lookup, and speed on a 10,000-task DAG and a 100,000-task chain. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/workflow.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* The repository root: $DF_SOURCE_DIR (set by ctest), else derived from this file's path. */
static const char *source_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *env = getenv("DF_SOURCE_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        snprintf(dir, sizeof dir, "%s", __FILE__);
        char *cut = strstr(dir, "/tests/unit/");
        if (cut)
            *cut = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    return dir;
}

static char *fixture(const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/tests/data/workflows/%s", source_dir(), name) < 0)
        return NULL;
    return p;
}

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* This process's CPU time (s). The load tests bound it, not the wall clock: on a shared machine
 * the wall clock counts the time spent waiting for a core (the 10k DAG took 1.6 s of wall clock
 * in a loaded suite's pass 1 and failed the old bound of 1 s), while the CPU time still grows
 * with the work done, so a loader gone quadratic fails the bound whatever the load. */
static double cpu_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void dump_errors(const df_errlist *e)
{
    for (size_t i = 0; i < e->n; i++)
        print_message("  | %s\n", e->msgs[i]);
}

static df_workflow *load_ok(const char *name)
{
    char *path = fixture(name);
    df_errlist e = {0};
    df_workflow *wf = NULL;
    int rc = df_workflow_load_file(path, &wf, &e);
    if (rc != 0) {
        dump_errors(&e);
        fail_msg("%s did not load", name);
    }
    assert_int_equal(e.n, 0);
    df_errlist_clear(&e);
    free(path);
    return wf;
}

/* Loads a fixture that must fail and checks that its messages are exactly `want` (in any order),
 * each prefixed with "<path>: ". */
static void expect_errors(const char *name, const char *const *want, size_t n_want)
{
    char *path = fixture(name);
    df_errlist e = {0};
    df_workflow *wf = (df_workflow *)1;
    int rc = df_workflow_load_file(path, &wf, &e);
    assert_int_equal(rc, -1);
    assert_null(wf);
    size_t plen = strlen(path);
    unsigned char *matched = calloc(e.n ? e.n : 1, 1);
    for (size_t i = 0; i < e.n; i++) {
        if (strncmp(e.msgs[i], path, plen) != 0 || strncmp(e.msgs[i] + plen, ": ", 2) != 0) {
            dump_errors(&e);
            fail_msg("%s: message does not start with the file: %s", name, e.msgs[i]);
        }
    }
    for (size_t k = 0; k < n_want; k++) {
        int found = 0;
        for (size_t i = 0; i < e.n && !found; i++)
            if (!matched[i] && strcmp(e.msgs[i] + plen + 2, want[k]) == 0)
                found = matched[i] = 1;
        if (!found) {
            dump_errors(&e);
            fail_msg("%s: missing message: %s", name, want[k]);
        }
    }
    if (e.n != n_want) {
        dump_errors(&e);
        fail_msg("%s: %zu messages, want %zu", name, e.n, n_want);
    }
    free(matched);
    df_errlist_clear(&e);
    free(path);
}

#define EXPECT_ERRORS(file, ...)                                                                   \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_errors(file, want_, sizeof want_ / sizeof want_[0]);                                \
    } while (0)

/* ---- the valid file ------------------------------------------------------------------------- */

static void test_valid_full(void **state)
{
    (void)state;
    df_workflow *wf = load_ok("valid_full.json");

    char *expect_dir = fixture("");
    char real[PATH_MAX];
    assert_non_null(realpath(expect_dir, real));
    assert_string_equal(wf->dir, real);
    free(expect_dir);
    assert_non_null(strstr(wf->path, "valid_full.json"));

    assert_string_equal(wf->name, "daily_sales.v2");
    assert_string_equal(wf->description, "extract, transform, load");
    assert_int_equal(json_integer_value(json_object_get(wf->params, "limit")), 10);
    assert_int_equal(wf->max_active_tasks, 8);
    assert_true(json_is_object(wf->doc));
    assert_ptr_equal(json_object_get(wf->doc, "params"), wf->params);

    assert_int_equal(wf->n_pools, 2);
    assert_string_equal(wf->pools[0].name, "warehouse");
    assert_int_equal(wf->pools[0].slots, 2);
    assert_string_equal(wf->pools[1].name, "api");
    assert_int_equal(wf->pools[1].slots, 5);

    assert_int_equal(wf->n_breakers, 2);
    assert_string_equal(wf->breakers[0].name, "crm");
    assert_true(wf->breakers[0].failure_rate == 0.25);
    assert_int_equal(wf->breakers[0].window, 20);
    assert_int_equal(wf->breakers[0].min_calls, 5); /* defaults fill the rest */
    assert_int_equal(wf->breakers[0].open_ms, 30000);
    assert_string_equal(wf->breakers[1].name, "defaults_only");
    assert_true(wf->breakers[1].failure_rate == 0.5);
    assert_int_equal(wf->breakers[1].window, 10);

    assert_int_equal(json_array_size(wf->alerts), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(wf->alerts, 1), "url")),
                        "http://127.0.0.1:9000/hook");

    assert_int_equal(wf->n_tasks, 5);
    const df_task_def *ex = &wf->tasks[0], *en = &wf->tasks[1], *lo = &wf->tasks[2],
                      *cl = &wf->tasks[3], *no = &wf->tasks[4];
    for (size_t i = 0; i < wf->n_tasks; i++)
        assert_int_equal(wf->tasks[i].index, i);
    assert_string_equal(ex->id, "extract");
    assert_string_equal(ex->plugin, "shell");
    assert_string_equal(en->plugin, "./plugins/enrich.so");
    /* `defaults` applied where a task says nothing */
    assert_int_equal(ex->retries, 2);
    assert_int_equal(ex->retry_delay_ms, 500);
    assert_int_equal(ex->timeout_ms, 60000);
    assert_int_equal(ex->pool, 0);
    /* SPEC defaults where neither does */
    assert_true(ex->retry_backoff == 2.0);
    assert_int_equal(ex->retry_max_delay_ms, 300000);
    assert_false(ex->retry_jitter);
    assert_int_equal(ex->priority, 0);
    assert_int_equal(ex->trigger_rule, DF_TR_ALL_SUCCESS);
    assert_int_equal(ex->breaker, -1);
    /* per-task values win */
    assert_int_equal(en->pool, 1);
    assert_int_equal(en->breaker, 0);
    assert_int_equal(en->priority, -3);
    assert_true(en->retry_backoff == 1.0); /* an integer is a fine number */
    assert_int_equal(lo->retries, 0);
    assert_true(lo->retry_jitter);
    assert_int_equal(lo->retry_max_delay_ms, 1000);
    assert_true(lo->retry_backoff == 1.5);
    assert_int_equal(cl->trigger_rule, DF_TR_ALL_DONE);
    assert_int_equal(no->trigger_rule, DF_TR_ALWAYS);
    assert_int_equal(no->timeout_ms, 0);

    /* params kept with templates unresolved, and a task without params gets {} */
    assert_string_equal(json_string_value(json_object_get(en->params, "in")),
                        "${tasks.extract.result.stdout}");
    assert_true(json_is_object(no->params));
    assert_int_equal(json_object_size(no->params), 0);

    /* edges */
    assert_int_equal(ex->n_upstream, 0);
    assert_int_equal(lo->n_upstream, 2);
    assert_int_equal(lo->upstream[0], 0);
    assert_int_equal(lo->upstream[1], 1);
    assert_int_equal(ex->n_downstream, 2);
    assert_int_equal(ex->downstream[0], 1);
    assert_int_equal(ex->downstream[1], 2);
    assert_int_equal(lo->n_downstream, 2);
    assert_int_equal(lo->downstream[0], 3);
    assert_int_equal(lo->downstream[1], 4);
    assert_int_equal(cl->n_downstream, 0);

    /* topological order */
    size_t at[5];
    for (size_t k = 0; k < 5; k++)
        at[wf->topo[k]] = k;
    for (size_t i = 0; i < wf->n_tasks; i++)
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
            assert_true(at[wf->tasks[i].upstream[k]] < at[i]);

    assert_int_equal(df_workflow_find_task(wf, "load"), 2);
    assert_int_equal(df_workflow_find_task(wf, "notify"), 4);
    assert_int_equal(df_workflow_find_task(wf, "nope"), -1);
    assert_int_equal(df_workflow_find_task(wf, NULL), -1);
    df_workflow_free(wf);
}

static void test_relative_path_dir(void **state)
{
    (void)state;
    char old[PATH_MAX], base[PATH_MAX];
    assert_non_null(getcwd(old, sizeof old));
    snprintf(base, sizeof base, "%s/tests/data", source_dir());
    assert_int_equal(chdir(base), 0);
    df_errlist e = {0};
    df_workflow *wf = NULL;
    int rc = df_workflow_load_file("workflows/../workflows/valid_full.json", &wf, &e);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(rc, 0);
    char *want = fixture("");
    char real[PATH_MAX];
    assert_non_null(realpath(want, real));
    assert_string_equal(wf->dir, real); /* absolute and canonical */
    assert_string_equal(wf->path, "workflows/../workflows/valid_full.json");
    free(want);
    df_workflow_free(wf);
}

/* ---- errors, one kind per file -------------------------------------------------------------- */

static void test_err_json_syntax(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_json_syntax.json", "line 4, column 23: JSON error: '}' expected near "
                                          "'\"plugin\"'");
}

static void test_err_json_duplicate_key(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_json_duplicate_key.json",
                  "line 3, column 66: JSON error: duplicate object key near '\"retries\"'");
}

static void test_err_not_object(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_not_object.json", "the document must be a JSON object, got an array");
}

static void test_err_missing_required(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_missing_required.json", "missing required key \"name\"",
                  "missing required key \"tasks\"");
    EXPECT_ERRORS("err_empty_tasks.json", "tasks: must not be empty");
}

static void test_err_missing_file(void **state)
{
    (void)state;
    df_errlist e = {0};
    df_workflow *wf = (df_workflow *)1;
    assert_int_equal(df_workflow_load_file("/nonexistent/dir/wf.json", &wf, &e), -1);
    assert_null(wf);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "/nonexistent/dir/wf.json: cannot open: No such file or "
                                   "directory");
    df_errlist_clear(&e);
}

static void test_err_wrong_type(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_wrong_type.json", "name: must be a string, got an integer (5)",
                  "description: must be a string, got an array",
                  "params: must be an object, got an array",
                  "max_active_tasks: must be an integer >= 1, got a real number (2.0)",
                  "pools: \"p\": must be an integer >= 1, got a string (\"2\")",
                  "tasks[1]: id: must be a string, got an integer (7)",
                  "tasks[3]: must be an object (a task), got a string (\"not a task\")",
                  "task \"a\": retries: must be an integer >= 0, got a real number (1.0)",
                  "task \"a\": retry_delay_ms: must be an integer >= 0, got a string (\"1000\")",
                  "task \"a\": retry_backoff: must be a number >= 1, got a string (\"2\")",
                  "task \"a\": retry_jitter: must be a boolean, got an integer (1)",
                  "task \"a\": timeout_ms: must be an integer >= 0, got null",
                  "task \"a\": priority: must be an integer, got a real number (1.5)",
                  "task \"a\": params: must be an object, got an array",
                  "task \"a\": trigger_rule: must be a string, got an integer (1)",
                  "task \"a\": pool: must be a string, got an integer (3)",
                  "task \"a\": depends_on: must be an array of task ids, got a string (\"b\")",
                  "task \"c\": plugin: must be a string, got a boolean (true)",
                  "task \"c\": depends_on[0]: must be a string (a task id), got an integer (1)");
}

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

static void test_err_range(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "err_range.json",
        "name: \"this-name-is-far-too-long-" X100 "xxx\" is not a valid workflow name (it must "
        "match [A-Za-z0-9_.-]{1,128})",
        "max_active_tasks: must be an integer >= 1, got 0",
        "pools: \"p\": must be an integer >= 1, got 0",
        "breaker \"b\": failure_rate: must be a number in (0, 1], got 0",
        "breaker \"b\": window: must be an integer >= 1, got 0",
        "breaker \"b\": min_calls: must be an integer >= 1, got 0",
        "breaker \"b\": open_ms: must be an integer >= 0, got -1",
        "tasks[1]: id: \"with.dot\" is not a valid task id (it must match [A-Za-z0-9_-]{1,128})",
        "tasks[2]: id: \"\" is not a valid task id (it must match [A-Za-z0-9_-]{1,128})",
        "task \"a\": retries: must be an integer >= 0, got -1",
        "task \"a\": retry_delay_ms: must be an integer >= 0, got -1",
        "task \"a\": retry_backoff: must be a number >= 1, got 0.5",
        "task \"a\": retry_max_delay_ms: must be an integer >= 0, got -5",
        "task \"a\": timeout_ms: must be an integer >= 0, got -1",
        "tasks[2]: plugin: must not be empty");
}

static void test_err_unknown_keys(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_unknown_keys.json", "unknown key \"param\"; did you mean \"params\"?",
                  "breaker \"b\": unknown key \"windw\"; did you mean \"window\"?",
                  "alerts[0]: unknown key \"onn\"; did you mean \"on\"?",
                  "defaults: unknown key \"retires\"; did you mean \"retries\"?",
                  "task \"load\": unknown key \"depend_on\"; did you mean \"depends_on\"?",
                  "task \"load\": unknown key \"zzzzzz\"");
}

static void test_err_defaults_forbidden(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_defaults_forbidden.json",
                  "defaults: key \"plugin\" cannot have a default (set it in each task)",
                  "defaults: key \"depends_on\" cannot have a default (set it in each task)",
                  "defaults: key \"id\" cannot have a default (set it in each task)",
                  "defaults: key \"params\" cannot have a default (set it in each task)");
}

static void test_err_ids_and_dependencies(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_duplicate_id.json", "tasks[2]: duplicate task id \"a\" (first defined at "
                                           "tasks[0])");
    EXPECT_ERRORS("err_missing_dep.json",
                  "task \"load\": depends_on: unknown task \"extrct\"; did you mean \"extract\"?",
                  "task \"load\": depends_on: unknown task \"zzz\"");
    EXPECT_ERRORS("err_self_dep.json", "task \"a\": depends_on: a task cannot depend on itself");
    EXPECT_ERRORS("err_duplicate_dep.json", "task \"b\": depends_on: \"a\" is listed more than "
                                            "once");
}

static void test_err_cycle(void **state)
{
    (void)state;
    /* both disjoint cycles, each as a path in the direction data flows */
    EXPECT_ERRORS("err_cycle.json", "cycle: a -> b -> c -> a", "cycle: x -> y -> x");
}

static void test_err_pools_breakers(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_unknown_pool.json",
                  "task \"a\": pool: unknown pool \"wearhouse\"; did you mean \"warehouse\"?",
                  "task \"b\": pool: unknown pool \"zzz\"");
    EXPECT_ERRORS("err_no_pools.json",
                  "task \"a\": pool: unknown pool \"warehouse\" (the workflow defines no pools)",
                  "task \"a\": breaker: unknown breaker \"crm\" (the workflow defines no "
                  "breakers)");
    EXPECT_ERRORS("err_unknown_breaker.json",
                  "task \"a\": breaker: unknown breaker \"cmr\"; did you mean \"crm\"?");
}

static void test_err_trigger_rule(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_unknown_trigger_rule.json",
                  "task \"b\": trigger_rule: unknown trigger rule \"all_sucess\"; did you mean "
                  "\"all_success\"?",
                  "task \"c\": trigger_rule: unknown trigger rule \"whenever\"");
}

static void test_err_templates(void **state)
{
    (void)state;
    EXPECT_ERRORS("err_template_syntax.json",
                  "task \"a\": params.argv[1]: unterminated reference \"${params.day\" (no "
                  "closing \"}\")",
                  "task \"a\": params.env.X: ${foo.bar}: unknown namespace \"foo\" (expected "
                  "params, run, task, env or tasks; item or item_index in a task with for_each)",
                  "task \"a\": params.y: ${tasks.a}: incomplete reference (expected "
                  "${tasks.a.result...})");
    EXPECT_ERRORS("err_template_not_upstream.json",
                  "task \"load\": params.argv[1]: ${tasks.extract.result} references task "
                  "\"extract\", which is not an upstream (add it to depends_on)",
                  "task \"load\": params.argv[2]: ${tasks.ghost.result} references task "
                  "\"ghost\", which does not exist",
                  "task \"load\": params.argv[3]: ${tasks.load.result} references the task "
                  "itself");
    /* `always` comes from defaults here; task c overrides it and may reference its upstream */
    EXPECT_ERRORS("err_always_references.json",
                  "task \"b\": params.x: ${tasks.a.result}: a task with trigger_rule \"always\" "
                  "may not reference upstream results (it starts without waiting for its "
                  "upstreams)");
}

static void test_err_alerts(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "err_alerts.json",
        "alerts[0]: type: unknown sink type \"comand\"; did you mean \"command\"? (expected "
        "command, webhook or file)",
        "alerts[1]: argv: must be a non-empty array of strings, got an empty array",
        "alerts[2]: key \"url\" does not belong in a \"command\" sink (it is for \"webhook\" "
        "sinks)",
        "alerts[2]: missing required key \"argv\" (a command sink needs it)",
        "alerts[3]: url: must start with http:// or https://, got \"ftp://x\"",
        "alerts[3]: headers: \"A\": must be a string, got an integer (1)",
        "alerts[3]: on[0]: unknown event \"run_faild\"; did you mean \"run_failed\"? (expected "
        "task_failed, task_retry, run_failed, run_succeeded, run_cancelled, breaker_opened or "
        "breaker_closed)",
        "alerts[4]: path: must not be empty",
        "alerts[5]: missing required key \"type\" (command, webhook or file)",
        "alerts[6]: must be an object (an alert sink), got a string (\"not a sink\")",
        "alerts[7]: on: must be an array of event names, got a string (\"run_failed\")");
}

/* One file, many problems: all are reported in one go. */
static void test_several_errors_at_once(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "several_errors.json",
        "name: \"bad name!\" is not a valid workflow name (it must match [A-Za-z0-9_.-]{1,128})",
        "max_active_tasks: must be an integer >= 1, got 0",
        "pools: \"warehouse\": must be an integer >= 1, got 0",
        "tasks[2]: duplicate task id \"load\" (first defined at tasks[1])",
        "task \"extract\": retries: must be an integer >= 0, got -1",
        "task \"load\": unknown key \"depend_on\"; did you mean \"depends_on\"?",
        "task \"load\": params.argv[1]: ${tasks.extract.result} references task \"extract\", "
        "which is not an upstream (add it to depends_on)",
        "task \"load\" (tasks[2]): depends_on: unknown task \"missing\"",
        "task \"b\": pool: unknown pool \"nope\"", "cycle: a -> b -> a");
}

/* ---- loading from memory (resume) ----------------------------------------------------------- */

static void test_load_json_stored(void **state)
{
    (void)state;
    df_workflow *a = load_ok("valid_full.json");
    json_t *before = json_deep_copy(a->doc);
    df_errlist e = {0};
    df_workflow *b = NULL;
    assert_int_equal(df_workflow_load_json(a->doc, NULL, "/some/where", &b, &e), 0);
    assert_true(json_equal(a->doc, before)); /* loading never changes the document */
    assert_string_equal(b->path, "<stored>");
    assert_string_equal(b->dir, "/some/where");
    assert_ptr_equal(b->doc, a->doc); /* a reference, not a copy */
    assert_int_equal(b->n_tasks, a->n_tasks);
    for (size_t i = 0; i < a->n_tasks; i++) {
        assert_string_equal(b->tasks[i].id, a->tasks[i].id);
        assert_int_equal(b->tasks[i].n_upstream, a->tasks[i].n_upstream);
        assert_int_equal(b->topo[i], a->topo[i]);
    }
    char *p = df_workflow_resolve_path(b, "alerts.jsonl");
    assert_string_equal(p, "/some/where/alerts.jsonl");
    free(p);
    json_decref(before);
    df_workflow_free(a);
    df_workflow_free(b); /* a's doc survives b and vice versa */

    /* errors name the given path; dir NULL means the current directory */
    json_t *doc = json_loads("{\"name\": \"x\", \"tasks\": [{\"id\": \"a\"}]}", 0, NULL);
    assert_int_equal(df_workflow_load_json(doc, "run 7", NULL, &b, &e), -1);
    assert_null(b);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "run 7: task \"a\": missing required key \"plugin\"");
    df_errlist_clear(&e);
    json_object_set_new(json_array_get(json_object_get(doc, "tasks"), 0), "plugin",
                        json_string("noop"));
    assert_int_equal(df_workflow_load_json(doc, "run 7", NULL, &b, &e), 0);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_string_equal(b->dir, cwd);
    df_workflow_free(b);
    json_decref(doc);
}

/* Plugin names and queues are kept once per workflow (issue 14: a million tasks): tasks of one
 * plugin or queue share one string; `defaults` gives its queue to every task without its own;
 * no queue means NULL ("default"); a queue of 64 bytes or more is refused. */
static void test_interned_plugin_and_queue(void **state)
{
    (void)state;
    const char *text = "{\"name\": \"q\", \"defaults\": {\"queue\": \"gpu\"}, \"tasks\": ["
                       "{\"id\": \"a\", \"plugin\": \"noop\"},"
                       "{\"id\": \"b\", \"plugin\": \"noop\", \"queue\": \"special\"},"
                       "{\"id\": \"c\", \"plugin\": \"shell\", \"queue\": \"special\"}]}";
    df_errlist e = {0};
    df_workflow *wf = NULL;
    assert_int_equal(df_workflow_load_text(text, strlen(text), 0, "q.json", "/", &wf, &e), 0);
    assert_string_equal(wf->tasks[0].plugin, "noop");
    assert_ptr_equal(wf->tasks[0].plugin, wf->tasks[1].plugin);
    assert_string_equal(wf->tasks[2].plugin, "shell");
    assert_string_equal(wf->tasks[0].queue, "gpu");
    assert_string_equal(wf->tasks[1].queue, "special");
    assert_ptr_equal(wf->tasks[1].queue, wf->tasks[2].queue);
    df_workflow_free(wf);

    text = "{\"name\": \"q\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}]}";
    assert_int_equal(df_workflow_load_text(text, strlen(text), 0, "q.json", "/", &wf, &e), 0);
    assert_null(wf->tasks[0].queue);
    df_workflow_free(wf);

    char big[200];
    snprintf(big, sizeof big,
             "{\"name\": \"q\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\", \"queue\": "
             "\"%064d\"}]}",
             0);
    assert_int_equal(df_workflow_load_text(big, strlen(big), 0, "q.json", "/", &wf, &e), -1);
    assert_int_equal(e.n, 1);
    assert_string_equal(e.msgs[0], "q.json: task \"a\": queue: must be a name of 1 to 63 bytes");
    df_errlist_clear(&e);
}

static void test_errors_append_to_existing_list(void **state)
{
    (void)state;
    df_errlist e = {0};
    df_errlist_add(&e, "earlier");
    df_workflow *wf = NULL;
    json_t *doc =
        json_loads("{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"p\"}]}", 0, NULL);
    /* a good document leaves the list as it was and succeeds despite earlier messages */
    assert_int_equal(df_workflow_load_json(doc, "d", "/", &wf, &e), 0);
    assert_int_equal(e.n, 1);
    char *p = df_workflow_resolve_path(wf, "x/y");
    assert_string_equal(p, "/x/y"); /* no double slash */
    free(p);
    df_workflow_free(wf);
    json_decref(doc);
    df_errlist_clear(&e);
}

/* A template error deep inside long keys: a path component that does not fit is shown as "...",
 * and the rest of the path and of the message survive. */
static void test_long_param_path(void **state)
{
    (void)state;
    char key[301];
    memset(key, 'k', 300);
    key[300] = '\0';
    json_t *params = json_pack("{s:{s:[s, s]}}", key, key, "fine", "${oops");
    json_t *doc = json_pack("{s:s, s:[{s:s, s:s, s:o}]}", "name", "x", "tasks", "id", "a", "plugin",
                            "noop", "params", params);
    df_errlist e = {0};
    df_workflow *wf = NULL;
    assert_int_equal(df_workflow_load_json(doc, "p", "/", &wf, &e), -1);
    assert_int_equal(e.n, 1);
    char want_head[400];
    snprintf(want_head, sizeof want_head, "p: task \"a\": params.%s.", key);
    assert_int_equal(strncmp(e.msgs[0], want_head, strlen(want_head)), 0);
    assert_non_null(strstr(e.msgs[0], "kkk...[1]: unterminated reference \"${oops\""));
    df_errlist_clear(&e);
    json_decref(doc);
}

/* ---- names, paths, lookup ------------------------------------------------------------------- */

static void test_trigger_rule_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "all_success",  "all_failed",  "all_done",
        "all_skipped",  "one_success", "one_failed",
        "one_done",     "none_failed", "none_failed_min_one_success",
        "none_skipped", "always"};
    assert_int_equal(sizeof names / sizeof names[0], DF_TR__COUNT);
    for (int i = 0; i < DF_TR__COUNT; i++) {
        df_trigger_rule r;
        assert_string_equal(df_trigger_rule_name((df_trigger_rule)i), names[i]);
        assert_int_equal(df_trigger_rule_parse(names[i], &r), 0);
        assert_int_equal(r, i);
    }
    df_trigger_rule r = DF_TR_ONE_DONE;
    assert_int_equal(df_trigger_rule_parse("ALL_SUCCESS", &r), -1);
    assert_int_equal(df_trigger_rule_parse("", &r), -1);
    assert_int_equal(df_trigger_rule_parse(NULL, &r), -1);
    assert_int_equal(r, DF_TR_ONE_DONE);
    assert_string_equal(df_trigger_rule_name(DF_TR__COUNT), "?");
}

static void test_resolve_path(void **state)
{
    (void)state;
    df_workflow wf;
    memset(&wf, 0, sizeof wf);
    wf.dir = "/srv/flows";
    char *p = df_workflow_resolve_path(&wf, "/abs/x.so");
    assert_string_equal(p, "/abs/x.so");
    free(p);
    p = df_workflow_resolve_path(&wf, "plugins/x.so");
    assert_string_equal(p, "/srv/flows/plugins/x.so");
    free(p);
    p = df_workflow_resolve_path(&wf, "./run.sh");
    assert_string_equal(p, "/srv/flows/./run.sh");
    free(p);
    assert_null(df_workflow_resolve_path(&wf, NULL));
    wf.dir = NULL;
    p = df_workflow_resolve_path(&wf, "rel");
    assert_string_equal(p, "rel");
    free(p);
}

static void test_find_task_hand_built(void **state)
{
    (void)state;
    /* a workflow built without the loader has no id map: lookups scan */
    df_task_def tasks[3];
    memset(tasks, 0, sizeof tasks);
    tasks[0].id = "a";
    tasks[1].id = "b";
    tasks[2].id = "c";
    df_workflow wf;
    memset(&wf, 0, sizeof wf);
    wf.tasks = tasks;
    wf.n_tasks = 3;
    assert_int_equal(df_workflow_find_task(&wf, "c"), 2);
    assert_int_equal(df_workflow_find_task(&wf, "d"), -1);
    df_workflow_free(NULL);
}

/* ---- speed ---------------------------------------------------------------------------------- */

/* 10,000 tasks in 100 layers of 100; each task depends on 2 tasks of the previous layer and
 * references one of their results. Written to a file and loaded from it. */
static void test_perf_10k_layered(void **state)
{
    (void)state;
    enum { LAYERS = 100, WIDTH = 100, N = LAYERS * WIDTH };
    json_t *tasks = json_array();
    for (int l = 0; l < LAYERS; l++)
        for (int w = 0; w < WIDTH; w++) {
            char id[32], a[32], b[32], ref[64];
            snprintf(id, sizeof id, "t%d_%d", l, w);
            json_t *t = json_pack("{s:s, s:s}", "id", id, "plugin", "noop");
            if (l > 0) {
                snprintf(a, sizeof a, "t%d_%d", l - 1, w);
                snprintf(b, sizeof b, "t%d_%d", l - 1, (w + 1) % WIDTH);
                snprintf(ref, sizeof ref, "${tasks.%s.result.x}", b);
                json_object_set_new(t, "depends_on", json_pack("[s,s]", a, b));
                json_object_set_new(t, "params", json_pack("{s:[s,s]}", "argv", "echo", ref));
            }
            json_array_append_new(tasks, t);
        }
    json_t *doc = json_pack("{s:s, s:o}", "name", "big", "tasks", tasks);
    char path[] = "/tmp/df_test_workflow_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);

    df_errlist e = {0};
    df_workflow *wf = NULL;
    double t0 = now_s(), c0 = cpu_s();
    int rc = df_workflow_load_file(path, &wf, &e);
    double took = now_s() - t0, cpu = cpu_s() - c0;
    unlink(path);
    if (rc != 0)
        dump_errors(&e);
    assert_int_equal(rc, 0);
    print_message("  10k-task layered DAG loaded in %.1f ms (%.1f ms CPU)\n", took * 1000,
                  cpu * 1000);
    assert_true(cpu < 3.0); /* ~0.2 s in a normal build, ~1 s under ASan */

    assert_int_equal(wf->n_tasks, N);
    size_t *at = malloc(N * sizeof *at);
    for (size_t k = 0; k < N; k++)
        at[wf->topo[k]] = k;
    size_t edges = 0;
    for (size_t i = 0; i < N; i++) {
        edges += wf->tasks[i].n_upstream;
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
            assert_true(at[wf->tasks[i].upstream[k]] < at[i]);
        /* every task but the last layer's feeds exactly two others */
        assert_int_equal(wf->tasks[i].n_downstream, i < N - WIDTH ? 2 : 0);
    }
    assert_int_equal(edges, 2 * (N - WIDTH));
    assert_int_equal(df_workflow_find_task(wf, "t99_99"), N - 1);
    free(at);
    df_workflow_free(wf);
}

/* 100,000 tasks in one chain, the last listed first: no recursion anywhere, still fast. */
static void test_perf_100k_chain(void **state)
{
    (void)state;
    enum { N = 100000 };
    json_t *tasks = json_array();
    for (int i = N - 1; i >= 0; i--) {
        char id[32], dep[32];
        snprintf(id, sizeof id, "c%d", i);
        json_t *t = json_pack("{s:s, s:s}", "id", id, "plugin", "noop");
        if (i > 0) {
            snprintf(dep, sizeof dep, "c%d", i - 1);
            json_object_set_new(t, "depends_on", json_pack("[s]", dep));
        }
        json_array_append_new(tasks, t);
    }
    json_t *doc = json_pack("{s:s, s:o}", "name", "chain", "tasks", tasks);
    df_errlist e = {0};
    df_workflow *wf = NULL;
    double t0 = now_s(), c0 = cpu_s();
    int rc = df_workflow_load_json(doc, "chain", "/", &wf, &e);
    double took = now_s() - t0, cpu = cpu_s() - c0;
    assert_int_equal(rc, 0);
    print_message("  100k-task chain loaded in %.1f ms (%.1f ms CPU)\n", took * 1000, cpu * 1000);
    assert_true(cpu < 10.0);       /* quadratic would be 10^10 steps */
    for (size_t k = 0; k < N; k++) /* c0 first, ..., which sits at index N-1 */
        assert_int_equal(wf->topo[k], N - 1 - k);
    df_workflow_free(wf);

    /* closing the chain gives one cycle through all of it */
    json_object_set_new(json_array_get(tasks, N - 1), "depends_on", json_pack("[s]", "c99999"));
    assert_int_equal(df_workflow_load_json(doc, "chain", "/", &wf, &e), -1);
    assert_int_equal(e.n, 1);
    /* it starts at the task listed first in the file, c99999; the middle is left out (issue 15,
     * item 23: not one line of hundreds of kilobytes) */
    const char *head = "chain: cycle of 100000 tasks: c99999 -> c0 -> c1 -> c2 -> ";
    assert_int_equal(strncmp(e.msgs[0], head, strlen(head)), 0);
    const char *tail = " -> c99997 -> c99998 -> c99999";
    size_t ml = strlen(e.msgs[0]);
    assert_string_equal(e.msgs[0] + ml - strlen(tail), tail);
    assert_non_null(strstr(e.msgs[0], " -> c6 -> (99984 more) -> c99991 -> "));
    assert_true(ml < 400);
    df_errlist_clear(&e);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_full),
        cmocka_unit_test(test_relative_path_dir),
        cmocka_unit_test(test_err_json_syntax),
        cmocka_unit_test(test_err_json_duplicate_key),
        cmocka_unit_test(test_err_not_object),
        cmocka_unit_test(test_err_missing_required),
        cmocka_unit_test(test_err_missing_file),
        cmocka_unit_test(test_err_wrong_type),
        cmocka_unit_test(test_err_range),
        cmocka_unit_test(test_err_unknown_keys),
        cmocka_unit_test(test_err_defaults_forbidden),
        cmocka_unit_test(test_err_ids_and_dependencies),
        cmocka_unit_test(test_err_cycle),
        cmocka_unit_test(test_err_pools_breakers),
        cmocka_unit_test(test_err_trigger_rule),
        cmocka_unit_test(test_err_templates),
        cmocka_unit_test(test_err_alerts),
        cmocka_unit_test(test_several_errors_at_once),
        cmocka_unit_test(test_load_json_stored),
        cmocka_unit_test(test_errors_append_to_existing_list),
        cmocka_unit_test(test_interned_plugin_and_queue),
        cmocka_unit_test(test_long_param_path),
        cmocka_unit_test(test_trigger_rule_names),
        cmocka_unit_test(test_resolve_path),
        cmocka_unit_test(test_find_task_hand_built),
        cmocka_unit_test(test_perf_10k_layered),
        cmocka_unit_test(test_perf_100k_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
