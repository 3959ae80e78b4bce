/* test_suggest: the one edit distance of dagflow (engine/suggest.c: df_edit_distance_opt, used by
 * the workflow loader's "did you mean", the CLI's nearest command and the built-in plugins'
 * unknown keys) and the choice of a suggestion (df_suggest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/suggest.h"

static void test_levenshtein(void **state)
{
    (void)state;
    assert_int_equal(df_edit_distance_opt("", "", 0), 0);
    assert_int_equal(df_edit_distance_opt("", "abc", 0), 3);
    assert_int_equal(df_edit_distance_opt("abc", "", 0), 3);
    assert_int_equal(df_edit_distance_opt("status", "status", 0), 0);
    assert_int_equal(df_edit_distance_opt("kitten", "sitting", 0), 3);
    assert_int_equal(df_edit_distance_opt("flaw", "lawn", 0), 2);
    assert_int_equal(df_edit_distance_opt("depend_on", "depends_on", 0), 1);
    /* symmetric */
    assert_int_equal(df_edit_distance_opt("sitting", "kitten", 0), 3);
}

static void test_transpositions(void **state)
{
    (void)state;
    /* Levenshtein counts a swap of neighbours as two edits, optimal string alignment as one */
    assert_int_equal(df_edit_distance_opt("ab", "ba", 0), 2);
    assert_int_equal(df_edit_distance_opt("ab", "ba", DF_EDIT_TRANSPOSE), 1);
    assert_int_equal(df_edit_distance_opt("stauts", "status", 0), 2);
    assert_int_equal(df_edit_distance_opt("stauts", "status", DF_EDIT_TRANSPOSE), 1);
    assert_int_equal(df_edit_distance_opt("retires", "retries", DF_EDIT_TRANSPOSE), 1);
    /* optimal string alignment edits no substring twice: "ca" -> "abc" is 3, not 2 */
    assert_int_equal(df_edit_distance_opt("ca", "abc", DF_EDIT_TRANSPOSE), 3);
}

static void test_case(void **state)
{
    (void)state;
    assert_int_equal(df_edit_distance_opt("URL", "url", 0), 3);
    assert_int_equal(df_edit_distance_opt("URL", "url", DF_EDIT_FOLD_CASE), 0);
    assert_int_equal(df_edit_distance_opt("Heders", "headers", DF_EDIT_FOLD_CASE), 1);
    /* df_edit_distance is the suggestions' distance: case folded, transpositions 1 */
    assert_int_equal(df_edit_distance("AB", "ba"), 1);
}

static void test_length_limit(void **state)
{
    (void)state;
    char a[DF_SUGGEST_MAX_LEN + 2], b[DF_SUGGEST_MAX_LEN + 2];
    memset(a, 'a', sizeof a);
    memset(b, 'a', sizeof b);
    a[DF_SUGGEST_MAX_LEN] = '\0';
    b[DF_SUGGEST_MAX_LEN] = '\0';
    b[0] = 'b';
    assert_int_equal(df_edit_distance(a, b), 1);
    assert_int_equal(df_edit_distance_opt(a, "", 0), DF_SUGGEST_MAX_LEN);
    a[DF_SUGGEST_MAX_LEN] = 'a';
    a[DF_SUGGEST_MAX_LEN + 1] = '\0';
    assert_true(df_edit_distance(a, b) == SIZE_MAX);
    assert_true(df_edit_distance_opt("x", a, 0) == SIZE_MAX);
}

static void test_suggestion(void **state)
{
    (void)state;
    static const char *const keys[] = {"params", "pools", "retries", "retry_delay_ms"};
    assert_string_equal(df_suggest("param", keys, 4), "params");
    assert_string_equal(df_suggest("retires", keys, 4), "retries");
    assert_string_equal(df_suggest("POOLS2", keys, 4), "pools");
    /* too far for its length: 1 edit up to 5 characters, a third of the length up to 3 */
    assert_null(df_suggest("xyz", keys, 4));
    assert_null(df_suggest("prams_x", keys, 4));
    /* the word itself is no suggestion, nor is anything for "" */
    static const char *const one[] = {"params"};
    assert_null(df_suggest("params", one, 1));
    assert_null(df_suggest("", keys, 4));
    /* ties go to the first candidate */
    static const char *const tie[] = {"ab", "ba", "cb"};
    assert_string_equal(df_suggest("bb", tie, 3), "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levenshtein), cmocka_unit_test(test_transpositions),
        cmocka_unit_test(test_case),        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_suggestion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
