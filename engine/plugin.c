/* plugin: the plugin registry — search path, dlopen, ABI and name checks, the plugins' init and
 * fini hooks, and the creation-time `validate` of every task of a workflow (SPEC §2). */
#include "plugin.h"
#include "proc_limits.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fnmatch.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#include "curl_global.h"
#include "path.h"
#include "plugin_trust.h"
#include "sized.h"
#include "template.h"

/* ---- the descriptors of the process's plugins ---- */

/* Most param rules a plugin may declare (a missing end entry is caught, not read past forever). */
#define DF_PARAM_RULES_MAX 256

/* How many bytes of df_taskunit a plugin built against ABI abi has (the fields up to the last
 * one that ABI added), or 0 for an ABI this engine does not know. */
static size_t taskunit_layout_size(int abi)
{
    _Static_assert(DF_TASKUNIT_ABI == 3, "a new ABI: add its layout to taskunit_layout_size");
    switch (abi) {
    case 1:
        return DF_END_OF(df_taskunit, execute);
    case 2:
    case 3: /* ABI 3 added a status (DF_TASK_SKIPPED), no field */
        return DF_END_OF(df_taskunit, param_rules);
    default:
        return 0;
    }
}

/* One plugin descriptor loaded in the process, shared by every registry that loaded it. Plugins
 * are never unloaded (a worker left behind may still run their code), so neither are these:
 * each is allocated once and kept for the process's life (df_plugin.unit points into it). */
struct df_unit_hold {
    const df_taskunit *raw; /* what the plugin's entry point returned */
    df_taskunit unit;       /* the fields of the plugin's ABI; those it lacks are NULL */
    unsigned users;         /* registries holding it; init ran when this went from 0 to 1 */
    bool pinned; /* a registry left it while its code may still run: initialised for good */
};

static pthread_mutex_t holds_mu = PTHREAD_MUTEX_INITIALIZER;
static struct df_unit_hold **holds; /* every descriptor ever loaded, guarded by holds_mu */
static size_t n_holds, cap_holds;

/* The hold of raw, created when there is none. Returns NULL when out of memory. holds_mu held. */
static struct df_unit_hold *hold_find_locked(const df_taskunit *raw)
{
    for (size_t i = 0; i < n_holds; i++)
        if (holds[i]->raw == raw)
            return holds[i];
    if (n_holds == cap_holds) {
        size_t cap = cap_holds ? cap_holds * 2 : 16;
        struct df_unit_hold **g = realloc(holds, cap * sizeof *g);
        if (!g)
            return NULL;
        holds = g;
        cap_holds = cap;
    }
    struct df_unit_hold *h = calloc(1, sizeof *h);
    if (h) {
        h->raw = raw;
        holds[n_holds++] = h;
    }
    return h;
}

/* Takes a registry's hold on the plugin descriptor raw, whose fields of its ABI are in unit: the
 * first hold in the process (or the first since the last one was released) runs the plugin's
 * init, after the process's curl_global_init when the plugin brought libcurl in (curl_global.h).
 * Returns the hold, or NULL with the reason in err ("init failed: <the plugin's message>", or out
 * of memory). Thread-safe: init runs under a process-wide lock. */
static struct df_unit_hold *hold_acquire(const df_taskunit *raw, const df_taskunit *unit, char *err,
                                         size_t errlen)
{
    pthread_mutex_lock(&holds_mu);
    struct df_unit_hold *h = hold_find_locked(raw);
    if (!h) {
        snprintf(err, errlen, "out of memory");
    } else if (h->users == 0 && !h->pinned) {
        h->unit = *unit; /* not in use: read afresh */
        if (h->unit.init) {
            char msg[1024] = "";
            df_curl_init_if_loaded(); /* a failure is the plugin's to report */
            if (h->unit.init(msg, sizeof msg) != 0) {
                msg[sizeof msg - 1] = '\0';
                snprintf(err, errlen, "init failed: %s", msg[0] ? msg : "(no message)");
                h = NULL;
            }
        }
    }
    if (h)
        h->users++;
    pthread_mutex_unlock(&holds_mu);
    return h;
}

/* Releases a registry's hold: the last one runs the plugin's fini, unless plugin code may still
 * be running (busy; the descriptor then stays initialised for the process's life). */
static void hold_release(struct df_unit_hold *h, bool busy)
{
    pthread_mutex_lock(&holds_mu);
    if (busy)
        h->pinned = true;
    if (h->users > 0 && --h->users == 0 && !h->pinned && h->unit.fini)
        h->unit.fini();
    pthread_mutex_unlock(&holds_mu);
}

