/* test_pool_nomem: a job the pool accepted always gets its completion callback, even when memory
 * runs out while it runs: the result is allocated at submission, so completing needs none. The
 * test makes calloc fail for result-sized blocks while the job runs (this program replaces
 * calloc; not under the sanitizers, which replace it themselves). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "pool_fixture.h"

#ifndef DF_SANITIZE
extern void *__libc_calloc(size_t n, size_t size);
static atomic_int fail_result_sized;
static atomic_int failed_callocs;

/* Every calloc of the process comes here: result-sized ones fail while the flag is up. */
void *calloc(size_t n, size_t size)
{
    if (atomic_load(&fail_result_sized) && n == 1 && size == sizeof(df_job_result)) {
        atomic_fetch_add(&failed_callocs, 1);
        return NULL;
    }
    return __libc_calloc(n, size);
}
#endif

#ifndef DF_SANITIZE
static atomic_int running;

static int nap_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    atomic_store(&running, 1);
    df_task_sleep(ctx, 200);
    *result = json_string("woke");
    return DF_TASK_OK;
}
static const df_taskunit nap_unit = {.abi = DF_TASKUNIT_ABI,
                                     .name = "nap",
                                     .version = "1",
                                     .description = "t",
                                     .execute = nap_execute};
#endif

static void test_completion_needs_no_memory(void **state)
{
    (void)state;
#ifdef DF_SANITIZE
    skip();
#else
    collector_reset();
    df_pool *p = new_pool(1, 1, 0);
    assert_int_equal(df_pool_submit(p, make_job(&nap_unit, NULL, "nap", TAG(1)), NULL), 0);
    uint64_t end = df_mono_ms() + 5000;
    while (!atomic_load(&running) && df_mono_ms() < end)
        usleep(1000);
    atomic_store(&fail_result_sized, 1); /* memory runs out while it sleeps */
    size_t got = wait_results(1, 3000);
    atomic_store(&fail_result_sized, 0);
    assert_int_equal(got, 1);
    df_job_result *r = find_result(TAG(1));
    assert_non_null(r);
    assert_int_equal(r->status, DF_TASK_OK);
    assert_string_equal(json_string_value(r->result), "woke");
    df_pool_destroy(p, 1000);
    collector_reset();
#endif
}

/* Out of memory at submission: refused there, where the caller can still act on it. */
static void test_submit_without_memory_is_refused(void **state)
{
    (void)state;
#ifdef DF_SANITIZE
    skip();
#else
    df_pool *p = new_pool(1, 1, 0);
    df_job *j = make_job(&nap_unit, NULL, "nap", TAG(2));
    atomic_store(&failed_callocs, 0);
    atomic_store(&fail_result_sized, 1);
    int rc = df_pool_submit(p, j, NULL);
    atomic_store(&fail_result_sized, 0);
    assert_int_equal(rc, DF_ENOMEM);
    assert_true(atomic_load(&failed_callocs) >= 1);
    free_job(j); /* not taken */
    assert_int_equal(df_pool_in_flight(p), 0);
    df_pool_destroy(p, 1000);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_needs_no_memory),
        cmocka_unit_test(test_submit_without_memory_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
