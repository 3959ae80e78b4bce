/* cmd_cancel: the `cancel` command (SPEC §10) — stores a cancel request on a run through the
 * embedding API (df_engine_request_cancel); the engine that owns the run acts on it within 1 s.
 * A run that no live engine owns (INTERRUPTED, or its engine dead) is taken over and cancelled by
 * this command itself, as `resume` would continue it (cmd_run.c). --wait waits for the run's end
 * by reading its state. Exit codes: 0 once the request is stored (with --wait, once the run is
 * CANCELLED), 1 when the run ended in another state first (--wait), 2 for a finished or unknown
 * run, 3 for a store error. */
#include "cli.h"

#include <string.h>
#include <time.h>

/* How often --wait reads the run's state. */
#define WAIT_POLL_MS 200

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Prints the run's status object (--json), or nothing. Returns 0, or an exit code. */
static int print_status(const df_cli *cli, df_engine *e, long long run_id)
{
    if (!cli->json)
        return 0;
    json_t *st = NULL;
    df_errlist errs = {0};
    int rc = df_engine_run_status(e, run_id, &st, &errs);
    if (rc == 0) {
        json_object_del(st, "metrics");
        df_cli_print_json(st);
    } else {
        df_cli_error("status of run %lld: %s", run_id, errs.n ? errs.msgs[0] : df_strerror(rc));
    }
    json_decref(st);
    df_errlist_clear(&errs);
    return rc == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
}

/* --wait: reads the run's state until it has ended, or no live engine owns it any more. Sets
 * *state. Returns 0, or an exit code after printing why. */
static int wait_for_end(df_engine *e, long long run_id, df_run_state *state)
{
    for (;;) {
        json_t *st = NULL;
        df_errlist errs = {0};
        int rc = df_engine_run_status(e, run_id, &st, &errs);
        if (rc != 0) {
            df_cli_error("cancel: run %lld: %s", run_id, errs.n ? errs.msgs[0] : df_strerror(rc));
            df_errlist_clear(&errs);
            return DF_EXIT_INTERNAL;
        }
        const char *name = df_cli_json_str(st, "state", "RUNNING");
        df_run_state s = DF_RS_RUNNING;
        for (int i = 0; i < DF_RS__COUNT; i++)
            if (strcmp(name, df_run_state_name((df_run_state)i)) == 0)
                s = (df_run_state)i;
        json_decref(st);
        if (s != DF_RS_RUNNING) {
            *state = s;
            return 0;
        }
        sleep_ms(WAIT_POLL_MS);
    }
}

int df_cmd_cancel(const df_cli *cli)
{
    long long run_id = 0;
    if (df_cli_parse_run_id(cli->operands[0], &run_id) != 0) {
        df_cli_error("cancel: RUN_ID must be a positive integer, not \"%s\"", cli->operands[0]);
        return DF_EXIT_USAGE;
    }
    if (!df_db_exists(cli->db_path)) {
        df_cli_error("cancel: no run %lld: %s does not exist", run_id, cli->db_path);
        return DF_EXIT_USAGE;
    }
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    df_errlist errs = {0};
    df_run_state state = DF_RS_RUNNING;
    int rc = df_engine_request_cancel(e, run_id, "dagflow cancel", &state, &errs);
    for (size_t i = 0; i < errs.n; i++)
        df_cli_error("cancel: %s", errs.msgs[i]);
    df_errlist_clear(&errs);
    int code = DF_EXIT_OK;
    if (rc == DF_ENOTFOUND || rc == DF_EREFUSED)
        code = DF_EXIT_USAGE;
    else if (rc != 0)
        code = DF_EXIT_INTERNAL;
    else if (state == DF_RS_RUNNING && cli->wait)
        code = wait_for_end(e, run_id, &state);
    if (code != DF_EXIT_OK || state == DF_RS_INTERRUPTED) {
        df_engine_close(e);
        if (code != DF_EXIT_OK)
            return code;
        /* No live engine owns it (now): this command cancels it, handlers included. */
        if (!cli->json)
            printf("run %lld: no engine is running it; cancelling it here\n", run_id);
        fflush(stdout);
        return df_cli_cancel_by_resume(cli, run_id);
    }
    if (state == DF_RS_RUNNING) {
        if (!cli->json)
            printf("run %lld: cancel requested; the engine running it acts on it within 1 s\n",
                   run_id);
    } else if (state == DF_RS_CANCELLED) {
        if (!cli->json)
            printf("run %lld: CANCELLED\n", run_id);
    } else {
        df_cli_error("cancel: run %lld ended %s before the cancel took effect", run_id,
                     df_run_state_name(state));
        code = DF_EXIT_FAILED;
    }
    int pc = print_status(cli, e, run_id);
    df_engine_close(e);
    return code != DF_EXIT_OK ? code : pc;
}
