/* cmd_status: the `status [RUN_ID]` command (SPEC §6): one run's header and task table, or with
 * --json the store's status object; with --task TASK (SPEC §10) that task's attempts. Never
 * creates the database. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

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

/* A mapped task's state cell (SPEC §10): its state and its instances' counts by state,
 * "RUNNING (3 instances: 2 SUCCESS, 1 RUNNING)". */
static void mapped_state(const json_t *task, char *buf, size_t len)
{
    const json_t *counts = json_object_get(task, "instance_counts");
    size_t n = json_array_size(json_object_get(task, "instances"));
    int at = snprintf(buf, len, "%s (%zu instance%s:", df_cli_json_str(task, "state", "?"), n,
                      n == 1 ? "" : "s");
    const char *k;
    json_t *v;
    const char *sep = " ";
    json_object_foreach((json_t *)counts, k, v)
    {
        if (at > 0 && (size_t)at < len)
            at += snprintf(buf + at, len - (size_t)at, "%s%lld %s", sep,
                           (long long)json_integer_value(v), k);
        sep = ", ";
    }
    if (at > 0 && (size_t)at < len)
        snprintf(buf + at, len - (size_t)at, ")");
}

/* One row of the task table: a task, or (prefix non-NULL) a mapped instance "ID[N]". */
static int add_row(df_cli_table *t, const json_t *task, const char *prefix, bool run_live)
{
    char attempts[24], err[128], dur[48], name[200], state[256];
    snprintf(attempts, sizeof attempts, "%lld", df_cli_json_int(task, "attempts"));
    df_cli_duration_text(task, run_live && str_is(task, "state", "RUNNING"), dur, sizeof dur);
    one_line(df_cli_json_str(task, "error", NULL), err, sizeof err, 100);
    const char *id = df_cli_json_str(task, "id", "?");
    if (prefix) {
        snprintf(name, sizeof name, "%s[%lld]", prefix, df_cli_json_int(task, "map_index"));
        id = name;
    }
    snprintf(state, sizeof state, "%s", df_cli_json_str(task, "state", "?"));
    if (!prefix && json_object_get(task, "instance_counts")) {
        mapped_state(task, state, sizeof state);
        snprintf(attempts, sizeof attempts, "-");
    }
    const char *cells[] = {id, state, attempts, dur, err};
    return df_cli_table_add(t, cells);
}

/* The admission pauses the run saw (issue 10; engine_admission.c's record), when any. */
static void print_admission(const json_t *adm)
{
    long long n = df_cli_json_int(adm, "pauses");
    if (!json_is_object(adm) || n <= 0)
        return;
    const json_t *first = json_array_get(json_object_get(adm, "events"), 0);
    printf("Admission: paused %lld time%s, %.1f s in all (no new attempt started meanwhile); "
           "first at %s: %s\n",
           n, n == 1 ? "" : "s", df_cli_json_int(adm, "paused_ms") / 1000.0,
           df_cli_json_str(first, "paused_at", "?"), df_cli_json_str(first, "reason", "?"));
}

static int print_human(const json_t *st, bool expand)
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
    if (json_is_object(m) && json_object_get(m, "workers_peak")) { /* (written at the run's end) */
        long long workers = df_cli_json_int(m, "workers_peak");
        long long tasks = df_cli_json_int(m, "in_flight_peak");
        printf("Pool:      %lld worker%s at most (%lld started, %lld stopped), %lld task%s in "
               "flight at most, queue high-water %lld, stacks %lld created / %lld reused\n",
               workers, workers == 1 ? "" : "s", df_cli_json_int(m, "workers_started"),
               df_cli_json_int(m, "workers_stopped"), tasks, tasks == 1 ? "" : "s",
               df_cli_json_int(m, "queue_high_water"), df_cli_json_int(m, "stacks_created"),
               df_cli_json_int(m, "stacks_reused"));
    }
    const json_t *lat = json_object_get(m, "ready_to_running");
    if (json_is_object(lat))
        printf("Latency:   ready->running p50 %.3f ms, p99 %.3f ms, max %.3f ms (%lld attempts)\n",
               df_cli_json_int(lat, "p50_us") / 1000.0, df_cli_json_int(lat, "p99_us") / 1000.0,
               df_cli_json_int(lat, "max_us") / 1000.0, df_cli_json_int(lat, "count"));
    print_admission(json_object_get(m, "admission"));
    printf("\n");

    static const char *const headers[] = {"TASK", "STATE", "ATTEMPTS", "DURATION", "ERROR"};
    df_cli_table *t = df_cli_table_new(5, headers);
    if (!t)
        return df_cli_table_finish(NULL, false);
    size_t i;
    json_t *task;
    json_array_foreach(json_object_get(st, "tasks"), i, task)
    {
        if (add_row(t, task, NULL, run_live) != 0)
            return df_cli_table_finish(t, false);
        size_t k;
        json_t *inst;
        const char *id = df_cli_json_str(task, "id", "?");
        json_array_foreach(expand ? json_object_get(task, "instances") : NULL, k, inst)
        {
            if (add_row(t, inst, id, run_live) != 0)
                return df_cli_table_finish(t, false);
        }
    }
    return df_cli_table_finish(t, true);
}

