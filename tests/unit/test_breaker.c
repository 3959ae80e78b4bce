/* test_breaker: the circuit breaker state machine (engine/breaker.c, SPEC §3a). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/breaker.h"

static df_breaker *make(double rate, int64_t window, int64_t min_calls, int64_t open_ms)
{
    df_breaker_def def = {.name = "api",
                          .failure_rate = rate,
                          .window = window,
                          .min_calls = min_calls,
                          .open_ms = open_ms};
    df_breaker *b = df_breaker_new(&def);
    assert_non_null(b);
    return b;
}

static void record(df_breaker *b, bool failed, uint64_t now, bool expect_change)
{
    df_breaker_change ch;
    assert_int_equal(df_breaker_record(b, failed, false, now, &ch), expect_change);
}

/* Below min_calls it never opens, whatever the failure rate. */
static void test_min_calls(void **state)
{
    (void)state;
    df_breaker *b = make(0.5, 10, 5, 1000);
    for (int i = 0; i < 4; i++)
        record(b, true, 0, false);
    assert_int_equal(b->state, DF_BREAKER_CLOSED);
    df_breaker_change ch;
    assert_true(df_breaker_record(b, true, false, 0, &ch));
    assert_int_equal(ch.from, DF_BREAKER_CLOSED);
    assert_int_equal(ch.to, DF_BREAKER_OPEN);
    assert_int_equal(ch.calls, 5);
    assert_true(ch.failure_rate > 0.99);
    df_breaker_free(b);
}

/* Opens exactly when the share of failures reaches failure_rate. */
static void test_rate_threshold(void **state)
{
    (void)state;
    df_breaker *b = make(0.5, 4, 4, 1000);
    record(b, false, 0, false);
    record(b, false, 0, false);
    record(b, true, 0, false);
    df_breaker_change ch;
    assert_true(df_breaker_record(b, true, false, 0, &ch)); /* 2 of 4 = 0.5 */
    assert_int_equal(b->state, DF_BREAKER_OPEN);
    assert_true(ch.failure_rate > 0.49 && ch.failure_rate < 0.51);
    df_breaker_free(b);
}

/* The window slides: old failures drop out. */
static void test_window_slides(void **state)
{
    (void)state;
    df_breaker *b = make(0.75, 4, 4, 1000);
    record(b, true, 0, false);
    record(b, true, 0, false);
    record(b, false, 0, false);
    record(b, false, 0, false); /* 2/4 */
    record(b, true, 0, false);  /* drops a failure: still 2/4 */
    assert_int_equal(b->failures, 2);
    assert_int_equal(b->count, 4);
    record(b, true, 0, false); /* drops a failure, adds one: 2/4 */
    record(b, true, 0, true);  /* drops a success: 3/4 -> open */
    assert_int_equal(b->state, DF_BREAKER_OPEN);
    df_breaker_free(b);
}

/* OPEN holds attempts for open_ms; then one probe; success closes and forgets outcomes. */
static void test_half_open_success_closes(void **state)
{
    (void)state;
    df_breaker *b = make(0.5, 2, 2, 1000);
    record(b, true, 100, false);
    record(b, true, 100, true);
    bool probe;
    df_breaker_change ch;
    assert_false(df_breaker_allow(b, 500, &probe, &ch));
    assert_int_equal(ch.from, ch.to);
    assert_false(df_breaker_allow(b, 1099, &probe, &ch));
    assert_true(df_breaker_allow(b, 1100, &probe, &ch));
    assert_true(probe);
    assert_int_equal(ch.from, DF_BREAKER_OPEN);
    assert_int_equal(ch.to, DF_BREAKER_HALF_OPEN);
    /* Only one probe at a time. */
    assert_false(df_breaker_allow(b, 1101, &probe, &ch));
    /* An attempt that started before the breaker opened is ignored. */
    assert_false(df_breaker_record(b, true, false, 1102, &ch));
    assert_int_equal(b->state, DF_BREAKER_HALF_OPEN);
    assert_true(df_breaker_record(b, false, true, 1103, &ch));
    assert_int_equal(ch.to, DF_BREAKER_CLOSED);
    assert_int_equal(b->count, 0);
    assert_int_equal(b->failures, 0);
    assert_true(df_breaker_allow(b, 1104, &probe, &ch));
    assert_false(probe);
    df_breaker_free(b);
}

/* A failed probe opens it again for another open_ms. */
static void test_half_open_failure_reopens(void **state)
{
    (void)state;
    df_breaker *b = make(0.5, 2, 2, 1000);
    record(b, true, 0, false);
    record(b, true, 0, true);
    bool probe;
    df_breaker_change ch;
    assert_true(df_breaker_allow(b, 1000, &probe, &ch));
    assert_true(probe);
    assert_true(df_breaker_record(b, true, true, 1200, &ch));
    assert_int_equal(ch.from, DF_BREAKER_HALF_OPEN);
    assert_int_equal(ch.to, DF_BREAKER_OPEN);
    assert_false(df_breaker_allow(b, 2199, &probe, &ch));
    assert_true(df_breaker_allow(b, 2200, &probe, &ch));
    df_breaker_free(b);
}

/* A probe that was cancelled lets the next attempt probe instead. */
static void test_probe_aborted(void **state)
{
    (void)state;
    df_breaker *b = make(0.5, 2, 2, 0);
    record(b, true, 0, false);
    record(b, true, 0, true);
    bool probe;
    df_breaker_change ch;
    assert_true(df_breaker_allow(b, 0, &probe, &ch));
    assert_false(df_breaker_allow(b, 0, &probe, &ch));
    df_breaker_probe_aborted(b);
    assert_true(df_breaker_allow(b, 0, &probe, &ch));
    assert_true(probe);
    df_breaker_free(b);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(df_breaker_state_name(DF_BREAKER_CLOSED), "CLOSED");
    assert_string_equal(df_breaker_state_name(DF_BREAKER_OPEN), "OPEN");
    assert_string_equal(df_breaker_state_name(DF_BREAKER_HALF_OPEN), "HALF_OPEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_calls),
        cmocka_unit_test(test_rate_threshold),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_half_open_success_closes),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_probe_aborted),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
