/* cmd_status: the `status [RUN_ID]` command (SPEC §6): one run's header and task table, or with
 * --json the store's status object. Never creates the database. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "../../store/store.h"

static bool str_is(const json_t *obj, const char *key, const char *want)
{
    const char *s = df_cli_json_str(obj, key, NULL);
    return s && strcmp(s, want) == 0;
}

/* The first line (up to a newline) of an error, cut to max bytes (on a UTF-8 boundary) with "..."
 * appended. */
static void one_line(const char *s, char *buf, size_t len, size_t max)
{
    if (!s || !*s) {
        snprintf(buf, len, "-");
        return;
    }
    size_t n = strcspn(s, "\n"); /* a \r is shown as a space (df_cli_sanitize) */
    bool cut = s[n] != '\0';
    if (max + 4 > len)
        max = len - 4;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    memcpy(buf, s, n);
    strcpy(buf + n, cut ? "..." : "");
}

static int print_human(const json_t *st)
{
    char dur[48];
    bool run_live = str_is(st, "state", "RUNNING"); /* the store shows a stale one INTERRUPTED */
    df_cli_duration_text(st, run_live, dur, sizeof dur);
    printf("Run:       %lld\n", df_cli_json_int(st, "run_id"));
    printf("Workflow:  %s\n", df_cli_json_str(st, "workflow", "-"));
    printf("State:     %s\n", df_cli_json_str(st, "state", "-"));
    printf("Started:   %s\n", df_cli_json_str(st, "started_at", "-"));
    printf("Ended:     %s\n", df_cli_json_str(st, "ended_at", "-"));
    printf("Duration:  %s\n", dur);
    const json_t *m = json_object_get(st, "metrics");
    if (json_is_object(m)) {
        long long workers = df_cli_json_int(m, "workers_peak");
        long long tasks = df_cli_json_int(m, "in_flight_peak");
        printf("Pool:      %lld worker%s at most (%lld started, %lld stopped), %lld task%s in "
               "flight at most, queue high-water %lld, stacks %lld created / %lld reused\n",
               workers, workers == 1 ? "" : "s", df_cli_json_int(m, "workers_started"),
               df_cli_json_int(m, "workers_stopped"), tasks, tasks == 1 ? "" : "s",
               df_cli_json_int(m, "queue_high_water"), df_cli_json_int(m, "stacks_created"),
               df_cli_json_int(m, "stacks_reused"));
    }
    printf("\n");

    static const char *const headers[] = {"TASK", "STATE", "ATTEMPTS", "DURATION", "ERROR"};
    df_cli_table *t = df_cli_table_new(5, headers);
    if (!t)
        return df_cli_table_finish(NULL, false);
    size_t i;
    json_t *task;
    json_array_foreach(json_object_get(st, "tasks"), i, task)
    {
        char attempts[24], err[128];
        snprintf(attempts, sizeof attempts, "%lld", df_cli_json_int(task, "attempts"));
        df_cli_duration_text(task, run_live && str_is(task, "state", "RUNNING"), dur, sizeof dur);
        one_line(df_cli_json_str(task, "error", NULL), err, sizeof err, 100);
        const char *cells[] = {df_cli_json_str(task, "id", "?"),
                               df_cli_json_str(task, "state", "?"), attempts, dur, err};
        if (df_cli_table_add(t, cells) != 0)
            return df_cli_table_finish(t, false);
    }
    return df_cli_table_finish(t, true);
}

/* `dagflow status [RUN_ID] [--db PATH] [--json]`. Returns 0, 2 for an unknown run, no runs or bad
 * usage, 3 for a store error. */
int df_cmd_status(int argc, char **argv)
{
    df_cli cli;
    int code = df_cli_parse(df_cli_spec_find("status"), argc, argv, &cli);
    if (code != DF_CLI_PROCEED)
        return code;
    long long run_id = 0;
    df_store *store = NULL;
    json_t *st = NULL;
    char err[512];

    if (cli.n_operands && df_cli_parse_run_id(cli.operands[0], &run_id) != 0) {
        df_cli_error("status: RUN_ID must be a positive integer, got \"%s\"", cli.operands[0]);
        code = DF_EXIT_USAGE;
        goto out;
    }
    if (!df_store_exists(cli.db_path)) {
        if (run_id)
            df_cli_error("unknown run %lld: no runs yet (%s does not exist)", run_id, cli.db_path);
        else
            df_cli_error("no runs yet (%s does not exist)", cli.db_path);
        code = DF_EXIT_USAGE;
        goto out;
    }
    if (df_store_open(cli.db_path, &store, err, sizeof err) != DF_STORE_OK) {
        df_cli_error("%s", err);
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    if (!run_id) {
        int rc = df_store_latest_run(store, &run_id);
        if (rc == DF_STORE_NOTFOUND) {
            df_cli_error("no runs yet in %s", cli.db_path);
            code = DF_EXIT_USAGE;
            goto out;
        }
        if (rc != DF_STORE_OK) {
            df_cli_error("%s", df_store_error(store));
            code = DF_EXIT_INTERNAL;
            goto out;
        }
    }
    int rc = df_store_run_status(store, run_id, &st);
    if (rc == DF_STORE_NOTFOUND) {
        df_cli_error("unknown run %lld (see 'dagflow history')", run_id);
        code = DF_EXIT_USAGE;
        goto out;
    }
    if (rc != DF_STORE_OK) {
        df_cli_error("%s", df_store_error(store));
        code = DF_EXIT_INTERNAL;
        goto out;
    }
    if (cli.json) {
        /* Exactly SPEC §6's keys: the pool metrics are shown by the human output only. */
        json_object_del(st, "metrics");
        code = df_cli_print_json(st) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    } else
        code = print_human(st);

out:
    json_decref(st);
    df_store_close(store);
    df_cli_free(&cli);
    return code;
}
