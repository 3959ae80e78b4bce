/* cmd_history: the `history [--workflow NAME] [--limit N] [--state S] [--since TIME]
 * [--before RUN_ID]` command (SPEC §6, §10): recent runs from the run_history view, as a table or
 * (--json) an array. A missing database is an empty history and is not created. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* --since: an ISO-8601 time with its offset, or a date YYYY-MM-DD (midnight UTC). Returns 0, or
 * -1 after printing why. */
static int parse_since(const char *text, int64_t *ms)
{
    if (df_parse_time(text, ms) == 0)
        return 0;
    char buf[32];
    int y, m, d, n = 0;
    if (strlen(text) == 10 && sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10) {
        snprintf(buf, sizeof buf, "%sT00:00:00Z", text);
        if (df_parse_time(buf, ms) == 0)
            return 0;
    }
    df_cli_error("history: --since needs an ISO-8601 time with its offset "
                 "(2026-12-01T08:00:00Z) or a date (2026-12-01), got \"%s\"",
                 text);
    return -1;
}

static int print_table(const json_t *runs)
{
    if (json_array_size(runs) == 0) {
        printf("no runs\n");
        return DF_EXIT_OK;
    }
    static const char *const headers[] = {"RUN",     "WORKFLOW", "STATE",
                                          "STARTED", "DURATION", "TASKS (ok/failed/total)"};
    df_cli_table *t = df_cli_table_new(6, headers);
    if (!t)
        return df_cli_table_finish(NULL, false);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char id[24], dur[32], tasks[80];
        snprintf(id, sizeof id, "%lld", df_cli_json_int(r, "run_id"));
        df_cli_duration_text(r, false, dur, sizeof dur); /* "-" until the run ends */
        snprintf(tasks, sizeof tasks, "%lld/%lld/%lld", df_cli_json_int(r, "tasks_succeeded"),
                 df_cli_json_int(r, "tasks_failed"), df_cli_json_int(r, "tasks_total"));
        const char *cells[] = {id,
                               df_cli_json_str(r, "workflow", "?"),
                               df_cli_json_str(r, "state", "?"),
                               df_cli_json_str(r, "started_at", "-"),
                               dur,
                               tasks};
        if (df_cli_table_add(t, cells) != 0)
            return df_cli_table_finish(t, false);
    }
    return df_cli_table_finish(t, true);
}

/* `dagflow history [--workflow NAME] [--limit N] [--state S] [--since TIME] [--before RUN_ID]
 * [--db PATH] [--json]`. Returns 0, 2 on bad usage, 3 on a store error. */
int df_cmd_history(const df_cli *cli)
{
    df_history_filter f = {.workflow = cli->workflow,
                           .state = cli->state,
                           .before = cli->before,
                           .limit = (size_t)cli->limit};
    if (cli->since && parse_since(cli->since, &f.since_ms) != 0)
        return DF_EXIT_USAGE;
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    df_errlist errs = {0};
    json_t *runs = NULL;
    int code;
    /* A missing database is an empty history, and is not created. */
    int rc = df_engine_history_query(e, &f, &runs, &errs);
    if (rc != 0) {
        df_cli_print_errlist(&errs);
        code = rc == DF_EINPUT ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
    } else if (cli->json) {
        code = df_cli_print_json(runs) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    } else {
        code = print_table(runs);
    }
    json_decref(runs);
    df_errlist_clear(&errs);
    df_engine_close(e);
    return code;
}
