/* lifecycle: a test-only plugin for the loader's ABI checks and the init/fini hooks.
 * - It declares the ABI in $DFTEST_LIFECYCLE_ABI (default DF_TASKUNIT_ABI): the loader must
 *   accept 1 to DF_TASKUNIT_ABI and refuse others; declared 1, its init and fini (fields of
 *   ABI 2) must not be read.
 * - Its init counts its calls and fails with the message in $DFTEST_LIFECYCLE_INIT_FAIL when that
 *   is set; its fini counts its calls. The counts are exported (dftest_lifecycle_inits,
 *   dftest_lifecycle_finis) for the unit tests, and execute returns them: {"inits", "finis"}. */
#include <dagflow/taskunit.h>

#include <stdio.h>
#include <stdlib.h>

__attribute__((visibility("default"))) int dftest_lifecycle_inits;
__attribute__((visibility("default"))) int dftest_lifecycle_finis;

static int lifecycle_init(char *err, size_t errlen)
{
    dftest_lifecycle_inits++;
    const char *fail = getenv("DFTEST_LIFECYCLE_INIT_FAIL");
    if (fail) {
        snprintf(err, errlen, "%s", fail);
        return 1;
    }
    return 0;
}

static void lifecycle_fini(void)
{
    dftest_lifecycle_finis++;
}

static int lifecycle_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    *result = json_pack("{sisi}", "inits", dftest_lifecycle_inits, "finis", dftest_lifecycle_finis);
    return *result ? DF_TASK_OK : DF_TASK_FAILED;
}

/* Not const: the entry point sets abi from the environment each time it is called. */
static df_taskunit unit = {
    .name = "lifecycle",
    .version = "1.0.0",
    .description = "test: declared ABI from $DFTEST_LIFECYCLE_ABI; counts init and fini",
    .execute = lifecycle_execute,
    .init = lifecycle_init,
    .fini = lifecycle_fini,
};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    const char *abi = getenv("DFTEST_LIFECYCLE_ABI");
    unit.abi = abi ? atoi(abi) : DF_TASKUNIT_ABI;
    return &unit;
}
