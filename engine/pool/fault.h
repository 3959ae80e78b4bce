/* fault (internal to engine/pool): the record of what each worker thread is running, kept in
 * thread-local storage so that a fatal-signal handler can name the task that crashed the
 * process, and each worker's alternate signal stack, so that such a handler can still run after a
 * coroutine overflowed its stack into the guard page. The query side is df_pool_fault_info in
 * pool.h. */
#ifndef DF_POOL_FAULT_H
#define DF_POOL_FAULT_H

#include "coro.h"
#include "pool.h"

/* Per-thread state of the alternate signal stack (zero-initialised = none). */
typedef struct df_fault_altstack {
    void *map;
    size_t size;
} df_fault_altstack;

/* Gives the calling thread an alternate signal stack (mmap'd) unless it has one already or the
 * build uses AddressSanitizer (which manages its own). Failure leaves the thread without one: a
 * stack overflow then kills the process without a message, as it would anyway. */
void df_fault_thread_init(df_fault_altstack *st);

/* Removes and unmaps the calling thread's alternate signal stack set by df_fault_thread_init. */
void df_fault_thread_fini(df_fault_altstack *st);

/* Records that the calling thread now runs job (borrowed) in coroutine co (NULL: on a plain
 * thread, e.g. df_task_run_blocking's), until df_fault_leave. Two thread-local stores. */
void df_fault_enter(const df_job *job, const df_coro *co);
void df_fault_leave(void);

#endif