/* ---- the registry ---- */

struct df_plugin_registry {
    char **dirs; /* the search path, in order */
    size_t n_dirs;
    df_plugin **loaded; /* every plugin loaded, in load order */
    size_t n_loaded;
    size_t cap_loaded;
    const df_plugin **listing; /* df_plugin_list's last answer */
    df_plugin **by_name;       /* plugins found by name along the search path (a cache: the */
    size_t n_by_name;          /* search path never changes during the registry's life) */
    bool busy;                 /* plugin code may still run when it is freed: no fini */
    bool allow_insecure;       /* load files that fail df_plugin_trust_check */
};

/* Appends dir to the search path (copied); an empty dir, or one already on the path, is
 * skipped. Returns 0, or -1 when out of memory. */
static int push_dir(df_plugin_registry *r, const char *dir)
{
    if (!dir || !*dir)
        return 0;
    for (size_t i = 0; i < r->n_dirs; i++)
        if (strcmp(r->dirs[i], dir) == 0)
            return 0;
    char **d = realloc(r->dirs, (r->n_dirs + 1) * sizeof *d);
    if (!d)
        return -1;
    r->dirs = d;
    if (!(r->dirs[r->n_dirs] = strdup(dir)))
        return -1;
    r->n_dirs++;
    return 0;
}

df_plugin_registry *df_plugin_registry_new(const char *const *dirs, size_t n_dirs)
{
    df_plugin_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    int bad = 0;
    for (size_t i = 0; i < n_dirs; i++)
        bad |= push_dir(r, dirs[i]);
    const char *env = getenv("DAGFLOW_PLUGIN_PATH");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy)
            bad = -1;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok;
             tok = strtok_r(NULL, ":", &save))
            bad |= push_dir(r, tok);
        free(copy);
    }
    /* The built-in plugin folders, found from the binary's own path (symbolic links resolved):
     * <bin dir>/plugins (the build tree), then <bin dir>/../lib/dagflow/plugins (an installed
     * tree, wherever `cmake --install --prefix` put it), then the folder of the configured
     * install prefix. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char builtin[PATH_MAX + 32];
            snprintf(builtin, sizeof builtin, "%s/plugins", exe);
            bad |= push_dir(r, builtin);
            /* The prefix: the bin dir's parent ("" when the binary sits in "/bin"). */
            char *parent = strrchr(exe, '/');
            if (parent) {
                *parent = '\0';
                snprintf(builtin, sizeof builtin, "%s/lib/dagflow/plugins", exe);
                bad |= push_dir(r, builtin);
            }
        }
    }
    bad |= push_dir(r, DF_PLUGIN_INSTALL_DIR);
    if (bad) {
        df_plugin_registry_free(r);
        return NULL;
    }
    return r;
}

void df_plugin_registry_free(df_plugin_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    for (size_t i = 0; i < r->n_loaded; i++) {
        df_plugin *p = r->loaded[i];
        /* Plugins are never unloaded (no dlclose): a worker abandoned in a plugin that ignored
         * its cancellation may still be running the plugin's code while the engine exits. */
        hold_release(p->hold, r->busy);
        free(p->name);
        free(p->path);
        free(p);
    }
    free(r->loaded);
    free(r->listing);
    free(r->by_name);
    free(r);
}

void df_plugin_registry_allow_insecure(df_plugin_registry *r, bool allow)
{
    if (r)
        r->allow_insecure = allow;
}

void df_plugin_registry_left_behind(df_plugin_registry *r, size_t workers)
{
    if (r && workers > 0)
        r->busy = true;
}

/* The plugin name a file must declare: its base name without ".so". New string. */
static char *name_from_path(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0)
        len -= 3;
    return strndup(base, len);
}

/* Makes room for one more loaded plugin. Returns 0 or -1 (out of memory). */
static int reserve_slot(df_plugin_registry *r)
{
    if (r->n_loaded < r->cap_loaded)
        return 0;
    size_t cap = r->cap_loaded ? r->cap_loaded * 2 : 8;
    df_plugin **g = realloc(r->loaded, cap * sizeof *g);
    if (!g)
        return -1;
    r->loaded = g;
    r->cap_loaded = cap;
    return 0;
}

