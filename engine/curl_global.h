/* curl_global: the process's libcurl, loaded only when something needs it, and its one
 * curl_global_init, shared by the engine's webhook alert sink and by the plugins the engine loads
 * (the http plugin links libcurl itself). The engine binary does not link libcurl: loading it and
 * the libraries it pulls in (TLS, HTTP/2, SSH, IDN...) cost 3-5 ms of every process start, for a
 * webhook most runs never send. The webhook sink loads it with dlopen (df_curl_load); a plugin
 * that links libcurl brings it into the process as its own dependency, and the engine calls
 * curl_global_init before that plugin's init hook (df_curl_init_if_loaded). libcurl wants
 * curl_global_init called before other threads use it (thread-safe itself only since 7.84), so it
 * is called once, under a process-wide lock; curl_global_cleanup is never called (libcurl stays
 * initialised until the process exits). libcurl counts init/cleanup calls, so a plugin that still
 * pairs its own curl_global_init with curl_global_cleanup cannot tear down the process's
 * initialisation. */
#ifndef DF_CURL_GLOBAL_H
#define DF_CURL_GLOBAL_H

#include <curl/curl.h>
#include <stddef.h>

/* The libcurl functions the engine calls, resolved from the loaded library. */
typedef struct df_curl_api {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    void (*easy_cleanup)(CURL *c);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} df_curl_api;

/* Loads libcurl (dlopen of libcurl.so.4, the soname of libcurl's ABI since 2006) the first time
 * it is called in the process and calls curl_global_init(CURL_GLOBAL_DEFAULT) once. Returns the
 * functions (borrowed, valid until the process exits), or NULL with the reason in err (at most
 * errlen bytes, NUL-terminated; err may be NULL): libcurl not installed, a missing symbol, or
 * curl_global_init's message. Thread-safe; blocks while another thread's first call runs. */
const df_curl_api *df_curl_load(char *err, size_t errlen);

/* When libcurl is already in the process (a plugin just loaded links it), calls
 * curl_global_init(CURL_GLOBAL_DEFAULT) once; otherwise does nothing and loads nothing. Call it
 * before a plugin's init hook. Returns 0, or -1 when curl_global_init failed (the plugin's to
 * report). Thread-safe. */
int df_curl_init_if_loaded(void);

#endif
