/* process: what the `dagflow` CLI sets process-wide when it runs workflows — resource limits,
 * the child subreaper flag,
 * libuv's thread-pool size, and SIGINT/SIGTERM turned into df_engine_stop calls by a thread that
 * waits for them (sigwait). The engine library sets none of this: a program embedding it decides
 * for itself (dagflow.h). */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void df_cli_process_setup(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!getenv("UV_THREADPOOL_SIZE"))
        setenv("UV_THREADPOOL_SIZE", "16", 0);
#ifdef PR_SET_CHILD_SUBREAPER
    /* A process a task started that leaves its group and is orphaned (a daemon) becomes our
     * child rather than init's, so it stays below dagflow (SPEC §12; its control group, where
     * there is one, is what kills it). Process-wide, so the CLI's choice, not the library's. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#endif
}

/* ---- SIGINT / SIGTERM ---- */

/* How often the watcher flushes what the CLI wrote to stderr while nothing else happens: stderr
 * is fully buffered when it is not a terminal (cmd_run.c), so that 10,000 progress lines are not
 * 10,000 system calls; a reader behind a pipe (`| tee run.log`) still gets each line within this.
 */
#define DF_CLI_FLUSH_MS 200

static sigset_t stop_signals;
static pthread_t watcher;
static bool watching;
static df_engine *watched;
static atomic_int received; /* SIGINT/SIGTERM taken so far */
static atomic_int quitting; /* df_cli_signals_stop asked the watcher to end */
static atomic_int run_over; /* df_cli_signals_run_over: the wait has returned */

/* Leaves with 130 at once, without losing a line: what was written to stdout and stderr is
 * flushed first (stdio's locks make that safe from this thread), and the task processes go. */
static void leave_now(void)
{
    df_kill_task_processes();
    fputs("dagflow: signal received again: leaving at once\n", stderr);
    fflush(stdout);
    fflush(stderr);
    _exit(DF_EXIT_INTERRUPTED);
}

/* Each signal is one df_engine_stop: the first stops gracefully, the second at once (the main
 * thread leaves once the wait has returned). Whatever was printed is flushed at each signal, and
 * every DF_CLI_FLUSH_MS meanwhile. A signal after the wait returned (while the summary is
 * written, the engine closes), or a third one, leaves at once from here. */
static void *watch_signals(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, DF_CLI_FLUSH_MS * 1000000L};
        int sig = sigtimedwait(&stop_signals, NULL, &ts);
        if (sig < 0) {
            if (errno == EAGAIN)
                fflush(stderr);
            continue;
        }
        if (atomic_load(&quitting))
            return NULL;
        int n = atomic_fetch_add(&received, 1) + 1;
        fflush(stdout);
        fflush(stderr);
        if (atomic_load(&run_over) || n >= 3)
            leave_now();
        df_engine_stop(watched);
    }
}

void df_cli_signals_block(void)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
}

int df_cli_signals_watch(df_engine *e)
{
    watched = e;
    atomic_store(&received, 0);
    atomic_store(&quitting, 0);
    atomic_store(&run_over, 0);
    int rc = pthread_create(&watcher, NULL, watch_signals, NULL);
    if (rc != 0) {
        df_cli_error("cannot start the signal thread: %s", strerror(rc));
        return -1;
    }
    watching = true;
    return 0;
}

int df_cli_signals_received(void)
{
    return atomic_load(&received);
}

void df_cli_signals_run_over(void)
{
    atomic_store(&run_over, 1);
}

void df_cli_signals_stop(void)
{
    if (watching) {
        /* A signal sent to that thread alone wakes its sigwait; quitting tells it to end. */
        atomic_store(&quitting, 1);
        pthread_kill(watcher, SIGTERM);
        pthread_join(watcher, NULL);
        watching = false;
    }
    watched = NULL;
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
}
