/* cmd_serve: the `serve --workflows DIR` command (SPEC §9), a thin front end of the service
 * (dagflow.h's df_service_*, engine/service.c): the process-wide settings of a command that
 * drives an engine, SIGINT/SIGTERM made df_engine_stop calls, the HTTP API on --listen
 * (serve_http.c; started before the service runs, stopped after it), and the service's log lines
 * on stderr, each after its UTC time. */
#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* One log line on stderr: `2026-12-07T16:00:00.123Z dagflow serve: LINE`. Flushed at once (a
 * log read by another program, or by a test, must not wait for a buffer to fill). */
static void log_line(void *ud, const char *line)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ dagflow serve: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
            line);
    fflush(stderr);
}

int df_cmd_serve(const df_cli *cli)
{
    if (!cli->workflows_dir) {
        df_cli_error("serve: --workflows DIR is required (the folder of workflow files)");
        return DF_EXIT_USAGE;
    }
    df_cli_process_setup();
    df_cli_crash_install(cli);
    df_cli_signals_block();  /* before the engine's threads exist, so that none of them takes one */
    static df_cli_http http; /* its hooks may still be running until df_cli_http_stop */
    df_service_config cfg = {.workflows_dir = cli->workflows_dir, .log = log_line};
    df_cli_engine_config(cli, &cfg.engine);
    cfg.engine.on_event = df_cli_http_on_event;
    cfg.engine.ud = &http;
    df_service *s = NULL;
    df_errlist errs = {0};
    int rc = df_service_open(&cfg, &s, &errs);
    if (rc != 0) {
        df_cli_print_errlist(&errs);
        df_errlist_clear(&errs);
        df_cli_signals_stop();
        return rc == DF_EINPUT ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
    }
    char url[320];
    int hrc = df_cli_http_start(cli, s, &http, url, sizeof url);
    if (hrc != DF_EXIT_OK || df_cli_signals_watch(df_service_engine(s)) != 0) {
        df_cli_http_stop(&http);
        df_service_close(s);
        df_cli_signals_stop();
        return hrc != DF_EXIT_OK ? hrc : DF_EXIT_INTERNAL;
    }
    char line[400];
    snprintf(line, sizeof line, "HTTP API and web UI on %s%s", url[0] ? url : "(--listen off)",
             url[0] && !cli->token_file ? " (no token: loopback only)" : "");
    log_line(NULL, url[0] ? line : "no HTTP API (--listen off)");
    rc = df_service_run(s, &errs);
    df_cli_http_stop(&http);   /* before the service goes: the hooks use it */
    df_cli_signals_run_over(); /* a signal now leaves at once */
    int halted = df_cli_signals_received() >= 2;
    if (halted)
        df_kill_task_processes(); /* the second signal: the runs stay RUNNING, resumable */
    df_cli_print_errlist(&errs);
    df_errlist_clear(&errs);
    int code = rc == 0 ? DF_EXIT_OK : rc == DF_EINPUT ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
    log_line(NULL, halted ? "stopped at once" : "stopped");
    size_t left = df_service_close(s);
    fflush(stdout);
    fflush(stderr);
    if (left > 0 || halted)
        _exit(code); /* plugins that ignore their cancellation still run: do not wait for them */
    df_cli_signals_stop();
    return code;
}
