/* test_engine_metrics: df_engine_metrics (the engine's own series of GET /metrics) after a real
 * run of three noop tasks, read while the engine is idle: attempts started and finished, one
 * ready -> running observation per attempt, commits timed, the pool's workers; then
 * df_http_metrics_text renders them with the store's counts in Prometheus's text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dagflow/dagflow.h>

static long long jint(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_integer_value(v);
}

static void test_metrics_after_a_run(void **state)
{
    (void)state;
    char dir[] = "/tmp/df_metrics_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[128], wf[128], plugins[PATH_MAX];
    snprintf(db, sizeof db, "%s/m.db", dir);
    snprintf(wf, sizeof wf, "%s/wf.json", dir);
    const char *pd = getenv("DF_PLUGIN_DIR");
    snprintf(plugins, sizeof plugins, "%s", pd ? pd : "plugins");
    FILE *f = fopen(wf, "w");
    fputs("{\"name\": \"m\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"},"
          " {\"id\": \"b\", \"plugin\": \"noop\", \"depends_on\": [\"a\"]},"
          " {\"id\": \"c\", \"plugin\": \"noop\", \"depends_on\": [\"a\"]}]}",
          f);
    fclose(f);
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db = db;
    const char *dirs[] = {plugins};
    cfg.plugin_dirs = dirs;
    cfg.n_plugin_dirs = 1;
    df_engine *e = NULL;
    assert_int_equal(df_engine_open(&cfg, &e, NULL), 0);

    json_t *m = NULL;
    assert_int_equal(df_engine_metrics(e, &m, NULL), 0); /* before any run: zeros, no pool */
    assert_int_equal(jint(m, "attempts_started", NULL), 0);
    assert_int_equal(jint(m, "pool_workers", "current"), 0);
    json_decref(m);

    long long id = 0;
    df_run_state rs;
    assert_int_equal(df_engine_run_file(e, wf, NULL, &id, &rs, NULL), 0);
    assert_int_equal(rs, DF_RS_SUCCESS);
    assert_int_equal(df_engine_metrics(e, &m, NULL), 0);
    assert_int_equal(jint(m, "attempts_started", NULL), 3);
    assert_int_equal(jint(m, "attempts_finished", "SUCCESS"), 3);
    assert_int_equal(jint(m, "attempts_finished", "FAILED"), 0);
    assert_int_equal(jint(m, "ready_to_running_seconds", "count"), 3);
    assert_true(jint(m, "store_commit_seconds", "count") >= 2);
    assert_true(jint(m, "pool_workers", "current") >= 1);
    assert_true(jint(m, "pool_workers", "peak") >= 1);
    assert_int_equal(jint(m, "queue_depth", NULL), 0);
    assert_int_equal(jint(m, "admission_paused", NULL), 0);
    json_t *b = json_object_get(json_object_get(m, "ready_to_running_seconds"), "buckets");
    assert_int_equal(json_array_size(b), 13);
    /* cumulative: the last bucket (10 s) holds all three */
    assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 12), 1)), 3);

    json_t *counts = NULL;
    assert_int_equal(df_engine_state_counts(e, &counts, NULL), 0);
    char *text = NULL;
    assert_int_equal(df_http_metrics_text(counts, m, &text), 0);
    assert_non_null(strstr(text, "# TYPE dagflow_runs gauge\n"));
    assert_non_null(strstr(text, "dagflow_runs{state=\"SUCCESS\"} 1\n"));
    assert_non_null(strstr(text, "dagflow_attempts_started_total 3\n"));
    assert_non_null(strstr(text, "dagflow_attempts_finished_total{outcome=\"SUCCESS\"} 3\n"));
    assert_non_null(strstr(text, "dagflow_ready_to_running_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "dagflow_ready_to_running_seconds_count 3\n"));
    assert_non_null(strstr(text, "# TYPE dagflow_store_commit_seconds histogram\n"));
    assert_non_null(strstr(text, "dagflow_pool_workers{kind=\"peak\"}"));
    assert_non_null(strstr(text, "dagflow_admission_paused 0\n"));
    free(text);
    json_decref(counts);
    json_decref(m);
    df_engine_close(e);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_metrics_after_a_run)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
