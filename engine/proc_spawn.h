/* proc_spawn: posix_spawn primitives for proc.c (see proc_spawn.c), and whether that backend is
 * built. Thread-safe (no state). */
#ifndef DF_PROC_SPAWN_H
#define DF_PROC_SPAWN_H

#include <sys/syscall.h>
#include <sys/types.h>

/* The posix_spawn backend needs POSIX_SPAWN_SETSID and the chdir/closefrom file actions (glibc
 * 2.34) and pidfd_open (Linux 5.3, probed at run time). */
#if defined(__linux__) && defined(__GLIBC__) && defined(SYS_pidfd_open) &&                         \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_SPAWN_BACKEND 1
#else
#define HAVE_SPAWN_BACKEND 0
#endif

#if HAVE_SPAWN_BACKEND
/* A pipe with both ends close-on-exec and out of 0..2 (free when the engine's own stdio is
 * closed): the child's end would be overwritten by the other stdio dup2s, and libuv never closes
 * a stream fd <= 2. 0 or a libuv error (nothing left open). */
int df_proc_pipe(int fds[2]);

/* Spawns path (argv args, environment env, in cwd or here when NULL) in a new session with stdin
 * on in_fd (-1: /dev/null) and stdout/stderr on out_fd/err_fd; a file without a #! line
 * (ENOEXEC) runs with /bin/sh, as execvp does, unless wrapped (args is already the limits
 * wrapper). Returns 0 with *pid, or a positive errno value. */
int df_proc_spawn(const char *path, char **args, char **env, const char *cwd, int in_fd, int out_fd,
                  int err_fd, int wrapped, pid_t *pid);
#endif

#endif
