/* test_errlist: the error list and UTF-8-safe cutting of long messages (engine/errlist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/errlist.h"

static void test_errlist_collects(void **state)
{
    (void)state;
    df_errlist l = {0};
    for (int i = 0; i < 20; i++)
        df_errlist_add(&l, "error %d", i);
    assert_int_equal(l.n, 20);
    assert_string_equal(l.msgs[0], "error 0");
    assert_string_equal(l.msgs[19], "error 19");
    df_errlist_clear(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.msgs);
}

static void test_cut_short_text_is_returned_as_is(void **state)
{
    (void)state;
    char buf[16];
    const char *s = "fits";
    assert_ptr_equal(df_utf8_cut(s, buf, sizeof buf), s);
    const char *exact = "123456789012345"; /* 15 bytes + NUL = 16 */
    assert_ptr_equal(df_utf8_cut(exact, buf, sizeof buf), exact);
}

static void test_cut_long_text(void **state)
{
    (void)state;
    char buf[10];
    const char *out = df_utf8_cut("abcdefghijklmnop", buf, sizeof buf);
    assert_ptr_equal(out, buf);
    assert_string_equal(out, "abcdef...");
    assert_true(strlen(out) < sizeof buf);
}

static void test_cut_never_splits_a_character(void **state)
{
    (void)state;
    char buf[8];
    /* "aé" then "€€": cutting at 4 bytes would split the first euro sign (3 bytes). */
    const char *s = "a\xc3\xa9\xe2\x82\xac\xe2\x82\xac";
    const char *out = df_utf8_cut(s, buf, sizeof buf);
    assert_string_equal(out, "a\xc3\xa9...");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errlist_collects),
        cmocka_unit_test(test_cut_short_text_is_returned_as_is),
        cmocka_unit_test(test_cut_long_text),
        cmocka_unit_test(test_cut_never_splits_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
