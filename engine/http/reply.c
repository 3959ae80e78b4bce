/* http/reply: the replies the handlers build: {"error": TEXT} with its status (a DF_E* code
 * mapped to one), JSON values, and query arguments read as bounded integers. */
#include "http_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int df_http_error(df_http_reply *rep, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(rep->json);
    rep->status = status;
    rep->json = json_pack("{ss}", "error", msg);
    if (!rep->json) /* not UTF-8 (a name from the URL): say it without the text */
        rep->json = json_pack("{ss}", "error", "bad request (text that is not UTF-8)");
    return status;
}

int df_http_error_code(df_http_reply *rep, int code, const df_errlist *errs)
{
    int status = code == DF_ENOTFOUND                          ? 404
                 : code == DF_EREFUSED || code == DF_ECONFLICT ? 409
                 : code == DF_EINPUT                           ? 400
                 : code == DF_EBUSY                            ? 503
                                                               : 500;
    char msg[1024] = "";
    size_t used = 0;
    for (size_t i = 0; errs && i < errs->n && used < sizeof msg - 1; i++)
        used +=
            (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", i ? "; " : "", errs->msgs[i]);
    return df_http_error(rep, status, "%s", msg[0] ? msg : df_strerror(code));
}

int df_http_json(df_http_reply *rep, int status, json_t *value)
{
    json_decref(rep->json);
    rep->status = status;
    rep->json = value;
    if (!value)
        return df_http_error(rep, 500, "out of memory");
    return status;
}

int df_http_int_arg(const df_http_req *r, df_http_reply *rep, const char *name, long long min,
                    long long max, long long dflt, long long *out)
{
    const char *v = r->arg(r, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        df_http_error(rep, 400, "query argument %s must be an integer from %lld to %lld", name, min,
                      max);
        return -1;
    }
    *out = x;
    return 0;
}
