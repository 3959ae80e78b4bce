/* engine_open: creating and freeing an engine — its configuration's defaults (for the engine and
 * its coroutine pool), its random generator's seed, the names of variables passed to tasks,
 * df_engine_open and df_engine_close (giving attempts still in flight their grace, then freeing
 * what the pool hands back late), and the store opened on first use (df_engine_open_store). The
 * loop that drives an open engine is engine.c's. */
#include "engine_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "remote.h"

void df_engine_config_default(df_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db = "./dagflow.db";
    cfg->concurrency = 256;
}

/* The pool's configuration: the given values over the pool's defaults. A default never
 * overrides what was given: a maximum given under the default minimum lowers the minimum, a
 * minimum given over the default maximum raises the maximum. */
static void engine_pool_config(const df_engine_config *cfg, df_pool_config *pc)
{
    df_pool_config_default(pc);
    if (cfg->workers_min)
        pc->workers_min = cfg->workers_min;
    if (cfg->workers_max)
        pc->workers_max = cfg->workers_max;
    if (pc->workers_max < pc->workers_min) {
        if (cfg->workers_max)
            pc->workers_min = pc->workers_max;
        else
            pc->workers_max = pc->workers_min;
    }
    if (cfg->queue_capacity)
        pc->queue_capacity = cfg->queue_capacity;
    if (cfg->stack_size)
        pc->stack_size = cfg->stack_size;
    pc->max_result_bytes =
        cfg->max_result_bytes ? cfg->max_result_bytes : DF_DEFAULT_MAX_RESULT_BYTES;
    pc->max_log_bytes = cfg->max_log_bytes ? cfg->max_log_bytes : DF_DEFAULT_MAX_LOG_BYTES;
}

/* Seeds the engine's erand48 state: from cfg->seed, else from the time, the process id and the
 * engine's address, so that engines started at the same moment (in one process or several) draw
 * different jitter. */
static void engine_seed(df_engine *e, uint64_t seed)
{
    if (seed == 0)
        seed = (uint64_t)df_now_ms() ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)e;
    e->rng[0] = (unsigned short)seed;
    e->rng[1] = (unsigned short)(seed >> 16);
    e->rng[2] = (unsigned short)(seed >> 32 ^ seed >> 48);
}

double df_engine_random(df_engine *e)
{
    return erand48(e->rng);
}

/* Copies cfg's pass_env names and patterns into e->pass_env (NULL-terminated) and points
 * e->cfg.pass_env and the pool's configuration at it. Returns 0 or -1 (out of memory). */
static int copy_pass_env(df_engine *e, const df_engine_config *cfg)
{
    e->cfg.pass_env = NULL;
    e->cfg.n_pass_env = 0;
    if (!(e->pass_env = calloc(cfg->n_pass_env + 1, sizeof *e->pass_env)))
        return -1;
    for (size_t i = 0; i < cfg->n_pass_env; i++)
        if (cfg->pass_env[i] && !(e->pass_env[e->cfg.n_pass_env++] = strdup(cfg->pass_env[i])))
            return -1;
    e->cfg.pass_env = (const char *const *)e->pass_env;
    return 0;
}

static void free_pass_env(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static int engine_open(const df_engine_config *cfg, df_engine **out, df_errlist *errs)
{
    df_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->db = strdup(cfg->db && *cfg->db ? cfg->db : "./dagflow.db"))) {
        df_errlist_add(errs, "out of memory");
        free(e);
        return DF_ENOMEM;
    }
    e->cfg = *cfg;
    e->cfg.db = e->db;
    e->cfg.plugin_dirs = NULL; /* the registry copies them */
    e->cfg.n_plugin_dirs = 0;
    if (copy_pass_env(e, cfg) != 0) {
        df_errlist_add(errs, "out of memory");
        free_pass_env(e->pass_env);
        free(e->db);
        free(e);
        return DF_ENOMEM;
    }
    if (e->cfg.concurrency == 0)
        e->cfg.concurrency = 256;
    e->limits.concurrency = e->cfg.concurrency;
    if (e->cfg.max_params_bytes == 0)
        e->cfg.max_params_bytes = DF_DEFAULT_MAX_PARAMS_BYTES;
    engine_pool_config(cfg, &e->pool_cfg);
    e->pool_cfg.pass_env = e->cfg.pass_env;
    engine_seed(e, cfg->seed);
    atomic_init(&e->stop_requests, 0);
    pthread_mutex_init(&e->inbox_mu, NULL);
    df_metrics_init(&e->metrics);
    df_admission_init(&e->admission, cfg->max_memory, cfg->max_load, df_admission_probe_system,
                      NULL);
    if (uv_loop_init(&e->loop) != 0) {
        df_errlist_add(errs, "cannot create the event loop");
        pthread_mutex_destroy(&e->inbox_mu);
        free_pass_env(e->pass_env);
        free(e->db);
        free(e);
        return DF_EINTERNAL;
    }
    df_engine_stop_init(e);
    df_engine_cancel_init(e);
    e->plugins = df_plugin_registry_new(cfg->plugin_dirs, cfg->n_plugin_dirs);
    df_plugin_registry_allow_insecure(e->plugins, cfg->allow_insecure_plugins);
    e->alerts = df_alerts_new(&e->loop, df_engine_alert_outcome, e);
    df_alerts_set_pass_env(e->alerts, e->cfg.pass_env);
    gethostname(e->engine_host, sizeof e->engine_host - 1);
    e->engine_info = (df_engine_id){.pid = getpid(),
                                    .host = e->engine_host,
                                    .started_at = df_now_ms(),
                                    .kind = cfg->service ? "serve" : NULL};
    if (!e->plugins || !e->alerts) {
        df_errlist_add(errs, "out of memory");
        df_engine_close(e);
        return DF_ENOMEM;
    }
    *out = e;
    return 0;
}

