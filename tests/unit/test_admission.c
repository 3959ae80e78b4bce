/* test_admission: resource-aware admission (issue 10). The decision of admission.c over scripted
 * samples (pause over either hard limit, resume at or below both, the soft memory threshold, a
 * probe that fails); then a real engine with an injected probe that reports a load over
 * --max-load for its first samples: the run's tasks all succeed, none starts while the probe says
 * "over", the pause is told (a notice with run_id 0) and recorded in the run's metrics. */
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

#include "../../engine/admission.h"
#include "../../engine/engine_internal.h"

/* ---- the decision ---- */

typedef struct script {
    df_admission_sample s[8];
    size_t n, next;
    int fail_at; /* sample index whose probe fails, or -1 */
} script;

static int scripted(void *ud, df_admission_sample *out)
{
    script *sc = ud;
    size_t i = sc->next < sc->n ? sc->next : sc->n - 1;
    sc->next++;
    if ((int)i == sc->fail_at)
        return -1;
    *out = sc->s[i];
    return 0;
}

#define MiB ((uint64_t)1 << 20)

static void test_memory_limit(void **state)
{
    (void)state;
    script sc = {.s = {{100 * MiB, 0},
                       {90 * MiB, 0},
                       {300 * MiB, 0},
                       {250 * MiB, 0},
                       {200 * MiB, 0},
                       {150 * MiB, 0}},
                 .n = 6,
                 .fail_at = -1};
    df_admission a;
    df_admission_init(&a, 200 * MiB, 0, scripted, &sc);
    assert_true(df_admission_enabled(&a));
    assert_int_equal(df_admission_check(&a, 1000), DF_ADMISSION_SAME);
    assert_false(a.paused);
    assert_false(a.soft); /* 100 MiB: under 80% of 200 */
    assert_int_equal(df_admission_check(&a, 1250), DF_ADMISSION_SAME);
    assert_int_equal(df_admission_check(&a, 1500), DF_ADMISSION_PAUSED);
    assert_true(a.paused);
    assert_true(a.soft);
    assert_non_null(strstr(a.reason, "memory 300.0 MiB"));
    assert_non_null(strstr(a.reason, "over --max-memory 200.0 MiB"));
    assert_int_equal(df_admission_check(&a, 1750), DF_ADMISSION_SAME); /* 250: still over */
    /* exactly at the limit is not over it */
    assert_int_equal(df_admission_check(&a, 2000), DF_ADMISSION_RESUMED);
    assert_false(a.paused);
    assert_true(a.soft); /* 200 MiB is over the soft threshold: the pool does not grow */
    assert_int_equal(a.pauses, 1);
    assert_int_equal(a.paused_total_ms, 500);
    assert_int_equal(df_admission_check(&a, 2250), DF_ADMISSION_SAME);
    assert_false(a.soft); /* 150 MiB */
}

static void test_load_limit_and_failures(void **state)
{
    (void)state;
    script sc = {.s = {{1, 0.5}, {1, 2.5}, {1, 3.0}, {1, 1.9}}, .n = 4, .fail_at = 2};
    df_admission a;
    df_admission_init(&a, 0, 2.0, scripted, &sc);
    assert_int_equal(df_admission_check(&a, 0), DF_ADMISSION_SAME);
    assert_int_equal(df_admission_check(&a, 100), DF_ADMISSION_PAUSED);
    assert_string_equal(a.reason, "load 2.50 per core over --max-load 2");
    assert_false(a.soft); /* no memory limit, no soft threshold */
    /* a probe that fails changes nothing */
    assert_int_equal(df_admission_check(&a, 200), DF_ADMISSION_SAME);
    assert_true(a.paused);
    assert_int_equal(df_admission_check(&a, 700), DF_ADMISSION_RESUMED);
    assert_int_equal(a.paused_total_ms, 600);

    /* no limit: never paused, the probe not even asked */
    script none = {.s = {{1ull << 40, 100}}, .n = 1, .fail_at = -1};
    df_admission_init(&a, 0, -1, scripted, &none);
    assert_false(df_admission_enabled(&a));
    assert_int_equal(df_admission_check(&a, 0), DF_ADMISSION_SAME);
    assert_int_equal(none.next, 0);
}

