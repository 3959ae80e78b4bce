/* pool_fixture: what the pool's unit tests share (included by the test_pool*.c programs): a
 * thread-safe collector of job results with their arrival times, job construction, a pool whose
 * results go to the collector, and the "spin" task unit that keeps its worker. Static, one copy
 * per test program. */
#ifndef DF_TEST_POOL_FIXTURE_H
#define DF_TEST_POOL_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/clock.h"
#include "engine/pool/pool.h"

/* A test program need not use every helper. */
#define FIXTURE_FN __attribute__((unused))

#define MAX_RESULTS 20000

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t n;
    df_job_result *res[MAX_RESULTS];
    uint64_t at[MAX_RESULTS]; /* mono ms when the callback ran */
} collector;

static collector C;
static atomic_int bad_ud;

static FIXTURE_FN void collector_reset(void)
{
    pthread_mutex_lock(&C.mu);
    for (size_t i = 0; i < C.n; i++)
        df_job_result_free(C.res[i]);
    C.n = 0;
    pthread_mutex_unlock(&C.mu);
}

static FIXTURE_FN void on_done(df_job_result *r, void *ud)
{
    /* worker thread: no cmocka asserts here (they longjmp); a wrong ud is counted instead */
    if (ud != &C)
        atomic_fetch_add(&bad_ud, 1);
    pthread_mutex_lock(&C.mu);
    if (C.n < MAX_RESULTS) {
        C.at[C.n] = df_mono_ms();
        C.res[C.n++] = r;
    } else {
        df_job_result_free(r);
    }
    pthread_cond_broadcast(&C.cond);
    pthread_mutex_unlock(&C.mu);
}

/* Waits until n results arrived or timeout_ms passed; returns how many arrived. */
static FIXTURE_FN size_t wait_results(size_t n, uint64_t timeout_ms)
{
    uint64_t end = df_mono_ms() + timeout_ms;
    pthread_mutex_lock(&C.mu);
    while (C.n < n && df_mono_ms() < end) {
        pthread_mutex_unlock(&C.mu);
        usleep(2000);
        pthread_mutex_lock(&C.mu);
    }
    size_t got = C.n;
    pthread_mutex_unlock(&C.mu);
    return got;
}

static FIXTURE_FN size_t results_now(void)
{
    pthread_mutex_lock(&C.mu);
    size_t n = C.n;
    pthread_mutex_unlock(&C.mu);
    return n;
}

/* The result whose user pointer is tag, or NULL. */
static FIXTURE_FN df_job_result *find_result(void *tag)
{
    df_job_result *r = NULL;
    pthread_mutex_lock(&C.mu);
    for (size_t i = 0; i < C.n && !r; i++)
        if (C.res[i]->user == tag)
            r = C.res[i];
    pthread_mutex_unlock(&C.mu);
    return r;
}

static FIXTURE_FN uint64_t result_time(void *tag)
{
    uint64_t t = 0;
    pthread_mutex_lock(&C.mu);
    for (size_t i = 0; i < C.n; i++)
        if (C.res[i]->user == tag)
            t = C.at[i];
    pthread_mutex_unlock(&C.mu);
    return t;
}

static FIXTURE_FN df_job *make_job(const df_taskunit *unit, json_t *params, const char *task_id,
                                   void *user)
{
    df_job *j = calloc(1, sizeof *j);
    j->unit = unit;
    j->params = params ? params : json_object();
    j->task_id = strdup(task_id);
    j->workdir = strdup("/tmp");
    j->run_id = 7;
    j->attempt = 1;
    j->user = user;
    return j;
}

static FIXTURE_FN void free_job(df_job *j)
{
    json_decref(j->params);
    free(j->task_id);
    free(j->workdir);
    free(j);
}

static FIXTURE_FN df_pool *new_pool(unsigned wmin, unsigned wmax, size_t qcap)
{
    df_pool_config cfg;
    df_pool_config_default(&cfg);
    cfg.workers_min = wmin;
    cfg.workers_max = wmax;
    if (qcap)
        cfg.queue_capacity = qcap;
    df_pool *p = NULL;
    char err[256] = "";
    int rc = df_pool_create(&cfg, on_done, &C, &p, err, sizeof err);
    if (rc != 0)
        fail_msg("df_pool_create: %s", err);
    return p;
}

/* Set by spin_unit (and by other units of a test program) when a job begins. */
static atomic_int started_flag;

/* spin: sets started_flag, then computes for params.ms without yielding, ignoring its
 * cancellation (a plugin that keeps its worker). */
static FIXTURE_FN int spin_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)result;
    atomic_store(&started_flag, 1);
    uint64_t end = df_mono_ms() + (uint64_t)json_integer_value(json_object_get(params, "ms"));
    while (df_mono_ms() < end)
        ;
    return DF_TASK_OK;
}
static const df_taskunit spin_unit __attribute__((unused)) = {.abi = DF_TASKUNIT_ABI,
                                                              .name = "spin",
                                                              .version = "1",
                                                              .description = "t",
                                                              .execute = spin_execute};

/* Waits (at most 5 s) until *f is set; fails the test otherwise. */
static FIXTURE_FN void wait_flag(atomic_int *f)
{
    uint64_t end = df_mono_ms() + 5000;
    while (!atomic_load(f) && df_mono_ms() < end)
        usleep(1000);
    assert_true(atomic_load(f));
}

#define TAG(i) ((void *)(uintptr_t)(0x1000 + (i)))

#endif
