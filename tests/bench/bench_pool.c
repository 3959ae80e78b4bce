/* bench_pool: throughput and memory of the coroutine pool alone (engine/pool), beside the same
 * work on a fixed set of plain threads fed by a mutex+condvar queue and on libuv's
 * uv_queue_work. Not a test: it prints figures.
 *
 *   bench_pool tiny [N]         N tiny tasks (default 1,000,000) through each of the three
 *                               (each in its own child process, so peak RSS is its own)
 *   bench_pool sleep [N] [MS]   N tasks each sleeping MS ms (default 10,000 x 1000) in the pool
 *   bench_pool cpu [N] [US]     N tasks each computing US microseconds without yielding
 *                               (default 2,000 x 1000) in the pool: where more workers help
 *
 * Options (environment): BENCH_WORKERS_MIN, BENCH_WORKERS_MAX, BENCH_QUEUE (pool config; the
 * thread queue gets the same capacity and BENCH_WORKERS_MIN threads, default 2), BENCH_ONLY
 * (pool, threads or uv). A tiny task adds one to a shared atomic counter; every variant
 * allocates one record per task and frees it after the task ran, as the pool does. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "engine/pool/pool.h"

static atomic_ulong tiny_counter;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/* ---- the pool ---- */

static int tiny_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    (void)result;
    atomic_fetch_add_explicit(&tiny_counter, 1, memory_order_relaxed);
    return DF_TASK_OK;
}
static const df_taskunit tiny_unit = {.abi = DF_TASKUNIT_ABI,
                                      .name = "tiny",
                                      .version = "1",
                                      .description = "bench",
                                      .execute = tiny_execute};

static int sleep_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    (void)result;
    uint64_t ms = (uint64_t)(uintptr_t)df_task_attempt(ctx); /* the duration rides in attempt */
    return df_task_sleep(ctx, ms) ? DF_TASK_FAILED : DF_TASK_OK;
}
static const df_taskunit sleep_unit = {.abi = DF_TASKUNIT_ABI,
                                       .name = "sleep",
                                       .version = "1",
                                       .description = "bench",
                                       .execute = sleep_execute};

/* Computes for the given thread CPU time (not wall time: a job whose thread is descheduled does
 * not progress). */
static int cpu_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    (void)result;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double start = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, now = start;
    double need = (double)df_task_attempt(ctx) / 1e6; /* microseconds ride in attempt */
    while (now - start < need) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    return DF_TASK_OK;
}
static const df_taskunit cpu_unit = {.abi = DF_TASKUNIT_ABI,
                                     .name = "cpu",
                                     .version = "1",
                                     .description = "bench",
                                     .execute = cpu_execute};

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    atomic_ulong completed;
    atomic_ulong target; /* wake the submitter once completed reaches it; 0: nobody waits */
    atomic_ulong failed;
} waiter;

static waiter W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void on_done(df_job_result *r, void *ud)
{
    (void)ud;
    if (r->status != DF_TASK_OK)
        atomic_fetch_add(&W.failed, 1);
    df_job_result_free(r);
    unsigned long c = atomic_fetch_add(&W.completed, 1) + 1;
    unsigned long t = atomic_load(&W.target);
    if (t && c >= t) {
        pthread_mutex_lock(&W.mu);
        pthread_cond_broadcast(&W.cond);
        pthread_mutex_unlock(&W.mu);
    }
}

/* Waits until at least `until` tasks completed. */
static void wait_completed(unsigned long until)
{
    pthread_mutex_lock(&W.mu);
    atomic_store(&W.target, until);
    while (atomic_load(&W.completed) < until)
        pthread_cond_wait(&W.cond, &W.mu);
    atomic_store(&W.target, 0);
    pthread_mutex_unlock(&W.mu);
}

static df_pool *make_pool(df_pool_config *cfg)
{
    df_pool_config_default(cfg);
    cfg->workers_min = env_uint("BENCH_WORKERS_MIN", cfg->workers_min);
    cfg->workers_max = env_uint("BENCH_WORKERS_MAX", cfg->workers_max);
    if (cfg->workers_max < cfg->workers_min)
        cfg->workers_max = cfg->workers_min;
    cfg->queue_capacity = env_uint("BENCH_QUEUE", (unsigned)cfg->queue_capacity);
    df_pool *p = NULL;
    char err[256];
    if (df_pool_create(cfg, on_done, NULL, &p, err, sizeof err) != 0) {
        fprintf(stderr, "bench_pool: %s\n", err);
        exit(1);
    }
    return p;
}

