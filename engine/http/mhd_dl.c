/* http/mhd_dl: libmicrohttpd loaded on first use (see mhd_dl.h). */
#define DF_MHD_DL_IMPL
#include "mhd_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define DF_MHD_SONAME "libmicrohttpd.so.12"

struct df_mhd_api df_mhd;

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static char mhd_error[256]; /* empty when loaded */

/* Resolves one function into its slot; 0 (mhd_error set) when missing. */
static int resolve(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (!f) {
        snprintf(mhd_error, sizeof mhd_error, "%s has no %s", DF_MHD_SONAME, name);
        return 0;
    }
    memcpy(slot, &f, sizeof f);
    return 1;
}

/* The library handle is never closed: it stays until the process exits. */
static void load(void)
{
    void *lib = dlopen(DF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(mhd_error, sizeof mhd_error, "cannot load libmicrohttpd (%s): %s", DF_MHD_SONAME,
                 dlerror());
        return;
    }
    struct df_mhd_api a;
#define DF_MHD_RESOLVE(name)                                                                       \
    if (!resolve(lib, #name, &a.f_##name))                                                         \
        return;
    DF_MHD_FUNCS(DF_MHD_RESOLVE)
#undef DF_MHD_RESOLVE
    df_mhd = a;
}

/* See mhd_dl.h. */
int df_mhd_load(char *err, size_t errlen)
{
    pthread_once(&mhd_once, load);
    if (!mhd_error[0])
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "%s", mhd_error);
    return -1;
}
