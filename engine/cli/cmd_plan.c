/* cmd_plan: the `plan FILE [--param K=V]... [--json]` command (SPEC §10): a dry run that prints
 * the order the workflow's tasks would become ready in if every task succeeded, each with its
 * params resolved as far as they can be before running (df_engine_plan_file). Records nothing:
 * the database is never opened. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* The NOTE column of a task: on_exit, branch, when, or why it would be skipped. A new string. */
static char *note_of(const json_t *t)
{
    const char *when = df_cli_json_str(t, "when", NULL);
    const char *skipped = df_cli_json_str(t, "skipped", NULL);
    char *s = NULL;
    if (asprintf(&s, "%s%s%s%s%s%s", json_is_true(json_object_get(t, "on_exit")) ? "on_exit " : "",
                 json_is_true(json_object_get(t, "branch")) ? "branch " : "", when ? "when: " : "",
                 when ? when : "", when && skipped ? " " : "", skipped ? "skipped: " : "") < 0)
        return NULL;
    if (skipped) {
        char *full = NULL;
        if (asprintf(&full, "%s%s", s, skipped) < 0)
            full = NULL;
        free(s);
        s = full;
    }
    return s;
}

/* The plan as a table: STEP, TASK, PLUGIN, PARAMS (compact JSON), NOTE. Returns an exit code. */
static int print_table(const json_t *plan)
{
    static const char *const head[] = {"STEP", "TASK", "PLUGIN", "PARAMS", "NOTE"};
    df_cli_table *t = df_cli_table_new(5, head);
    const json_t *tasks = json_object_get(plan, "tasks");
    bool ok = t != NULL;
    size_t k;
    const json_t *task;
    printf("plan of %s: %zu %s in the order they would start if every task succeeded (nothing "
           "runs, nothing is recorded)\n",
           df_cli_json_str(plan, "workflow", "?"), json_array_size(tasks),
           json_array_size(tasks) == 1 ? "task" : "tasks");
    json_array_foreach(tasks, k, task)
    {
        if (!ok)
            break;
        char step[32];
        const json_t *st = json_object_get(task, "step");
        snprintf(step, sizeof step, json_is_integer(st) ? "%lld" : "-",
                 (long long)json_integer_value(st));
        char *params = json_dumps(json_object_get(task, "params"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *note = note_of(task);
        const char *cells[] = {step, df_cli_json_str(task, "id", "?"),
                               df_cli_json_str(task, "plugin", "?"), params, note};
        ok = params && note && df_cli_table_add(t, cells) == 0;
        free(params);
        free(note);
    }
    fflush(stdout);
    return df_cli_table_finish(t, ok);
}

/* `dagflow plan FILE [--param K=V]... [--plugin-dir DIR]... [--json]`. Returns 0, or 2 when the
 * file does not load (every error printed) or on bad usage, 3 on an internal error. */
int df_cmd_plan(const df_cli *cli)
{
    const char *path = cli->operands[0];
    int code = df_cli_check_file(path);
    if (code != 0)
        return code;
    df_engine *e = df_cli_open_engine(cli, NULL, NULL); /* the store is not opened */
    if (!e)
        return DF_EXIT_INTERNAL;
    df_errlist errs = {0};
    json_t *plan = NULL;
    int rc = df_engine_plan_file(e, path, cli->params, &plan, &errs);
    df_cli_print_errlist(&errs);
    if (rc == DF_EINPUT)
        code = DF_EXIT_USAGE;
    else if (rc != 0)
        code = DF_EXIT_INTERNAL;
    else if (cli->json)
        code = df_cli_print_json(plan) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    else
        code = print_table(plan);
    json_decref(plan);
    df_engine_close(e);
    df_errlist_clear(&errs);
    return code;
}
