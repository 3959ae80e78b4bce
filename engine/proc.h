/* proc: asynchronous child processes on a caller-given libuv loop. Used by the pool's
 * df_task_spawn (on a worker's loop, from a coroutine) and by the alert module's `command` sinks
 * (on the engine's loop); it knows nothing of coroutines.
 *
 * What a child gets:
 * - its own session and process group (UV_PROCESS_DETACHED makes it a session leader, so its
 *   pgid is its pid), so df_proc_kill can signal the whole tree it starts;
 * - the parent's environment plus the extra "K=V" entries (opts->env, then extra_env: a later
 *   entry replaces an earlier one with the same key);
 * - as working directory opts->cwd, resolved against base_dir when relative; base_dir when
 *   opts->cwd is NULL; the parent's when both are NULL;
 * - stdin: opts->stdin_data written through a pipe then closed, or /dev/null when NULL;
 * - stdout and stderr captured through pipes: the first capture_max bytes of each are kept
 *   (default 1 MiB), the rest is read and dropped so the child never blocks on a full pipe;
 * - resource limits (opts->limit_*): setrlimit must run in the child between fork and exec, and
 *   libuv has no pre-exec hook, so when any limit is set the child is started through /bin/sh
 *   as a tiny exec wrapper: `/bin/sh -c 'ulimit -t CPU && ulimit -v KB && ulimit -n FILES &&
 *   exec "$0" "$@"' argv0 argv1 ...` (sh's ulimit is setrlimit, soft and hard; -v is RLIMIT_AS).
 *   The wrapper is used only when a limit is set. prlimit(2) after spawn was rejected because
 *   the child could run (and allocate) before the limit lands.
 *
 * Children are reaped only by libuv (no waitpid(-1), no SIGCHLD handler of ours). The first
 * df_proc_run ignores SIGPIPE process-wide (a child that exits without reading its stdin would
 * otherwise kill the engine with it); libuv resets signal dispositions in the child.
 *
 * Thread-safety: everything about one df_proc happens on its loop's thread. */
#ifndef DF_PROC_H
#define DF_PROC_H

#include <stddef.h>
#include <uv.h>

#include <dagflow/taskunit.h>

/* Milliseconds between the SIGTERM and the SIGKILL of df_proc_kill. */
#define DF_PROC_KILL_GRACE_MS 2000
/* Bytes of stdout and of stderr kept when df_spawn_opts.capture_max is 0. */
#define DF_PROC_CAPTURE_DEFAULT (1024 * 1024)

typedef struct df_proc df_proc;

/* Called once, on the loop's thread, when the child has exited AND its stdout and stderr pipes
 * are closed (after a kill escalated to SIGKILL, pipes still held open by escaped grandchildren
 * are closed without waiting for them). res is filled as documented in taskunit.h; the callback
 * takes ownership of its buffers (free them with df_spawn_result_free) and may copy the struct;
 * the struct itself lives only during the call. proc is valid during the call and freed after it
 * (its handles close on later loop turns). */
typedef void (*df_proc_done_fn)(df_proc *proc, df_spawn_result *res, void *ud);

/* Starts opts->argv[0] (looked up in PATH when it has no '/') with the environment, working
 * directory, stdio and limits described above. opts and extra_env (a NULL-terminated list of
 * "K=V", or NULL) and base_dir are borrowed for the duration of the call only.
 *
 * Returns 0 and sets *out (may be NULL if the caller never kills) when the child runs; done will
 * be called later. Returns a negative libuv error code when it could not be started, with a
 * message in err such as "spawn ./x: no such file or directory" (done is then never called).
 * Call on the loop's thread; the loop must keep running until done has been called. */
int df_proc_run(uv_loop_t *loop, const df_spawn_opts *opts, const char *const *extra_env,
                const char *base_dir, df_proc_done_fn done, void *ud, df_proc **out, char *err,
                size_t errlen);

/* Stops the child: SIGTERM to its process group now, SIGKILL to the group
 * DF_PROC_KILL_GRACE_MS later if it has not exited by then. The result will have cancelled set.
 * Idempotent. Only valid until done has returned. Loop thread only. */
void df_proc_kill(df_proc *p);

/* The child's pid, which is also its process group id. */
int df_proc_pid(const df_proc *p);

#endif
