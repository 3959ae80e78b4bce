/* cmd_run: the `run`, `resume` and `retry` commands — engine options, live progress on a
 * terminal (plain lines otherwise), SIGINT/SIGTERM (a graceful stop, then a second signal that
 * leaves at once), the closing summary or `--json` status, and the SPEC §6 exit codes. */
#include "cli.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The run being driven (0 while `run` has not recorded it yet, -1 when none), for the exit()
 * guard: a plugin that calls exit() must not make dagflow exit 0 (which means "run SUCCESS")
 * with the run unfinished. Atomic: the guard runs on the thread of the plugin that called exit. */
static _Atomic long long running_run_id = -1;
/* What follows `dagflow resume N` in hints (df_cli_resume_args: --db and --plugin-dir), set
 * before the engine starts; read by the exit() guard too. */
static const char *resume_args = "";

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
    if (ev->notice) { /* an alert that could not be delivered: said on the terminal too */
        progress_clear(p);
        if (ev->run_id == 0) /* about the engine: admission paused or resumed */
            df_cli_error("%s", ev->notice);
        else
            df_cli_error("run %lld: %s", ev->run_id, ev->notice);
        return;
    }
    if (!ev->task_id) {
        progress_clear(p);
        if (ev->error) {
            df_cli_error("run %lld: %s; continue it with `dagflow resume %lld%s`", ev->run_id,
                         ev->error, ev->run_id, resume_args);
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
        uint64_t now = df_cli_mono_ms();
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
    /* An INVALID task's error (its plugin rejected its params) is one of the start's errors,
     * printed once as a `dagflow: ` line: not twice. */
    if (ev->error && ev->task_state != DF_TS_INVALID && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, ": %s", ev->error);
    /* Task errors are task output: no control character reaches the terminal. */
    df_cli_sanitize(line);
    fprintf(stderr, "%s\n", line);
}

/* Prints path for a shell: as is when it is made of safe characters, else in single quotes. */
static void print_shell_word(const char *path)
{
    if (path[strspn(path, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOP"
                          "QRSTUVWXYZ0123456789/._-+,:=@")] == '\0') {
        fputs(path, stdout);
        return;
    }
    putchar('\'');
    for (const char *c = path; *c; c++)
        fputs(*c == '\'' ? "'\\''" : (char[]){*c, 0}, stdout);
    putchar('\'');
}

/* The closing line: the shell command that shows the run's history, `sqlite3 FILE "..."` or, for
 * a PostgreSQL URI (scheme case-insensitive), `psql URI -c "..."` with the URI's password, if
 * it has one (user:password@), left out. */
static void print_history_hint(const char *db, long long run_id)
{
    bool pg = strncasecmp(db, "postgresql://", 13) == 0 || strncasecmp(db, "postgres://", 11) == 0;
    if (!pg) {
        printf("history: sqlite3 ");
        print_shell_word(db);
        printf(" \"SELECT * FROM task_history WHERE run_id = %lld\"\n", run_id);
        return;
    }
    char uri[2048];
    snprintf(uri, sizeof uri, "%s", db);
    char *auth = strstr(uri, "://") + 3;
    size_t auth_len = strcspn(auth, "/?#");
    char *at = memchr(auth, '@', auth_len);
    char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon)
        memmove(colon, at, strlen(at) + 1);
    printf("history: psql ");
    print_shell_word(uri);
    printf(" -c \"SELECT * FROM task_history WHERE run_id = %lld\"\n", run_id);
}

/* How many of the run's tasks the summary lists: all of a small run, else the first that did
 * not succeed. */
#define SUMMARY_ALL_TASKS_UP_TO 30
#define SUMMARY_FAILED_TASKS 20

/* Reads what the summary shows: the status object with --json or for a small run, else a short
 * view with the counts by state and the first tasks that did not succeed. Sets counts to the
 * numbers of tasks, succeeded, failed (FAILED, UPSTREAM_FAILED, INVALID), skipped and cancelled
 * (without --json). Returns 0, or -1 after printing why not. */
