/* test_workflow_stream: a workflow file loaded as a stream (engine/workflow_stream.c, issue 14)
 * is the same workflow, with the same messages, as one loaded as a jansson document: every file
 * of tests/data/workflows and workflows/ (valid and invalid) both ways; a file whose top-level
 * keys come after its tasks, with on_exit handlers, a byte order mark, escapes and numbers of
 * every kind; texts the stream gives up on (a syntax error inside the tasks, a duplicate key in
 * a task, "\u0000", an integer out of range, a form feed between tokens) with jansson's messages;
 * the streamed document holds no tasks and the file's bytes are kept; tasks without params share
 * one empty object; df_workflow_load_text. */
#include <dirent.h>
#include <limits.h>
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

#include "engine/expr.h"
#include "engine/workflow.h"

static const char *source_dir(void)
{
    const char *env = getenv("DF_SOURCE_DIR");
    return env && *env ? env : ".";
}

/* Loads path with files of min_bytes or more streamed. */
static int load(const char *path, size_t min_bytes, df_workflow **wf, df_errlist *e)
{
    df_workflow_set_stream_bytes(min_bytes);
    int rc = df_workflow_load_file(path, wf, e);
    df_workflow_set_stream_bytes(4u << 20);
    return rc;
}

static void same_json(const json_t *a, const json_t *b, const char *what)
{
    if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b)))
        fail_msg("%s differs", what);
}

static void same_sizes(const size_t *a, size_t na, const size_t *b, size_t nb, const char *what)
{
    assert_int_equal(na, nb);
    for (size_t k = 0; k < na; k++)
        if (a[k] != b[k])
            fail_msg("%s[%zu] differs", what, k);
}

/* The two models are the same (everything the run reads). */
static void same_model(const df_workflow *a, const df_workflow *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->n_tasks, b->n_tasks);
    assert_int_equal(a->n_dag, b->n_dag);
    assert_int_equal(a->n_pools, b->n_pools);
    assert_int_equal(a->n_breakers, b->n_breakers);
    assert_int_equal(a->max_active_tasks, b->max_active_tasks);
    assert_int_equal(a->timeout_ms, b->timeout_ms);
    same_json(a->params, b->params, "params");
    same_json(a->alerts, b->alerts, "alerts");
    same_json(a->env, b->env, "env");
    for (size_t i = 0; i < a->n_tasks; i++) {
        const df_task_def *x = &a->tasks[i], *y = &b->tasks[i];
        assert_string_equal(x->id, y->id);
        assert_string_equal(x->plugin, y->plugin);
        same_json(x->params, y->params, x->id);
        same_json(x->for_each, y->for_each, x->id);
        same_sizes(x->upstream, x->n_upstream, y->upstream, y->n_upstream, "upstream");
        same_sizes(x->downstream, x->n_downstream, y->downstream, y->n_downstream, "downstream");
        assert_int_equal(x->trigger_rule, y->trigger_rule);
        assert_int_equal(x->retries, y->retries);
        assert_int_equal(x->retry_delay_ms, y->retry_delay_ms);
        assert_true(x->retry_backoff == y->retry_backoff);
        assert_int_equal(x->timeout_ms, y->timeout_ms);
        assert_int_equal(x->priority, y->priority);
        assert_int_equal(x->pool, y->pool);
        assert_int_equal(x->breaker, y->breaker);
        assert_int_equal(x->handler, y->handler);
        assert_int_equal(x->branch, y->branch);
        assert_int_equal(x->continue_on_failure, y->continue_on_failure);
        assert_int_equal(x->max_parallel, y->max_parallel);
        assert_int_equal(x->when == NULL, y->when == NULL);
        assert_int_equal(df_workflow_find_task(b, x->id), (long)i);
    }
    if (a->topo || b->topo)
        same_sizes(a->topo, a->n_tasks, b->topo, b->n_tasks, "topo");
}

