/* noexec: test-only plugin with a NULL execute: the engine must refuse it. */
#include <dagflow/taskunit.h>

static const df_taskunit unit = {DF_TASKUNIT_ABI,    "noexec", "1.0.0",
                                 "test: no execute", NULL,     NULL};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