static int read_summary(const df_cli *cli, df_engine *e, long long run_id, json_t **st,
                        size_t counts[5])
{
    df_errlist errs = {0};
    /* A large run's summary reads counts and the failed tasks only, not every task. */
    int rc = cli->json ? df_engine_run_status(e, run_id, st, &errs)
                       : df_engine_run_summary(e, run_id, SUMMARY_FAILED_TASKS + 1, st, &errs);
    size_t n = 0, ok = 0, failed = 0, skipped = 0, cancelled = 0;
    if (rc == 0 && !cli->json) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(*st, "counts"), k, v)
        {
            size_t c = (size_t)json_integer_value(v);
            n += c;
            if (strcmp(k, "SUCCESS") == 0)
                ok += c;
            else if (strcmp(k, "SKIPPED") == 0)
                skipped += c;
            else if (strcmp(k, "CANCELLED") == 0)
                cancelled += c;
            else if (strcmp(k, "FAILED") == 0 || strcmp(k, "UPSTREAM_FAILED") == 0 ||
                     strcmp(k, "INVALID") == 0)
                failed += c;
        }
        if (n <= SUMMARY_ALL_TASKS_UP_TO) {
            json_decref(*st);
            *st = NULL;
            rc = df_engine_run_status(e, run_id, st, &errs);
        }
    }
    if (rc != 0)
        df_cli_error("status of run %lld: %s", run_id, errs.n ? errs.msgs[0] : df_strerror(rc));
    df_errlist_clear(&errs);
    counts[0] = n;
    counts[1] = ok;
    counts[2] = failed;
    counts[3] = skipped;
    counts[4] = cancelled;
    return rc != 0 ? -1 : 0;
}

/* Prints the run's summary (or its status object with --json) from the store. */
static int print_summary(const df_cli *cli, df_engine *e, long long run_id)
{
    json_t *st = NULL;
    size_t counts[5];
    if (read_summary(cli, e, run_id, &st, counts) != 0)
        return -1;
    if (cli->json) {
        json_object_del(st, "metrics"); /* exactly SPEC §6's keys */
        json_object_del(st, "duration_ms");
        df_cli_print_json(st);
        json_decref(st);
        return 0;
    }
    size_t n = counts[0], ok = counts[1], failed = counts[2], skipped = counts[3];
    size_t cancelled = counts[4], other = n - ok - failed - skipped - cancelled;
    char dur[32] = "-";
    const json_t *run_ms = json_object_get(st, "duration_ms"); /* time running (SPEC §12) */
    if (json_is_integer(run_ms))
        df_cli_format_duration(json_integer_value(run_ms), dur, sizeof dur);
    printf("run %lld (%s): %s in %s: %zu %s, %zu succeeded, %zu failed, %zu skipped", run_id,
           json_string_value(json_object_get(st, "workflow")),
           json_string_value(json_object_get(st, "state")), dur, n, n == 1 ? "task" : "tasks", ok,
           failed, skipped);
    if (cancelled)
        printf(", %zu cancelled", cancelled);
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
        const char *text = json_string_value(json_object_get(jt, "error"));
        if (text)
            snprintf(error, sizeof error, "%s", text);
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
        printf("(%zu more %s not succeed: dagflow status %lld)\n", unsuccessful - shown,
               unsuccessful - shown == 1 ? "task did" : "tasks did", run_id);
    print_history_hint(cli->db_path, run_id);
    json_decref(st);
    return 0;
}

/* The SPEC §6 exit code of a run call's result (cancelled: `cancel`, for which CANCELLED is the
 * success). */
static int exit_code(int rc, df_run_state state, bool cancelled)
{
    switch (rc) {
    case 0:
        if (cancelled && state == DF_RS_CANCELLED)
            return DF_EXIT_OK;
        return state == DF_RS_SUCCESS                              ? DF_EXIT_OK
               : state == DF_RS_FAILED || state == DF_RS_CANCELLED ? DF_EXIT_FAILED
                                                                   : DF_EXIT_USAGE;
    case DF_EINPUT:
    case DF_EREFUSED:
    case DF_ENOTFOUND:
        return DF_EXIT_USAGE;
    case DF_EINTERRUPTED:
        return DF_EXIT_INTERRUPTED;
    default:
        return DF_EXIT_INTERNAL;
    }
}

