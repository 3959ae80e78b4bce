/* service_dir: the folder of workflow files a service serves (SPEC §9) — every *.json loaded
 * (syntax and checks, then each task's plugin and validate), a file whose size, time or inode
 * changed reloaded, a removed one forgotten; and the global names: a workflow name, a pool or a
 * breaker declared by an earlier-loaded file with other settings makes the later file invalid,
 * with errors kept for the API and logged once. */
#include "service.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void df_svc_wf_free(df_svc_wf *w)
{
    if (!w)
        return;
    free(w->file);
    free(w->name);
    df_workflow_free(w->wf);
    df_errlist_clear(&w->errs);
    free(w);
}

static bool same_stat(const df_svc_wf *w, const struct stat *st)
{
    return w->dev == st->st_dev && w->ino == st->st_ino && w->size == st->st_size &&
           w->mtime.tv_sec == st->st_mtim.tv_sec && w->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* (Re)loads w's file: the workflow and its plugins' verdicts. */
static void load(df_service *s, df_svc_wf *w, const struct stat *st)
{
    df_workflow_free(w->wf);
    w->wf = NULL;
    free(w->name);
    w->name = NULL;
    df_errlist_clear(&w->errs);
    w->dev = st->st_dev;
    w->ino = st->st_ino;
    w->size = st->st_size;
    w->mtime = st->st_mtim;
    w->scheduled = false;
    w->reported = false;
    w->next_fire = 0;
    df_workflow *wf = NULL;
    if (df_workflow_load_file(w->file, &wf, &w->errs) != 0) {
        if (w->errs.n == 0)
            df_errlist_add(&w->errs, "%s: cannot be loaded", w->file);
        return;
    }
    w->name = strdup(wf->name);
    if (df_engine_validate_file(s->e, w->file, NULL, NULL, &w->errs) != 0) {
        if (w->errs.n == 0)
            df_errlist_add(&w->errs, "%s: not valid", w->file);
        df_workflow_free(wf);
        return;
    }
    w->wf = wf;
}

static df_svc_wf *find_file(df_service *s, const char *path)
{
    for (size_t i = 0; i < s->n_wfs; i++)
        if (strcmp(s->wfs[i]->file, path) == 0)
            return s->wfs[i];
    return NULL;
}

static df_svc_wf *add_file(df_service *s, const char *path)
{
    df_svc_wf **g = realloc(s->wfs, (s->n_wfs + 1) * sizeof *g);
    if (!g)
        return NULL;
    s->wfs = g;
    df_svc_wf *w = calloc(1, sizeof *w);
    if (!w || !(w->file = strdup(path))) {
        free(w);
        return NULL;
    }
    w->seq = ++s->next_seq;
    s->wfs[s->n_wfs++] = w;
    return w;
}

/* Whether name is a file the folder serves: NAME.json, not hidden (editors' temporary files). */
static bool wanted(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Looks at every file of the folder; marks them seen; loads new and changed ones. Returns true
 * when something was (re)loaded. */
static bool scan_files(df_service *s)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        df_svc_log(s, "cannot read the workflow folder %s", s->dir);
        return false;
    }
    bool changed = false;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        if (!wanted(de->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        df_svc_wf *w = find_file(s, path);
        if (w && same_stat(w, &st)) {
            w->seen = true;
            continue;
        }
        if (!w && !(w = add_file(s, path)))
            continue;
        w->seen = true;
        load(s, w, &st);
        changed = true;
    }
    closedir(d);
    return changed;
}

/* Forgets the files not seen by the last scan. Returns true when one was removed. */
static bool forget_removed(df_service *s)
{
    bool changed = false;
    size_t kept = 0;
    for (size_t i = 0; i < s->n_wfs; i++) {
        df_svc_wf *w = s->wfs[i];
        if (w->seen) {
            s->wfs[kept++] = w;
            continue;
        }
        df_svc_log(s, "%s removed: workflow %s no longer served", w->file,
                   w->wf ? w->wf->name : "(invalid)");
        df_svc_wf_free(w);
        changed = true;
    }
    s->n_wfs = kept;
    return changed;
}

static int by_seq(const void *a, const void *b)
{
    const df_svc_wf *x = *(df_svc_wf *const *)a, *y = *(df_svc_wf *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The file among accepted[0..n) that declares pool (or breaker) `name`, or NULL. */
static const df_svc_wf *pool_owner(df_svc_wf **acc, size_t n, const char *name, int64_t *slots)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < acc[i]->wf->n_pools; k++)
            if (strcmp(acc[i]->wf->pools[k].name, name) == 0) {
                *slots = acc[i]->wf->pools[k].slots;
                return acc[i];
            }
    return NULL;
}

static const df_svc_wf *breaker_owner(df_svc_wf **acc, size_t n, const df_breaker_def *b,
                                      bool *same)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < acc[i]->wf->n_breakers; k++) {
            const df_breaker_def *o = &acc[i]->wf->breakers[k];
            if (strcmp(o->name, b->name) == 0) {
                *same = o->failure_rate == b->failure_rate && o->window == b->window &&
                        o->min_calls == b->min_calls && o->open_ms == b->open_ms;
                return acc[i];
            }
        }
    return NULL;
}

