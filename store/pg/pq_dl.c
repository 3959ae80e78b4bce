/* pg/pq_dl: libpq loaded on first use (see pq_dl.h). */
#define DF_PQ_DL_IMPL
#include "pq_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define DF_PQ_SONAME "libpq.so.5"

struct df_pq_api df_pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256]; /* empty when loaded */

/* Resolves one function into its slot; false (pq_error set) when missing. */
static int resolve(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (!f) {
        snprintf(pq_error, sizeof pq_error, "%s has no %s", DF_PQ_SONAME, name);
        return 0;
    }
    memcpy(slot, &f, sizeof f);
    return 1;
}

/* The library handle is never closed: libpq stays until the process exits. */
static void load(void)
{
    void *lib = dlopen(DF_PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(pq_error, sizeof pq_error, "cannot load libpq (%s): %s", DF_PQ_SONAME, dlerror());
        return;
    }
    struct df_pq_api a;
#define DF_PQ_RESOLVE(name)                                                                        \
    if (!resolve(lib, #name, &a.f_##name))                                                         \
        return;
    DF_PQ_FUNCS(DF_PQ_RESOLVE)
#undef DF_PQ_RESOLVE
    df_pq = a;
}

/* See pq_dl.h. */
int df_pq_load(char *err, size_t errlen)
{
    pthread_once(&pq_once, load);
    if (!pq_error[0])
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "%s", pq_error);
    return -1;
}
