/* test_store_pg: the PostgreSQL backend's operations at the store interface, where its semantics
 * must be SQLite's although PostgreSQL behaves otherwise: a compare-and-set that finds another
 * state is DF_STORE_CONFLICT with the same message; a refused write (an attempt that exists, a
 * task or run that does not) inside the caller's transaction leaves that transaction usable
 * (PostgreSQL aborts a transaction on any error, SQLite does not); a new run that fails inside the
 * caller's transaction leaves nothing behind and the transaction goes on; the takeover claim is a
 * compare-and-set on the owner, NULL owner included; metrics merge; resume's LOST streak. Each
 * test gets a fresh database in the test cluster (DAGFLOW_TEST_PG_URI, or the file
 * $DAGFLOW_TEST_PG_STATE/uri that ctest's `pg` fixture writes); without one, the tests skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#include "store_attempts_check.h"
#include "store_history_check.h"
#include "store_cancel_check.h"
#include "store_lease_check.h"

typedef struct pgfx {
    char uri[1024];
    df_store *s;
} pgfx;

/* The cluster's URI (its `postgres` database) into buf; false when there is none. */
static bool cluster_uri(char *buf, size_t len)
{
    const char *v = getenv("DAGFLOW_TEST_PG_URI");
    if (v && *v) {
        snprintf(buf, len, "%s", v);
        return true;
    }
    const char *state = getenv("DAGFLOW_TEST_PG_STATE");
    char path[512];
    if (!state)
        return false;
    snprintf(path, sizeof path, "%s/uri", state);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok && *buf;
}

/* A fresh database per test (created with psql), the store opened on it. */
static int setup(void **state)
{
    static int n;
    pgfx *f = calloc(1, sizeof *f);
    *state = f;
    char base[900];
    if (!cluster_uri(base, sizeof base))
        return 0;
    char name[64], cmd[1400];
    snprintf(name, sizeof name, "dfu_store_pg_%d_%d", (int)getpid(), n++);
    snprintf(cmd, sizeof cmd, "psql -X -q -d '%s' -c 'CREATE DATABASE %s' >/dev/null", base, name);
    if (system(cmd) != 0)
        return -1;
    const char *q = strstr(base, "/postgres?");
    if (!q)
        return -1;
    snprintf(f->uri, sizeof f->uri, "%.*s/%s%s", (int)(q - base), base, name,
             q + strlen("/postgres"));
    char err[512] = "";
    if (df_store_open(f->uri, &f->s, err, sizeof err) != DF_STORE_OK) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    pgfx *f = *state;
    df_store_close(f->s);
    free(f);
    return 0;
}

#define NEED_PG(f)                                                                                 \
    do {                                                                                           \
        if (!(f)->s)                                                                               \
            skip();                                                                                \
    } while (0)

static const df_engine_id E1 = {101, "host1", 1000, NULL};
static const df_engine_id E2 = {202, "host2", 2000, NULL};

/* A run of tasks a -> b (owned by engine, or none). */
static long long new_run(df_store *s, const df_engine_id *engine)
{
    size_t dep = 0;
    df_task_record tasks[] = {{"a", "noop", NULL, 0}, {"b", "noop", &dep, 1}};
    df_run_record r = {.workflow = "wf",
                       .dag_json = "{}",
                       .started_at = 1700000000000,
                       .engine = engine,
                       .tasks = tasks,
                       .n_tasks = 2};
    long long id = 0;
    assert_int_equal(df_store_create_run(s, &r, &id), DF_STORE_OK);
    assert_true(id > 0);
    return id;
}

static df_transition tr(long long run, const char *task, df_task_state from, unsigned fa,
                        df_task_state to, unsigned ta)
{
    df_transition t = {.run_id = run,
                       .task_id = task,
                       .from = from,
                       .from_attempt = fa,
                       .to = to,
                       .to_attempt = ta,
                       .at = 1700000000100};
    return t;
}

static void test_transition_cas(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1);
    df_transition t = tr(run, "a", DF_TS_PENDING, 0, DF_TS_QUEUED, 0);
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_CONFLICT);
    assert_non_null(strstr(df_store_error(f->s), "task \"a\" of run"));
    assert_non_null(strstr(df_store_error(f->s), "is QUEUED (attempt 0), not PENDING (attempt 0)"));
    df_transition u = tr(run, "nosuch", DF_TS_PENDING, 0, DF_TS_QUEUED, 0);
    assert_int_equal(df_store_transition(f->s, &u), DF_STORE_NOTFOUND);
}

