/* test_latency: unit tests of engine/latency.c — the log-linear histogram of the ready->running
 * wait: exact buckets below 16 us, quantiles within one bucket (about 12%) of the true value and
 * never above the maximum, the empty histogram, and its JSON (microseconds, non-empty buckets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/latency.h"

static void test_empty(void **state)
{
    (void)state;
    df_latency h;
    memset(&h, 0, sizeof h);
    assert_int_equal(df_latency_quantile(&h, 0.5), 0);
    assert_null(df_latency_json(&h));
}

static void test_small_values_exact(void **state)
{
    (void)state;
    df_latency h;
    memset(&h, 0, sizeof h);
    for (uint64_t v = 1; v <= 10; v++)
        df_latency_add(&h, v);
    assert_int_equal(df_latency_quantile(&h, 0.5), 5);
    assert_int_equal(df_latency_quantile(&h, 0.99), 10);
    assert_int_equal(df_latency_quantile(&h, 1.0), 10);
    assert_int_equal(h.max_us, 10);
}

/* 1..100000 us, one each: every quantile within 12.5% above the true one, never below. */
static void test_quantiles_within_a_bucket(void **state)
{
    (void)state;
    static df_latency h;
    memset(&h, 0, sizeof h);
    for (uint64_t v = 1; v <= 100000; v++)
        df_latency_add(&h, v);
    const double qs[] = {0.01, 0.25, 0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double truth = qs[i] * 100000;
        uint64_t got = df_latency_quantile(&h, qs[i]);
        assert_true((double)got >= truth - 1);
        assert_true((double)got <= truth * 1.125 + 1);
    }
    assert_int_equal(df_latency_quantile(&h, 1.0), 100000);
}

/* One slow outlier among fast ones: p50 and p99 stay fast, max is exact; a huge value lands in
 * the last bucket without overflowing. */
static void test_outlier_and_huge(void **state)
{
    (void)state;
    df_latency h;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 999; i++)
        df_latency_add(&h, 40);
    df_latency_add(&h, 250000);
    assert_true(df_latency_quantile(&h, 0.99) <= 45);
    assert_int_equal(df_latency_quantile(&h, 1.0), 250000);
    df_latency_add(&h, UINT64_MAX / 2);
    assert_int_equal(h.max_us, UINT64_MAX / 2);
    assert_int_equal(df_latency_quantile(&h, 1.0), UINT64_MAX / 2);
}

static void test_json(void **state)
{
    (void)state;
    df_latency h;
    memset(&h, 0, sizeof h);
    df_latency_add(&h, 3);
    df_latency_add(&h, 3);
    df_latency_add(&h, 1000);
    json_t *j = df_latency_json(&h);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "p50_us")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "max_us")), 1000);
    assert_int_equal(json_integer_value(json_object_get(j, "mean_us")), 335);
    json_t *b = json_object_get(j, "buckets");
    assert_int_equal(json_array_size(b), 2);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 0), 0)), 3);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 0), 1)), 2);
    assert_true(json_integer_value(json_array_get(json_array_get(b, 1), 0)) >= 1000);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_quantiles_within_a_bucket),
        cmocka_unit_test(test_outlier_and_huge),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
