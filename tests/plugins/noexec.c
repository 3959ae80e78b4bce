/* noexec: test-only plugin with a NULL execute: the engine must refuse it. */
#include <dagflow/taskunit.h>

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "noexec", .version = "1.0.0", .description = "test: no execute",
                   .execute = NULL);