/* Submits n jobs; on a full queue waits for a quarter of the queue to drain. */
static void submit_all(df_pool *p, const df_pool_config *cfg, const df_taskunit *unit,
                       unsigned long n, unsigned attempt)
{
    unsigned long quarter = cfg->queue_capacity / 4 ? cfg->queue_capacity / 4 : 1;
    for (unsigned long i = 0; i < n; i++) {
        df_job *j = calloc(1, sizeof *j);
        j->unit = unit;
        j->attempt = attempt;
        for (;;) {
            int rc = df_pool_submit(p, j, NULL);
            if (rc == 0)
                break;
            if (rc != DF_POOL_EFULL) {
                fprintf(stderr, "bench_pool: submit: %d\n", rc);
                exit(1);
            }
            unsigned long c = atomic_load(&W.completed);
            unsigned long queued = i - c;
            wait_completed(c + (queued < quarter ? queued : quarter));
        }
    }
}

static void print_pool_stats(df_pool *p)
{
    df_pool_stats st;
    df_pool_get_stats(p, &st);
    printf("  pool: workers peak %u (started %u, stopped %u, replaced %u), in flight peak %zu, "
           "queue high-water %zu, stacks %zu created / %zu reused\n",
           st.workers_peak, st.workers_started, st.workers_stopped, st.workers_replaced,
           st.in_flight_peak, st.queue_high_water, st.stacks_created, st.stacks_reused);
}

static double run_pool_tiny(unsigned long n)
{
    df_pool_config cfg;
    df_pool *p = make_pool(&cfg);
    double t0 = now_s();
    submit_all(p, &cfg, &tiny_unit, n, 1);
    wait_completed(n);
    double t = now_s() - t0;
    print_pool_stats(p);
    df_pool_destroy(p, 1000);
    return t;
}

/* ---- plain threads around a mutex+condvar queue ---- */

typedef struct item {
    struct item *next;
    void (*fn)(void);
} item;

typedef struct tqueue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    item *head, *tail;
    size_t n, cap;
    int stop;
} tqueue;

static void tiny_fn(void)
{
    atomic_fetch_add_explicit(&tiny_counter, 1, memory_order_relaxed);
}

static void *tq_worker(void *arg)
{
    tqueue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->not_empty, &q->mu);
        item *it = q->head;
        if (!it) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
        if (q->n-- == q->cap)
            pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->mu);
        it->fn();
        free(it);
        atomic_fetch_add_explicit(&W.completed, 1, memory_order_relaxed);
    }
}

static double run_threads_tiny(unsigned long n)
{
    unsigned nthreads = env_uint("BENCH_WORKERS_MIN", 2);
    tqueue q = {.cap = env_uint("BENCH_QUEUE", 65536)};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    pthread_cond_init(&q.not_full, NULL);
    pthread_t th[64];
    if (nthreads > 64)
        nthreads = 64;
    for (unsigned i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, tq_worker, &q);
    double t0 = now_s();
    for (unsigned long i = 0; i < n; i++) {
        item *it = malloc(sizeof *it);
        it->next = NULL;
        it->fn = tiny_fn;
        pthread_mutex_lock(&q.mu);
        while (q.n >= q.cap)
            pthread_cond_wait(&q.not_full, &q.mu);
        if (q.tail)
            q.tail->next = it;
        else
            q.head = it;
        q.tail = it;
        if (q.n++ == 0)
            pthread_cond_signal(&q.not_empty);
        pthread_mutex_unlock(&q.mu);
    }
    pthread_mutex_lock(&q.mu);
    q.stop = 1;
    pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double t = now_s() - t0;
    printf("  threads: %u, queue capacity %zu\n", nthreads, q.cap);
    return t;
}

/* ---- libuv's thread pool ---- */

typedef struct uvb {
    uv_loop_t loop;
    unsigned long n, submitted, done;
} uvb;

