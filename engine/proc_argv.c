/* proc_argv: what proc.c starts a child with: its working directory resolved and checked, and
 * its argv, behind a /bin/sh wrapper that joins its control groups and sets its ulimits when
 * any is asked for (see proc_argv.h). */
#include "proc_argv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "path.h"
#include "proc_env.h"

/* See proc_argv.h: opts->cwd against base_dir, or base_dir itself when there is no opts->cwd (NULL
 * when neither is given), checked to be a directory. Returns 0 or a libuv error with err filled. */
int df_proc_resolve_cwd(const df_spawn_opts *opts, const char *base_dir, char **out, char *err,
                        size_t errlen)
{
    const char *argv0 = opts->argv[0];
    char *cwd = opts->cwd  ? df_path_resolve(base_dir, opts->cwd)
                : base_dir ? strdup(base_dir)
                           : NULL;
    *out = NULL;
    if ((opts->cwd || base_dir) && !cwd) {
        snprintf(err, errlen, "spawn %s: out of memory", argv0);
        return UV_ENOMEM;
    }
    if (cwd) {
        struct stat st;
        if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
            int e = stat(cwd, &st) != 0 ? uv_translate_sys_error(errno) : UV_ENOTDIR;
            snprintf(err, errlen, "spawn %s: working directory \"%s\": %s", argv0, cwd,
                     uv_strerror(e));
            free(cwd);
            return e;
        }
    }
    *out = cwd;
    return 0;
}

/* See proc_argv.h: the child's argv (borrowing opts->argv and script; free the array only), behind
 * a /bin/sh wrapper that sets the resource limits when opts asks for any (*wrap set; the program is
 * looked up first, so that a missing one is reported as such rather than by the shell). Returns 0
 * or a libuv error. */
int df_proc_build_argv(const df_spawn_opts *opts, const char *cwd, char **env, const char *cgroup,
                       const df_limit_groups *lim, char *script, size_t script_len, char ***out,
                       int *wrap)
{
    size_t argc = 0;
    while (opts->argv[argc])
        argc++;
    *wrap = opts->limit_cpu_seconds || opts->limit_memory_mb || opts->limit_open_files || cgroup ||
            lim->n;
    char **args = calloc(argc + 4, sizeof *args);
    if (!args)
        return UV_ENOMEM;
    size_t first = 0;
    if (*wrap) {
        char *found = NULL;
        int rc = df_proc_find_program(opts->argv[0], cwd, env, &found);
        free(found);
        if (rc) {
            free(args);
            return rc;
        }
        size_t o = 0;
        if (cgroup) /* joins its control group before anything else runs (best effort) */
            o += (size_t)snprintf(script + o, script_len - o,
                                  "echo $$ 2>/dev/null >'%s/cgroup.procs'; ", cgroup);
        for (size_t i = 0; i < lim->n; i++) /* its limits' groups: joined, or it does not run */
            o += (size_t)snprintf(script + o, script_len - o,
                                  "echo $$ >'%s/cgroup.procs' || exit 126; ", lim->dirs[i]);
        if (opts->limit_cpu_seconds)
            o += (size_t)snprintf(script + o, script_len - o, "ulimit -t %llu && ",
                                  (unsigned long long)opts->limit_cpu_seconds);
        if (opts->limit_memory_mb)
            o += (size_t)snprintf(script + o, script_len - o, "ulimit -v %llu && ",
                                  (unsigned long long)opts->limit_memory_mb * 1024ull);
        if (opts->limit_open_files)
            o += (size_t)snprintf(script + o, script_len - o, "ulimit -n %llu && ",
                                  (unsigned long long)opts->limit_open_files);
        snprintf(script + o, script_len - o, "exec \"$0\" \"$@\"");
        args[0] = "/bin/sh";
        args[1] = "-c";
        args[2] = script;
        first = 3;
    }
    for (size_t i = 0; i < argc; i++)
        args[first + i] = (char *)opts->argv[i];
    *out = args;
    return 0;
}
