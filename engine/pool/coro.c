/* coro: stackful coroutines with guarded mmap'd stacks kept in a per-thread free list, the
 * context switch (hand-written x86-64 by default, glibc ucontext as the portable fallback), and
 * the sanitizer/Valgrind hooks for stack switches (see coro.h).
 *
 * Why a hand-written switch: glibc's swapcontext saves and restores the signal mask with an
 * rt_sigprocmask system call on every switch (two per resume/yield round trip, plus one in
 * getcontext for every new coroutine). Coroutines here never change the signal mask, so the
 * switch only has to save what the System V x86-64 ABI says a callee must preserve: rbx, rbp,
 * r12-r15, the stack pointer, and the control bits of MXCSR and the x87 control word. It is the
 * technique of Boost.Context's fcontext and of most C coroutine libraries; the code is ours.
 *
 * Guard pages: the low page of each stack is made inaccessible with madvise(MADV_GUARD_INSTALL)
 * where the kernel has it (Linux 6.13+): the guard then lives in the page tables, so the stacks'
 * mappings stay mergeable and do not eat into vm.max_map_count. Elsewhere, mprotect(PROT_NONE),
 * which costs a mapping per guard (two per stack). */
#include "coro.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(DF_CORO_UCONTEXT) && DF_CORO_UCONTEXT
#define DF_CORO_ASM 0
#elif defined(__x86_64__) && defined(__linux__)
#define DF_CORO_ASM 1
#else
#define DF_CORO_ASM 0
#endif

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

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 uapi value */
#endif

struct df_coro {
    union {
        ucontext_t uc;
        void *sp; /* saved stack pointer while switched out */
    } ctx;
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
const char *df_coro_switch_name(void)
{
    return DF_CORO_ASM ? "x86_64-asm" : "ucontext";
}

/* See coro.h. */
void df_coro_sched_init(df_coro_sched *s, size_t stack_size, size_t max_free)
{
    memset(s, 0, sizeof *s);
    size_t ps = page_size();
    if (stack_size < 16 * 1024)
        stack_size = 16 * 1024;
    if (stack_size > SIZE_MAX / 2)
        stack_size = SIZE_MAX / 2; /* mmap refuses it with a clear error later */
    s->stack_size = (stack_size + ps - 1) / ps * ps;
    s->max_free = max_free;
}

static void coro_unmap(df_coro_sched *s, df_coro *co)
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
    s->unmapped++;
}

static int by_address(const void *a, const void *b)
{
    const df_coro *x = *(df_coro *const *)a, *y = *(df_coro *const *)b;
    return x->map < y->map ? -1 : x->map > y->map;
}

/* See coro.h. Stacks mapped one after the other usually sit next to each other (the kernel
 * merges them into one mapping): they are unmapped in runs, one munmap per run (10,000 stacks:
 * 68 ms one by one). */
void df_coro_sched_fini(df_coro_sched *s)
{
    df_coro **all = s->n_free > 1 ? malloc(s->n_free * sizeof *all) : NULL;
    if (all) {
        size_t n = 0;
        for (df_coro *co = s->free_list; co; co = co->next_free)
            all[n++] = co;
        qsort(all, n, sizeof *all, by_address);
        size_t i = 0;
        while (i < n) {
            size_t j = i + 1;
            while (j < n && all[j - 1]->map + all[j - 1]->map_size == all[j]->map)
                j++;
            size_t len = (size_t)(all[j - 1]->map + all[j - 1]->map_size - all[i]->map);
            char *start = all[i]->map;
            for (size_t k = i; k < j; k++) {
#if DF_CORO_VALGRIND
                VALGRIND_STACK_DEREGISTER(all[k]->valgrind_id);
#endif
#if DF_CORO_ASAN
                ASAN_UNPOISON_MEMORY_REGION(all[k]->stack_lo, all[k]->stack_size);
#endif
                free(all[k]);
                s->unmapped++;
            }
            munmap(start, len);
            i = j;
        }
        free(all);
        s->free_list = NULL;
    }
    while (s->free_list) {
        df_coro *co = s->free_list;
        s->free_list = co->next_free;
        coro_unmap(s, co);
    }
    s->n_free = s->low_free = 0;
}

