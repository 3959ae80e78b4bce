/* coro: stackful coroutines for the pool's workers. Owns the guarded mmap'd stacks (with a
 * per-thread free list that is trimmed lazily), the context switch between a worker's scheduler
 * and its coroutines (a hand-written x86-64 switch by default, glibc ucontext when built with
 * -DDF_CORO_UCONTEXT=ON or on other architectures), and the AddressSanitizer / Valgrind
 * annotations that make those switches visible to the tools.
 *
 * A df_coro_sched belongs to one OS thread; every coroutine created from it runs and dies on that
 * thread (errno and thread-locals are per thread, so a coroutine never migrates). Nothing here is
 * thread-safe: all calls for one scheduler come from its thread. */
#ifndef DF_POOL_CORO_H
#define DF_POOL_CORO_H

#include <stddef.h>
#include <ucontext.h>

typedef struct df_coro df_coro;
typedef void (*df_coro_fn)(df_coro *co, void *arg);

/* One thread's scheduler side: its saved context and a free list of finished coroutines whose
 * stacks are reused. The layout does not depend on the switch in use. */
typedef struct df_coro_sched {
    union {
        ucontext_t uc; /* ucontext switch */
        void *sp;      /* hand-written switch: the scheduler's saved stack pointer */
    } ctx;
    df_coro *current;        /* the coroutine running now, or NULL */
    df_coro *free_list;      /* finished coroutines kept for reuse (stack included) */
    size_t n_free;           /* length of free_list */
    size_t low_free;         /* shortest free_list since the last df_coro_sched_trim */
    size_t max_free;         /* most coroutines kept in free_list; the rest are unmapped */
    size_t stack_size;       /* usable bytes per stack (a guard page comes on top) */
    size_t created;          /* stacks mapped by this scheduler since init */
    size_t reused;           /* stacks taken from free_list since init */
    size_t unmapped;         /* stacks unmapped (trimmed or over max_free) since init */
    const void *asan_bottom; /* ASan: the scheduler's own stack, learnt on the first switch */
    size_t asan_size;
    void *asan_fake;
} df_coro_sched;

/* Name of the context switch compiled in: "x86_64-asm" or "ucontext". Static string. */
const char *df_coro_switch_name(void);

/* Initialises a scheduler for the calling thread. stack_size (bytes) is rounded up to whole
 * pages (at least 16 KiB); max_free bounds the free list (SIZE_MAX: no bound, rely on
 * df_coro_sched_trim). Never fails. */
void df_coro_sched_init(df_coro_sched *s, size_t stack_size, size_t max_free);

/* Unmaps every stack in the free list. Coroutines still alive are the caller's concern (the pool
 * never finalises a scheduler while one of its coroutines has not finished). */
void df_coro_sched_fini(df_coro_sched *s);

/* Gives back memory the way Go's scavenger does: unmaps half (rounded up) of the stacks that
 * stayed unused in the free list during the whole period since the previous call (the free
 * list's low-water mark), then starts a new period. Call it periodically (the pool: every
 * second); a burst's stacks are thus kept while work keeps coming and fade away when it stops.
 * Returns how many stacks were unmapped. */
size_t df_coro_sched_trim(df_coro_sched *s);

/* Creates a coroutine that will run fn(co, arg) on a fresh or reused stack when first resumed.
 * Returns NULL and writes a message into err (e.g. "cannot map a 262144-byte coroutine stack:
 * Cannot allocate memory (memory or vm.max_map_count exhausted)") when no stack can be had. */
df_coro *df_coro_create(df_coro_sched *s, df_coro_fn fn, void *arg, char *err, size_t errlen);

/* Switches from the scheduler into co until it yields or finishes. Must be called on the
 * scheduler's own stack (never from inside a coroutine). Returns 1 when co has finished (its
 * function returned; release it with df_coro_release), 0 when it yielded. */
int df_coro_resume(df_coro_sched *s, df_coro *co);

/* Switches from the running coroutine back to its scheduler; returns when it is resumed. Must
 * be called from inside a coroutine. */
void df_coro_yield(df_coro_sched *s);

/* Returns a finished coroutine's stack to the free list (or unmaps it when the list is full).
 * The stack keeps its touched pages: reuse costs no page fault. */
void df_coro_release(df_coro_sched *s, df_coro *co);

/* The user pointer given to df_coro_create. */
void *df_coro_arg(const df_coro *co);

/* Where co's stack lies: its lowest usable byte (*lo) and usable size in bytes (*size); the
 * guard page sits just below *lo. Async-signal-safe (reads two fields): a fatal-signal handler
 * uses it to tell a stack overflow from other faults. */
void df_coro_stack_bounds(const df_coro *co, const char **lo, size_t *size);

/* Deepest use of any stack in the free list, in bytes, found with mincore(2) (pages touched
 * since the stack was mapped). For measurements (bench programs, tests), not for hot paths:
 * one syscall per free stack. 0 when the list is empty. */
size_t df_coro_sched_stack_high_water(const df_coro_sched *s);

#endif
