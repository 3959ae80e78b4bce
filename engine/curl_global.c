/* curl_global: the process's one curl_global_init (see curl_global.h). */
#include "curl_global.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;

static void init_curl(void)
{
    curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int df_curl_global_once(char *err, size_t errlen)
{
    pthread_once(&curl_once, init_curl);
    if (curl_rc == CURLE_OK)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(curl_rc));
    return -1;
}