/* Reads the descriptor u that the plugin at real (its file name without ".so" is want) returned
 * into *unit: the fields of its ABI, later ones NULL. Returns 0, or -1 with a message in err
 * when the ABI is not one this engine loads, the name does not match the file, or execute is
 * NULL. ref is the reference the workflow used, for messages. */
static int read_unit(const df_taskunit *u, const char *ref, const char *real, const char *want,
                     df_taskunit *unit, char *err, size_t errlen)
{
    size_t size = taskunit_layout_size(u->abi); /* abi is first in every layout */
    if (size == 0) {
        snprintf(err, errlen,
                 "plugin \"%s\": %s was built for plugin ABI %d, this dagflow supports plugin ABI "
                 "1 to %d",
                 ref, real, u->abi, DF_TASKUNIT_ABI);
        return -1;
    }
    memset(unit, 0, sizeof *unit);
    memcpy(unit, u, size);
    if (!unit->name || strcmp(unit->name, want) != 0) {
        snprintf(
            err, errlen,
            "plugin \"%s\": %s declares the name \"%s\", which does not match its file name \"%s\"",
            ref, real, unit->name ? unit->name : "(null)", want);
        return -1;
    }
    if (!unit->execute) {
        snprintf(err, errlen, "plugin \"%s\": %s has no execute function", ref, real);
        return -1;
    }
    size_t n = 0;
    for (const df_param_rule *pr = unit->param_rules; pr && pr->param; pr++, n++) {
        if (n == DF_PARAM_RULES_MAX) {
            snprintf(err, errlen, "plugin \"%s\": %s has more than %d param rules (no end entry?)",
                     ref, real, DF_PARAM_RULES_MAX);
            return -1;
        }
        if (pr->rule != DF_PARAM_SHELL_SCRIPT && pr->rule != DF_PARAM_NO_TEMPLATES &&
            pr->rule != DF_PARAM_ENV) {
            snprintf(err, errlen,
                     "plugin \"%s\": %s asks for rule %d on its param \"%.200s\", which this "
                     "dagflow does not know",
                     ref, real, pr->rule, pr->param);
            return -1;
        }
    }
    return 0;
}

/* Registers the plugin real (dlopen handle h, descriptor u) in r after taking its hold (which
 * runs its init the first time). Takes ownership of want. Returns the plugin, or NULL with a
 * message in err (want is then freed). */
static df_plugin *register_plugin(df_plugin_registry *r, const char *ref, const char *real,
                                  char *want, void *h, const df_taskunit *u, char *err,
                                  size_t errlen)
{
    df_taskunit unit;
    char why[1200];
    if (read_unit(u, ref, real, want, &unit, err, errlen) != 0) {
        free(want);
        return NULL;
    }
    df_plugin *p = reserve_slot(r) == 0 ? calloc(1, sizeof *p) : NULL;
    char *rp = p ? strdup(real) : NULL;
    struct df_unit_hold *hold = rp ? hold_acquire(u, &unit, why, sizeof why) : NULL;
    if (!hold) {
        if (rp)
            snprintf(err, errlen, "plugin \"%s\": %s: %s", ref, real, why);
        else
            snprintf(err, errlen, "plugin \"%s\": out of memory", ref);
        free(p);
        free(rp);
        free(want);
        return NULL;
    }
    p->name = want;
    p->path = rp;
    p->handle = h;
    p->unit = &hold->unit;
    p->hold = hold;
    r->loaded[r->n_loaded++] = p;
    return p;
}

/* Loads the .so at path (absolute). Returns the registered plugin or NULL with err filled. */
static df_plugin *load_path(df_plugin_registry *r, const char *ref, const char *path, char *err,
                            size_t errlen)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, errlen, "plugin \"%s\": cannot open %s: %s", ref, path, strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < r->n_loaded; i++)
        if (strcmp(r->loaded[i]->path, real) == 0)
            return r->loaded[i];

    /* Before dlopen, which runs the file's constructors (SPEC §12). */
    char why[PATH_MAX + 256];
    if (!r->allow_insecure && df_plugin_trust_check(real, why, sizeof why) != 0) {
        snprintf(err, errlen,
                 "plugin \"%s\": refusing to load %s: %s (anyone who can write there can run code "
                 "as dagflow; fix the owner or mode, or pass --allow-insecure-plugins)",
                 ref, real, why);
        return NULL;
    }
    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, errlen, "plugin \"%s\": cannot load %s: %s", ref, real,
                 e ? e : "unknown loader error");
        return NULL;
    }
    df_taskunit_entry_fn entry;
    *(void **)&entry = dlsym(h, DF_TASKUNIT_ENTRY);
    char *want = name_from_path(real);
    const df_taskunit *u = NULL;
    df_plugin *p = NULL;
    if (!want)
        snprintf(err, errlen, "plugin \"%s\": out of memory", ref);
    else if (!entry)
        snprintf(err, errlen, "plugin \"%s\": %s does not export %s() (is it a dagflow plugin?)",
                 ref, real, DF_TASKUNIT_ENTRY);
    else if (!(u = entry()))
        snprintf(err, errlen, "plugin \"%s\": %s: %s() returned NULL", ref, real,
                 DF_TASKUNIT_ENTRY);
    else if ((p = register_plugin(r, ref, real, want, h, u, err, errlen)))
        return p;
    if (!u)
        free(want); /* register_plugin frees it otherwise */
    dlclose(h);
    return NULL;
}

