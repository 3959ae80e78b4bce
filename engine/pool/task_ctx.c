/* task_ctx: the df_task_* helpers of the plugin SDK (include/dagflow/taskunit.h), run by a
 * plugin's execute() inside a pool coroutine. Waiting helpers start a libuv request on the
 * worker's loop and yield to the worker's scheduler; the request's callback wakes the coroutine.
 * These functions are exported from the dagflow executable to dlopen'd plugins; the ABI-1
 * entry points of the spawn helper are in task_abi1.c. */
#include "pool_internal.h"

#include "../proc_notes.h"
#include "../sized.h"
#include "fault.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest log line kept. How much of the log is kept (the newest bytes) is the pool's
 * max_log_bytes (DF_LOG_KEEP). */
#define DF_LOG_LINE_MAX 4096
#define DF_LOG_KEEP(ctx) ((ctx)->w->pool->cfg.max_log_bytes)

/* See pool_internal.h. */
void df_task_ctx_wait(df_task_ctx *ctx)
{
    while (ctx->wait != DF_WAIT_NONE)
        df_coro_yield(&ctx->w->sched);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Finished contexts kept per worker for reuse (with their sleep timers still open). */
#define DF_CTX_FREE_MAX 1024

/* See pool_internal.h. */
void df_task_ctx_dispose(df_task_ctx *ctx)
{
    df_worker *w = ctx->w;
    json_decref(ctx->result);
    free(ctx->error);
    free(ctx->log);
    if (!w->closing && w->ctx_free_n < DF_CTX_FREE_MAX) {
        /* everything but the timer (stopped, still open) starts afresh */
        ctx->pj = NULL;
        ctx->co = NULL;
        ctx->wait = DF_WAIT_NONE;
        ctx->in_ready = 0;
        ctx->ready_next = NULL;
        ctx->yield_next = NULL;
        ctx->proc = NULL;
        memset(&ctx->spawn_res, 0, sizeof ctx->spawn_res);
        ctx->status = 0;
        ctx->result = NULL;
        ctx->error = ctx->log = NULL;
        ctx->log_len = ctx->log_cap = 0;
        ctx->started_ms = ctx->ended_ms = 0;
        ctx->started_us = 0;
        ctx->free_next = w->ctx_free;
        w->ctx_free = ctx;
        w->ctx_free_n++;
        return;
    }
    ctx->result = NULL;
    ctx->error = ctx->log = NULL;
    if (ctx->timer_inited)
        uv_close((uv_handle_t *)&ctx->timer, on_timer_closed); /* frees ctx */
    else
        free(ctx);
}

/* See pool_internal.h. */
void df_task_ctx_free_all(df_worker *w)
{
    while (w->ctx_free) {
        df_task_ctx *ctx = w->ctx_free;
        w->ctx_free = ctx->free_next;
        if (ctx->timer_inited)
            uv_close((uv_handle_t *)&ctx->timer, on_timer_closed); /* frees ctx */
        else
            free(ctx);
    }
    w->ctx_free_n = 0;
}

/* See pool_internal.h. */
void df_task_ctx_on_cancel(df_task_ctx *ctx)
{
    switch (ctx->wait) {
    case DF_WAIT_SLEEP:
        uv_timer_stop(&ctx->timer);
        ctx->wait = DF_WAIT_NONE;
        df_worker_wake(ctx);
        break;
    case DF_WAIT_SPAWN:
        df_proc_kill(ctx->proc); /* the coroutine resumes once the child is reaped */
        break;
    default: /* run_blocking cannot be interrupted; others check the flag themselves */
        break;
    }
}

/* ---- sleep ---- */

static void on_sleep_timer(uv_timer_t *t)
{
    df_task_ctx *ctx = t->data;
    if (ctx->wait == DF_WAIT_SLEEP) {
        ctx->wait = DF_WAIT_NONE;
        df_worker_wake(ctx);
    }
    df_worker_run_ready(ctx->w);
}

/* Waits ms milliseconds on a uv timer of the worker's loop; see taskunit.h. */
int df_task_sleep(df_task_ctx *ctx, uint64_t ms)
{
    if (!ctx)
        return -1;
    if (df_pool_job_is_cancelled(ctx->pj))
        return 1;
    if (ms == 0) { /* yields once: resumed on the loop's next turn (df_worker_yield_later) */
        ctx->wait = DF_WAIT_YIELD;
        df_worker_yield_later(ctx);
        df_task_ctx_wait(ctx);
        return df_pool_job_is_cancelled(ctx->pj) ? 1 : 0;
    }
    if (!ctx->timer_inited) {
        uv_timer_init(&ctx->w->loop, &ctx->timer);
        ctx->timer.data = ctx;
        ctx->timer_inited = 1;
    }
    /* The loop's cached time may be stale after a long run of coroutines: refresh it so the
     * timer never fires early. */
    uv_update_time(&ctx->w->loop);
    uv_timer_start(&ctx->timer, on_sleep_timer, ms, 0);
    ctx->wait = DF_WAIT_SLEEP;
    df_task_ctx_wait(ctx);
    uv_timer_stop(&ctx->timer);
    return df_pool_job_is_cancelled(ctx->pj) ? 1 : 0;
}

/* Non-zero once the job or the whole pool was cancelled; see taskunit.h. */
int df_task_cancelled(const df_task_ctx *ctx)
{
    return ctx ? df_pool_job_is_cancelled(ctx->pj) : 1;
}

/* ---- run_blocking ---- */

typedef struct blocking_call {
    void (*fn)(void *);
    void *arg;
    df_task_ctx *ctx;
} blocking_call;

static void on_work(uv_work_t *req)
{
    blocking_call *bc = req->data;
    /* libuv's pool threads: named for what they do here, and given an alternate signal stack
     * (once each) so that the crash message works there too. */
    static _Thread_local int thread_ready;
    if (!thread_ready) {
        static _Thread_local df_fault_altstack altstack;
        pthread_setname_np(pthread_self(), "df-blocking");
        df_fault_thread_init(&altstack);
        thread_ready = 1;
    }
    df_fault_enter(bc->ctx->pj->job, NULL);
    bc->fn(bc->arg);
    df_fault_leave();
}

static void on_work_done(uv_work_t *req, int status)
{
    (void)status;
    blocking_call *bc = req->data;
    df_task_ctx *ctx = bc->ctx;
    ctx->wait = DF_WAIT_NONE;
    df_worker_wake(ctx);
    df_worker_run_ready(ctx->w);
}

/* Runs fn(arg) on libuv's thread pool (a bounded set of threads outside the workers, sized by
 * UV_THREADPOOL_SIZE) and yields until it returned; see taskunit.h. */
int df_task_run_blocking(df_task_ctx *ctx, void (*fn)(void *arg), void *arg)
{
    if (!ctx || !fn)
        return -1;
    uv_work_t req;
    blocking_call bc = {fn, arg, ctx};
    req.data = &bc;
    int rc = uv_queue_work(&ctx->w->loop, &req, on_work, on_work_done);
    if (rc != 0)
        return rc;
    ctx->wait = DF_WAIT_BLOCKING;
    df_task_ctx_wait(ctx);
    return 0;
}

/* ---- log and error ---- */

/* Keeps the last keep bytes of the log, cut at a line start. */
static void log_trim_to(df_task_ctx *ctx, size_t keep)
{
    if (ctx->log_len <= keep)
        return;
    ctx->log_cut = true;
    size_t drop = ctx->log_len - keep;
    /* the log ends with '\n', so a newline is always found */
    char *nl = memchr(ctx->log + drop - 1, '\n', ctx->log_len - (drop - 1));
    size_t cut = nl ? (size_t)(nl - ctx->log) + 1 : ctx->log_len;
    memmove(ctx->log, ctx->log + cut, ctx->log_len - cut);
    ctx->log_len -= cut;
}

/* Keeps the last DF_LOG_KEEP bytes of the log, cut at a line start. */
static void log_trim(df_task_ctx *ctx)
{
    log_trim_to(ctx, DF_LOG_KEEP(ctx));
}

/* See pool_internal.h. */
void df_task_ctx_log_finish(df_task_ctx *ctx)
{
    log_trim(ctx);
    if (!ctx->log_cut)
        return;
    /* Say so in the log itself (SPEC §12: a cap, named). */
    char head[160];
    int n = snprintf(head, sizeof head,
                     "[dagflow: earlier log lines dropped: the log keeps its last %zu bytes "
                     "(--max-log-bytes)]\n",
                     DF_LOG_KEEP(ctx));
    /* The line counts in the cap: make room for it. */
    if (n > 0 && (size_t)n < DF_LOG_KEEP(ctx))
        log_trim_to(ctx, DF_LOG_KEEP(ctx) - (size_t)n);
    char *g = n > 0 ? realloc(ctx->log, ctx->log_len + (size_t)n + 1) : NULL;
    if (!g)
        return;
    memmove(g + n, g, ctx->log_len);
    memcpy(g, head, (size_t)n);
    ctx->log = g;
    ctx->log_len += (size_t)n;
    ctx->log_cap = ctx->log_len + 1;
}

static void log_append(df_task_ctx *ctx, const char *line, size_t n)
{
    if (ctx->log_len + n + 1 > ctx->log_cap) {
        size_t ncap = ctx->log_cap ? ctx->log_cap : 1024;
        while (ncap < ctx->log_len + n + 1)
            ncap *= 2;
        char *nb = realloc(ctx->log, ncap);
        if (!nb)
            return;
        ctx->log = nb;
        ctx->log_cap = ncap;
    }
    memcpy(ctx->log + ctx->log_len, line, n);
    ctx->log_len += n;
    ctx->log[ctx->log_len++] = '\n';
    /* let the log reach twice the kept size before trimming, so trims stay rare */
    if (ctx->log_len > 2 * DF_LOG_KEEP(ctx))
        log_trim(ctx);
}

/* Appends one line to the attempt's log; see taskunit.h. Lines are cut at DF_LOG_LINE_MAX bytes;
 * the log handed back with the result holds the last DF_LOG_KEEP bytes (whole lines). */
void df_task_log(df_task_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !fmt)
        return;
    char line[DF_LOG_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < DF_LOG_LINE_MAX ? (size_t)n : DF_LOG_LINE_MAX;
    log_append(ctx, line, len);
}

/* Records the attempt's error message (the last call wins); see taskunit.h. */
void df_task_set_error(df_task_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !fmt)
        return;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    free(ctx->error);
    ctx->error = msg;
}

