/* cmd_status: the `status [RUN_ID]` command (SPEC §6): one run's header and task table, or with
 * --json the store's status object. Never creates the database. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../store/store.h"

/* Milliseconds since the epoch, now. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

/* Duration text of a run or task: duration_ms when known, else from its times once ended_at is
 * set. Without ended_at the duration is unknown ("-"): a task left QUEUED, RUNNING or PENDING by
 * an INTERRUPTED run has no end, and a clock-based guess would grow for ever. The one exception is
 * what is running right now: when live is true (the run is RUNNING, i.e. its engine's heartbeat
 * is fresh, and obj is that run or one of its RUNNING tasks), the time since started_at is shown
 * as "running for X". */
static void duration_text(const json_t *obj, bool live, char *buf, size_t len)
{
    json_t *d = json_object_get(obj, "duration_ms");
    int64_t start, end;
    if (json_is_integer(d)) {
        df_cli_format_duration(json_integer_value(d), buf, len);
    } else if (df_cli_parse_time(str_or(obj, "started_at", NULL), &start) != 0) {
        snprintf(buf, len, "-");
    } else if (df_cli_parse_time(str_or(obj, "ended_at", NULL), &end) == 0) {
        df_cli_format_duration(end - start, buf, len);
    } else if (live) {
        char t[32];
        int64_t now = now_ms();
        snprintf(buf, len, "running for %s",
                 df_cli_format_duration(now > start ? now - start : 0, t, sizeof t));
    } else {
        snprintf(buf, len, "-");
    }
}

static bool str_is(const json_t *obj, const char *key, const char *want)
{
    const char *s = json_string_value(json_object_get(obj, key));
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
    duration_text(st, run_live, dur, sizeof dur);
    printf("Run:       %lld\n", (long long)json_integer_value(json_object_get(st, "run_id")));
    printf("Workflow:  %s\n", str_or(st, "workflow", "-"));
    printf("State:     %s\n", str_or(st, "state", "-"));
    printf("Started:   %s\n", str_or(st, "started_at", "-"));
    printf("Ended:     %s\n", str_or(st, "ended_at", "-"));
    printf("Duration:  %s\n", dur);
    const json_t *m = json_object_get(st, "metrics");
    if (json_is_object(m))
        printf(
            "Pool:      %lld workers at most (%lld started, %lld stopped), %lld tasks in flight at "
            "most, queue high-water %lld, stacks %lld created / %lld reused\n",
            (long long)json_integer_value(json_object_get(m, "workers_peak")),
            (long long)json_integer_value(json_object_get(m, "workers_started")),
            (long long)json_integer_value(json_object_get(m, "workers_stopped")),
            (long long)json_integer_value(json_object_get(m, "in_flight_peak")),
            (long long)json_integer_value(json_object_get(m, "queue_high_water")),
            (long long)json_integer_value(json_object_get(m, "stacks_created")),
            (long long)json_integer_value(json_object_get(m, "stacks_reused")));
    printf("\n");

    static const char *const headers[] = {"TASK", "STATE", "ATTEMPTS", "DURATION", "ERROR"};
    df_cli_table *t = df_cli_table_new(5, headers);
    if (!t)
        goto oom;
    size_t i;
    json_t *task;
    json_array_foreach(json_object_get(st, "tasks"), i, task)
    {
        char attempts[24], err[128];
        snprintf(attempts, sizeof attempts, "%lld",
                 (long long)json_integer_value(json_object_get(task, "attempts")));
        duration_text(task, run_live && str_is(task, "state", "RUNNING"), dur, sizeof dur);
        one_line(str_or(task, "error", NULL), err, sizeof err, 100);
        const char *cells[] = {str_or(task, "id", "?"), str_or(task, "state", "?"), attempts, dur,
                               err};
        if (df_cli_table_add(t, cells) != 0)
            goto oom;
    }
    df_cli_table_print(t, stdout);
    df_cli_table_free(t);
    return DF_EXIT_OK;
oom:
    df_cli_table_free(t);
    df_cli_error("out of memory");
    return DF_EXIT_INTERNAL;
}

/* `dagflow status [RUN_ID] [--db PATH] [--json]`. Returns 0, 2 for an unknown run, no runs or bad
 * usage, 3 for a store error. */
int df_cmd_status(int argc, char **argv)
{
    df_cli cli;
    int code = df_cli_parse(df_cli_spec_find("status"), argc, argv, &cli);
    if (code != DF_CLI_PROCEED) {
        df_cli_free(&cli);
        return code;
    }
    long long run_id = 0;
    df_store *store = NULL;
    json_t *st = NULL;
    char err[512];

    if (cli.n_operands && df_cli_parse_run_id(cli.operands[0], &run_id) != 0) {
        df_cli_error("status: RUN_ID must be a positive integer, got \"%s\"", cli.operands[0]);
        code = DF_EXIT_USAGE;
        goto out;
    }
    if (!df_cli_db_exists(&cli)) {
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
