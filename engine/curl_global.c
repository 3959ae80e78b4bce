/* curl_global: the process's libcurl, loaded on first use, and its one curl_global_init (see
 * curl_global.h). */
#include "curl_global.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define DF_CURL_SONAME "libcurl.so.4"

static pthread_mutex_t curl_mu = PTHREAD_MUTEX_INITIALIZER;
static bool curl_initialised; /* curl_global_init returned CURLE_OK */
static bool curl_loaded;      /* api resolved */
static df_curl_api api;

/* Resolves name in lib into *slot; false when missing. */
static bool resolve(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (f)
        memcpy(slot, &f, sizeof f);
    return f != NULL;
}

/* curl_global_init in the library lib, once; under curl_mu. Returns 0 or -1 (message in err). */
static int global_init_locked(void *lib, char *err, size_t errlen)
{
    if (curl_initialised)
        return 0;
    CURLcode (*init)(long) = NULL;
    const char *(*strerr)(CURLcode) = NULL;
    if (!resolve(lib, "curl_global_init", &init) || !resolve(lib, "curl_easy_strerror", &strerr)) {
        if (err && errlen)
            snprintf(err, errlen, "%s has no curl_global_init", DF_CURL_SONAME);
        return -1;
    }
    CURLcode rc = init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        if (err && errlen)
            snprintf(err, errlen, "curl_global_init failed: %s", strerr(rc));
        return -1;
    }
    curl_initialised = true;
    return 0;
}

/* Resolves the functions of df_curl_api from lib; under curl_mu. */
static int resolve_api_locked(void *lib, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
    } fns[] = {
        {"curl_easy_init", offsetof(df_curl_api, easy_init)},
        {"curl_easy_setopt", offsetof(df_curl_api, easy_setopt)},
        {"curl_easy_perform", offsetof(df_curl_api, easy_perform)},
        {"curl_easy_getinfo", offsetof(df_curl_api, easy_getinfo)},
        {"curl_easy_strerror", offsetof(df_curl_api, easy_strerror)},
        {"curl_easy_cleanup", offsetof(df_curl_api, easy_cleanup)},
        {"curl_slist_append", offsetof(df_curl_api, slist_append)},
        {"curl_slist_free_all", offsetof(df_curl_api, slist_free_all)},
    };
    df_curl_api a;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (!resolve(lib, fns[i].name, (char *)&a + fns[i].off)) {
            if (err && errlen)
                snprintf(err, errlen, "%s has no %s", DF_CURL_SONAME, fns[i].name);
            return -1;
        }
    api = a;
    curl_loaded = true;
    return 0;
}

/* See curl_global.h. The library handle is never closed (libcurl stays until the process exits). */
const df_curl_api *df_curl_load(char *err, size_t errlen)
{
    pthread_mutex_lock(&curl_mu);
    const df_curl_api *out = NULL;
    if (curl_loaded && curl_initialised) {
        out = &api;
    } else {
        void *lib = dlopen(DF_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            if (err && errlen)
                snprintf(err, errlen, "cannot load libcurl (%s): %s", DF_CURL_SONAME, dlerror());
        } else if (global_init_locked(lib, err, errlen) == 0 &&
                   (curl_loaded || resolve_api_locked(lib, err, errlen) == 0)) {
            out = &api;
        }
    }
    pthread_mutex_unlock(&curl_mu);
    return out;
}

/* See curl_global.h. RTLD_NOLOAD finds the library only if something already loaded it. */
int df_curl_init_if_loaded(void)
{
    pthread_mutex_lock(&curl_mu);
    int rc = 0;
    if (!curl_initialised) {
        void *lib = dlopen(DF_CURL_SONAME, RTLD_NOW | RTLD_NOLOAD);
        if (lib) {
            rc = global_init_locked(lib, NULL, 0);
            dlclose(lib); /* drops only the reference RTLD_NOLOAD took */
        }
    }
    pthread_mutex_unlock(&curl_mu);
    return rc;
}