/* ---- identity ---- */

/* The attempt number, 1-based (taskunit.h). */
unsigned df_task_attempt(const df_task_ctx *ctx)
{
    return ctx ? ctx->pj->job->attempt : 0;
}

/* The task id, borrowed for the duration of execute (taskunit.h); "" without one. */
const char *df_task_id(const df_task_ctx *ctx)
{
    return ctx && ctx->pj->job->task_id ? ctx->pj->job->task_id : "";
}

/* The run id (taskunit.h). */
long long df_task_run_id(const df_task_ctx *ctx)
{
    return ctx ? ctx->pj->job->run_id : 0;
}

/* The default working directory of children (the workflow folder), borrowed (taskunit.h). */
const char *df_task_workdir(const df_task_ctx *ctx)
{
    return ctx ? ctx->pj->job->workdir : NULL;
}

/* ---- child processes ---- */

static void on_spawn_done(df_proc *proc, df_spawn_result *res, void *ud)
{
    (void)proc;
    df_task_ctx *ctx = ud;
    ctx->spawn_res = *res;
    ctx->proc = NULL;
    ctx->wait = DF_WAIT_NONE;
    df_worker_wake(ctx);
    df_worker_run_ready(ctx->w);
}

/* Copies the fields of the plugin's opts that its size covers into *full (the rest 0). Returns
 * 0, or -1 with a message in errbuf when opts is NULL or its size does not cover argv. */
