/* test_plugin_abi: the plugin loader's ABI rule (SPEC §2, §10) and the init/fini hooks, through
 * the real registry (engine/plugin.c) and the test plugins of $DF_TEST_PLUGIN_DIR:
 * - plugins declaring ABI 1 and 2 load; 0, -1, 3 and 999 are refused with a message naming the
 *   file and both ABIs (tests/plugins/lifecycle.c declares what $DFTEST_LIFECYCLE_ABI says);
 * - a plugin built against the frozen ABI-1 header (tests/plugins/abi1/) loads, and the engine
 *   reads no ABI-2 field of an ABI-1 plugin (lifecycle declared 1 has init and fini set: neither
 *   is called);
 * - init runs once when the first registry of the process loads the plugin, fini once when the
 *   last one holding it is freed; a failing init refuses the plugin with its message; a registry
 *   told that workers were left behind calls no fini. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/plugin.h"

static char dir[PATH_MAX]; /* the test plugins' folder (real path) */
static void *lifecycle_so; /* our own handle on lifecycle.so, for its counters */
static int *inits, *finis; /* lifecycle's init and fini calls so far */

static int setup(void **state)
{
    (void)state;
    char raw[PATH_MAX];
    const char *d = getenv("DF_TEST_PLUGIN_DIR");
    if (d && *d) {
        snprintf(raw, sizeof raw, "%s", d);
    } else { /* <folder of this executable>/plugins (the build tree's tests/) */
        ssize_t n = readlink("/proc/self/exe", raw, sizeof raw - 16);
        raw[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(raw, '/');
        snprintf(slash ? slash : raw, 16, "/plugins");
    }
    if (!realpath(raw, dir))
        return -1;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/lifecycle.so", dir);
    lifecycle_so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lifecycle_so)
        return -1;
    inits = dlsym(lifecycle_so, "dftest_lifecycle_inits");
    finis = dlsym(lifecycle_so, "dftest_lifecycle_finis");
    unsetenv("DAGFLOW_PLUGIN_PATH");
    return inits && finis ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("DFTEST_LIFECYCLE_ABI");
    unsetenv("DFTEST_LIFECYCLE_INIT_FAIL");
    if (lifecycle_so)
        dlclose(lifecycle_so);
    return 0;
}

static df_plugin_registry *registry(void)
{
    const char *dirs[] = {dir};
    df_plugin_registry *r = df_plugin_registry_new(dirs, 1);
    assert_non_null(r);
    return r;
}

/* Loads lifecycle declaring ABI abi into r: returns the plugin, or NULL with the message in err. */
static const df_plugin *load_lifecycle(df_plugin_registry *r, int abi, char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", abi);
    setenv("DFTEST_LIFECYCLE_ABI", v, 1);
    const df_plugin *p = NULL;
    err[0] = '\0';
    int rc = df_plugin_get(r, "lifecycle", NULL, &p, err, errlen);
    assert_int_equal(rc == 0, p != NULL);
    return p;
}

static void test_abi_1_and_2_load(void **state)
{
    (void)state;
    char err[1024];
    for (int abi = 1; abi <= DF_TASKUNIT_ABI; abi++) {
        int i0 = *inits, f0 = *finis;
        df_plugin_registry *r = registry();
        const df_plugin *p = load_lifecycle(r, abi, err, sizeof err);
        if (!p)
            fail_msg("ABI %d refused: %s", abi, err);
        assert_int_equal(p->unit->abi, abi);
        assert_string_equal(p->unit->name, "lifecycle");
        assert_non_null(p->unit->execute);
        if (abi == 1) { /* the ABI-2 fields of an ABI-1 plugin are not read */
            assert_null(p->unit->init);
            assert_null(p->unit->fini);
            assert_int_equal(*inits, i0);
        } else {
            assert_non_null(p->unit->init);
            assert_int_equal(*inits, i0 + 1);
        }
        df_plugin_registry_free(r);
        assert_int_equal(*finis, f0 + (abi == 1 ? 0 : 1));
    }
}

static void test_other_abis_refused(void **state)
{
    (void)state;
    const int bad[] = {0, -1, DF_TASKUNIT_ABI + 1, 999};
    char err[1024], want[PATH_MAX + 256];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int i0 = *inits;
        df_plugin_registry *r = registry();
        assert_null(load_lifecycle(r, bad[i], err, sizeof err));
        snprintf(want, sizeof want,
                 "plugin \"lifecycle\": %s/lifecycle.so was built for plugin ABI %d, this dagflow "
                 "supports plugin ABI 1 to %d",
                 dir, bad[i], DF_TASKUNIT_ABI);
        assert_string_equal(err, want);
        assert_int_equal(*inits, i0);
        df_plugin_registry_free(r);
    }
}