/* Loads path both ways: the same result, messages (in order) and model. Returns whether it
 * loaded. */
static bool both_ways(const char *path)
{
    df_errlist ed = {0}, es = {0};
    df_workflow *d = NULL, *s = NULL;
    int rd = load(path, SIZE_MAX, &d, &ed);
    int rs = load(path, 0, &s, &es);
    if (rd != rs)
        fail_msg("%s: document %d, stream %d", path, rd, rs);
    if (ed.n != es.n)
        fail_msg("%s: %zu messages as a document, %zu as a stream", path, ed.n, es.n);
    for (size_t i = 0; i < ed.n; i++)
        if (strcmp(ed.msgs[i], es.msgs[i]) != 0)
            fail_msg("%s: message %zu: [%s] vs [%s]", path, i, ed.msgs[i], es.msgs[i]);
    if (rd == 0) {
        same_model(d, s);
        assert_non_null(s->source);
        assert_non_null(d->source);
        assert_int_equal(s->source_len, d->source_len);
        assert_memory_equal(s->source, d->source, d->source_len);
    }
    df_workflow_free(d);
    df_workflow_free(s);
    df_errlist_clear(&ed);
    df_errlist_clear(&es);
    return rd == 0;
}

/* Every .json file of dir both ways; returns how many loaded. */
static size_t dir_both_ways(const char *dir, size_t *files)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *ent;
    size_t ok = 0;
    while ((ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 5, ".json") != 0)
            continue;
        char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", dir, ent->d_name) > 0);
        ok += both_ways(path);
        free(path);
        (*files)++;
    }
    closedir(d);
    return ok;
}

static void test_fixtures_both_ways(void **state)
{
    (void)state;
    const char *dirs[] = {"tests/data/workflows", "workflows", "workflows/ported"};
    size_t files = 0, ok = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", source_dir(), dirs[i]);
        if (i == 0 || access(dir, R_OK) == 0)
            ok += dir_both_ways(dir, &files);
    }
    assert_true(files >= 20); /* the error fixtures are there */
    assert_true(ok >= 3);     /* and valid files */
    assert_true(ok < files);  /* and invalid ones */
}

/* Writes text to a new temporary file; returns its path (static buffer). */
static const char *write_tmp(const char *text, size_t len)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/dftest_stream_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static const char rich[] =
    "\xEF\xBB\xBF{\"name\": \"rich\",\n"
    " \"tasks\": [\n"
    "  {\"id\": \"a\", \"plugin\": \"noop\", \"params\": {\"n\": 1, \"r\": 2.5, \"e\": 1e3,"
    "   \"neg\": -7, \"s\": \"caf\\u00e9 \\\"q\\\" \\n\", \"l\": [1, [2, {\"x\": null}], true,"
    "   false], \"o\": {}}},\n"
    "  {\"id\": \"b\", \"plugin\": \"noop\", \"depends_on\": [\"a\"], \"pool\": \"p\","
    "   \"params\": {\"v\": \"${tasks.a.result.n}\"}},\n"
    "  {\"id\": \"c\", \"plugin\": \"noop\", \"depends_on\": [\"a\", \"b\"],"
    "   \"trigger_rule\": \"all_done\", \"breaker\": \"br\", \"when\": \".x == 1\"},\n"
    "  {\"id\": \"d\", \"plugin\": \"noop\", \"for_each\": [1, 2, 3], \"max_parallel\": 2}\n"
    " ],\n"
    " \"on_exit\": [{\"id\": \"bye\", \"plugin\": \"noop\"}],\n"
    " \"defaults\": {\"retries\": 2, \"timeout_ms\": 5000},\n"
    " \"pools\": {\"p\": 2},\n"
    " \"breakers\": {\"br\": {\"failure_rate\": 0.5}},\n"
    " \"params\": {\"k\": \"v\"}}\n";

