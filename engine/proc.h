/* proc: asynchronous child processes on a caller-given libuv loop. Used by the pool's
 * df_task_spawn (on a worker's loop, from a coroutine) and by the alert module's `command` sinks
 * (on the engine's loop); it knows nothing of coroutines.
 *
 * How a child is started: with glibc's posix_spawn, which uses clone(CLONE_VM|CLONE_VFORK) and
 * so never copies the engine's page tables (fork() did, for every child: the cost grew with the
 * engine's threads and mappings). Exec errors come back synchronously from posix_spawn. Its exit
 * is watched through a pidfd (pidfd_open, Linux >= 5.3) polled on the loop; when it turns readable
 * the child is reaped with waitpid(pid, WNOHANG) for that pid only. Where pidfd_open is missing
 * (ENOSYS, or refused by a seccomp filter; probed once) or DAGFLOW_PROC_BACKEND=uv_spawn is set in
 * the engine's environment, children are started with libuv's uv_spawn (fork) and reaped by
 * libuv, as before; both kinds can be in flight at once.
 *
 * What a child gets:
 * - its own session and process group (POSIX_SPAWN_SETSID, or UV_PROCESS_DETACHED; it is a
 *   session leader, so its pgid is its pid), so df_proc_kill can signal the whole tree it starts;
 * - a base environment (SPEC §12): of the parent's environment only PATH, HOME, USER, LOGNAME,
 *   LANG, LC_*, TZ, TMPDIR and DAGFLOW_*, plus the variables that an extra entry without "=" names
 *   (a name, or an fnmatch(3) pattern such as "AWS_*": what --pass-env and env_passthrough pass
 *   through); then the extra "K=V" entries (opts->env, then extra_env: a later entry replaces an
 *   earlier one with the same key);
 * - argv[0] looked up as execvp would in the child: a name without '/' along the child's PATH
 *   ("/bin:/usr/bin" when unset; relative entries are relative to its working directory), the
 *   first executable regular file wins, EACCES when only non-executable candidates exist; a file
 *   without a #! line (ENOEXEC) is run by /bin/sh;
 * - as working directory opts->cwd, resolved against base_dir when relative; base_dir when
 *   opts->cwd is NULL; the parent's when both are NULL;
 * - stdin: opts->stdin_data written through a pipe then closed, or /dev/null when NULL;
 * - stdout and stderr captured through pipes: the first capture_max bytes of each are kept
 *   (default 1 MiB), the rest is read and dropped so the child never blocks on a full pipe;
 * - no other descriptor of the engine: every fd from 3 up is closed in the child (close_range),
 *   even one opened without O_CLOEXEC (the uv_spawn fallback relies on O_CLOEXEC);
 * - every signal at its default disposition and an empty signal mask;
 * - resource limits (opts->limit_*): setrlimit must run in the child between fork and exec, and
 *   neither posix_spawn nor libuv has a pre-exec hook, so when any limit is set the child is
 *   started through /bin/sh as a tiny exec wrapper: `/bin/sh -c 'ulimit -t CPU && ulimit -v KB &&
 *   ulimit -n FILES && exec "$0" "$@"' argv0 argv1 ...` (sh's ulimit is setrlimit, soft and
 *   hard; -v is RLIMIT_AS). The wrapper is used only when a limit is set. prlimit(2) after spawn
 *   was rejected because the child could run (and allocate) before the limit lands.
 *
 * Reaping: a child is only ever reaped by a wait for its own pid (ours after its pidfd turned
 * readable, or libuv's for the children it forked): never waitpid(-1), and no SIGCHLD handler of
 * ours. libuv's SIGCHLD handler (installed once uv_spawn is used) waits only for the pids it
 * spawned, so it never takes the exit status of ours. Each df_proc_run puts SIGCHLD back to
 * SIG_DFL if it was set to SIG_IGN (or SA_NOCLDWAIT), which would make the kernel discard exit
 * statuses. The first df_proc_run ignores SIGPIPE process-wide (a child that exits without
 * reading its stdin would otherwise kill the engine with it); the child gets it back at default.
 *
 * Thread-safety: everything about one df_proc happens on its loop's thread. */
#ifndef DF_PROC_H
#define DF_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <dagflow/taskunit.h>

#include "proc_registry.h" /* the kills from any thread: df_proc_kill_owned, ... */

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

/* df_proc_run, and when tracked is non-zero the child also gets a control group where the
 * machine allows (proc_cgroup.h): timeouts, df_proc_kill and df_proc_kill_owned reach what left
 * its process group (setsid); a group still holding processes when the child exits is removed,
 * with them, by df_proc_kill_owned_now. Used for tasks' children. */
int df_proc_run_tracked(uv_loop_t *loop, const df_spawn_opts *opts, const char *const *extra_env,
                        const char *base_dir, int tracked, df_proc_done_fn done, void *ud,
                        df_proc **out, char *err, size_t errlen);

/* Stops the child: SIGTERM to its process group now, SIGKILL to the group
 * DF_PROC_KILL_GRACE_MS later if it has not exited by then. The result will have cancelled set.
 * Idempotent. Only valid until done has returned. Loop thread only. */
void df_proc_kill(df_proc *p);

/* Tags a running child with its owner (group: e.g. the pool; id: e.g. the pool job's id, not 0)
 * so that df_proc_kill_owned can take it down from another thread, whatever its loop's thread is
 * doing (a worker stuck in another task's plugin no longer runs its loop). Loop thread. */
void df_proc_set_owner(df_proc *p, const void *group, uint64_t id);

/* Period of the engine's df_proc_escalate timer, in ms. */
#define DF_PROC_ESCALATE_MS 100

/* The child's pid, which is also its process group id. */
int df_proc_pid(const df_proc *p);

/* The child's control group directory (borrowed: valid while p is), or NULL when it has none. */
const char *df_proc_cgroup(const df_proc *p);

#endif
