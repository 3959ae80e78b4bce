/* cmd_run: the `run`, `resume` and `retry` commands — engine options, live progress on a
 * terminal (plain lines otherwise), the closing summary or `--json` status, and the SPEC §6 exit
 * codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../store/store.h"
#include "../clock.h"
#include "../engine.h"
#include "cli.h"

/* The run being driven, for the exit() guard: a plugin that calls exit() must not make dagflow
 * exit 0 (which means "run SUCCESS") with the run unfinished. */
static long long running_run_id = -1;

/* Progress display state (stderr). */
typedef struct progress {
    bool tty;
    uint64_t last_draw_ms;
    bool drawn;
} progress;

static void progress_clear(progress *p)
{
    if (p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = false;
    }
}

static void on_event(void *ud, const df_engine_event *ev)
{
    progress *p = ud;
    if (running_run_id == 0)
        running_run_id = ev->run_id;
    if (!ev->task_id) {
        progress_clear(p);
        if (ev->error) {
            df_cli_error("run %lld: %s; continue it with `dagflow resume %lld`", ev->run_id,
                         ev->error, ev->run_id);
            fflush(stderr); /* the engine may be about to leave at once */
        }
        return;
    }
    bool notable = df_task_state_final(ev->task_state) || ev->task_state == DF_TS_UP_FOR_RETRY;
    if (p->tty) {
        if (notable && (ev->task_state == DF_TS_FAILED || ev->task_state == DF_TS_UP_FOR_RETRY)) {
            progress_clear(p);
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ev->error ? ev->error : "");
            df_cli_sanitize(msg);
            fprintf(stderr, "%s %s (attempt %u)%s%s\n", ev->task_id,
                    df_task_state_name(ev->task_state), ev->attempt, ev->error ? ": " : "", msg);
        }
        uint64_t now = df_mono_ms();
        if (now - p->last_draw_ms >= 100 || ev->tasks_final == ev->tasks_total) {
            p->last_draw_ms = now;
            fprintf(stderr, "\r\033[K[run %lld %s] %zu/%zu done, %zu running, %zu failed",
                    ev->run_id, ev->workflow, ev->tasks_final, ev->tasks_total, ev->tasks_running,
                    ev->tasks_failed);
            p->drawn = true;
        }
        return;
    }
    if (!notable)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "run %lld: %s %s (attempt %u)", ev->run_id, ev->task_id,
                     df_task_state_name(ev->task_state), ev->attempt);
    if (ev->error && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, ": %s", ev->error);
    /* Task errors are task output: no control character reaches the terminal. */
    df_cli_sanitize(line);
    fprintf(stderr, "%s\n", line);
}