/* w's conflicts with the files accepted before it (added to its errors). Returns true when
 * there is none. */
static bool check_conflicts(df_svc_wf *w, df_svc_wf **acc, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(acc[i]->wf->name, w->wf->name) == 0) {
            df_errlist_add(&w->errs, "%s: workflow name \"%s\" is already taken by %s", w->file,
                           w->wf->name, acc[i]->file);
            ok = false;
        }
    for (size_t k = 0; k < w->wf->n_pools; k++) {
        int64_t slots = 0;
        const df_svc_wf *o = pool_owner(acc, n, w->wf->pools[k].name, &slots);
        if (o && slots != w->wf->pools[k].slots) {
            df_errlist_add(&w->errs,
                           "%s: pool \"%s\" has %lld slots here but %lld in %s (pools are "
                           "global by name)",
                           w->file, w->wf->pools[k].name, (long long)w->wf->pools[k].slots,
                           (long long)slots, o->file);
            ok = false;
        }
    }
    for (size_t k = 0; k < w->wf->n_breakers; k++) {
        bool same = true;
        const df_svc_wf *o = breaker_owner(acc, n, &w->wf->breakers[k], &same);
        if (o && !same) {
            df_errlist_add(&w->errs,
                           "%s: breaker \"%s\" has other settings in %s (breakers are global "
                           "by name)",
                           w->file, w->wf->breakers[k].name, o->file);
            ok = false;
        }
    }
    return ok;
}

/* Decides again which files are valid, earlier-loaded files first; logs the errors of each file
 * once per verdict, and sets up the schedules of the files that became valid. A pool whose
 * declaring files changed its slots gets them in the engine. */
static void decide(df_service *s)
{
    df_svc_wf **acc = calloc(s->n_wfs ? s->n_wfs : 1, sizeof *acc);
    if (!acc)
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->n_wfs; i++) {
        df_svc_wf *w = s->wfs[i];
        if (!w->wf) {
            w->valid = false;
            continue;
        }
        df_errlist_clear(&w->errs); /* a loaded file's errors are its conflicts, found again */
        w->valid = check_conflicts(w, acc, n);
        if (w->valid)
            acc[n++] = w;
    }
    free(acc);
    for (size_t i = 0; i < s->n_wfs; i++) {
        df_svc_wf *w = s->wfs[i];
        if (!w->valid) {
            w->scheduled = false;
            w->next_fire = 0;
            if (!w->reported)
                for (size_t k = 0; k < w->errs.n; k++)
                    df_svc_log(s, "invalid workflow file: %s", w->errs.msgs[k]);
            w->reported = true;
            continue;
        }
        w->reported = false;
        for (size_t k = 0; k < w->wf->n_pools; k++) {
            df_slot_pool *p = df_engine_slot_pool(s->e, w->wf->pools[k].name);
            if (p)
                p->slots = w->wf->pools[k].slots;
        }
        if (!w->scheduled) {
            df_svc_log(s, "%s: workflow %s loaded%s", w->file, w->wf->name,
                       w->wf->schedule ? " (scheduled)" : "");
            if (!s->starting)
                df_svc_schedule_init(s, w);
        }
    }
}

bool df_svc_scan(df_service *s)
{
    for (size_t i = 0; i < s->n_wfs; i++)
        s->wfs[i]->seen = false;
    bool changed = scan_files(s);
    changed |= forget_removed(s);
    if (!changed)
        return false;
    qsort(s->wfs, s->n_wfs, sizeof *s->wfs, by_seq);
    decide(s);
    s->dirty = true;
    return true;
}