int df_plugin_get(df_plugin_registry *r, const char *ref, const char *base_dir,
                  const df_plugin **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[PATH_MAX];
    if (strchr(ref, '/')) {
        if (df_path_join(path, sizeof path, base_dir, ref) != 0) {
            snprintf(err, errlen, "plugin \"%s\": cannot open %s: %s", ref, ref,
                     strerror(ENAMETOOLONG));
            return -1;
        }
        const df_plugin *p = load_path(r, ref, path, err, errlen);
        *out = p;
        return p ? 0 : -1;
    }
    for (size_t i = 0; i < r->n_by_name; i++)
        if (strcmp(r->by_name[i]->name, ref) == 0) {
            *out = r->by_name[i];
            return 0;
        }
    /* The first NAME.so along the search path. */
    for (size_t d = 0; d < r->n_dirs; d++) {
        if (df_path_join(path, sizeof path - 3, r->dirs[d], ref) != 0)
            continue; /* too long to be there */
        strcat(path, ".so");
        if (access(path, F_OK) == 0) {
            df_plugin *p = load_path(r, ref, path, err, errlen);
            df_plugin **g = p ? realloc(r->by_name, (r->n_by_name + 1) * sizeof *g) : NULL;
            if (g) {
                r->by_name = g;
                r->by_name[r->n_by_name++] = p;
            }
            *out = p;
            return p ? 0 : -1;
        }
    }
    size_t off = (size_t)snprintf(err, errlen, "unknown plugin \"%s\" (no %s.so in:", ref, ref);
    for (size_t d = 0; d < r->n_dirs && off < errlen; d++)
        off += (size_t)snprintf(err + off, errlen - off, "%s %s", d ? "," : "", r->dirs[d]);
    if (off < errlen)
        snprintf(err + off, errlen - off, ")");
    return -1;
}

/* df_template_scan's callback: keeps the first reference and stops. */
static int first_ref(void *ud, const char *ref)
{
    snprintf(ud, 256, "%s", ref);
    return 1;
}

/* Checks one param (v, borrowed) that a DF_PARAM_NO_TEMPLATES rule covers. Returns 0, or -1 with
 * a message naming the first reference in it. */
static int check_no_templates(const df_plugin *p, const df_param_rule *pr, const json_t *v,
                              char *err, size_t errlen)
{
    char ref[256] = "";
    char why[512];
    if (df_template_scan(v, first_ref, ref, why, sizeof why) != 0 || !ref[0])
        return 0; /* a syntax error is the loader's to report */
    snprintf(err, errlen, "param \"%s\" of plugin %s takes no ${...} reference (found ${%s})%s%s",
             pr->param, p->name, ref, pr->hint ? ": " : "", pr->hint ? pr->hint : "");
    return -1;
}

/* The value of a DF_PARAM_ENV param (v, borrowed, may be NULL) with the workflow's env and
 * env_passthrough added: a new object, or v itself (a reference added) when there is nothing to
 * add or v is not an object; NULL when out of memory. The workflow's values are literal text
 * ("${" written "$${"); a passed-through variable becomes "${env.NAME}", read when the params are
 * resolved. */