static void uv_work(uv_work_t *req)
{
    (void)req;
    tiny_fn();
}

static void uv_submit_one(uvb *b);

static void uv_after(uv_work_t *req, int status)
{
    (void)status;
    uvb *b = req->data;
    free(req);
    b->done++;
    if (b->submitted < b->n)
        uv_submit_one(b);
}

static void uv_submit_one(uvb *b)
{
    uv_work_t *req = malloc(sizeof *req);
    req->data = b;
    b->submitted++;
    uv_queue_work(&b->loop, req, uv_work, uv_after);
}

static double run_uv_tiny(unsigned long n)
{
    uvb b = {.n = n};
    uv_loop_init(&b.loop);
    unsigned long window = env_uint("BENCH_QUEUE", 65536);
    double t0 = now_s();
    for (unsigned long i = 0; i < window && b.submitted < n; i++)
        uv_submit_one(&b);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    double t = now_s() - t0;
    uv_loop_close(&b.loop);
    const char *tp = getenv("UV_THREADPOOL_SIZE");
    printf("  uv_queue_work: UV_THREADPOOL_SIZE %s, %lu requests outstanding at most\n",
           tp ? tp : "4 (default)", window);
    return t;
}

/* ---- driver ---- */

/* Runs one variant in a child process; prints tasks/s and the child's peak RSS. */
static void run_variant(const char *name, double (*fn)(unsigned long), unsigned long n)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        double t = fn(n);
        unsigned long got = atomic_load(&tiny_counter);
        printf("%-14s %9lu tasks in %7.3f s = %10.0f tasks/s%s\n", name, n, t, (double)n / t,
               got == n ? "" : " (COUNT MISMATCH)");
        fflush(stdout);
        _exit(got == n ? 0 : 1);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return;
    }
    printf("%-14s peak RSS %.1f MB%s\n", name, (double)ru.ru_maxrss / 1024.0,
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : " (FAILED)");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "tiny";
    const char *only = getenv("BENCH_ONLY");
    if (!strcmp(mode, "tiny")) {
        unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        printf("bench_pool tiny: %lu tiny tasks, %ld cores\n", n, cores);
        if (!only || !strcmp(only, "pool"))
            run_variant("pool", run_pool_tiny, n);
        if (!only || !strcmp(only, "threads"))
            run_variant("threads", run_threads_tiny, n);
        if (!only || !strcmp(only, "uv"))
            run_variant("uv_queue_work", run_uv_tiny, n);
        return 0;
    }
    if (!strcmp(mode, "sleep")) {
        unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
        unsigned ms = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
        df_pool_config cfg;
        df_pool *p = make_pool(&cfg);
        double t0 = now_s();
        submit_all(p, &cfg, &sleep_unit, n, ms);
        double ts = now_s() - t0;
        wait_completed(n);
        double t = now_s() - t0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("bench_pool sleep: %lu tasks of %u ms: submitted in %.3f s, all done in %.3f s "
               "(%.3f s over the sleep), peak RSS %.1f MB, %lu failed\n",
               n, ms, ts, t, t - ms / 1000.0, (double)ru.ru_maxrss / 1024.0,
               atomic_load(&W.failed));
        print_pool_stats(p);
        double td = now_s();
        df_pool_destroy(p, 1000);
        printf("  df_pool_destroy: %.3f s\n", now_s() - td);
        return 0;
    }
    if (!strcmp(mode, "cpu")) {
        unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
        unsigned us = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
        df_pool_config cfg;
        df_pool *p = make_pool(&cfg);
        double t0 = now_s();
        submit_all(p, &cfg, &cpu_unit, n, us);
        wait_completed(n);
        double t = now_s() - t0;
        printf("bench_pool cpu: %lu tasks of %u us CPU (%.3f s of work): all done in %.3f s, "
               "workers min %u max %u\n",
               n, us, (double)n * us / 1e6, t, cfg.workers_min, cfg.workers_max);
        print_pool_stats(p);
        df_pool_destroy(p, 1000);
        return 0;
    }
    fprintf(stderr, "usage: bench_pool tiny [N] | sleep [N] [MS] | cpu [N] [US]\n");
    return 2;
}
