/* proc_env: what a child process of proc.c gets (SPEC §8, §12) — its environment (the base
 * variables of the engine's own, those a pass-through entry names, then the extras) and the
 * program execvp would run for a name. Split from proc.c, which starts and watches children. */
#include "proc_env.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "path.h"

extern char **environ;

/* execvp's search path when PATH is unset (glibc's confstr(_CS_PATH)). */
#define DEFAULT_PATH "/bin:/usr/bin"

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_key(const char *a, const char *b)
{
    size_t la = key_len(a);
    return la == key_len(b) && strncmp(a, b, la) == 0;
}

/* Whether the engine's variable kv ("K=V") goes to children (SPEC §12): the base names, or a
 * name matching a pass-through entry (an entry of the lists without "="). */
static bool passes(const char *kv, const char *const *const lists[2], const size_t lens[2])
{
    static const char *const base[] = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR"};
    size_t n = key_len(kv);
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        if (strlen(base[i]) == n && strncmp(kv, base[i], n) == 0)
            return true;
    if ((n > 3 && strncmp(kv, "LC_", 3) == 0) || (n > 8 && strncmp(kv, "DAGFLOW_", 8) == 0))
        return true;
    char name[512];
    if (n >= sizeof name)
        return false;
    memcpy(name, kv, n);
    name[n] = '\0';
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lens[l]; i++)
            if (!strchr(lists[l][i], '=') && fnmatch(lists[l][i], name, 0) == 0)
                return true;
    return false;
}

/* The child's environment: the base part of environ and what the pass-through entries name,
 * minus the keys overridden, then the extras (last wins). Borrowed pointers, NULL-terminated;
 * free the array only. */
char **df_proc_build_env(const char *const *e1, const char *const *e2)
{
    size_t n = 0, n1 = 0, n2 = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    for (; e1 && e1[n1]; n1++)
        ;
    for (; e2 && e2[n2]; n2++)
        ;
    char **env = calloc(n + n1 + n2 + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *const *lists[2] = {e1, e2};
    size_t lens[2] = {n1, n2};
    for (char **e = environ; e && *e; e++) {
        if (!passes(*e, lists, lens))
            continue;
        int overridden = 0;
        for (int l = 0; l < 2 && !overridden; l++)
            for (size_t i = 0; i < lens[l] && !overridden; i++)
                overridden = strchr(lists[l][i], '=') && same_key(*e, lists[l][i]);
        if (!overridden)
            env[k++] = *e;
    }
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < lens[l]; i++) {
            if (!strchr(lists[l][i], '='))
                continue;
            /* a later extra with the same key wins: drop earlier extras already copied */
            size_t j = 0;
            for (size_t r = 0; r < k; r++)
                if (!same_key(env[r], lists[l][i]))
                    env[j++] = env[r];
            k = j;
            env[k++] = (char *)lists[l][i];
        }
    env[k] = NULL;
    return env;
}

static const char *env_lookup(char **env, const char *key)
{
    size_t kl = strlen(key);
    for (; env && *env; env++)
        if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
            return *env + kl + 1;
    return NULL;
}

/* 0 when path (relative to cwd) names an executable file, else the error exec would give. */
static int executable_at(const char *cwd, const char *path)
{
    char *p = df_path_resolve(cwd, path);
    if (!p)
        return UV_ENOMEM;
    struct stat st;
    int r;
    if (stat(p, &st) != 0)
        r = uv_translate_sys_error(errno);
    else if (!S_ISREG(st.st_mode))
        r = UV_EACCES;
    else
        r = access(p, X_OK) == 0 ? 0 : uv_translate_sys_error(errno);
    free(p);
    return r;
}

/* What execvp in the child would run for file: file itself when it has a '/', else the first
 * executable regular file along the child's PATH (DEFAULT_PATH when unset; an empty entry is the
 * working directory; relative entries are relative to cwd). On 0, *found is a malloc'd path
 * relative to the child's working directory (or absolute); otherwise a libuv error: EACCES when
 * only non-executable candidates were seen, as execvp reports, else ENOENT. */
int df_proc_find_program(const char *file, const char *cwd, char **env, char **found)
{
    *found = NULL;
    if (!*file)
        return UV_ENOENT;
    if (strchr(file, '/')) {
        int r = executable_at(cwd, file);
        if (r == 0 && !(*found = strdup(file)))
            return UV_ENOMEM;
        return r;
    }
    const char *path = env_lookup(env, "PATH");
    if (!path)
        path = DEFAULT_PATH;
    size_t fl = strlen(file);
    int best = UV_ENOENT;
    for (const char *s = path;;) {
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t)(colon - s) : strlen(s);
        char *cand = malloc(dl + fl + 3);
        if (!cand)
            return UV_ENOMEM;
        if (dl == 0)
            snprintf(cand, dl + fl + 3, "./%s", file);
        else
            snprintf(cand, dl + fl + 3, "%.*s/%s", (int)dl, s, file);
        int r = executable_at(cwd, cand);
        if (r == 0) {
            *found = cand;
            return 0;
        }
        free(cand);
        if (r == UV_EACCES)
            best = UV_EACCES;
        else if (r == UV_ENOMEM)
            return r;
        if (!colon)
            break;
        s = colon + 1;
    }
    return best;
}
