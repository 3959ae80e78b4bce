/* cmd_worker: the `worker` command (SPEC §11), a thin front end of dagflow.h's df_worker_*
 * (engine/worker.c): the process-wide settings of a command that runs tasks, SIGINT/SIGTERM
 * made df_worker_stop calls (a thread waiting for them), the worker's log lines on stderr,
 * each after its UTC time, and a guard that reports a plugin's exit() as its crash (SPEC §12). */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One log line on stderr: `2026-12-07T16:00:00.123Z dagflow worker: LINE`, flushed at once. */
static void log_line(void *ud, const char *line)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ dagflow worker: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
            line);
    fflush(stderr);
}

static sigset_t stop_set;

/* Waits for SIGINT/SIGTERM (blocked in every thread) and asks the worker to stop; SIGUSR1
 * (sent by the main thread) ends it. */
static void *watch(void *arg)
{
    df_worker *w = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&stop_set, &sig) != 0 || sig == SIGUSR1)
            return NULL;
        df_worker_stop(w);
    }
}

/* The worker running, for exit_guard (set while df_worker_run runs). */
static df_worker *volatile running;

/* A plugin that calls exit() inside execute ends the worker: before the process goes, its
 * attempt is reported to the store as its own code's crash (SPEC §12: the run's engine records it
 * LOST and charged at once), as the fatal-signal handler does, and the worker exits with 3. An
 * exit() elsewhere is left alone. */
static void exit_guard(void)
{
    df_fault_info fi;
    df_worker *w = running;
    if (!w || !df_pool_fault_info(NULL, NULL, &fi))
        return;
    df_worker_stop(w); /* no more claims meanwhile */
    df_cli_error("task \"%s\" (run %lld, attempt %u) called exit() in its plugin's code and "
                 "ended this worker; the run's engine records the attempt LOST, charged to the "
                 "task (three such losses in a row fail it)",
                 fi.task_id, fi.run_id, fi.attempt);
    fflush(stderr);
    df_cli_crash_report(&fi);
    _exit(DF_EXIT_INTERNAL);
}

int df_cmd_worker(const df_cli *cli)
{
    df_cli_process_setup();
    df_cli_crash_install(cli);
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL); /* before the pool's threads exist */
    df_worker_config cfg = {.db = cli->db_path,
                            .queues = cli->queues,
                            .n_queues = cli->n_queues,
                            .concurrency = (size_t)cli->concurrency,
                            .lease_ms = cli->lease_ms,
                            .plugin_dirs = cli->plugin_dirs,
                            .n_plugin_dirs = cli->n_plugin_dirs,
                            .allow_insecure_plugins = cli->allow_insecure_plugins,
                            .pass_env = cli->pass_env,
                            .n_pass_env = cli->n_pass_env,
                            .workers_min = (unsigned)cli->workers_min,
                            .workers_max = (unsigned)cli->workers_max,
                            .stack_size = cli->stack_size,
                            .log = log_line};
    df_worker *w = NULL;
    char err[1024] = "";
    int rc = df_worker_open(&cfg, &w, err, sizeof err);
    if (rc != 0) {
        df_cli_error("%s", err);
        return rc == DF_EINPUT ? DF_EXIT_USAGE : DF_EXIT_INTERNAL;
    }
    df_cli_crash_worker(w);
    running = w;
    if (atexit(exit_guard) != 0)
        df_cli_error("cannot arm the guard against plugins that call exit(): such an exit "
                     "is charged to nobody");
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch, w) != 0) {
        df_cli_error("cannot start the signal thread");
        df_cli_crash_worker(NULL);
        running = NULL;
        df_worker_close(w);
        return DF_EXIT_INTERNAL;
    }
    rc = df_worker_run(w, err, sizeof err);
    pthread_kill(watcher, SIGUSR1);
    pthread_join(watcher, NULL);
    df_worker_stats st;
    df_worker_get_stats(w, &st);
    char line[256];
    snprintf(line, sizeof line,
             "stopped: %llu attempts claimed, %llu completed, %llu refused, %llu leases lost",
             (unsigned long long)st.claimed, (unsigned long long)st.completed,
             (unsigned long long)st.refused, (unsigned long long)st.lost);
    log_line(NULL, line);
    if (rc != 0)
        df_cli_error("%s", err);
    df_cli_crash_worker(NULL);
    running = NULL;
    size_t left = df_worker_close(w);
    fflush(stdout);
    fflush(stderr);
    int code = rc == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
    if (left > 0)
        _exit(code);
    return code;
}