static void exit_guard(void)
{
    long long id = running_run_id;
    if (id < 0)
        return;
    df_fault_info fi; /* exit() called from a task's code: that task is to blame (SPEC §12) */
    if (df_pool_fault_info(NULL, NULL, &fi)) {
        df_crash_record_write(&fi);
        df_cli_crash_report(&fi); /* with PostgreSQL, for every host */
    }
    fflush(stderr);
    if (id > 0)
        fprintf(stderr,
                "dagflow: a plugin called exit() during run %lld; the run is unfinished (continue "
                "it with `dagflow resume %lld%s`)\n",
                id, id, resume_args);
    else
        fprintf(stderr, "dagflow: a plugin called exit() during the run; the run is unfinished\n");
    fflush(stderr);
    _exit(DF_EXIT_INTERNAL);
}

/* After the second SIGINT/SIGTERM, once the engine has stopped recording (so that what the task
 * processes do now cannot change the store): their process groups go (no process is left
 * behind), the run stays RUNNING with a dead engine, so it can be resumed, and dagflow leaves at
 * once, without waiting for the attempts. */
static void leave_at_once(progress *p, long long run_id)
{
    df_kill_task_processes();
    progress_clear(p);
    if (run_id > 0)
        df_cli_error("run %lld: second signal: stopped at once; continue it with `dagflow resume "
                     "%lld%s`",
                     run_id, run_id, resume_args);
    fflush(stdout);
    fflush(stderr);
    _exit(DF_EXIT_INTERRUPTED);
}

/* CANCEL: `cancel` taking over a run no live engine owns, as resume does. */
enum which { RUN, RESUME, RETRY, CANCEL };

/* Checks the operand: FILE for run, RUN_ID (a positive integer, in an existing database) for
 * resume and retry. Returns 0 (and sets *run_id), or an exit code after printing why. */
static int check_operand(const df_cli *cli, enum which which, long long *run_id)
{
    if (which == RUN)
        return df_cli_check_file(cli->operands[0]);
    if (df_cli_parse_run_id(cli->operands[0], run_id) != 0) {
        df_cli_error("%s: RUN_ID must be a positive integer, not \"%s\"", cli->command,
                     cli->operands[0]);
        return DF_EXIT_USAGE;
    }
    if (!df_db_exists(cli->db_path)) {
        df_cli_error("%s: no run %lld: %s does not exist", cli->command, *run_id, cli->db_path);
        return DF_EXIT_USAGE;
    }
    return 0;
}

/* `retry` reopens finished runs only. For one that has not finished, says what to do instead:
 * wait for (or stop) a run whose engine is alive, rather than `resume`, which would refuse it;
 * resume one whose engine is gone (shown INTERRUPTED). Returns 0 to go on (the engine reports
 * anything else, an unknown run included), or DF_EXIT_USAGE after saying why not. */
static int check_retry_target(const df_cli *cli, df_engine *e, long long run_id)
{
    json_t *st = NULL;
    df_errlist errs = {0};
    int code = 0;
    if (df_engine_run_status(e, run_id, &st, &errs) == 0) {
        const char *state = df_cli_json_str(st, "state", "");
        df_cli db_only = *cli;
        db_only.n_plugin_dirs = 0;
        char status_args[2048];
        snprintf(status_args, sizeof status_args, "%s", df_cli_resume_args(&db_only));
        df_cli_resume_args(cli); /* its buffer back to this command line's (resume_args) */
        if (strcmp(state, "RUNNING") == 0) {
            df_cli_error("retry: run %lld is still running and its engine is alive (see `dagflow "
                         "status %lld%s`): wait for it to end, or stop that engine (Ctrl-C or "
                         "SIGTERM), then retry it",
                         run_id, run_id, status_args);
            code = DF_EXIT_USAGE;
        } else if (strcmp(state, "INTERRUPTED") == 0) {
            df_cli_error("retry: run %lld has not finished (INTERRUPTED); continue it with "
                         "`dagflow resume %lld%s`",
                         run_id, run_id, df_cli_resume_args(cli));
            code = DF_EXIT_USAGE;
        }
    }
    json_decref(st);
    df_errlist_clear(&errs);
    return code;
}

/* Prints the run call's errors; a `dagflow resume N` hint among them (the engine's) gets this
 * command line's --db and --plugin-dir (resume_args), so that it works as printed. */
