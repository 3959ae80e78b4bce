/* coro: stackful coroutines on glibc ucontext, with guarded mmap'd stacks kept in a per-thread
 * free list, and the sanitizer/Valgrind hooks for stack switches (see coro.h). */
#include "coro.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || (defined(DF_SANITIZE) && DF_SANITIZE)
#define DF_CORO_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#else
#define DF_CORO_ASAN 0
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define DF_CORO_VALGRIND 1
#endif
#endif
#ifndef DF_CORO_VALGRIND
#define DF_CORO_VALGRIND 0
#endif

struct df_coro {
    ucontext_t ctx;
    df_coro_sched *sched;
    df_coro_fn fn;
    void *arg;
    int finished;
    char *map;       /* start of the mapping (the guard page) */
    size_t map_size; /* guard page + stack */
    char *stack_lo;  /* lowest usable byte of the stack */
    size_t stack_size;
    df_coro *next_free;
    unsigned valgrind_id;
    void *asan_fake;
};

static size_t page_size(void)
{
    static size_t ps;
    if (!ps) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
    }
    return ps;
}

/* See coro.h. */
void df_coro_sched_init(df_coro_sched *s, size_t stack_size, size_t max_free)
{
    memset(s, 0, sizeof *s);
    size_t ps = page_size();
    if (stack_size < 16 * 1024)
        stack_size = 16 * 1024;
    s->stack_size = (stack_size + ps - 1) / ps * ps;
    s->max_free = max_free;
}

static void coro_unmap(df_coro *co)
{
#if DF_CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
#if DF_CORO_ASAN
    /* Frames that never returned (the entry frame) leave poisoned shadow behind. */
    ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_size);
#endif
    munmap(co->map, co->map_size);
    free(co);
}

/* See coro.h. */
void df_coro_sched_fini(df_coro_sched *s)
{
    while (s->free_list) {
        df_coro *co = s->free_list;
        s->free_list = co->next_free;
        coro_unmap(co);
    }
    s->n_free = 0;
}

/* The first frame of every coroutine. makecontext passes ints only, so the pointer arrives in
 * two halves. */
static void coro_entry(unsigned hi, unsigned lo)
{
    df_coro *co = (df_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    df_coro_sched *s = co->sched;
#if DF_CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->asan_bottom, &s->asan_size);
#endif
    co->fn(co, co->arg);
    co->finished = 1;
#if DF_CORO_ASAN
    /* NULL: this fiber is done, ASan may drop its fake stack. */
    __sanitizer_start_switch_fiber(NULL, s->asan_bottom, s->asan_size);
#endif
    swapcontext(&co->ctx, &s->ctx);
    /* never resumed again */
}

static df_coro *coro_new(df_coro_sched *s, char *err, size_t errlen)
{
    df_coro *co = calloc(1, sizeof *co);
    if (!co) {
        snprintf(err, errlen, "cannot allocate a coroutine: out of memory");
        return NULL;
    }
    size_t ps = page_size();
    co->map_size = s->stack_size + ps;
    /* NORESERVE + lazy touching: thousands of stacks cost only the pages they use. */
    void *m = mmap(NULL, co->map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        snprintf(err, errlen, "cannot map a %zu-byte coroutine stack: %s%s", co->map_size,
                 strerror(e), e == ENOMEM ? " (memory or vm.max_map_count exhausted)" : "");
        free(co);
        return NULL;
    }
    co->map = m;
    /* The guard page sits at the low end: stacks grow down into it and fault there. */
    if (mprotect(co->map, ps, PROT_NONE) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot protect a coroutine stack guard page: %s%s", strerror(e),
                 e == ENOMEM ? " (vm.max_map_count exhausted?)" : "");
        munmap(co->map, co->map_size);
        free(co);
        return NULL;
    }
    co->stack_lo = co->map + ps;
    co->stack_size = s->stack_size;
    co->sched = s;
#if DF_CORO_VALGRIND
    co->valgrind_id = VALGRIND_STACK_REGISTER(co->stack_lo, co->stack_lo + co->stack_size);
#endif
    s->created++;
    return co;
}

/* Kept out of line: getcontext returns twice, which must not clobber the caller's locals. */
static __attribute__((noinline)) int prepare_context(df_coro *co)
{
    if (getcontext(&co->ctx) != 0)
        return -1;
    co->ctx.uc_stack.ss_sp = co->stack_lo;
    co->ctx.uc_stack.ss_size = co->stack_size;
    co->ctx.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->ctx, (void (*)(void))coro_entry, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#if DF_CORO_ASAN
    /* uc_stack is only read by makecontext. ASan's swapcontext interceptor clears the shadow of
     * the target's whole uc_stack on every switch (a 32 KiB memset per switch for a 256 KiB
     * stack); the fiber annotations already tell ASan about the switch, so hide the stack. */
    co->ctx.uc_stack.ss_sp = NULL;
    co->ctx.uc_stack.ss_size = 0;
#endif
    return 0;
}

/* See coro.h: a stack from the free list when there is one, else a new guarded mapping. */
df_coro *df_coro_create(df_coro_sched *s, df_coro_fn fn, void *arg, char *err, size_t errlen)
{
    df_coro *co;
    if (s->free_list) {
        co = s->free_list;
        s->free_list = co->next_free;
        s->n_free--;
        s->reused++;
    } else {
        co = coro_new(s, err, errlen);
        if (!co)
            return NULL;
    }
    co->next_free = NULL;
    co->fn = fn;
    co->arg = arg;
    co->finished = 0;
    co->asan_fake = NULL;
    if (prepare_context(co) != 0) {
        snprintf(err, errlen, "getcontext failed: %s", strerror(errno));
        df_coro_release(s, co);
        return NULL;
    }
    return co;
}

/* See coro.h. The ASan hooks bracket the switch: start before, finish after. */
int df_coro_resume(df_coro_sched *s, df_coro *co)
{
    df_coro *prev = s->current;
    s->current = co;
#if DF_CORO_ASAN
    __sanitizer_start_switch_fiber(&s->asan_fake, co->stack_lo, co->stack_size);
#endif
    swapcontext(&s->ctx, &co->ctx);
#if DF_CORO_ASAN
    __sanitizer_finish_switch_fiber(s->asan_fake, NULL, NULL);
#endif
    s->current = prev;
    return co->finished;
}

/* See coro.h. */
void df_coro_yield(df_coro_sched *s)
{
    df_coro *co = s->current;
#if DF_CORO_ASAN
    __sanitizer_start_switch_fiber(&co->asan_fake, s->asan_bottom, s->asan_size);
#endif
    swapcontext(&co->ctx, &s->ctx);
#if DF_CORO_ASAN
    __sanitizer_finish_switch_fiber(co->asan_fake, &s->asan_bottom, &s->asan_size);
#endif
}

/* See coro.h. */
void df_coro_release(df_coro_sched *s, df_coro *co)
{
    if (s->n_free >= s->max_free) {
        coro_unmap(co);
        return;
    }
#if DF_CORO_ASAN
    ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_size);
#endif
    co->next_free = s->free_list;
    s->free_list = co;
    s->n_free++;
}

/* See coro.h. */
void *df_coro_arg(const df_coro *co)
{
    return co->arg;
}