/* Refused writes inside a transaction: the transaction stays usable and commits. */
static void test_refusals_keep_the_transaction(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1), id = 0;
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(f->s, run, "a", 1, 1700000000200), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(f->s, run, "a", 1, 1700000000200), DF_STORE_CONFLICT);
    assert_non_null(strstr(df_store_error(f->s), "already exists"));
    assert_int_equal(df_store_attempt_open(f->s, run, "zz", 1, 1), DF_STORE_NOTFOUND);
    assert_int_equal(
        df_store_alert_add(f->s, 999999, NULL, "run_failed", "file:x", 0, "{}", 1, &id),
        DF_STORE_NOTFOUND);
    assert_int_equal(df_store_attempt_close(f->s, run, "a", 7, DF_AO_FAILED, 1, NULL, NULL),
                     DF_STORE_NOTFOUND);
    df_transition t = tr(run, "a", DF_TS_PENDING, 0, DF_TS_RUNNING, 1);
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[0].state, DF_TS_RUNNING);
    assert_int_equal(r->tasks[0].open_attempt, 1);
    df_stored_run_free(r);
    /* Closing twice: the second is a conflict naming the outcome. */
    assert_int_equal(df_store_attempt_close(f->s, run, "a", 1, DF_AO_SUCCESS, 2, NULL, "log"),
                     DF_STORE_OK);
    assert_int_equal(df_store_attempt_close(f->s, run, "a", 1, DF_AO_FAILED, 3, NULL, NULL),
                     DF_STORE_CONFLICT);
    assert_non_null(strstr(df_store_error(f->s), "already closed (SUCCESS)"));
}

/* A new run that fails inside the caller's transaction leaves nothing, and the transaction goes
 * on. */
static void test_create_run_fails_inside_a_transaction(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    df_task_record dup[] = {{"a", "noop", NULL, 0}, {"a", "noop", NULL, 0}};
    df_run_record bad = {
        .workflow = "wf", .dag_json = "{}", .started_at = 1, .tasks = dup, .n_tasks = 2};
    long long id = 0;
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    assert_int_equal(df_store_create_run(f->s, &bad, &id), DF_STORE_ERROR);
    long long good = new_run(f->s, NULL);
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);
    long long latest = 0;
    assert_int_equal(df_store_latest_run(f->s, &latest), DF_STORE_OK);
    assert_int_equal(latest, good);
    json_t *h = NULL;
    assert_int_equal(df_store_history(f->s, NULL, 0, &h), DF_STORE_OK);
    assert_int_equal(json_array_size(h), 1);
    json_decref(h);
}

/* A run of n independent tasks t0..t(n-1), owned by no engine. */
static long long wide_run(df_store *s, size_t n)
{
    df_task_record *tasks = calloc(n, sizeof *tasks);
    char(*ids)[24] = calloc(n, sizeof *ids);
    assert_non_null(tasks);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "t%zu", i);
        tasks[i] = (df_task_record){ids[i], "noop", NULL, 0};
    }
    df_run_record r = {.workflow = "wide",
                       .dag_json = "{}",
                       .started_at = 1700000000000,
                       .tasks = tasks,
                       .n_tasks = n};
    long long id = 0;
    assert_int_equal(df_store_create_run(s, &r, &id), DF_STORE_OK);
    free(tasks);
    free(ids);
    return id;
}

/* Deferred checks (the engine's mode, store/pg/pipe.c): a refused write inside the transaction
 * is answered OK at once, then fails the commit with its own message, and nothing of the
 * transaction is recorded; the next transaction works. */