static void print_errs(const df_errlist *errs, long long run_id)
{
    char hint[64];
    snprintf(hint, sizeof hint, "`dagflow resume %lld`", run_id);
    for (size_t i = 0; i < errs->n; i++) {
        const char *m = errs->msgs[i], *at = run_id > 0 ? strstr(m, hint) : NULL;
        if (at && *resume_args)
            df_cli_error("%.*s`dagflow resume %lld%s`%s", (int)(at - m), m, run_id, resume_args,
                         at + strlen(hint));
        else
            df_cli_error("%s", m);
    }
}

/* Starts the run and drives it to its end (the exit() guard armed meanwhile). */
static int drive(const df_cli *cli, enum which which, df_engine *e, long long *run_id,
                 df_run_state *state, df_errlist *errs)
{
    static bool guard_installed;
    if (!guard_installed && atexit(exit_guard) == 0)
        guard_installed = true;
    running_run_id = *run_id;
    int rc;
    if (which == RUN)
        rc = df_engine_start_file(e, cli->operands[0], cli->params, run_id, errs);
    else if (which == RESUME || which == CANCEL)
        rc = df_engine_start_resume(e, *run_id, errs);
    else
        rc = df_engine_start_retry(e, *run_id, cli->task, errs);
    if (rc == 0) {
        running_run_id = *run_id;
        rc = df_engine_wait(e, *run_id, state, errs);
    }
    return rc;
}

static int run_command(enum which which, const df_cli *cli)
{
    long long run_id = 0;
    int code = check_operand(cli, which, &run_id);
    if (code != 0)
        return code;
    progress prog = {.tty = isatty(STDERR_FILENO) != 0};
    /* Not a terminal: the per-task lines go out in blocks rather than one write each (10,000
     * tasks would otherwise cost 10,000 system calls on the engine thread); flushed at the end,
     * and by the exit() guard. */
    static char errbuf[1 << 16];
    if (!prog.tty)
        setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf);
    resume_args = df_cli_resume_args(cli);
    df_cli_process_setup();
    df_cli_crash_install(cli);
    df_cli_signals_block(); /* before the engine's threads exist, so that none of them takes one */
    df_engine *e = df_cli_open_engine(cli, on_event, &prog);
    if (!e || df_cli_signals_watch(e) != 0) {
        df_engine_close(e);
        df_cli_signals_stop();
        return DF_EXIT_INTERNAL;
    }
    if (which == RETRY && (code = check_retry_target(cli, e, run_id)) != 0) {
        df_engine_close(e);
        df_cli_signals_stop();
        return code;
    }
    df_errlist errs = {0};
    df_run_state state = DF_RS_RUNNING;
    int rc = drive(cli, which, e, &run_id, &state, &errs);
    df_cli_signals_run_over(); /* a signal now leaves at once, flushing what was printed */
    if (df_cli_signals_received() >= 2)
        leave_at_once(&prog, run_id);
    progress_clear(&prog);
    fflush(stderr);
    print_errs(&errs, run_id);
    df_errlist_clear(&errs);
    code = exit_code(rc, state, which == CANCEL);
    if (run_id > 0 && (rc == 0 || rc == DF_EINTERRUPTED)) {
        if (print_summary(cli, e, run_id) != 0 && code == DF_EXIT_OK)
            code = DF_EXIT_INTERNAL;
        if (rc == DF_EINTERRUPTED)
            df_cli_error("run %lld interrupted; continue it with `dagflow resume %lld%s`", run_id,
                         run_id, resume_args);
    }
    size_t left_running = df_engine_close(e);
    running_run_id = -1;
    if (left_running > 0) {
        /* Plugins that ignored their cancellation (already recorded as such) still run on
         * threads of the pool or of libuv's: a normal exit would wait for them in libuv's
         * clean-up. Everything is written and flushed: leave now. */
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    df_cli_signals_stop(); /* all is written: a signal now has its default effect */
    return code;
}

int df_cmd_run(const df_cli *cli)
{
    return run_command(RUN, cli);
}

int df_cmd_resume(const df_cli *cli)
{
    return run_command(RESUME, cli);
}

int df_cmd_retry(const df_cli *cli)
{
    return run_command(RETRY, cli);
}

int df_cli_cancel_by_resume(const df_cli *cli, long long run_id)
{
    (void)run_id; /* the operand, which run_command reads again */
    return run_command(CANCEL, cli);
}
