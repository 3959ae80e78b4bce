/* proc_spawn: the posix_spawn primitives of proc.c's spawn backend — pipes kept out of the
 * standard descriptors, and one spawn in a new session with every other descriptor closed and
 * every signal at its default (see proc_spawn.h). */
#include "proc_spawn.h"

#if HAVE_SPAWN_BACKEND
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

/* Moves fd out of 0..2 (where the child's stdio goes), keeping it close-on-exec. */
static int above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
        return uv_translate_sys_error(errno);
    close(*fd);
    *fd = nfd;
    return 0;
}

/* See proc_spawn.h. */
int df_proc_pipe(int fds[2])
{
    int r = uv_pipe(fds, 0, 0);
    if (r)
        return r;
    if ((r = above_stdio(&fds[0])) == 0)
        r = above_stdio(&fds[1]);
    if (r) {
        close(fds[0]);
        close(fds[1]);
    }
    return r;
}

/* Every signal, glibc's internal ones (32 up to SIGRTMIN) included: sigfillset leaves those out,
 * glibc's posix_spawn then sets them to SIG_IGN in the child, and exec keeps an ignored signal
 * ignored. sigaddset refuses them, so their bits (sig - 1, as glibc numbers them) are set
 * directly. */
static void all_signals(sigset_t *s)
{
    sigfillset(s);
    const size_t bits = 8 * sizeof s->__val[0];
    for (int sig = 32; sig < SIGRTMIN; sig++)
        if (sigaddset(s, sig) != 0)
            s->__val[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

/* posix_spawn (clone(CLONE_VM|CLONE_VFORK) in glibc: no copy of the engine's page tables) in a
 * new session, stdio on the given fds, in cwd, with every other descriptor closed and signals at
 * their defaults, unblocked. Reports exec errors synchronously (glibc >= 2.24). 0 and *pid, or a
 * positive errno. */
static int spawn_posix(const char *path, char **args, char **env, const char *cwd, int in_fd,
                       int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r = posix_spawn_file_actions_init(&fa);
    if (r)
        return r;
    r = posix_spawnattr_init(&at);
    if (r) {
        posix_spawn_file_actions_destroy(&fa);
        return r;
    }
    if (in_fd >= 0)
        r = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (!r && cwd)
        r = posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (!r) /* even descriptors someone opened without O_CLOEXEC stay out of the child */
        r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    all_signals(&all);
    if (!r)
        r = posix_spawnattr_setsigmask(&at, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&at, &all); /* SIGPIPE is ignored here, not there */
    if (!r)
        r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    if (!r)
        r = posix_spawn(pid, path, &fa, &at, args, env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return r;
}

/* See proc_spawn.h. */
int df_proc_spawn(const char *path, char **args, char **env, const char *cwd, int in_fd, int out_fd,
                  int err_fd, int wrapped, pid_t *pid)
{
    int e = spawn_posix(path, args, env, cwd, in_fd, out_fd, err_fd, pid);
    if (e != ENOEXEC || wrapped)
        return e;
    size_t argc = 0;
    while (args[argc])
        argc++;
    char **sh = calloc(argc + 2, sizeof *sh);
    if (!sh)
        return ENOMEM;
    sh[0] = "/bin/sh";
    sh[1] = (char *)path;
    for (size_t i = 1; i < argc; i++)
        sh[i + 1] = args[i];
    e = spawn_posix("/bin/sh", sh, env, cwd, in_fd, out_fd, err_fd, pid);
    free(sh);
    return e;
}
#endif
