/* http_host: a test program that hosts the HTTP API (df_http_start) on a real database, for
 * tests/e2e/test_http_api.sh before and beside `dagflow serve`:
 *   http_host --db DB [--listen HOST:PORT] [--token-file F] [--workflow NAME=FILE]...
 *             [--engine-metrics FILE.json]
 * --workflow entries make the workflows hook (each valid, no schedule, no last run: enough for
 * the list and the schedule endpoint); --engine-metrics makes the metrics hook return that JSON.
 * The other hooks are left out (their endpoints answer 501). Prints "port N" on stdout once
 * listening, then serves until SIGINT or SIGTERM and exits 0; exits 2 when the server does not
 * start (its messages on stderr as `http_host: ...`). */
#include <dagflow/dagflow.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *workflows;
static json_t *engine_metrics;

static int hook_workflows(void *ud, json_t **out, df_errlist *errs)
{
    (void)ud;
    (void)errs;
    *out = json_deep_copy(workflows);
    return 0;
}

static int hook_metrics(void *ud, json_t **out, df_errlist *errs)
{
    (void)ud;
    (void)errs;
    *out = json_deep_copy(engine_metrics);
    return 0;
}

static int add_workflow(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    json_array_append_new(workflows, json_pack("{ss% ss sb s[] sn sn sn}", "name", arg,
                                               (size_t)(eq - arg), "file", eq + 1, "valid", 1,
                                               "errors", "schedule", "next_fire_at", "last_run"));
    return 0;
}

int main(int argc, char **argv)
{
    df_http_config cfg = {.readers = 4};
    workflows = json_array();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0)
            cfg.db = argv[i + 1];
        else if (strcmp(argv[i], "--listen") == 0)
            cfg.listen = argv[i + 1];
        else if (strcmp(argv[i], "--token-file") == 0)
            cfg.token_file = argv[i + 1];
        else if (strcmp(argv[i], "--workflow") == 0 && add_workflow(argv[i + 1]) == 0)
            cfg.hooks.workflows = hook_workflows;
        else if (strcmp(argv[i], "--engine-metrics") == 0 &&
                 (engine_metrics = json_load_file(argv[i + 1], JSON_REJECT_DUPLICATES, NULL)))
            cfg.hooks.metrics = hook_metrics;
        else {
            fprintf(stderr, "http_host: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the server's threads inherit the mask */
    df_errlist errs = {0};
    df_http *h = NULL;
    if (df_http_start(&cfg, &h, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "http_host: %s\n", errs.msgs[i]);
        df_errlist_clear(&errs);
        return 2;
    }
    printf("port %d\n", df_http_port(h));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    df_http_stop(h);
    json_decref(workflows);
    json_decref(engine_metrics);
    return 0;
}
