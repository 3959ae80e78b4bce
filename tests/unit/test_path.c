/* test_path: the one rule for paths relative to a folder (engine/path.c: df_path_join and
 * df_path_resolve), which the workflow, alerts, child processes, plugin lookup and the built-in
 * plugins share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/path.h"

/* df_path_join into a buffer of 256 bytes must give want; df_path_resolve the same. */
static void expect_join(const char *dir, const char *path, const char *want)
{
    char out[256];
    assert_int_equal(df_path_join(out, sizeof out, dir, path), 0);
    assert_string_equal(out, want);
    char *r = df_path_resolve(dir, path);
    assert_non_null(r);
    assert_string_equal(r, want);
    free(r);
}

static void test_absolute_path_is_kept(void **state)
{
    (void)state;
    expect_join("/base", "/abs/x.so", "/abs/x.so");
    expect_join("/base/", "/", "/");
    expect_join(NULL, "/abs", "/abs");
    expect_join("", "/abs", "/abs");
}

static void test_relative_path_is_joined_to_the_folder(void **state)
{
    (void)state;
    expect_join("/base", "x", "/base/x");
    expect_join("/base", "plugins/x.so", "/base/plugins/x.so");
    expect_join("rel/dir", "x", "rel/dir/x");
    /* nothing is normalised: "./", "../" and doubled slashes inside stay as written */
    expect_join("/base", "./run.sh", "/base/./run.sh");
    expect_join("/base", "../up", "/base/../up");
    expect_join("/base", "a//b", "/base/a//b");
}

static void test_trailing_slash_of_the_folder(void **state)
{
    (void)state;
    expect_join("/base/", "x", "/base/x");
    expect_join("/", "x", "/x");
    /* only the folder's last '/' counts; the path's own trailing '/' is kept */
    expect_join("/base//", "x", "/base//x");
    expect_join("/base", "sub/", "/base/sub/");
}

static void test_no_folder_keeps_the_path(void **state)
{
    (void)state;
    expect_join(NULL, "x/y", "x/y");
    expect_join("", "x/y", "x/y");
    expect_join("/base", "", "/base/");
}

static void test_too_long_is_an_error(void **state)
{
    (void)state;
    char out[8];
    /* "/ab/cde": 7 bytes and the NUL fit exactly in 8 */
    assert_int_equal(df_path_join(out, sizeof out, "/ab", "cde"), 0);
    assert_string_equal(out, "/ab/cde");
    memset(out, 'z', sizeof out);
    assert_int_equal(df_path_join(out, sizeof out, "/ab", "cdef"), -ENAMETOOLONG);
    assert_string_equal(out, ""); /* never a truncated path */
    memset(out, 'z', sizeof out);
    assert_int_equal(df_path_join(out, sizeof out, "/ab/", "cde"), 0); /* no second '/' */
    assert_string_equal(out, "/ab/cde");
    assert_int_equal(df_path_join(out, sizeof out, NULL, "/absolute"), -ENAMETOOLONG);
    assert_string_equal(out, "");
    /* cap 0: nothing is written */
    out[0] = 'z';
    assert_int_equal(df_path_join(out, 0, "/a", "b"), -ENAMETOOLONG);
    assert_int_equal(out[0], 'z');
}

static void test_long_paths_resolve_in_full(void **state)
{
    (void)state;
    size_t n = 10000;
    char *dir = malloc(n + 1), *path = malloc(n + 1);
    assert_non_null(dir);
    assert_non_null(path);
    memset(dir, 'd', n);
    dir[0] = '/';
    dir[n] = '\0';
    memset(path, 'p', n);
    path[n] = '\0';
    char *r = df_path_resolve(dir, path);
    assert_non_null(r);
    assert_int_equal(strlen(r), 2 * n + 1);
    assert_int_equal(r[n], '/');
    assert_memory_equal(r, dir, n);
    assert_string_equal(r + n + 1, path);
    free(r);
    free(dir);
    free(path);
}

static void test_null_arguments(void **state)
{
    (void)state;
    char out[16];
    assert_null(df_path_resolve("/base", NULL));
    assert_int_equal(df_path_join(out, sizeof out, "/base", NULL), -EINVAL);
    assert_int_equal(df_path_join(NULL, 16, "/base", "x"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_path_is_kept),
        cmocka_unit_test(test_relative_path_is_joined_to_the_folder),
        cmocka_unit_test(test_trailing_slash_of_the_folder),
        cmocka_unit_test(test_no_folder_keeps_the_path),
        cmocka_unit_test(test_too_long_is_an_error),
        cmocka_unit_test(test_long_paths_resolve_in_full),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
