/* fault: which task each worker thread is running, for a fatal-signal handler to report (see
 * fault.h and df_pool_fault_info in pool.h), and the workers' alternate signal stacks. */
#include "fault.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define DF_FAULT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DF_FAULT_ASAN 1
#endif
#endif

/* The job and coroutine the thread runs now (NULL between tasks). */
static _Thread_local const df_job *tl_job;
static _Thread_local const df_coro *tl_co;

void df_fault_enter(const df_job *job, const df_coro *co)
{
    tl_job = job;
    tl_co = co;
}

void df_fault_leave(void)
{
    tl_job = NULL;
    tl_co = NULL;
}

void df_fault_thread_init(df_fault_altstack *st)
{
    st->map = NULL;
    st->size = 0;
#ifndef DF_FAULT_ASAN
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the thread has one already */
    long min = sysconf(_SC_MINSIGSTKSZ);
    size_t size = 64 * 1024;
    if (min > 0 && (size_t)min * 4 > size)
        size = (size_t)min * 4;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = map, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(map, size);
        return;
    }
    st->map = map;
    st->size = size;
#endif
}

void df_fault_thread_fini(df_fault_altstack *st)
{
    if (!st->map)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(st->map, st->size);
    st->map = NULL;
    st->size = 0;
}

/* See pool.h. */
int df_pool_fault_info(const void *addr, const void *sp, df_fault_info *out)
{
    const df_job *job = tl_job;
    const df_coro *co = tl_co;
    if (!job)
        return 0;
    out->task_id = job->task_id;
    out->plugin = job->unit && job->unit->name ? job->unit->name : NULL;
    out->run_id = job->run_id;
    out->attempt = job->attempt;
    out->map_index = job->mapped ? job->map_index : -1;
    out->stack_overflow = 0;
    out->stack_size = 0;
    if (co) {
        const char *lo;
        size_t size;
        df_coro_stack_bounds(co, &lo, &size);
        out->stack_size = size;
        /* The stack pointer below the stack's lowest byte settles it (a coroutine's stack
         * pointer has nowhere else to be), however big the frame that took it there; without
         * it, a fault at most 1 MiB under the stack (its guard page, or just past it). */
        uintptr_t low = (uintptr_t)lo, a = (uintptr_t)addr, s = (uintptr_t)sp;
        uintptr_t sp_reach = (uintptr_t)1 << 30, addr_reach = 1024 * 1024;
        if ((sp && s < low && low - s <= sp_reach) || (a < low && low - a <= addr_reach))
            out->stack_overflow = 1;
    }
    return 1;
}
