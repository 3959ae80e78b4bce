/* engine_config: the engine a command line opens — the df_engine_config its options give
 * (database, plugin folders, pool sizes, caps, admission, lease, variables passed through,
 * executor) and df_cli_open_engine, which prints the engine's errors as `dagflow: ` lines. The
 * options themselves are parsed by args.c. */
#include "cli.h"

void df_cli_engine_config(const df_cli *cli, df_engine_config *out)
{
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db = cli->db_path;
    cfg.plugin_dirs = cli->plugin_dirs;
    cfg.n_plugin_dirs = cli->n_plugin_dirs;
    cfg.concurrency = (size_t)cli->concurrency;
    cfg.workers_min = (unsigned)cli->workers_min; /* 0: the default */
    cfg.workers_max = (unsigned)cli->workers_max;
    cfg.queue_capacity = (size_t)cli->queue_capacity;
    cfg.stack_size = cli->stack_size;
    cfg.allow_insecure_plugins = cli->allow_insecure_plugins;
    cfg.max_params_bytes = cli->max_params_bytes;
    cfg.max_result_bytes = cli->max_result_bytes;
    cfg.max_log_bytes = cli->max_log_bytes;
    cfg.max_memory = cli->max_memory;
    cfg.max_load = cli->max_load;
    cfg.run_lease_ms = cli->run_lease_ms;
    cfg.pass_env = cli->pass_env;
    cfg.n_pass_env = cli->n_pass_env;
    cfg.executor_workers = cli->executor_workers;
    *out = cfg;
}

df_engine *df_cli_open_engine(const df_cli *cli,
                              void (*on_event)(void *ud, const df_engine_event *ev), void *ud)
{
    df_engine_config cfg;
    df_cli_engine_config(cli, &cfg);
    cfg.on_event = on_event;
    cfg.ud = ud;
    df_engine *e = NULL;
    df_errlist errs = {0};
    if (df_engine_open(&cfg, &e, &errs) != 0)
        df_cli_print_errlist(&errs);
    df_errlist_clear(&errs);
    return e;
}