static json_t *env_param(const df_workflow *wf, json_t *v)
{
    if ((!wf->env && !wf->n_env_passthrough) || (v && !json_is_object(v)))
        return v ? json_incref(v) : NULL;
    json_t *out = json_object();
    if (!out)
        return NULL;
    for (char **e = environ; e && *e && wf->n_env_passthrough; e++) {
        size_t n = strcspn(*e, "=");
        char name[257];
        if (n == 0 || n >= sizeof name || (*e)[n] != '=')
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        bool ok = !isdigit((unsigned char)name[0]), match = false;
        for (size_t i = 0; i < n && ok; i++)
            ok = isalnum((unsigned char)name[i]) || name[i] == '_';
        for (size_t i = 0; ok && !match && i < wf->n_env_passthrough; i++)
            match = fnmatch(wf->env_passthrough[i], name, 0) == 0;
        char ref[300];
        snprintf(ref, sizeof ref, "${env.%s}", name);
        if (match && json_object_set_new(out, name, json_string(ref)) != 0)
            goto oom;
    }
    const char *k;
    json_t *x;
    json_object_foreach(wf->env, k, x)
    {
        const char *s = json_string_value(x);
        size_t len = json_string_length(x);
        char *lit = malloc(len * 2 + 1), *o = lit;
        if (!lit)
            goto oom;
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '$' && i + 1 < len && s[i + 1] == '{')
                *o++ = '$';
            *o++ = s[i];
        }
        json_t *js = json_stringn(lit, (size_t)(o - lit));
        free(lit);
        if (json_object_set_new(out, k, js) != 0)
            goto oom;
    }
    if (v && json_object_update(out, v) != 0)
        goto oom;
    return out;
oom:
    json_decref(out);
    return NULL;
}

int df_plugin_apply_rules(const df_plugin *p, const df_workflow *wf, df_task_def *t, char *err,
                          size_t errlen)
{
    if (t->params_ruled || !p->unit->param_rules || !json_is_object(t->params)) {
        t->params_ruled = true;
        return 0;
    }
    json_t *params = NULL; /* a copy, made at the first param that changes */
    char why[1024];
    for (const df_param_rule *pr = p->unit->param_rules; pr->param; pr++) {
        json_t *v = json_object_get(t->params, pr->param);
        if (pr->rule == DF_PARAM_ENV) {
            json_t *env = env_param(wf, v);
            if (env == v) {
                json_decref(env);
                continue;
            }
            if (!env || (!params && !(params = json_copy(t->params))) ||
                json_object_set_new(params, pr->param, env) != 0) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            continue;
        }
        if (!v)
            continue;
        if (pr->rule == DF_PARAM_NO_TEMPLATES) {
            if (check_no_templates(p, pr, v, err, errlen) != 0)
                goto fail;
            continue;
        }
        json_t *marked = df_template_mark_shell(v, why, sizeof why);
        if (!marked) {
            snprintf(err, errlen, "param \"%s\": %s", pr->param, why);
            goto fail;
        }
        if ((!params && !(params = json_copy(t->params))) ||
            json_object_set_new(params, pr->param, marked) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (params) {
        json_decref(t->params);
        t->params = params;
    }
    t->params_ruled = true;
    return 0;
fail:
    json_decref(params);
    return -1;
}

static int cmp_plugin(const void *a, const void *b)
{
    const df_plugin *pa = *(const df_plugin *const *)a, *pb = *(const df_plugin *const *)b;
    return strcmp(pa->name, pb->name);
}

int df_plugin_list(df_plugin_registry *r, const df_plugin *const **out, size_t *n, df_errlist *errs)
{
    size_t cap = 0, count = 0;
    const df_plugin **list = NULL;
    char err[1024];
    for (size_t d = 0; d < r->n_dirs; d++) {
        DIR *dir = opendir(r->dirs[d]);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            if (len <= 3 || strcmp(e->d_name + len - 3, ".so") != 0)
                continue;
            char *name = strndup(e->d_name, len - 3);
            if (!name)
                continue;
            int seen = 0;
            for (size_t i = 0; i < count; i++)
                seen |= strcmp(list[i]->name, name) == 0;
            const df_plugin *p = NULL;
            if (!seen) {
                if (df_plugin_get(r, name, NULL, &p, err, sizeof err) != 0)
                    df_errlist_add(errs, "%s", err);
            }
            free(name);
            if (!p)
                continue;
            if (count == cap) {
                cap = cap ? cap * 2 : 16;
                const df_plugin **g = realloc(list, cap * sizeof *g);
                if (!g) {
                    closedir(dir);
                    free(list);
                    return -1;
                }
                list = g;
            }
            list[count++] = p;
        }
        closedir(dir);
    }
    if (count)
        qsort(list, count, sizeof *list, cmp_plugin);
    free(r->listing);
    r->listing = list;
    *out = (const df_plugin *const *)list;
    *n = count;
    return 0;
}

int df_workflow_check_plugins(df_plugin_registry *r, const df_workflow *wf,
                              const json_t *run_params, long long run_id,
                              const df_plugin **plugins_out, unsigned char *invalid_mask,
                              df_errlist *load_errs, df_errlist *invalid)
{
    size_t load_before = load_errs->n;
    char err[2048];
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *t = &wf->tasks[i];
        const df_plugin *p = NULL;
        if (df_plugin_get(r, t->plugin, wf->dir, &p, err, sizeof err) != 0) {
            df_errlist_add(load_errs, "%s: task \"%s\": %s", wf->path, t->id, err);
            continue;
        }
        plugins_out[i] = p;
        if (df_plugin_apply_rules(p, wf, &wf->tasks[i], err, sizeof err) != 0) {
            df_errlist_add(load_errs, "%s: task \"%s\": %s", wf->path, t->id, err);
            continue;
        }
        /* SPEC §12: max_processes only where a pids control group can be had */
        const json_t *lim = json_object_get(t->params, "limits");
        if (json_is_object(lim) && json_object_get(lim, "max_processes") &&
            !(df_limits_available() & DF_LIMIT_PIDS)) {
            df_errlist_add(load_errs,
                           "%s: task \"%s\": limits.max_processes needs a pids control group, "
                           "which this machine does not give dagflow (cgroup v2 with the pids "
                           "controller, or a writable cgroup v1 pids hierarchy; see the README)",
                           wf->path, t->id);
            continue;
        }
        df_template_scope scope = {.params = run_params,
                                   .run_id = run_id,
                                   .workflow = wf->name,
                                   .task_id = t->id,
                                   .attempt = 0,
                                   .env = wf->env,
                                   .resolve_tasks = false};
        json_t *resolved = df_template_resolve(t->params, &scope, err, sizeof err);
        if (!resolved) {
            df_errlist_add(load_errs, "%s: task \"%s\": %s", wf->path, t->id, err);
            continue;
        }
        if (p->unit->validate) {
            err[0] = '\0';
            if (p->unit->validate(resolved, err, sizeof err) != 0) {
                err[sizeof err - 1] = '\0';
                df_errlist_add(invalid, "%s: task \"%s\": plugin %s rejected its params: %s",
                               wf->path, t->id, p->name, err[0] ? err : "(no message)");
                invalid_mask[i] = 1;
            }
        }
        json_decref(resolved);
    }
    return load_errs->n == load_before ? 0 : -1;
}