static void test_plugin_built_against_abi1_header(void **state)
{
    (void)state;
    df_plugin_registry *r = registry();
    const df_plugin *p = NULL;
    char err[1024] = "";
    if (df_plugin_get(r, "abi1_spawn", NULL, &p, err, sizeof err) != 0)
        fail_msg("abi1_spawn refused: %s", err);
    assert_int_equal(p->unit->abi, 1);
    assert_string_equal(p->unit->name, "abi1_spawn");
    assert_string_equal(p->unit->version, "1.0.0");
    assert_null(p->unit->validate);
    assert_non_null(p->unit->execute);
    assert_null(p->unit->init);
    assert_null(p->unit->fini);
    df_plugin_registry_free(r);
}

static void test_init_once_fini_after_last_registry(void **state)
{
    (void)state;
    char err[1024];
    int i0 = *inits, f0 = *finis;
    df_plugin_registry *a = registry(), *b = registry();
    assert_non_null(load_lifecycle(a, DF_TASKUNIT_ABI, err, sizeof err));
    assert_non_null(load_lifecycle(a, DF_TASKUNIT_ABI, err, sizeof err)); /* cached */
    assert_non_null(load_lifecycle(b, DF_TASKUNIT_ABI, err, sizeof err));
    assert_int_equal(*inits, i0 + 1);
    df_plugin_registry_free(a);
    assert_int_equal(*finis, f0); /* b still holds it */
    df_plugin_registry_free(b);
    assert_int_equal(*finis, f0 + 1);
    /* a later registry gets a new init (after that fini), never a second init before it */
    df_plugin_registry *c = registry();
    assert_non_null(load_lifecycle(c, DF_TASKUNIT_ABI, err, sizeof err));
    assert_int_equal(*inits, i0 + 2);
    df_plugin_registry_free(c);
    assert_int_equal(*finis, f0 + 2);
}

static void test_failing_init_refuses_with_its_message(void **state)
{
    (void)state;
    char err[1024], want[PATH_MAX + 256];
    int i0 = *inits, f0 = *finis;
    setenv("DFTEST_LIFECYCLE_INIT_FAIL", "no licence server at 10.0.0.1", 1);
    df_plugin_registry *r = registry();
    assert_null(load_lifecycle(r, DF_TASKUNIT_ABI, err, sizeof err));
    snprintf(want, sizeof want,
             "plugin \"lifecycle\": %s/lifecycle.so: init failed: no licence server at 10.0.0.1",
             dir);
    assert_string_equal(err, want);
    assert_int_equal(*inits, i0 + 1);
    df_plugin_registry_free(r);
    assert_int_equal(*finis, f0); /* no fini after a failed init */
    unsetenv("DFTEST_LIFECYCLE_INIT_FAIL");
    r = registry();
    assert_non_null(load_lifecycle(r, DF_TASKUNIT_ABI, err, sizeof err));
    assert_int_equal(*inits, i0 + 2);
    df_plugin_registry_free(r);
    assert_int_equal(*finis, f0 + 1);
}

/* Last: it leaves lifecycle initialised for the rest of the process. */
static void test_no_fini_when_workers_were_left_behind(void **state)
{
    (void)state;
    char err[1024];
    int i0 = *inits, f0 = *finis;
    df_plugin_registry *r = registry();
    assert_non_null(load_lifecycle(r, DF_TASKUNIT_ABI, err, sizeof err));
    df_plugin_registry_left_behind(r, 0); /* none: no change */
    df_plugin_registry_left_behind(r, 1);
    df_plugin_registry_free(r);
    assert_int_equal(*inits, i0 + 1);
    assert_int_equal(*finis, f0);
    /* still initialised: a new registry does not run init again, nor fini at its end */
    r = registry();
    assert_non_null(load_lifecycle(r, DF_TASKUNIT_ABI, err, sizeof err));
    df_plugin_registry_free(r);
    assert_int_equal(*inits, i0 + 1);
    assert_int_equal(*finis, f0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_1_and_2_load),
        cmocka_unit_test(test_other_abis_refused),
        cmocka_unit_test(test_plugin_built_against_abi1_header),
        cmocka_unit_test(test_init_once_fini_after_last_registry),
        cmocka_unit_test(test_failing_init_refuses_with_its_message),
        cmocka_unit_test(test_no_fini_when_workers_were_left_behind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
