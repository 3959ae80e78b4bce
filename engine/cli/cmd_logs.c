/* cmd_logs: the `logs RUN_ID TASK [--attempt N]` command (SPEC §10): one attempt's log lines,
 * then its stdout and stderr (what the store kept), or with --json that attempt's object; and
 * the read both `logs` and `status --task` share (one task's attempts, with the CLI's messages
 * for an unknown run or task). Never creates the database. */
#include "cli.h"

#include <string.h>

int df_cli_read_attempts(df_engine *e, long long run_id, const char *task, json_t **out)
{
    df_errlist errs = {0};
    int rc = df_engine_task_attempts(e, run_id, task, out, &errs);
    int code = DF_EXIT_OK;
    if (rc == DF_ENOTFOUND && errs.n && strncmp(errs.msgs[0], "unknown run", 11) == 0) {
        df_cli_error("unknown run %lld (see 'dagflow history')", run_id);
        code = DF_EXIT_USAGE;
    } else if (rc == DF_ENOTFOUND) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_USAGE;
    } else if (rc != 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_INTERNAL;
    }
    df_errlist_clear(&errs);
    return code;
}

/* Prints text followed by a newline unless it ends with one. */
static void print_text(const char *text)
{
    size_t n = strlen(text);
    fwrite(text, 1, n, stdout);
    if (n && text[n - 1] != '\n')
        fputc('\n', stdout);
}

/* One section: "--- NAME ---" then the text; what was not kept says so. */
static void print_section(const json_t *a, const char *key, const char *flag)
{
    const char *text = json_string_value(json_object_get(a, key));
    bool cut = flag && json_is_true(json_object_get(a, flag));
    printf("--- %s%s ---\n", key, cut ? " (truncated at 1 MiB)" : "");
    if (!text)
        printf("(not kept for this attempt)\n");
    else if (!*text)
        printf("(empty)\n");
    else
        print_text(text);
}

/* The task's name as the user wrote it: ID, or ID[N] for a mapped instance (SPEC §10). */
static const char *task_name(const json_t *doc, char *buf, size_t len)
{
    const char *id = df_cli_json_str(doc, "task_id", "?");
    if (!json_is_integer(json_object_get(doc, "map_index")))
        return id;
    snprintf(buf, len, "%s[%lld]", id, df_cli_json_int(doc, "map_index"));
    return buf;
}

static void print_attempt(const json_t *doc, const json_t *a, size_t n_attempts)
{
    char dur[48], name[200];
    df_cli_duration_text(a, false, dur, sizeof dur);
    printf("Run %lld, task %s, attempt %lld of %zu: %s", df_cli_json_int(doc, "run_id"),
           task_name(doc, name, sizeof name), df_cli_json_int(a, "attempt"), n_attempts,
           df_cli_json_str(a, "outcome", "?"));
    if (json_is_integer(json_object_get(a, "exit_code")))
        printf(", exit code %lld", df_cli_json_int(a, "exit_code"));
    printf(" (started %s, %s)\n", df_cli_json_str(a, "started_at", "-"), dur);
    const char *err = df_cli_json_str(a, "error", NULL);
    if (err)
        printf("Error: %s\n", err);
    const char *log = df_cli_json_str(a, "log", NULL);
    printf("--- log ---\n");
    if (log && *log)
        print_text(log);
    else
        printf("(no log lines)\n");
    print_section(a, "stdout", "stdout_truncated");
    print_section(a, "stderr", "stderr_truncated");
}

/* The attempt asked for (cli->attempt, 0: the latest) of doc's attempts, or NULL after printing
 * why. */
static const json_t *pick_attempt(const df_cli *cli, const json_t *doc)
{
    const json_t *list = json_object_get(doc, "attempts");
    size_t n = json_array_size(list);
    long long run_id = df_cli_json_int(doc, "run_id");
    char name[200];
    const char *task = task_name(doc, name, sizeof name);
    if (n == 0) {
        df_cli_error("task \"%s\" of run %lld has no attempts yet (it is %s)", task, run_id,
                     df_cli_json_str(doc, "state", "?"));
        return NULL;
    }
    if (!cli->attempt)
        return json_array_get(list, n - 1);
    for (size_t i = 0; i < n; i++)
        if (df_cli_json_int(json_array_get(list, i), "attempt") == cli->attempt)
            return json_array_get(list, i);
    df_cli_error("task \"%s\" of run %lld has no attempt %ld (its attempts are %lld to %lld)", task,
                 run_id, cli->attempt, df_cli_json_int(json_array_get(list, 0), "attempt"),
                 df_cli_json_int(json_array_get(list, n - 1), "attempt"));
    return NULL;
}

/* `dagflow logs RUN_ID TASK [--attempt N] [--db PATH] [--json]`. Returns 0, 2 for an unknown
 * run, task or attempt or bad usage, 3 for a store error. */
int df_cmd_logs(const df_cli *cli)
{
    long long run_id = 0;
    if (df_cli_parse_run_id(cli->operands[0], &run_id) != 0) {
        df_cli_error("logs: RUN_ID must be a positive integer, got \"%s\"", cli->operands[0]);
        return DF_EXIT_USAGE;
    }
    const char *task = cli->operands[1];
    if (!df_db_exists(cli->db_path)) {
        df_cli_error("unknown run %lld: no runs yet (%s does not exist)", run_id, cli->db_path);
        return DF_EXIT_USAGE;
    }
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    json_t *doc = NULL;
    int code = df_cli_read_attempts(e, run_id, task, &doc);
    const json_t *a = code == DF_EXIT_OK ? pick_attempt(cli, doc) : NULL;
    if (code == DF_EXIT_OK && !a) {
        code = DF_EXIT_USAGE;
    } else if (code == DF_EXIT_OK && cli->json) {
        json_t *o = json_pack("{s:I, s:s, s:s}", "run_id", (json_int_t)run_id, "task_id", task,
                              "state", df_cli_json_str(doc, "state", "?"));
        if (o)
            json_object_update(o, (json_t *)a);
        code = o && df_cli_print_json(o) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
        json_decref(o);
    } else if (code == DF_EXIT_OK) {
        print_attempt(doc, a, json_array_size(json_object_get(doc, "attempts")));
        code = fflush(stdout) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    }
    json_decref(doc);
    df_engine_close(e);
    return code;
}