/* See coro.h. */
size_t df_coro_sched_trim(df_coro_sched *s)
{
    size_t n = (s->low_free + 1) / 2;
    if (n > s->n_free)
        n = s->n_free;
    for (size_t i = 0; i < n; i++) {
        df_coro *co = s->free_list;
        s->free_list = co->next_free;
        s->n_free--;
        coro_unmap(s, co);
    }
    s->low_free = s->n_free;
    return n;
}

/* 1 once MADV_GUARD_INSTALL worked, -1 once it was refused (older kernel, Valgrind), 0 before. */
static atomic_int guard_madvise;

/* Makes the page at p inaccessible. 0, or an errno value. */
static int install_guard(void *p, size_t len)
{
    int mode = atomic_load_explicit(&guard_madvise, memory_order_relaxed);
    if (mode >= 0) {
        if (madvise(p, len, MADV_GUARD_INSTALL) == 0) {
            if (!mode)
                atomic_store(&guard_madvise, 1);
            return 0;
        }
        if (errno != EINVAL && errno != ENOSYS)
            return errno;
        atomic_store(&guard_madvise, -1);
    }
    return mprotect(p, len, PROT_NONE) == 0 ? 0 : errno;
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
    int e = install_guard(co->map, ps);
    if (e) {
        snprintf(err, errlen, "cannot protect a coroutine stack guard page: %s%s", strerror(e),
                 e == ENOMEM ? " (memory or vm.max_map_count exhausted)" : "");
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

/* Runs the coroutine's function, then marks it finished. Shared by both switches. */
static void coro_body(df_coro *co)
{
    df_coro_sched *s = co->sched;
#if DF_CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &s->asan_bottom, &s->asan_size);
#endif
    co->fn(co, co->arg);
    co->finished = 1;
#if DF_CORO_ASAN
    /* NULL: this fiber is done, ASan may drop its fake stack. */
    __sanitizer_start_switch_fiber(NULL, s->asan_bottom, s->asan_size);
#else
    (void)s;
#endif
}

#if DF_CORO_ASM

/* df_coro_switch_x86_64(save, load): pushes the callee-saved registers and the FPU control
 * words on the current stack, stores the stack pointer in *save, loads `load` as the stack
 * pointer and pops the same frame from it, returning into the other context. A new coroutine's
 * stack is prepared (prepare_context) so that the first switch "returns" into
 * df_coro_start_x86_64, which calls r13(r12) and never returns. Frame, from the saved sp up:
 * [mxcsr, x87 cw] r15 r14 r13 r12 rbx rbp return-address. */
void df_coro_switch_x86_64(void **save, void *load) __attribute__((visibility("hidden")));
void df_coro_start_x86_64(void) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".globl df_coro_switch_x86_64\n"
        ".hidden df_coro_switch_x86_64\n"
        ".type df_coro_switch_x86_64, @function\n"
        "df_coro_switch_x86_64:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size df_coro_switch_x86_64, .-df_coro_switch_x86_64\n"
        ".p2align 4\n"
        ".globl df_coro_start_x86_64\n"
        ".hidden df_coro_start_x86_64\n"
        ".type df_coro_start_x86_64, @function\n"
        "df_coro_start_x86_64:\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        ".size df_coro_start_x86_64, .-df_coro_start_x86_64\n");

/* The first C frame of every coroutine (called by df_coro_start_x86_64). */
static void coro_entry_asm(df_coro *co)
{
    coro_body(co);
    df_coro_switch_x86_64(&co->ctx.sp, co->sched->ctx.sp);
    __builtin_unreachable(); /* a finished coroutine is never resumed */
}

static int prepare_context(df_coro *co)
{
    uintptr_t top = ((uintptr_t)co->stack_lo + co->stack_size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top;
    *--sp = (uint64_t)(uintptr_t)df_coro_start_x86_64; /* return address of the first switch */
    *--sp = 0;                                         /* rbp: ends the frame-pointer chain */
    *--sp = 0;                                         /* rbx */
    *--sp = (uint64_t)(uintptr_t)co;                   /* r12: the argument */
    *--sp = (uint64_t)(uintptr_t)coro_entry_asm;       /* r13: the function */
    *--sp = 0;                                         /* r14 */
    *--sp = 0;                                         /* r15 */
    *--sp = 0x1F80u | ((uint64_t)0x037Fu << 32);       /* default MXCSR and x87 control word */
    co->ctx.sp = sp;
    return 0;
}

static inline void switch_to_coro(df_coro_sched *s, df_coro *co)
{
    df_coro_switch_x86_64(&s->ctx.sp, co->ctx.sp);
}

static inline void switch_to_sched(df_coro_sched *s, df_coro *co)
{
    df_coro_switch_x86_64(&co->ctx.sp, s->ctx.sp);
}

#else /* ucontext */

/* The first frame of every coroutine. makecontext passes ints only, so the pointer arrives in
 * two halves. */
static void coro_entry_uc(unsigned hi, unsigned lo)
{
    df_coro *co = (df_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
    coro_body(co);
    swapcontext(&co->ctx.uc, &co->sched->ctx.uc);
    /* never resumed again */
}

/* Kept out of line: getcontext returns twice, which must not clobber the caller's locals. */
static __attribute__((noinline)) int prepare_context(df_coro *co)
{
    if (getcontext(&co->ctx.uc) != 0)
        return -1;
    co->ctx.uc.uc_stack.ss_sp = co->stack_lo;
    co->ctx.uc.uc_stack.ss_size = co->stack_size;
    co->ctx.uc.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->ctx.uc, (void (*)(void))coro_entry_uc, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#if DF_CORO_ASAN
    /* uc_stack is only read by makecontext. ASan's swapcontext interceptor clears the shadow of
     * the target's whole uc_stack on every switch (a 32 KiB memset per switch for a 256 KiB
     * stack); the fiber annotations already tell ASan about the switch, so hide the stack. */
    co->ctx.uc.uc_stack.ss_sp = NULL;
    co->ctx.uc.uc_stack.ss_size = 0;
#endif
    return 0;
}

static inline void switch_to_coro(df_coro_sched *s, df_coro *co)
{
    swapcontext(&s->ctx.uc, &co->ctx.uc);
}

static inline void switch_to_sched(df_coro_sched *s, df_coro *co)
{
    swapcontext(&co->ctx.uc, &s->ctx.uc);
}

#endif

/* See coro.h: a stack from the free list when there is one, else a new guarded mapping. */
df_coro *df_coro_create(df_coro_sched *s, df_coro_fn fn, void *arg, char *err, size_t errlen)
{
    df_coro *co;
    if (s->free_list) {
        co = s->free_list;
        s->free_list = co->next_free;
        s->n_free--;
        if (s->n_free < s->low_free)
            s->low_free = s->n_free;
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
    switch_to_coro(s, co);
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
    switch_to_sched(s, co);
#if DF_CORO_ASAN
    __sanitizer_finish_switch_fiber(co->asan_fake, &s->asan_bottom, &s->asan_size);
#endif
}

/* See coro.h. */
void df_coro_release(df_coro_sched *s, df_coro *co)
{
    if (s->n_free >= s->max_free) {
        coro_unmap(s, co);
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
void df_coro_stack_bounds(const df_coro *co, const char **lo, size_t *size)
{
    *lo = co->stack_lo;
    *size = co->stack_size;
}

/* See coro.h. */
void *df_coro_arg(const df_coro *co)
{
    return co->arg;
}

/* See coro.h. */
size_t df_coro_sched_stack_high_water(const df_coro_sched *s)
{
    size_t ps = page_size(), best = 0;
    for (const df_coro *co = s->free_list; co; co = co->next_free) {
        size_t pages = co->stack_size / ps;
        unsigned char *vec = malloc(pages);
        if (!vec)
            return best;
        if (mincore(co->stack_lo, co->stack_size, vec) == 0) {
            size_t i = 0;
            while (i < pages && !(vec[i] & 1))
                i++;
            size_t used = (pages - i) * ps;
            if (used > best)
                best = used;
        }
        free(vec);
    }
    return best;
}