static int read_spawn_opts(const df_spawn_opts *opts, df_spawn_opts *full, char *errbuf,
                           size_t errlen)
{
    memset(full, 0, sizeof *full);
    if (!opts) {
        snprintf(errbuf, errlen, "spawn: invalid arguments (no options)");
        return -1;
    }
    if (!DF_COVERS(opts->size, df_spawn_opts, argv)) {
        snprintf(errbuf, errlen,
                 "spawn: df_spawn_opts.size is %zu, too small to hold argv (start the options "
                 "from DF_SPAWN_OPTS_INIT)",
                 opts->size);
        return -1;
    }
    memcpy(full, opts, opts->size < sizeof *full ? opts->size : sizeof *full);
    full->size = sizeof *full;
    return 0;
}

/* Whether the plugin's result struct can be written: not NULL and its size covers exit_code.
 * Clears what it covers (but size) when it can; else writes a message into errbuf. */
static int check_spawn_result(df_spawn_result *res, char *errbuf, size_t errlen)
{
    if (!res) {
        snprintf(errbuf, errlen, "spawn: invalid arguments (no result)");
        return -1;
    }
    if (!DF_COVERS(res->size, df_spawn_result, exit_code)) {
        snprintf(errbuf, errlen,
                 "spawn: df_spawn_result.size is %zu, too small to hold exit_code (start the "
                 "result from DF_SPAWN_RESULT_INIT)",
                 res->size);
        return -1;
    }
    size_t n = res->size < sizeof *res ? res->size : sizeof *res;
    memset((char *)res + sizeof res->size, 0, n - sizeof res->size);
    return 0;
}

/* Hands the engine's full result to the plugin's res: the fields its size covers; the buffers
 * it has no room for are freed. */
