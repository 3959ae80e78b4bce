/* test_plugin_paths: how df_plugin_get turns a plugin reference into a file (engine/plugin.c with
 * engine/path.c): a NAME.so in a search folder (also one written with a trailing '/'), a relative
 * path against the workflow's folder, and a path too long for the system, which is refused as
 * such rather than cut short. Uses the test plugins of <build>/tests/plugins (DF_TEST_PLUGIN_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/plugin.h"

static const char *plugin_dir(void)
{
    const char *d = getenv("DF_TEST_PLUGIN_DIR");
    if (!d)
        fail_msg("DF_TEST_PLUGIN_DIR is not set (run through ctest)");
    return d;
}

static void test_name_in_a_search_folder_with_a_trailing_slash(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/", plugin_dir());
    const char *dirs[] = {dir};
    df_plugin_registry *r = df_plugin_registry_new(dirs, 1);
    assert_non_null(r);
    const df_plugin *p = NULL;
    char err[512] = "";
    assert_int_equal(df_plugin_get(r, "sleepy", NULL, &p, err, sizeof err), 0);
    assert_non_null(p);
    assert_string_equal(p->name, "sleepy");
    df_plugin_registry_free(r);
}

static void test_relative_path_against_the_workflow_folder(void **state)
{
    (void)state;
    df_plugin_registry *r = df_plugin_registry_new(NULL, 0);
    assert_non_null(r);
    /* <build>/tests/plugins/sleepy.so as plugins/sleepy.so from <build>/tests/ */
    char base[4096];
    snprintf(base, sizeof base, "%s/../", plugin_dir());
    const df_plugin *p = NULL;
    char err[512] = "";
    assert_int_equal(df_plugin_get(r, "plugins/sleepy.so", base, &p, err, sizeof err), 0);
    assert_non_null(p);
    assert_string_equal(p->name, "sleepy");
    df_plugin_registry_free(r);
}

static void test_path_too_long_is_refused_as_such(void **state)
{
    (void)state;
    df_plugin_registry *r = df_plugin_registry_new(NULL, 0);
    assert_non_null(r);
    /* "d/d/.../x.so": short components, more than PATH_MAX bytes in all */
    size_t n = 6000;
    char *ref = malloc(n + 8);
    assert_non_null(ref);
    for (size_t i = 0; i < n; i += 2)
        memcpy(ref + i, "d/", 2);
    strcpy(ref + n, "x.so");
    const df_plugin *p = NULL;
    static char err[16384]; /* the message quotes the reference */
    assert_int_equal(df_plugin_get(r, ref, plugin_dir(), &p, err, sizeof err), -1);
    assert_null(p);
    assert_non_null(strstr(err, "File name too long"));
    assert_true(strncmp(err, "plugin \"d/d/", 12) == 0);
    free(ref);
    df_plugin_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_in_a_search_folder_with_a_trailing_slash),
        cmocka_unit_test(test_relative_path_against_the_workflow_folder),
        cmocka_unit_test(test_path_too_long_is_refused_as_such),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