/* `status RUN_ID --task TASK`: the task's attempts as a table. */
static int print_task_human(const json_t *doc)
{
    printf("Run:       %lld\n", df_cli_json_int(doc, "run_id"));
    if (json_is_integer(json_object_get(doc, "map_index"))) /* a mapped instance: ID[N] */
        printf("Task:      %s[%lld]\n", df_cli_json_str(doc, "task_id", "-"),
               df_cli_json_int(doc, "map_index"));
    else
        printf("Task:      %s\n", df_cli_json_str(doc, "task_id", "-"));
    printf("State:     %s\n\n", df_cli_json_str(doc, "state", "-"));
    static const char *const headers[] = {"ATTEMPT",  "OUTCOME", "STARTED",
                                          "DURATION", "EXIT",    "ERROR"};
    df_cli_table *t = df_cli_table_new(6, headers);
    if (!t)
        return df_cli_table_finish(NULL, false);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "attempts"), i, a)
    {
        char num[24], dur[48], code[48], err[128];
        snprintf(num, sizeof num, "%lld", df_cli_json_int(a, "attempt"));
        df_cli_duration_text(a, false, dur, sizeof dur);
        if (json_is_integer(json_object_get(a, "exit_code")))
            snprintf(code, sizeof code, "%lld", df_cli_json_int(a, "exit_code"));
        else
            snprintf(code, sizeof code, "-");
        bool cut = json_is_true(json_object_get(a, "stdout_truncated")) ||
                   json_is_true(json_object_get(a, "stderr_truncated"));
        if (cut)
            strncat(code, " (output cut)", sizeof code - strlen(code) - 1);
        one_line(df_cli_json_str(a, "error", NULL), err, sizeof err, 100);
        const char *cells[] = {num,
                               df_cli_json_str(a, "outcome", "?"),
                               df_cli_json_str(a, "started_at", "-"),
                               dur,
                               code,
                               err};
        if (df_cli_table_add(t, cells) != 0)
            return df_cli_table_finish(t, false);
    }
    return df_cli_table_finish(t, true);
}

/* `status [RUN_ID] --task TASK`: one task's attempts (human or --json). */
static int status_task(const df_cli *cli, df_engine *e, long long run_id)
{
    df_errlist errs = {0};
    int rc = run_id ? 0 : df_engine_latest_run(e, &run_id, &errs);
    int code = DF_EXIT_OK;
    if (rc == DF_ENOTFOUND) {
        df_cli_error("no runs yet in %s", cli->db_path);
        code = DF_EXIT_USAGE;
    } else if (rc != 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_INTERNAL;
    }
    df_errlist_clear(&errs);
    json_t *doc = NULL;
    if (code == DF_EXIT_OK)
        code = df_cli_read_attempts(e, run_id, cli->task, &doc);
    if (code == DF_EXIT_OK)
        code = cli->json ? (df_cli_print_json(doc) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL)
                         : print_task_human(doc);
    json_decref(doc);
    return code;
}

/* Reads the status object of run_id, or of the latest run when run_id is 0, printing why not.
 * Returns 0 and sets *st, or an exit code. */
static int read_status(const df_cli *cli, df_engine *e, long long run_id, json_t **st)
{
    df_errlist errs = {0};
    int code = 0;
    int rc = run_id ? 0 : df_engine_latest_run(e, &run_id, &errs);
    if (rc == DF_ENOTFOUND) {
        df_cli_error("no runs yet in %s", cli->db_path);
        code = DF_EXIT_USAGE;
    } else if (rc == 0 && (rc = df_engine_run_status(e, run_id, st, &errs)) == DF_ENOTFOUND) {
        df_cli_error("unknown run %lld (see 'dagflow history')", run_id);
        code = DF_EXIT_USAGE;
    }
    if (rc != 0 && code == 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_INTERNAL;
    }
    df_errlist_clear(&errs);
    return code;
}

/* `dagflow status [RUN_ID] [--db PATH] [--json]`. Returns 0, 2 for an unknown run, no runs or bad
 * usage, 3 for a store error. */
int df_cmd_status(const df_cli *cli)
{
    long long run_id = 0;
    if (cli->n_operands && df_cli_parse_run_id(cli->operands[0], &run_id) != 0) {
        df_cli_error("status: RUN_ID must be a positive integer, got \"%s\"", cli->operands[0]);
        return DF_EXIT_USAGE;
    }
    if (!df_db_exists(cli->db_path)) {
        if (run_id)
            df_cli_error("unknown run %lld: no runs yet (%s does not exist)", run_id, cli->db_path);
        else
            df_cli_error("no runs yet (%s does not exist)", cli->db_path);
        return DF_EXIT_USAGE;
    }
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    if (cli->task) {
        int code = status_task(cli, e, run_id);
        df_engine_close(e);
        return code;
    }
    json_t *st = NULL;
    int code = read_status(cli, e, run_id, &st);
    if (code == 0 && cli->json) {
        /* SPEC §6's keys, and the ready->running latency when the run recorded it (issue 14):
         * the pool metrics are shown by the human output only. */
        json_t *lat = json_object_get(json_object_get(st, "metrics"), "ready_to_running");
        if (json_is_object(lat)) {
            json_t *brief = json_deep_copy(lat);
            json_object_del(brief, "buckets");
            json_object_set_new(st, "ready_to_running", brief);
        }
        /* the admission pauses the run saw (issue 10), when any */
        json_t *adm = json_object_get(json_object_get(st, "metrics"), "admission");
        if (json_is_object(adm))
            json_object_set(st, "admission", adm);
        json_object_del(st, "metrics");
        json_object_del(st, "duration_ms"); /* the run's: shown by the human output only */
        code = df_cli_print_json(st) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    } else if (code == 0) {
        code = print_human(st, cli->expand);
    }
    json_decref(st);
    df_engine_close(e);
    return code;
}