static void test_system_probe(void **state)
{
    (void)state;
    df_admission_sample s;
    assert_int_equal(df_admission_probe_system(NULL, &s), 0);
    assert_true(s.memory_bytes > 1 * MiB); /* this process's resident set at least */
    assert_true(s.load_per_core >= 0);
    char buf[32];
    df_admission_size_text(1536, buf, sizeof buf);
    assert_string_equal(buf, "1.5 KiB");
}

/* ---- in the engine ---- */

static int samples;      /* taken by the injected probe */
static int over_samples; /* it reports a load of 5 per core for this many samples */
static int started_while_over;
static int started;
static int notices_paused, notices_resumed;

static int fake_probe(void *ud, df_admission_sample *out)
{
    (void)ud;
    samples++;
    out->memory_bytes = 10 * MiB;
    out->load_per_core = samples <= over_samples ? 5.0 : 0.1;
    return 0;
}

static void on_event(void *ud, const df_engine_event *ev)
{
    (void)ud;
    if (ev->notice && ev->run_id == 0) {
        notices_paused += strstr(ev->notice, "admission paused: load 5.00 per core over "
                                             "--max-load 1") != NULL;
        notices_resumed += strncmp(ev->notice, "admission resumed after ", 24) == 0;
        return;
    }
    if (ev->task_id && ev->task_state == DF_TS_RUNNING) {
        started++;
        started_while_over += samples <= over_samples;
    }
}

static void test_engine_pauses(void **state)
{
    (void)state;
    char dir[] = "/tmp/df_admission_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char db[128], wf[128], plugins[PATH_MAX];
    snprintf(db, sizeof db, "%s/a.db", dir);
    snprintf(wf, sizeof wf, "%s/wf.json", dir);
    const char *pd = getenv("DF_PLUGIN_DIR");
    snprintf(plugins, sizeof plugins, "%s", pd ? pd : "plugins");
    FILE *f = fopen(wf, "w");
    fputs("{\"name\": \"adm\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\"},"
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
    cfg.max_load = 1.0;
    cfg.on_event = on_event;
    df_engine *e = NULL;
    assert_int_equal(df_engine_open(&cfg, &e, NULL), 0);
    df_engine_set_admission_probe(e, fake_probe, NULL);
    over_samples = 5; /* the first sample (at the start) and four more: about 1 s */

    long long id = 0;
    df_run_state rs;
    assert_int_equal(df_engine_run_file(e, wf, NULL, &id, &rs, NULL), 0);
    assert_int_equal(rs, DF_RS_SUCCESS);
    assert_int_equal(started, 3);
    assert_int_equal(started_while_over, 0);
    assert_true(samples > over_samples);
    assert_int_equal(notices_paused, 1);
    assert_int_equal(notices_resumed, 1);

    json_t *m = NULL;
    assert_int_equal(df_engine_metrics(e, &m, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(m, "admission_paused")), 0);
    json_decref(m);

    json_t *st = NULL;
    assert_int_equal(df_engine_run_status(e, id, &st, NULL), 0);
    json_t *adm = json_object_get(json_object_get(st, "metrics"), "admission");
    assert_non_null(adm);
    assert_int_equal(json_integer_value(json_object_get(adm, "pauses")), 1);
    /* four sampling periods of 250 ms at least, whatever the machine's load */
    assert_true(json_integer_value(json_object_get(adm, "paused_ms")) >= 4 * DF_ADMISSION_MS);
    json_t *ev = json_array_get(json_object_get(adm, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "reason")),
                        "load 5.00 per core over --max-load 1");
    assert_true(json_is_string(json_object_get(ev, "resumed_at")));
    json_decref(st);
    df_engine_close(e);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_load_limit_and_failures),
        cmocka_unit_test(test_system_probe),
        cmocka_unit_test(test_engine_pauses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