/* Prints the run's summary (or its status object with --json) from the store. */
/* Prints path for a shell: as is when it is made of safe characters, else in single quotes. */
static void print_shell_word(const char *path)
{
    if (path[strspn(path,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:=@")] ==
        '\0') {
        fputs(path, stdout);
        return;
    }
    putchar('\'');
    for (const char *c = path; *c; c++)
        fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, stdout);
    putchar('\'');
}

/* How many of the run's tasks the summary lists: all of a small run, else the first that did
 * not succeed. */
#define SUMMARY_ALL_TASKS_UP_TO 30
#define SUMMARY_FAILED_TASKS 20

/* Prints the run's summary (or its status object with --json) from the store. */
static int print_summary(const df_cli *cli, long long run_id)
{
    df_store *s = NULL;
    char err[1024];
    if (df_store_open(cli->db_path, &s, err, sizeof err) != DF_STORE_OK) {
        df_cli_error("%s", err);
        return -1;
    }
    json_t *st = NULL;
    /* A large run's summary reads counts and the failed tasks only, not every task. */
    int rc = cli->json ? df_store_run_status(s, run_id, &st)
                       : df_store_run_summary(s, run_id, SUMMARY_FAILED_TASKS + 1, &st);
    size_t n = 0, ok = 0, failed = 0, skipped = 0;
    if (rc == DF_STORE_OK && !cli->json) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(st, "counts"), k, v)
        {
            size_t c = (size_t)json_integer_value(v);
            n += c;
            if (strcmp(k, "SUCCESS") == 0)
                ok += c;
            else if (strcmp(k, "SKIPPED") == 0)
                skipped += c;
            else if (strcmp(k, "FAILED") == 0 || strcmp(k, "UPSTREAM_FAILED") == 0 ||
                     strcmp(k, "INVALID") == 0)
                failed += c;
        }
        if (n <= SUMMARY_ALL_TASKS_UP_TO) {
            json_decref(st);
            st = NULL;
            rc = df_store_run_status(s, run_id, &st);
        }
    }
    if (rc != DF_STORE_OK) {
        df_cli_error("status of run %lld: %s", run_id, df_store_error(s));
        df_store_close(s);
        return -1;
    }
    df_store_close(s);
    if (cli->json) {
        json_object_del(st, "metrics"); /* exactly SPEC §6's keys */
        df_cli_print_json(st);
        json_decref(st);
        return 0;
    }
    size_t other = n - ok - failed - skipped;
    int64_t t0 = 0, t1 = 0;
    char dur[32] = "-";
    if (df_cli_parse_time(json_string_value(json_object_get(st, "started_at")), &t0) == 0 &&
        df_cli_parse_time(json_string_value(json_object_get(st, "ended_at")), &t1) == 0)
        df_cli_format_duration(t1 - t0, dur, sizeof dur);
    printf("run %lld (%s): %s in %s: %zu tasks, %zu succeeded, %zu failed, %zu skipped", run_id,
           json_string_value(json_object_get(st, "workflow")),
           json_string_value(json_object_get(st, "state")), dur, n, ok, failed, skipped);
    if (other)
        printf(", %zu not finished", other);
    printf("\n");
    static const char *const headers[] = {"TASK", "STATE", "ATTEMPTS", "DURATION", "ERROR"};
    df_cli_table *t = df_cli_table_new(5, headers);
    const json_t *tasks = json_object_get(st, "tasks");
    size_t shown = 0;
    for (size_t i = 0; t && i < json_array_size(tasks) &&
                       shown < SUMMARY_FAILED_TASKS + (n <= SUMMARY_ALL_TASKS_UP_TO ? n : 0);
         i++) {
        const json_t *jt = json_array_get(tasks, i);
        const char *state = json_string_value(json_object_get(jt, "state"));
        char attempts[24], d[32] = "-";
        snprintf(attempts, sizeof attempts, "%lld",
                 (long long)json_integer_value(json_object_get(jt, "attempts")));
        const json_t *dm = json_object_get(jt, "duration_ms");
        if (json_is_integer(dm))
            df_cli_format_duration(json_integer_value(dm), d, sizeof d);
        char error[121] = "";
        const char *e = json_string_value(json_object_get(jt, "error"));
        if (e)
            snprintf(error, sizeof error, "%s", e);
        const char *cells[5] = {json_string_value(json_object_get(jt, "id")), state, attempts, d,
                                error[0] ? error : NULL};
        df_cli_table_add(t, cells);
        shown++;
    }
    if (t && shown)
        df_cli_table_print(t, stdout);
    df_cli_table_free(t);
    size_t unsuccessful = n - ok;
    if (n > SUMMARY_ALL_TASKS_UP_TO && unsuccessful > shown)
        printf("(%zu more tasks did not succeed: dagflow status %lld)\n", unsuccessful - shown,
               run_id);
    printf("history: sqlite3 ");
    print_shell_word(cli->db_path);
    printf(" \"SELECT * FROM task_history WHERE run_id = %lld\"\n", run_id);
    json_decref(st);
    return 0;
}

static int exit_code(df_engine_status st, df_run_state state)
{
    switch (st) {
    case DF_ENGINE_OK:
        return state == DF_RS_SUCCESS  ? DF_EXIT_OK
               : state == DF_RS_FAILED ? DF_EXIT_FAILED
                                       : DF_EXIT_USAGE;
    case DF_ENGINE_EINPUT:
    case DF_ENGINE_EREFUSED:
        return DF_EXIT_USAGE;
    case DF_ENGINE_INTERRUPTED:
        return DF_EXIT_INTERRUPTED;
    default:
        return DF_EXIT_INTERNAL;
    }
}

static void exit_guard(void)
{
    if (running_run_id < 0)
        return;
    fflush(stderr);
    if (running_run_id > 0)
        fprintf(stderr,
                "dagflow: a plugin called exit() during run %lld; the run is unfinished (continue "
                "it with `dagflow resume %lld`)\n",
                running_run_id, running_run_id);
    else
        fprintf(stderr, "dagflow: a plugin called exit() during the run; the run is unfinished\n");
    fflush(stderr);
    _exit(DF_EXIT_INTERNAL);
}

enum which { RUN, RESUME, RETRY };

