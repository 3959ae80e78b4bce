/* proc_env: a child process's environment and program lookup (proc_env.c), for proc.c. Not a
 * public header. */
#ifndef DF_PROC_ENV_H
#define DF_PROC_ENV_H

/* The child's environment: the base part of environ (PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ,
 * TMPDIR, DAGFLOW_*) and what the pass-through entries of e1 and e2 name (entries without "=",
 * fnmatch patterns), minus the keys their "K=V" entries override, then those entries (last
 * wins). Borrowed pointers, NULL-terminated: free the array only. NULL on allocation failure.
 * Reads environ: not thread-safe against setenv. */
char **df_proc_build_env(const char *const *e1, const char *const *e2);

/* What execvp in the child would run for file: file itself when it has a '/', else the first
 * executable regular file along the child's PATH (from env; "/bin:/usr/bin" when unset; an empty
 * entry is the working directory; relative entries are relative to cwd). On 0, *found is a
 * malloc'd path relative to the child's working directory (or absolute); otherwise a libuv
 * error: UV_EACCES when only non-executable candidates were seen, as execvp reports, else
 * UV_ENOENT (UV_ENOMEM on allocation failure). */
int df_proc_find_program(const char *file, const char *cwd, char **env, char **found);

#endif