static void test_deferred_refusal_fails_the_commit(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1);
    df_store_defer_checks(f->s, true);
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    df_transition t = tr(run, "a", DF_TS_PENDING, 0, DF_TS_QUEUED, 0);
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(f->s, run, "a", 1, 1700000000200), DF_STORE_OK);
    assert_int_equal(df_store_attempt_open(f->s, run, "a", 1, 1700000000200), DF_STORE_OK);
    df_transition b = tr(run, "b", DF_TS_PENDING, 0, DF_TS_QUEUED, 0);
    assert_int_equal(df_store_transition(f->s, &b), DF_STORE_OK);
    assert_int_equal(df_store_commit(f->s), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "attempt 1 of task \"a\""));
    assert_non_null(strstr(df_store_error(f->s), "already exists"));
    assert_int_equal(df_store_rollback(f->s), DF_STORE_OK);
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[0].state, DF_TS_PENDING);
    assert_int_equal(r->tasks[0].open_attempt, 0);
    assert_int_equal(r->tasks[1].state, DF_TS_PENDING);
    df_stored_run_free(r);
    /* a transition that finds another state: found by the next read, which fails */
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    df_transition wrong = tr(run, "a", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1);
    assert_int_equal(df_store_transition(f->s, &wrong), DF_STORE_OK);
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_ERROR);
    assert_non_null(strstr(df_store_error(f->s), "is PENDING (attempt 0), not QUEUED (attempt 0)"));
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_ERROR);
    assert_int_equal(df_store_commit(f->s), DF_STORE_ERROR);
    assert_int_equal(df_store_rollback(f->s), DF_STORE_OK);
    /* then a good transaction commits */
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    assert_int_equal(df_store_transition(f->s, &t), DF_STORE_OK);
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[0].state, DF_TS_QUEUED);
    df_stored_run_free(r);
    /* two transitions of one task in one transaction, nothing read between: both apply */
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    df_transition run1 = tr(run, "a", DF_TS_QUEUED, 0, DF_TS_RUNNING, 1);
    df_transition ok1 = tr(run, "a", DF_TS_RUNNING, 1, DF_TS_SUCCESS, 1);
    assert_int_equal(df_store_transition(f->s, &run1), DF_STORE_OK);
    assert_int_equal(df_store_transition(f->s, &ok1), DF_STORE_OK);
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[0].state, DF_TS_SUCCESS);
    df_stored_run_free(r);
}

/* Deferred checks over many writes (more than one batch of answers) and a read between them: all
 * recorded, in order (each task's three events). */
static void test_deferred_many_writes(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    const size_t n = 700;
    long long run = wide_run(f->s, n);
    df_store_defer_checks(f->s, true);
    char id[24];
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "t%zu", i);
        df_transition q = tr(run, id, DF_TS_PENDING, 0, DF_TS_QUEUED, 0);
        assert_int_equal(df_store_transition(f->s, &q), DF_STORE_OK);
    }
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[n - 1].state, DF_TS_QUEUED);
    df_stored_run_free(r);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "t%zu", i);
        df_transition q = tr(run, id, DF_TS_QUEUED, 0, DF_TS_RUNNING, 1);
        assert_int_equal(df_store_transition(f->s, &q), DF_STORE_OK);
        assert_int_equal(df_store_attempt_open(f->s, run, id, 1, 1700000000300), DF_STORE_OK);
    }
    assert_int_equal(df_store_commit(f->s), DF_STORE_OK);
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->tasks[i].state, DF_TS_RUNNING);
        assert_int_equal(r->tasks[i].open_attempt, 1);
    }
    df_stored_run_free(r);
    json_t *o = NULL;
    assert_int_equal(df_store_run_events(f->s, run, 0, 5000, &o), DF_STORE_OK);
    json_t *ev = json_object_get(o, "events");
    assert_int_equal(json_array_size(ev), 3 * n);
    json_t *e = json_array_get(ev, n);
    assert_string_equal(json_string_value(json_object_get(e, "task_id")), "t0");
    assert_string_equal(json_string_value(json_object_get(e, "to_state")), "QUEUED");
    e = json_array_get(ev, 2 * n - 1);
    assert_string_equal(json_string_value(json_object_get(e, "task_id")), "t699");
    e = json_array_get(ev, 2 * n);
    assert_string_equal(json_string_value(json_object_get(e, "to_state")), "RUNNING");
    json_decref(o);
}

