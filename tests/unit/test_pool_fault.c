/* test_pool_fault: unit tests of engine/pool/fault.c — what df_pool_fault_info reports from
 * inside a task's coroutine (task id, run, attempt, plugin, stack size; an address or stack
 * pointer just below the stack is an overflow, one inside it is not), from a
 * df_task_run_blocking thread (the task, no coroutine stack), and from a thread running no task
 * (nothing); and that every worker thread has an alternate signal stack for the handler. The
 * checks run inside the task and report through its result (cmocka asserts must stay on the test
 * thread). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pool_fixture.h"

/* Reports what df_pool_fault_info says for three addresses on the coroutine's own stack. */
static int probe_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    size_t stack_size = (size_t)json_integer_value(json_object_get(params, "stack_size"));
    volatile char here = 0;
    const char *local = (const char *)&here;
    df_fault_info in = {0}, below = {0}, sp_below = {0};
    int got_in = df_pool_fault_info(local, local, &in);
    /* a fault a little under the stack's lowest byte: local - stack_size is below it */
    int got_below = df_pool_fault_info(local - stack_size - 100, local, &below);
    int got_sp = df_pool_fault_info(NULL, local - stack_size - 8192, &sp_below);
    /* a frame of several MiB takes the stack pointer far past the guard page: still overflow */
    df_fault_info far = {0};
    df_pool_fault_info(local - stack_size - 3 * 1024 * 1024, local - stack_size - 3 * 1024 * 1024,
                       &far);
    stack_t ss;
    int alt = sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) && ss.ss_size >= 16384;
    *result =
        json_pack("{s:i, s:s, s:s, s:I, s:i, s:i, s:I, s:i, s:i, s:i, s:i, s:b}", "got_in", got_in,
                  "task", in.task_id ? in.task_id : "", "plugin", in.plugin ? in.plugin : "", "run",
                  (json_int_t)in.run_id, "attempt", (int)in.attempt, "overflow_in",
                  in.stack_overflow, "stack_size", (json_int_t)in.stack_size, "got_below",
                  got_below, "overflow_below", below.stack_overflow, "got_sp", got_sp,
                  "overflow_sp", sp_below.stack_overflow, "altstack", alt);
    json_object_set_new(*result, "overflow_far", json_integer(far.stack_overflow));
    return DF_TASK_OK;
}
static const df_taskunit probe_unit = {.abi = DF_TASKUNIT_ABI,
                                       .name = "probe",
                                       .version = "1",
                                       .description = "t",
                                       .execute = probe_execute};

typedef struct blocking_probe {
    int got;
    df_fault_info fi;
} blocking_probe;

static void blocking_fn(void *arg)
{
    blocking_probe *bp = arg;
    char local = 0;
    bp->got = df_pool_fault_info(&local, &local, &bp->fi);
}

static int blocking_probe_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    blocking_probe bp = {0};
    if (df_task_run_blocking(ctx, blocking_fn, &bp) != 0)
        return DF_TASK_FAILED;
    *result =
        json_pack("{s:i, s:s, s:I, s:i}", "got", bp.got, "task", bp.fi.task_id ? bp.fi.task_id : "",
                  "stack_size", (json_int_t)bp.fi.stack_size, "overflow", bp.fi.stack_overflow);
    return DF_TASK_OK;
}
static const df_taskunit blocking_probe_unit = {.abi = DF_TASKUNIT_ABI,
                                                .name = "blocking-probe",
                                                .version = "1",
                                                .description = "t",
                                                .execute = blocking_probe_execute};

static void test_fault_info_inside_a_task(void **state)
{
    (void)state;
    collector_reset();
    df_pool_config cfg;
    df_pool_config_default(&cfg);
    cfg.stack_size = 128 * 1024;
    df_pool *p = NULL;
    char err[256];
    assert_int_equal(df_pool_create(&cfg, on_done, &C, &p, err, sizeof err), 0);
    df_job *job =
        make_job(&probe_unit, json_pack("{s:i}", "stack_size", 128 * 1024), "probe-me", TAG(1));
    job->run_id = 42;
    job->attempt = 3;
    assert_int_equal(df_pool_submit(p, job, NULL), 0);
    assert_int_equal(wait_results(1, 5000), 1);
    df_job_result *r = find_result(TAG(1));
    assert_non_null(r);
    assert_int_equal(r->status, DF_TASK_OK);
    const json_t *o = r->result;
    assert_int_equal(json_integer_value(json_object_get(o, "got_in")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "task")), "probe-me");
    assert_string_equal(json_string_value(json_object_get(o, "plugin")), "probe");
    assert_int_equal(json_integer_value(json_object_get(o, "run")), 42);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "stack_size")), 128 * 1024);
    assert_int_equal(json_integer_value(json_object_get(o, "overflow_in")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "got_below")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "overflow_below")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "got_sp")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "overflow_sp")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "overflow_far")), 1);
#if !defined(DF_SANITIZE)
    assert_true(json_is_true(json_object_get(o, "altstack")));
#endif

    /* df_task_run_blocking's thread: the task, but no coroutine stack to overflow */
    assert_int_equal(
        df_pool_submit(p, make_job(&blocking_probe_unit, NULL, "blocker", TAG(2)), NULL), 0);
    assert_int_equal(wait_results(2, 5000), 2);
    r = find_result(TAG(2));
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r->result, "got")), 1);
    assert_string_equal(json_string_value(json_object_get(r->result, "task")), "blocker");
    assert_int_equal(json_integer_value(json_object_get(r->result, "stack_size")), 0);
    assert_int_equal(json_integer_value(json_object_get(r->result, "overflow")), 0);
    df_pool_destroy(p, 1000);
    collector_reset();
}

static void test_fault_info_outside_tasks(void **state)
{
    (void)state;
    df_fault_info fi = {.task_id = "untouched"};
    char local = 0;
    assert_int_equal(df_pool_fault_info(&local, &local, &fi), 0);
    assert_string_equal(fi.task_id, "untouched");
    assert_int_equal(df_pool_fault_info(NULL, NULL, &fi), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_info_inside_a_task),
        cmocka_unit_test(test_fault_info_outside_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
