/* bench_switch: the cost of one coroutine context switch, and of a coroutine's whole life
 * (create on a reused stack, run, finish, release), with the switch this binary was built with
 * (bench_switch_asm: the hand-written x86-64 switch; bench_switch_ucontext: glibc ucontext).
 * Not a test: it prints figures.
 *
 *   bench_switch [ROUND_TRIPS] [LIVES]   defaults 10,000,000 and 1,000,000 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/pool/coro.h"

static df_coro_sched S;
static volatile int stop_flag;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void yielder(df_coro *co, void *arg)
{
    (void)co;
    (void)arg;
    while (!stop_flag)
        df_coro_yield(&S);
}

static void nothing(df_coro *co, void *arg)
{
    (void)co;
    ++*(unsigned long *)arg;
}

int main(int argc, char **argv)
{
    unsigned long trips = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
    unsigned long lives = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    char err[256];
    df_coro_sched_init(&S, 256 * 1024, 1024);

    df_coro *co = df_coro_create(&S, yielder, NULL, err, sizeof err);
    if (!co) {
        fprintf(stderr, "bench_switch: %s\n", err);
        return 1;
    }
    df_coro_resume(&S, co); /* first entry */
    double t0 = now_ns();
    for (unsigned long i = 0; i < trips; i++)
        df_coro_resume(&S, co);
    double t = now_ns() - t0;
    stop_flag = 1;
    df_coro_resume(&S, co);
    df_coro_release(&S, co);
    printf("%-10s switch: %.1f ns per switch (%lu resume+yield round trips in %.3f s)\n",
           df_coro_switch_name(), t / (2.0 * (double)trips), trips, t / 1e9);

    unsigned long ran = 0;
    t0 = now_ns();
    for (unsigned long i = 0; i < lives; i++) {
        df_coro *c = df_coro_create(&S, nothing, &ran, err, sizeof err);
        if (!c || !df_coro_resume(&S, c)) {
            fprintf(stderr, "bench_switch: %s\n", c ? "coroutine did not finish" : err);
            return 1;
        }
        df_coro_release(&S, c);
    }
    t = now_ns() - t0;
    printf("%-10s life:   %.1f ns per coroutine (create on a reused stack, run, release; %lu "
           "lives, %zu stack(s) mapped)\n",
           df_coro_switch_name(), t / (double)lives, ran, S.created);
    df_coro_sched_fini(&S);
    return ran == lives ? 0 : 1;
}
