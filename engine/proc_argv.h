/* proc_argv: a child's working directory and argv for proc.c (proc_argv.c). Not a public header.
 * Thread-safe (no state); errors are libuv error codes (negative), with err filled where said. */
#ifndef DF_PROC_ARGV_H
#define DF_PROC_ARGV_H

#include <stddef.h>

#include "proc.h"
#include "proc_limits.h"

/* opts->cwd against base_dir, or base_dir itself when there is no opts->cwd (NULL when neither
 * is given), checked to be a directory: *out is a new string (free()) or NULL. Returns 0 or a
 * libuv error with err (errlen bytes) filled ("spawn ARGV0: working directory \"D\": why"). */
int df_proc_resolve_cwd(const df_spawn_opts *opts, const char *base_dir, char **out, char *err,
                        size_t errlen);

/* The child's argv in *out (borrowing opts->argv and script; free the array only), behind a
 * /bin/sh wrapper (written into script, script_len bytes) that joins cgroup (may be NULL) and the
 * groups of lim, and sets the ulimits of opts, when any of them is set (*wrap 1; the program is
 * looked up in env from cwd first, so that a missing one is reported as such rather than by the
 * shell). Returns 0 or a libuv error (UV_ENOMEM, or the lookup's UV_ENOENT / UV_EACCES). */
int df_proc_build_argv(const df_spawn_opts *opts, const char *cwd, char **env, const char *cgroup,
                       const df_limit_groups *lim, char *script, size_t script_len, char ***out,
                       int *wrap);

#endif
