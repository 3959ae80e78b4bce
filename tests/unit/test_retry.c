/* test_retry: unit tests of engine/retry.c — df_retry_delay_ms: the backoff formula of SPEC §1,
 * the cap, jitter bounds and uniformity, and saturation for huge attempt numbers and backoffs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/retry.h"

static df_task_def task(int64_t delay, double backoff, int64_t max, bool jitter)
{
    df_task_def t;
    memset(&t, 0, sizeof t);
    t.retry_delay_ms = delay;
    t.retry_backoff = backoff;
    t.retry_max_delay_ms = max;
    t.retry_jitter = jitter;
    return t;
}

static void test_spec_defaults(void **state)
{
    (void)state;
    /* SPEC defaults: 1000 ms, x2.0, capped at 300000 ms */
    df_task_def t = task(1000, 2.0, 300000, false);
    const uint64_t want[] = {1000,  2000,   4000,   8000,   16000, 32000,
                             64000, 128000, 256000, 300000, 300000};
    for (unsigned k = 1; k <= sizeof want / sizeof want[0]; k++)
        assert_int_equal(df_retry_delay_ms(&t, k, 0.5), want[k - 1]);
}

static void test_constant_and_fractional_backoff(void **state)
{
    (void)state;
    df_task_def t = task(500, 1.0, 300000, false);
    for (unsigned k = 1; k < 50; k++)
        assert_int_equal(df_retry_delay_ms(&t, k, 0.0), 500);
    t = task(1000, 1.5, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 1000);
    assert_int_equal(df_retry_delay_ms(&t, 2, 0.0), 1500);
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.0), 2250);
    assert_int_equal(df_retry_delay_ms(&t, 4, 0.0), 3375);
}

static void test_zero_and_cap(void **state)
{
    (void)state;
    df_task_def t = task(0, 2.0, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 0);
    assert_int_equal(df_retry_delay_ms(&t, 4000000000u, 0.0), 0); /* 0 * inf is not NaN here */
    t = task(1000, 2.0, 0, false);
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.0), 0); /* a cap of 0 wins */
    t = task(5000, 2.0, 1000, false);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 1000); /* even the first delay is capped */
}

static void test_k_zero_is_first_retry(void **state)
{
    (void)state;
    df_task_def t = task(700, 3.0, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 0, 0.0), 700);
}

static void test_saturation(void **state)
{
    (void)state;
    /* Huge k and backoff: the power overflows to +inf in double; the result is the cap. */
    df_task_def t = task(1000, 2.0, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 1100, 0.0), 300000);
    assert_int_equal(df_retry_delay_ms(&t, UINT32_MAX, 0.0), 300000);
    t = task(1000, 1e308, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.0), 300000);
    t = task(INT64_MAX, 1e308, INT64_MAX, false);
    assert_int_equal(df_retry_delay_ms(&t, UINT32_MAX, 0.0), (uint64_t)INT64_MAX);
    t = task(INT64_MAX, HUGE_VAL, INT64_MAX, true);
    uint64_t d = df_retry_delay_ms(&t, 5, 0.999999);
    assert_true(d >= (uint64_t)INT64_MAX / 2 && d <= (uint64_t)INT64_MAX);
}

static void test_out_of_contract_fields(void **state)
{
    (void)state;
    /* Fields the loader would refuse are clamped instead of trusted. */
    df_task_def t = task(-5, 2.0, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 2, 0.0), 0);
    t = task(1000, 0.5, 300000, false); /* backoff < 1 counts as 1 */
    assert_int_equal(df_retry_delay_ms(&t, 5, 0.0), 1000);
    t = task(1000, NAN, 300000, false);
    assert_int_equal(df_retry_delay_ms(&t, 5, 0.0), 1000);
    t = task(1000, 2.0, -1, false);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 0);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    df_task_def t = task(1000, 2.0, 300000, true);
    /* d = 4000 for k = 3: jitter gives [2000, 4000] */
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.0), 2000);
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.5), 3000);
    assert_int_equal(df_retry_delay_ms(&t, 3, 0.99999999), 4000);
    /* rnd outside [0, 1) is clamped */
    assert_int_equal(df_retry_delay_ms(&t, 3, -3.0), 2000);
    assert_int_equal(df_retry_delay_ms(&t, 3, 1.0), 4000);
    assert_int_equal(df_retry_delay_ms(&t, 3, 7.0), 4000);
    assert_int_equal(df_retry_delay_ms(&t, 3, NAN), 2000);
    /* odd d: [ceil(d/2), d] */
    t = task(3, 1.0, 300000, true);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 2);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.9999), 3);
    t = task(1, 1.0, 300000, true);
    assert_int_equal(df_retry_delay_ms(&t, 1, 0.0), 1);
    /* jitter applies after the cap */
    t = task(1000, 2.0, 5000, true);
    for (double r = 0.0; r < 1.0; r += 0.01) {
        uint64_t d = df_retry_delay_ms(&t, 30, r);
        assert_true(d >= 2500 && d <= 5000);
    }
}

static void test_jitter_uniform(void **state)
{
    (void)state;
    /* d = 10: the six integers 5..10 each get an equal share of evenly spread rnd values. */
    df_task_def t = task(10, 1.0, 300000, true);
    unsigned hist[11] = {0};
    enum { STEPS = 6000 };
    for (unsigned i = 0; i < STEPS; i++) {
        uint64_t d = df_retry_delay_ms(&t, 1, (double)i / STEPS);
        assert_true(d >= 5 && d <= 10);
        hist[d]++;
    }
    for (int v = 5; v <= 10; v++)
        assert_int_equal(hist[v], STEPS / 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_constant_and_fractional_backoff),
        cmocka_unit_test(test_zero_and_cap),
        cmocka_unit_test(test_k_zero_is_first_retry),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_out_of_contract_fields),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_jitter_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