static void test_claim_cas(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1);
    assert_int_equal(df_store_run_claim(f->s, run, &E1, &E2, 5), DF_STORE_OK);
    assert_int_equal(df_store_run_claim(f->s, run, &E1, &E1, 6), DF_STORE_CONFLICT);
    assert_non_null(strstr(df_store_error(f->s), "claimed by another engine"));
    long long free_run = new_run(f->s, NULL);
    assert_int_equal(df_store_run_claim(f->s, free_run, &E1, &E2, 7), DF_STORE_CONFLICT);
    assert_int_equal(df_store_run_claim(f->s, free_run, NULL, &E2, 7), DF_STORE_OK);
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(f->s, free_run, &r), DF_STORE_OK);
    assert_true(r->has_engine);
    assert_int_equal(r->engine.pid, 202);
    assert_string_equal(r->engine.host, "host2");
    assert_int_equal(r->heartbeat_at, 7);
    df_stored_run_free(r);
    assert_int_equal(df_store_run_heartbeat(f->s, 424242, 1), DF_STORE_NOTFOUND);
}

static void test_metrics_merge(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1);
    json_t *m1 = json_pack("{s:i, s:i, s:s}", "tasks", 1, "x_peak", 5, "name", "a");
    json_t *m2 = json_pack("{s:i, s:i, s:i}", "tasks", 2, "x_peak", 3, "more", 1);
    assert_int_equal(df_store_run_set_metrics(f->s, run, m1), DF_STORE_OK);
    assert_int_equal(df_store_run_set_metrics(f->s, run, m2), DF_STORE_OK);
    json_t *st = NULL;
    assert_int_equal(df_store_run_status(f->s, run, &st), DF_STORE_OK);
    json_t *m = json_object_get(st, "metrics");
    assert_int_equal(json_integer_value(json_object_get(m, "tasks")), 3);
    assert_int_equal(json_integer_value(json_object_get(m, "x_peak")), 5);
    assert_int_equal(json_integer_value(json_object_get(m, "more")), 1);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "a");
    json_decref(st);
    json_decref(m1);
    json_decref(m2);
}

/* LOST, LOST, then an attempt still open: the streak is 2, the open attempt 3. */
static void test_lost_streak(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    long long run = new_run(f->s, &E1);
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(df_store_attempt_open(f->s, run, "a", i, 10 * i), DF_STORE_OK);
        if (i < 3)
            assert_int_equal(
                df_store_attempt_close(f->s, run, "a", i, DF_AO_LOST, 10 * i + 1, "lost", NULL),
                DF_STORE_OK);
    }
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(f->s, run, &r), DF_STORE_OK);
    assert_int_equal(r->tasks[0].lost_streak, 2);
    assert_int_equal(r->tasks[0].open_attempt, 3);
    assert_int_equal(r->tasks[1].open_attempt, 0);
    assert_int_equal(r->state, DF_RS_RUNNING);
    df_stored_run_free(r);
    assert_int_equal(df_store_load_run(f->s, 777777, &r), DF_STORE_NOTFOUND);
}

/* df_store_task_attempts: the scenario SQLite passes too (store_attempts_check.h). */
static void test_task_attempts(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    check_task_attempts(f->s);
}

/* df_store_crash_report for an engine's own crash: the scenario SQLite passes too
 * (store_attempts_check.h). */
static void test_crash_report(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    check_crash_report(f->s);
}

/* history's filters, gc, events and counts: the scenarios SQLite passes too
 * (store_history_check.h); bytes are the deleted rows' size. */
static void test_history_filters(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    check_history_filters(f->s);
}

static void test_gc(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    assert_true(check_gc(f->s, 3000) > 0);
}

static void test_events_and_counts(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    check_events_and_counts(f->s);
}

/* Cancel requests: the scenario SQLite passes too (store_cancel_check.h). */
static void test_cancel_requests(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    check_cancel_requests(f->s);
}

/* Run leases: the scenario SQLite passes too (store_lease_check.h), with three handles. */
static void test_run_leases(void **state)
{
    pgfx *f = *state;
    NEED_PG(f);
    char err[512] = "";
    df_store *b = NULL, *c = NULL;
    assert_int_equal(df_store_open(f->uri, &b, err, sizeof err), DF_STORE_OK);
    assert_int_equal(df_store_open(f->uri, &c, err, sizeof err), DF_STORE_OK);
    check_run_leases(f->s, b, c);
    df_store_close(c);
    df_store_close(b);
}

int main(void)
{
    /* the pipelined writes of the deferred-check tests (store/pg/pipe.c; the default, set in case
     * the environment says 0) */
    setenv("DAGFLOW_PG_PIPELINE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transition_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_keep_the_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_run_fails_inside_a_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_claim_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_refusal_fails_the_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_many_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_streak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_leases, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
