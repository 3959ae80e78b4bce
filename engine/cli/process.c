/* process: what the `dagflow` CLI sets process-wide when it runs workflows — resource limits,
 * libuv's thread-pool size, and SIGINT/SIGTERM turned into df_engine_stop calls by a thread that
 * waits for them (sigwait). The engine library sets none of this: a program embedding it decides
 * for itself (dagflow.h). */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void df_cli_process_setup(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!getenv("UV_THREADPOOL_SIZE"))
        setenv("UV_THREADPOOL_SIZE", "16", 0);
}

/* ---- SIGINT / SIGTERM ---- */

static sigset_t stop_signals;
static pthread_t watcher;
static bool watching;
static df_engine *watched;
static atomic_int received; /* SIGINT/SIGTERM taken so far */
static atomic_int quitting; /* df_cli_signals_stop asked the watcher to end */

/* Each signal is one df_engine_stop: the first stops gracefully, the second at once. */
static void *watch_signals(void *arg)
{
    (void)arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&stop_signals, &sig) != 0)
            continue;
        if (atomic_load(&quitting))
            return NULL;
        atomic_fetch_add(&received, 1);
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