/* Keys after the tasks (defaults, pools, breakers), handlers, a byte order mark, escapes and
 * numbers: the same model; the streamed document holds no tasks; the bytes kept are the file's
 * after the byte order mark. */
static void test_rich_file(void **state)
{
    (void)state;
    const char *path = write_tmp(rich, sizeof rich - 1);
    assert_true(both_ways(path));
    df_errlist e = {0};
    df_workflow *wf = NULL;
    assert_int_equal(load(path, 0, &wf, &e), 0);
    assert_int_equal(wf->n_dag, 4);
    assert_int_equal(wf->n_tasks, 5);
    assert_int_equal(wf->tasks[0].retries, 2);
    assert_int_equal(json_array_size(json_object_get(wf->doc, "tasks")), 0);
    assert_int_equal(wf->source_len, sizeof rich - 1 - 3);
    assert_memory_equal(wf->source, rich + 3, wf->source_len);
    /* tasks without params share one empty object; the id index finds every task */
    assert_ptr_equal(wf->tasks[2].params, wf->tasks[3].params);
    assert_ptr_equal(wf->tasks[2].params, wf->tasks[4].params);
    assert_int_equal(json_object_size(wf->tasks[2].params), 0);
    for (size_t i = 0; i < wf->n_tasks; i++)
        assert_int_equal(df_workflow_find_task(wf, wf->tasks[i].id), (long)i);
    assert_int_equal(df_workflow_find_task(wf, "nope"), -1);
    assert_true(json_is_real(json_object_get(wf->tasks[0].params, "e")));
    assert_true(json_is_integer(json_object_get(wf->tasks[0].params, "neg")));
    assert_string_equal(json_string_value(json_object_get(wf->tasks[0].params, "s")),
                        "caf\xC3\xA9 \"q\" \n");
    /* df_workflow_load_text: the same workflow again, from the bytes kept */
    df_workflow *again = NULL;
    df_workflow_set_stream_bytes(0);
    assert_int_equal(df_workflow_load_text(wf->source, wf->source_len, JSON_REJECT_DUPLICATES,
                                           wf->path, wf->dir, &again, &e),
                     0);
    df_workflow_set_stream_bytes(4u << 20);
    same_model(wf, again);
    /* once dropped, the document and the bytes are gone; the model stays */
    df_workflow_drop_doc(again);
    assert_null(again->doc);
    assert_null(again->source);
    assert_int_equal(df_workflow_find_task(again, "c"), 2);
    df_workflow_free(again);
    df_workflow_free(wf);
    df_errlist_clear(&e);
    unlink(path);
}

/* Texts the stream gives up on: jansson's messages, the same both ways. */
static void test_give_up_same_messages(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\",}]}",
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"id\": \"b\", \"plugin\": \"noop\"}]}",
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"no\\u0000op\"}]}",
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\", \"retries\": "
        "99999999999999999999999}]}",
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}], \"tasks\": []}",
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}]} trailing",
        "[{\"id\": \"a\"}]",
        "{\"name\": \"x\", \"tasks\": 3}",
        "{\"name\": \"x\", \"tasks\": []}",
        "{\"name\": \"x\", \"tasks\": [3, \"a\", {\"plugin\": \"noop\"}, {\"id\": \"a\", "
        "\"plugin\": "
        "\"noop\", \"depends_on\": [\"zz\"]}, {\"id\": \"a\", \"plugin\": \"noop\"}]}",
        "",
        /* a form feed or vertical tab between tokens: yajl's whitespace, not JSON's (found by
         * fuzz_workflow: the stream loaded it, jansson refuses it) */
        "{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"},\f{\"id\": \"b\", "
        "\"plugin\": \"noop\"}]}",
        "{\"name\": \"x\",\v\"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"}]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const char *path = write_tmp(texts[i], strlen(texts[i]));
        assert_false(both_ways(path));
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_both_ways),
        cmocka_unit_test(test_rich_file),
        cmocka_unit_test(test_give_up_same_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
