/* nosym: test-only shared object that does not export dagflow_taskunit: the engine must refuse
 * it with a clear error. */
#include <dagflow/taskunit.h>

/* Some other symbol, so the object is not empty. */
int dagflow_not_a_taskunit(void)
{
    return 42;
}
