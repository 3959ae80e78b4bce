/* http/body: request bodies as strict JSON (SPEC §9): one JSON object and nothing after it
 * (jansson checks the end of the input), no duplicate key, no key the endpoint does not take;
 * an empty body is an empty object. Types of the values are the endpoint's to check. */
#include "http_internal.h"

#include <string.h>

int df_http_body_object(const df_http_req *r, df_http_reply *rep, const char *const *allowed,
                        json_t **out)
{
    *out = NULL;
    size_t i = 0;
    while (i < r->body_len && strchr(" \t\r\n", r->body[i]))
        i++;
    if (i == r->body_len) {
        *out = json_object();
        return *out ? 0 : (df_http_error(rep, 500, "out of memory"), -1);
    }
    json_error_t err;
    json_t *v = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        df_http_error(rep, 400, "the body is not valid JSON: %s (line %d, column %d)", err.text,
                      err.line, err.column);
        return -1;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        df_http_error(rep, 400, "the body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        bool ok = false;
        for (size_t k = 0; allowed && allowed[k]; k++)
            ok = ok || strcmp(allowed[k], key) == 0;
        if (!ok) {
            char keys[256] = "";
            size_t used = 0;
            for (size_t k = 0; allowed && allowed[k] && used < sizeof keys; k++)
                used += (size_t)snprintf(keys + used, sizeof keys - used, "%s\"%s\"", k ? ", " : "",
                                         allowed[k]);
            df_http_error(rep, 400, "unknown key \"%s\" in the body (%s%s)", key,
                          keys[0] ? "it takes " : "it takes no key", keys);
            json_decref(v);
            return -1;
        }
    }
    *out = v;
    return 0;
}