static void write_spawn_result(df_spawn_result *full, df_spawn_result *res)
{
    size_t size = res->size;
    if (!DF_COVERS(size, df_spawn_result, stdout_data)) {
        free(full->stdout_data);
        full->stdout_data = NULL;
    }
    if (!DF_COVERS(size, df_spawn_result, stderr_data)) {
        free(full->stderr_data);
        full->stderr_data = NULL;
    }
    full->size = size;
    memcpy(res, full, size < sizeof *full ? size : sizeof *full);
}

/* Runs a child through df_proc_run on the worker's loop and yields until it has been reaped and
 * its output collected; a cancellation kills its process group. Reads and writes only the fields
 * that opts->size and res->size cover. See taskunit.h (df_task_spawn). */
int df_task_spawn2(df_task_ctx *ctx, const df_spawn_opts *opts, df_spawn_result *res, char *errbuf,
                   size_t errlen)
{
    char dummy[1];
    if (!errbuf || !errlen) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    df_spawn_opts o;
    if (check_spawn_result(res, errbuf, errlen) != 0 ||
        read_spawn_opts(opts, &o, errbuf, errlen) != 0)
        return -1;
    if (!ctx) {
        snprintf(errbuf, errlen, "spawn: invalid arguments (no task context)");
        return -1;
    }
    if (df_pool_job_is_cancelled(ctx->pj)) {
        snprintf(errbuf, errlen, "spawn %s: the attempt was cancelled",
                 o.argv && o.argv[0] ? o.argv[0] : "?");
        return -1;
    }
    char run_id[48], task_id[4200], attempt[48], map_index[48];
    snprintf(run_id, sizeof run_id, "DAGFLOW_RUN_ID=%lld", df_task_run_id(ctx));
    snprintf(task_id, sizeof task_id, "DAGFLOW_TASK_ID=%s", df_task_id(ctx));
    snprintf(attempt, sizeof attempt, "DAGFLOW_ATTEMPT=%u", df_task_attempt(ctx));
    /* SPEC §8: a mapped instance's children know its index */
    const df_job *job = ctx->pj->job;
    snprintf(map_index, sizeof map_index, "DAGFLOW_MAP_INDEX=%lld", job->map_index);
    /* The attempt's variables, then the names the engine passes through (entries without "="). */
    const char *const *pass = ctx->w->pool->cfg.pass_env;
    size_t n_pass = 0;
    while (pass && pass[n_pass])
        n_pass++;
    const char **extra = calloc(n_pass + 5, sizeof *extra);
    if (!extra) {
        snprintf(errbuf, errlen, "spawn: out of memory");
        return -1;
    }
    extra[0] = run_id;
    extra[1] = task_id;
    extra[2] = attempt;
    size_t k = 3;
    if (job->mapped)
        extra[k++] = map_index;
    for (size_t i = 0; i < n_pass; i++)
        extra[k + i] = pass[i];
    df_proc *proc = NULL;
    int rc = df_proc_run_tracked(&ctx->w->loop, &o, extra, df_task_workdir(ctx), 1, on_spawn_done,
                                 ctx, &proc, errbuf, errlen);
    free(extra);
    if (rc != 0)
        return rc;
    ctx->proc = proc;
    df_proc_set_owner(proc, ctx->w->pool, ctx->pj->id);
    /* for the store: a later engine confirms this group gone before the attempt runs again */
    df_proc_note_add(ctx->w->pool, df_task_run_id(ctx), df_task_id(ctx),
                     job->mapped ? job->map_index : -1, df_task_attempt(ctx), df_proc_pid(proc),
                     df_proc_cgroup(proc));
    if (df_pool_job_is_cancelled(ctx->pj)) /* cancelled before it had an owner */
        df_proc_kill(proc);
    ctx->wait = DF_WAIT_SPAWN;
    df_task_ctx_wait(ctx);
    write_spawn_result(&ctx->spawn_res, res);
    memset(&ctx->spawn_res, 0, sizeof ctx->spawn_res);
    return 0;
}

/* Frees the buffers of a spawn result that its size covers (not the struct); NULL is fine. */
void df_spawn_result_free2(df_spawn_result *res)
{
    if (!res)
        return;
    if (DF_COVERS(res->size, df_spawn_result, stdout_data)) {
        free(res->stdout_data);
        res->stdout_data = NULL;
    }
    if (DF_COVERS(res->size, df_spawn_result, stdout_len))
        res->stdout_len = 0;
    if (DF_COVERS(res->size, df_spawn_result, stderr_data)) {
        free(res->stderr_data);
        res->stderr_data = NULL;
    }
    if (DF_COVERS(res->size, df_spawn_result, stderr_len))
        res->stderr_len = 0;
}