int df_engine_open(const df_engine_config *cfg, df_engine **out, df_errlist *errs)
{
    df_engine_config dflt;
    df_errlist scratch = {0};
    *out = NULL;
    if (!cfg) {
        df_engine_config_default(&dflt);
        cfg = &dflt;
    }
    int rc = engine_open(cfg, out, errs ? errs : &scratch);
    df_errlist_clear(&scratch);
    return rc;
}

/* Frees what the pool may still hand back after the loop stopped: results in the inbox and
 * attempts abandoned earlier. */
static void engine_free_late_results(df_engine *e)
{
    df_job_result *res = e->inbox_head;
    while (res) {
        df_job_result *next = res->next;
        df_attempt_rec *rec = res->user;
        if (rec && !rec->abandoned)
            free(rec);
        df_job_result_free(res);
        res = next;
    }
    e->inbox_head = e->inbox_tail = NULL;
    while (e->abandoned) {
        df_attempt_rec *next = e->abandoned->next_abandoned;
        free(e->abandoned);
        e->abandoned = next;
    }
}

size_t df_engine_close(df_engine *e)
{
    if (!e)
        return 0;
    size_t left = 0;
    df_engine_close_handles(e);
    df_alerts_close(e->alerts);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    /* Attempts still in flight get the grace period to see their cancellation; when none is
     * (the pool may still hold abandoned ones, stuck in plugins that ignored their deadline and
     * already recorded TIMED_OUT), nothing is worth waiting for. */
    uint64_t grace = e->limits.in_flight > 0 ? DF_STOP_GRACE_MS : 0;
    /* Nothing is recorded any more: attempts still in flight (after a halt or a store failure,
     * or of runs not waited to their end) are given up unrecorded, their records kept on the
     * abandoned list so that they are freed below whether or not their result comes back. */
    e->fatal = true;
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_abandon_in_flight(e->runs[i]);
    if (e->pool)
        left = df_pool_destroy(e->pool, grace);
    engine_free_late_results(e);
    for (size_t i = 0; i < e->n_runs; i++)
        df_run_free(e->runs[i]);
    free(e->runs);
    uv_close((uv_handle_t *)&e->stop_async, NULL);
    df_engine_cancel_free(e);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    df_engine_cancel_destroy(e);
    df_remote_free(e);
    for (size_t i = 0; i < e->n_slot_pools; i++) {
        free(e->slot_pools[i]->name);
        free(e->slot_pools[i]);
    }
    free(e->slot_pools);
    for (size_t i = 0; i < e->n_breakers; i++)
        df_breaker_free(e->breakers[i].b);
    free(e->breakers);
    if (e->in_tx && e->store)
        df_store_rollback(e->store);
    if (e->store)
        df_store_checkpoint(e->store, NULL); /* what a reader held at the run's end */
    df_store_close(e->store);
    df_plugin_registry_left_behind(e->plugins, left); /* then no fini: plugin code may run */
    df_plugin_registry_free(e->plugins);
    pthread_mutex_destroy(&e->inbox_mu);
    df_metrics_free(&e->metrics);
    free_pass_env(e->pass_env);
    free(e->db);
    free(e);
    return left;
}

/* Opened on first use, so that input that cannot be loaded never creates a database, and the
 * read calls never do. */
int df_engine_open_store(df_engine *e, bool create, bool name_path, df_errlist *errs)
{
    if (e->store)
        return 0;
    if (!create && !df_store_exists(e->db)) {
        df_errlist_add(errs, "%s does not exist", e->db);
        return DF_ENOTFOUND;
    }
    char err[1024];
    int rc = df_store_open(e->db, &e->store, err, sizeof err);
    if (rc == DF_STORE_OK &&
        (rc = df_store_set_lease(e->store, &e->engine_info, df_engine_lease_ms(e))) != 0) {
        snprintf(err, sizeof err, "%s", df_store_error(e->store));
        df_store_close(e->store);
        e->store = NULL;
    }
    /* Every refused write ends the engine's transaction anyway (fenced writes: a refusal is a lost
     * run or a bug), so the store may answer them at the commit (PostgreSQL's pipeline). */
    if (rc == DF_STORE_OK)
        df_store_defer_checks(e->store, true);
    if (rc != DF_STORE_OK) {
        /* A database URI is not repeated: it may hold a password. */
        if (!name_path || !df_store_is_path(e->db) || strstr(err, e->db))
            df_errlist_add(errs, "%s", err);
        else
            df_errlist_add(errs, "%s: %s", e->db, err);
        return rc; /* DF_STORE_* codes are DF_E* codes */
    }
    return 0;
}
