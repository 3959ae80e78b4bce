/* curl_global: the process's one curl_global_init, shared by the engine's webhook alert sink and
 * by the plugins the engine loads (the http plugin links the same libcurl). libcurl wants
 * curl_global_init called before other threads use it (thread-safe itself only since 7.84), so
 * the engine calls it once, behind a pthread_once, before the first plugin's init hook and before
 * the first webhook; curl_global_cleanup is never called (libcurl stays initialised until the
 * process exits). libcurl counts init/cleanup calls, so a plugin that still pairs its own
 * curl_global_init with curl_global_cleanup cannot tear down the process's initialisation. */
#ifndef DF_CURL_GLOBAL_H
#define DF_CURL_GLOBAL_H

#include <stddef.h>

/* Calls curl_global_init(CURL_GLOBAL_DEFAULT) the first time it is called in the process, and
 * returns its outcome every time: 0, or -1 with curl's message in err (at most errlen bytes,
 * NUL-terminated; err may be NULL). Thread-safe; blocks while another thread's first call runs. */
int df_curl_global_once(char *err, size_t errlen);

#endif
