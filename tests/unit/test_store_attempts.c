/* test_store_attempts: df_store_task_attempts on SQLite (the scenario of store_attempts_check.h,
 * which test_store_pg.c runs on PostgreSQL), and its rows against the attempt_history view; the
 * cancel requests (store_cancel_check.h, likewise); run leases (store_lease_check.h, likewise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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
        cmocka_unit_test_setup_teardown(test_task_attempts_match_the_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_leases, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
