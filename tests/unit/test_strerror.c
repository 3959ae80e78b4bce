/* test_strerror: the one error convention of the embedding API (dagflow.h): every DF_E* code is
 * negative, outside the negated errno range, and has its own non-empty text from df_strerror;
 * any other value gets one generic text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include <dagflow/dagflow.h>

static const int codes[] = {DF_EINPUT,       DF_EREFUSED, DF_ESTORE,   DF_ECONFLICT,
                            DF_ENOTFOUND,    DF_EBUSY,    DF_ENOMEM,   DF_EINTERNAL,
                            DF_EINTERRUPTED, DF_EFULL,    DF_ESHUTDOWN};
#define N_CODES (sizeof codes / sizeof codes[0])

static void test_every_code_has_its_own_text(void **state)
{
    (void)state;
    const char *unknown = df_strerror(-1);
    for (size_t i = 0; i < N_CODES; i++) {
        assert_true(
            codes[i] < -1000 &&
            codes[i] >
                -4095); /* beyond every errno (Linux: below 134), under libuv UV_EOF (-4095) */
        const char *t = df_strerror(codes[i]);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
        assert_string_not_equal(t, unknown);
        assert_string_not_equal(t, df_strerror(0));
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(t, df_strerror(codes[j]));
        }
    }
}

static void test_unknown_codes_get_one_generic_text(void **state)
{
    (void)state;
    const char *generic = df_strerror(-1);
    assert_non_null(generic);
    assert_true(strlen(generic) > 0);
    static const int others[] = {1, -2, -4095, -2000, -2012, 12345, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_string_equal(df_strerror(others[i]), generic);
    assert_string_equal(df_strerror(0), "success");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_its_own_text),
        cmocka_unit_test(test_unknown_codes_get_one_generic_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