static int run_command(enum which which, int argc, char **argv)
{
    df_cli cli;
    int rc = df_cli_parse(df_cli_spec_find(argv[0]), argc, argv, &cli);
    if (rc != DF_CLI_PROCEED) {
        df_cli_free(&cli);
        return rc;
    }
    long long run_id = 0;
    if (which == RUN && (rc = df_cli_check_file(cli.operands[0])) != 0) {
        df_cli_free(&cli);
        return rc;
    }
    if (which != RUN && df_cli_parse_run_id(cli.operands[0], &run_id) != 0) {
        df_cli_error("%s: RUN_ID must be a positive integer, not \"%s\"", cli.command,
                     cli.operands[0]);
        df_cli_free(&cli);
        return DF_EXIT_USAGE;
    }
    if (which != RUN && !df_store_exists(cli.db_path)) {
        df_cli_error("%s: no run %lld: %s does not exist", cli.command, run_id, cli.db_path);
        df_cli_free(&cli);
        return DF_EXIT_USAGE;
    }
    progress prog = {.tty = isatty(STDERR_FILENO) != 0};
    /* Not a terminal: the per-task lines go out in blocks rather than one write each (10,000
     * tasks would otherwise cost 10,000 system calls on the engine thread); flushed at the end,
     * and by the exit() guard. */
    static char errbuf[1 << 16];
    if (!prog.tty)
        setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db_path = cli.db_path;
    cfg.plugin_dirs = cli.plugin_dirs;
    cfg.n_plugin_dirs = cli.n_plugin_dirs;
    cfg.concurrency = (size_t)cli.concurrency;
    if (cli.workers_min > 0)
        cfg.pool.workers_min = (unsigned)cli.workers_min;
    if (cli.workers_max > 0)
        cfg.pool.workers_max = (unsigned)cli.workers_max;
    /* A default never overrides what was given: an explicit maximum under the default minimum
     * lowers the minimum, an explicit minimum over the default maximum raises the maximum. */
    if (cfg.pool.workers_max < cfg.pool.workers_min) {
        if (cli.workers_max > 0)
            cfg.pool.workers_min = cfg.pool.workers_max;
        else
            cfg.pool.workers_max = cfg.pool.workers_min;
    }
    if (cli.queue_capacity > 0)
        cfg.pool.queue_capacity = (size_t)cli.queue_capacity;
    if (cli.stack_size > 0)
        cfg.pool.stack_size = cli.stack_size;
    cfg.on_event = on_event;
    cfg.ud = &prog;

    df_cli_crash_install(&cli);
    df_engine *e = NULL;
    char err[1024];
    if (df_engine_open(&cfg, &e, err, sizeof err) != 0) {
        df_cli_error("%s", err);
        df_cli_free(&cli);
        return DF_EXIT_INTERNAL;
    }
    df_errlist errs = {0};
    df_run_state state = DF_RS_RUNNING;
    df_engine_status st;
    static bool guard_installed;
    if (!guard_installed && atexit(exit_guard) == 0)
        guard_installed = true;
    running_run_id = run_id;
    if (which == RUN)
        st = df_engine_run_file(e, cli.operands[0], cli.params, &run_id, &state, &errs);
    else if (which == RESUME)
        st = df_engine_resume(e, run_id, &state, &errs);
    else
        st = df_engine_retry(e, run_id, cli.task, &state, &errs);
    size_t left_running = df_engine_close(e);
    running_run_id = -1;
    progress_clear(&prog);
    fflush(stderr);
    df_cli_print_errlist(&errs);
    df_errlist_clear(&errs);
    int code = exit_code(st, state);
    if (run_id > 0 && (st == DF_ENGINE_OK || st == DF_ENGINE_INTERRUPTED)) {
        if (print_summary(&cli, run_id) != 0 && code == DF_EXIT_OK)
            code = DF_EXIT_INTERNAL;
        if (st == DF_ENGINE_INTERRUPTED)
            df_cli_error("run %lld interrupted; continue it with `dagflow resume %lld`", run_id,
                         run_id);
    }
    df_cli_free(&cli);
    if (left_running > 0) {
        /* Plugins that ignored their cancellation (already recorded as such) still run on
         * threads of the pool or of libuv's: a normal exit would wait for them in libuv's
         * clean-up. Everything is written and flushed: leave now. */
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    return code;
}

int df_cmd_run(int argc, char **argv)
{
    return run_command(RUN, argc, argv);
}

int df_cmd_resume(int argc, char **argv)
{
    return run_command(RESUME, argc, argv);
}

int df_cmd_retry(int argc, char **argv)
{
    return run_command(RETRY, argc, argv);
}