size_t df_plugin_check_raw(df_plugin_registry *r, const char *path, df_errlist *errs)
{
    size_t before = errs->n;
    if (strcmp(path, "-") == 0)
        return 0; /* standard input was read once, by the loader */
    df_errlist ignored = {0};
    json_t *doc = df_workflow_read_doc(path, &ignored); /* its errors: the loader's already */
    df_errlist_clear(&ignored);
    char real[PATH_MAX];
    if (!doc || !realpath(path, real)) {
        json_decref(doc);
        return 0;
    }
    char *slash = strrchr(real, '/');
    if (slash && slash != real)
        *slash = '\0';
    else
        strcpy(real, "/");
    char err[2048];
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tasks"), i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *ref = json_string_value(json_object_get(t, "plugin"));
        if (!id || !ref)
            continue;
        const df_plugin *p = NULL;
        if (df_plugin_get(r, ref, real, &p, err, sizeof err) != 0) {
            df_errlist_add(errs, "%s: task \"%s\": %s", path, id, err);
            continue;
        }
        const json_t *params = json_object_get(t, "params");
        for (const df_param_rule *pr = p->unit->param_rules; pr && pr->param; pr++) {
            const json_t *v = json_object_get(params, pr->param);
            if (v && pr->rule == DF_PARAM_NO_TEMPLATES &&
                check_no_templates(p, pr, v, err, sizeof err) != 0)
                df_errlist_add(errs, "%s: task \"%s\": %s", path, id, err);
        }
        if (!p->unit->validate || (params && !json_is_object(params)))
            continue;
        json_t *empty = params ? NULL : json_object();
        err[0] = '\0';
        if (p->unit->validate(params ? params : empty, err, sizeof err) != 0) {
            err[sizeof err - 1] = '\0';
            df_errlist_add(errs, "%s: task \"%s\": plugin %s rejected its params: %s", path, id,
                           p->name, err[0] ? err : "(no message)");
        }
        json_decref(empty);
    }
    json_decref(doc);
    return errs->n - before;
}
