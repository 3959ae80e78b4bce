/* test_store_attempts: df_store_task_attempts on SQLite (the scenario of store_attempts_check.h,
 * which test_store_pg.c runs on PostgreSQL), and its rows against the attempt_history view; the
 * cancel requests (store_cancel_check.h, likewise); run leases (store_lease_check.h, likewise);
 * SQLite's fence renews a run's lease at most once a moment (store/sqlite/lease.c), never on the
 * strength of a rolled-back renewal, and still refuses the old owner after an adoption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "store_fixture.h"

#include "store_attempts_check.h"
#include "store_cancel_check.h"
#include "store_lease_check.h"

static void test_task_attempts(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    check_task_attempts(f->s);
}

/* df_store_crash_report (store_attempts_check.h, which test_store_pg.c runs on PostgreSQL). */
static void test_crash_report(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    check_crash_report(f->s);
}

/* Cancel requests (store_cancel_check.h, which test_store_pg.c runs on PostgreSQL). */
static void test_cancel_requests(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    check_cancel_requests(f->s);
}

/* Run leases (store_lease_check.h, which test_store_pg.c runs on PostgreSQL): three handles on
 * one file as three engines. */
static void test_run_leases(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    df_store *b = open_ok(f), *c = open_ok(f);
    check_run_leases(f->s, b, c);
    df_store_close(c);
    df_store_close(b);
}

static long long heartbeat_of(const char *path, long long run)
{
    sqlite3 *db = raw_open(path);
    long long h = q_int(db, "SELECT heartbeat_at FROM runs WHERE run_id = %lld", run);
    sqlite3_close(db);
    return h;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* SQLite's fence (store/sqlite/lease.c): a run renewed by a committed transaction less than a
 * second (and a third of the lease) ago is not renewed again (its runs row, which holds the
 * stored DAG, is not rewritten); a renewal rolled back does not count, even after another
 * transaction commits; after the lease ends and another engine adopts the run, the old owner's
 * write is refused. */
static void test_fence_renews_once_a_moment(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    df_engine_id e1 = {.pid = 101, .host = "h1", .started_at = 1000, .kind = "serve"};
    df_engine_id e2 = {.pid = 202, .host = "h2", .started_at = 2000, .kind = "serve"};
    assert_int_equal(df_store_set_lease(f->s, &e1, 30000), DF_STORE_OK);
    long long run = lease_new_run(f->s, &e1), other = lease_new_run(f->s, &e1);
    sleep_ms(20);
    int64_t t0 = lease_now();
    assert_int_equal(df_store_run_set_error(f->s, run, "a"), DF_STORE_OK); /* renews */
    long long h1 = heartbeat_of(f->path, run);
    assert_true(h1 >= t0);
    sleep_ms(20);
    assert_int_equal(df_store_run_set_error(f->s, run, "b"), DF_STORE_OK);
    if (lease_now() - t0 < 900) /* a loaded machine may have taken the moment */
        assert_int_equal(heartbeat_of(f->path, run), h1);

    /* past the moment: renewed, in a transaction rolled back; another one commits */
    sleep_ms(1100);
    assert_int_equal(df_store_begin(f->s), DF_STORE_OK);
    assert_int_equal(df_store_run_set_error(f->s, run, "c"), DF_STORE_OK);
    assert_int_equal(df_store_rollback(f->s), DF_STORE_OK);
    assert_int_equal(heartbeat_of(f->path, run), h1);
    assert_int_equal(df_store_run_set_error(f->s, other, "d"), DF_STORE_OK);
    int64_t t1 = lease_now();
    assert_int_equal(df_store_run_set_error(f->s, run, "e"), DF_STORE_OK);
    assert_true(heartbeat_of(f->path, run) >= t1); /* renewed: the rolled-back one did not count */

    /* a short lease: renewed, left to end, adopted: the old owner's next write is refused */
    assert_int_equal(df_store_set_lease(f->s, &e1, 300), DF_STORE_OK);
    assert_int_equal(df_store_run_set_error(f->s, run, "f"), DF_STORE_OK);
    sleep_ms(400);
    df_store *b = open_ok(f);
    assert_int_equal(df_store_set_lease(b, &e2, 30000), DF_STORE_OK);
    assert_int_equal(df_store_run_adopt(b, run, &e1, &e2, lease_now()), DF_STORE_OK);
    assert_int_equal(df_store_run_set_error(f->s, run, "late"), DF_STORE_CONFLICT);
    char *err = lease_run_error(b, run);
    assert_string_equal(err, "f");
    free(err);
    df_store_close(b);
}

/* The attempt rows are the attempt_history view's (same outcome, times, error and log). */
static void test_task_attempts_match_the_view(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    long long run = create(f->s, "v", 1, 0, 1000);
    attempt(f->s, run, "t0", 1, DF_AO_TIMED_OUT);
    json_t *o = NULL;
    assert_int_equal(df_store_task_attempts(f->s, run, "t0", &o), DF_STORE_OK);
    json_t *a = json_array_get(json_object_get(o, "attempts"), 0);
    sqlite3 *db = raw_open(f->path);
    char *outcome = q_text(db, "SELECT outcome FROM attempt_history WHERE run_id = %lld", run);
    char *started = q_text(db, "SELECT started_at FROM attempt_history WHERE run_id = %lld", run);
    long long dur = q_int(db, "SELECT duration_ms FROM attempt_history WHERE run_id = %lld", run);
    assert_string_equal(json_string_value(json_object_get(a, "outcome")), outcome);
    assert_string_equal(json_string_value(json_object_get(a, "started_at")), started);
    assert_int_equal(json_integer_value(json_object_get(a, "duration_ms")), dur);
    free(outcome);
    free(started);
    sqlite3_close(db);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_task_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_attempts_match_the_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fence_renews_once_a_moment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
