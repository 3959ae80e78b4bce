/* serve_http: the HTTP API of `dagflow serve` (SPEC §9): the server of engine/http/ started on
 * --listen (default 127.0.0.1:8080; `off` for none; port 0 picks a free port) with --token-file,
 * its hooks wired to the service's thread-safe calls (the workflow list, starting a run now,
 * cancel, retry and resume done on the engine thread, the engine's metrics), and the service
 * engine's events waking the long polls. No hook waits for a run: each waits only until the
 * engine thread has acted on its request, and the engine thread never waits for the server. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static df_service *svc(void *ud)
{
    return ((df_cli_http *)ud)->service;
}

/* The service answers DF_EINTERRUPTED before it serves and while it stops: 503 for a client. */
static int busy_if_stopped(int rc)
{
    return rc == DF_EINTERRUPTED ? DF_EBUSY : rc;
}

static int hook_workflows(void *ud, json_t **out, df_errlist *errs)
{
    (void)errs; /* only DF_ENOMEM: the reply says it */
    return df_service_workflows(svc(ud), out);
}

static int hook_start_run(void *ud, const char *workflow, const json_t *params, long long *run_id,
                          df_errlist *errs)
{
    return busy_if_stopped(df_service_start_run(svc(ud), workflow, params, 0, run_id, errs));
}

static int hook_cancel(void *ud, long long run_id, df_errlist *errs)
{
    return busy_if_stopped(df_service_cancel_run(svc(ud), run_id, 0, errs));
}

static int hook_retry(void *ud, long long run_id, const char *task, df_errlist *errs)
{
    return busy_if_stopped(df_service_retry_run(svc(ud), run_id, task, 0, errs));
}

static int hook_resume(void *ud, long long run_id, df_errlist *errs)
{
    return busy_if_stopped(df_service_resume_run(svc(ud), run_id, 0, errs));
}

static int hook_metrics(void *ud, json_t **out, df_errlist *errs)
{
    return df_engine_metrics(df_service_engine(svc(ud)), out, errs);
}

void df_cli_http_on_event(void *ud, const df_engine_event *ev)
{
    (void)ev;
    df_http_notify(atomic_load(&((df_cli_http *)ud)->http));
}

bool df_cli_http_off(const df_cli *cli)
{
    return cli->listen && strcmp(cli->listen, "off") == 0;
}

/* The URL of the server: the host as --listen wrote it, the port it got. */
static void url_of(const char *listen, int port, char *buf, size_t len)
{
    const char *colon = strrchr(listen, ':');
    int host_len = colon ? (int)(colon - listen) : (int)strlen(listen);
    snprintf(buf, len, "http://%.*s:%d/", host_len, listen, port);
}

int df_cli_http_start(const df_cli *cli, df_service *s, df_cli_http *ctx, char *url, size_t len)
{
    ctx->service = s;
    url[0] = '\0';
    if (df_cli_http_off(cli))
        return DF_EXIT_OK;
    const char *listen = cli->listen ? cli->listen : DF_CLI_DEFAULT_LISTEN;
    df_http_config hc = {.listen = listen,
                         .token_file = cli->token_file,
                         .db = cli->db_path,
                         .hooks = {.ud = ctx,
                                   .workflows = hook_workflows,
                                   .start_run = hook_start_run,
                                   .cancel = hook_cancel,
                                   .retry = hook_retry,
                                   .resume = hook_resume,
                                   .metrics = hook_metrics}};
    df_errlist errs = {0};
    df_http *h = NULL;
    int rc = df_http_start(&hc, &h, &errs);
    if (rc == 0) {
        atomic_store(&ctx->http, h);
        url_of(listen, df_http_port(h), url, len);
    } else {
        for (size_t i = 0; i < errs.n; i++)
            df_cli_error("serve: %s", errs.msgs[i]);
        if (!cli->listen && rc == DF_EINTERNAL)
            df_cli_error("serve: the default address %s is taken: give --listen HOST:PORT (port 0: "
                         "any free port), or --listen off to serve without the HTTP API",
                         DF_CLI_DEFAULT_LISTEN);
    }
    df_errlist_clear(&errs);
    if (rc == DF_ENOMEM)
        return DF_EXIT_INTERNAL;
    return rc ? DF_EXIT_USAGE : DF_EXIT_OK;
}

void df_cli_http_stop(df_cli_http *ctx)
{
    df_http_stop(atomic_exchange(&ctx->http, NULL));
}
