/* http: the built-in TaskUnit that makes one HTTP(S) request with libcurl (SPEC §2).
 *
 * params:
 *   "url"            string, required: an http:// or https:// URL (a ${...} template at run
 *                    creation).
 *   "method"         GET (default), POST, PUT, PATCH, DELETE, HEAD or OPTIONS (any case).
 *   "headers"        object: header name -> value (string; numbers and booleans are sent as their
 *                    JSON text). Values must not contain CR or LF.
 *   "body"           a string, sent as it is (curl's default Content-Type for a body,
 *                    application/x-www-form-urlencoded, unless "headers" gives one); or any other
 *                    JSON value, sent as compact JSON with Content-Type: application/json unless
 *                    "headers" gives a Content-Type.
 *   "expect_status"  array of integers (100-599): the statuses that count as success; default: any
 *                    2xx.
 *
 * result: {"status": integer, "headers": {lower-case name: value} (the final response's; a header
 * repeated is joined with ", "), "body": string (decoded from any Content-Encoding; invalid UTF-8
 * replaced by U+FFFD)}, plus "json" (the body parsed) when the response's Content-Type is
 * application/json or ends in +json and the body parses. Redirects are not followed (a 3xx is a
 * status like any other). Response bodies over 16 MiB fail the attempt permanently.
 *
 * Failures: a status outside expect_status fails the attempt (retryable) with
 * "HTTP 503 from GET URL (expected 2xx): <the first 200 bytes of the body>"; a network error fails
 * it (retryable) with curl's message; a malformed URL or an unsupported scheme fails permanently.
 * There is no time limit of the plugin's own: the task's timeout_ms cuts a request off.
 *
 * Concurrency (measured in the report of this plugin): no thread is held while a request is in
 * flight. Each attempt drives its own curl multi handle from its coroutine in small slices:
 * curl_multi_perform (non-blocking), then df_task_sleep for 1 ms (8 times), then doubling while
 * nothing moves up to 50 ms (or curl's own next timer when sooner), back to 1 ms as soon as bytes
 * move. So
 * 1,000 concurrent requests cost 1,000 coroutines on the pool's workers and no extra threads
 * (except curl's resolver thread during a host-name lookup; IP literals need none); each holds
 * about three file descriptors (its connection and curl's wake-up socket pair). A cancellation
 * (timeout_ms, shutdown) wakes df_task_sleep at once, and the transfer is aborted. */
#include <dagflow/taskunit.h>

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/plugin_util.h"

#define BODY_MAX (16u * 1024 * 1024)
#define ERR_BODY_MAX 200
#define SLICE_MIN_MS 1
#define SLICE_MAX_MS 50
/* Polls at SLICE_MIN_MS after progress before the slices start doubling: a loopback answer
 * usually comes within a few milliseconds. */
#define SLICE_MIN_POLLS 8

static const char *const known_keys[] = {"url", "method", "headers", "body", "expect_status", NULL};
static const char *const methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                      "DELETE", "HEAD", "OPTIONS", NULL};

/* ---- validation ---- */

/* A header name is an RFC 9110 token. */
static int valid_header_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

/* The checks of validate. With templates (run creation), a ${...} string is accepted in place of
 * any value; without (execute), every value must have its final type. */
static int check_params(const json_t *params, int templates, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"url\"");
        return 1;
    }
    if (dfp_check_keys(params, known_keys, "", 1, "http takes", err, errlen))
        return 1;
    json_t *url = json_object_get(params, "url");
    if (!url) {
        snprintf(err, errlen, "missing required key \"url\"");
        return 1;
    }
    if (!json_is_string(url) || json_string_length(url) == 0) {
        snprintf(err, errlen, "\"url\" must be a non-empty string");
        return 1;
    }
    if (!(templates && dfp_is_template(url))) {
        const char *u = json_string_value(url);
        if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
            snprintf(err, errlen, "\"url\" must start with http:// or https:// (got \"%.60s\")", u);
            return 1;
        }
        if (strlen(u) != json_string_length(url) || strpbrk(u, " \t\r\n")) {
            snprintf(err, errlen, "\"url\" must not contain spaces or control characters");
            return 1;
        }
    }
    json_t *method = json_object_get(params, "method");
    if (method && !(templates && dfp_is_template(method))) {
        int ok = 0;
        for (size_t i = 0; json_is_string(method) && methods[i] && !ok; i++)
            ok = strcasecmp(methods[i], json_string_value(method)) == 0;
        if (!ok) {
            snprintf(err, errlen,
                     "\"method\" must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
            return 1;
        }
    }
    json_t *headers = json_object_get(params, "headers");
    if (headers && !(templates && dfp_is_template(headers))) {
        if (!json_is_object(headers)) {
            snprintf(err, errlen, "\"headers\" must be an object of strings (name -> value)");
            return 1;
        }
        const char *name;
        json_t *v;
        json_object_foreach(headers, name, v)
        {
            if (!valid_header_name(name)) {
                snprintf(err, errlen, "\"headers\": \"%.60s\" is not a valid header name", name);
                return 1;
            }
            if (!dfp_is_scalar_text(v)) {
                snprintf(err, errlen, "\"headers\".\"%.60s\" must be a string", name);
                return 1;
            }
            if (json_is_string(v) && (strpbrk(json_string_value(v), "\r\n") ||
                                      strlen(json_string_value(v)) != json_string_length(v))) {
                snprintf(err, errlen, "\"headers\".\"%.60s\" must not contain CR, LF or NUL", name);
                return 1;
            }
        }
    }
    json_t *expect = json_object_get(params, "expect_status");
    if (expect && !(templates && dfp_is_template(expect))) {
        if (!json_is_array(expect) || json_array_size(expect) == 0) {
            snprintf(err, errlen, "\"expect_status\" must be a non-empty array of integers");
            return 1;
        }
        size_t i;
        json_t *v;
        json_array_foreach(expect, i, v)
        {
            if (templates && dfp_is_template(v))
                continue;
            if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599) {
                snprintf(err, errlen, "\"expect_status\"[%zu] must be an integer from 100 to 599",
                         i);
                return 1;
            }
        }
    }
    return 0;
}

static int http_validate(const json_t *params, char *err, size_t errlen)
{
    return check_params(params, 1, err, errlen);
}

/* ---- response collection (curl callbacks, on the coroutine's thread) ---- */

typedef struct transfer {
    char *body;
    size_t body_len, body_cap;
    int too_big;
    json_t *headers; /* lower-case name -> value */
    size_t received; /* header and body bytes so far: progress for the polling slices */
} transfer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    t->received += n;
    if (t->body_len + n > BODY_MAX) {
        t->too_big = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (t->body_len + n + 1 > t->body_cap) {
        size_t cap = t->body_cap ? t->body_cap : 4096;
        while (cap < t->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(t->body, cap);
        if (!nb)
            return 0;
        t->body = nb;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    t->body[t->body_len] = '\0';
    return n;
}

/* One header line of a response (without its CRLF). A status line starts a new response (after a
 * 1xx interim one), so the headers collected so far are dropped. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer *t = ud;
    size_t n = size * nmemb;
    t->received += n;
    size_t len = n;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        json_object_clear(t->headers);
        return n;
    }
    char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return n; /* blank line, or an obsolete folded line: ignored */
    size_t nl = (size_t)(colon - data);
    char name[256];
    if (nl >= sizeof name)
        return n;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)tolower((unsigned char)data[i]);
    name[nl] = '\0';
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    json_t *prev = json_object_get(t->headers, name);
    json_t *val;
    if (prev) {
        size_t pl = json_string_length(prev);
        char *joined = malloc(pl + 2 + vl + 1);
        if (!joined)
            return n;
        memcpy(joined, json_string_value(prev), pl);
        memcpy(joined + pl, ", ", 2);
        memcpy(joined + pl + 2, v, vl);
        val = dfp_text_json(joined, pl + 2 + vl);
        free(joined);
    } else {
        val = dfp_text_json(v, vl);
    }
    json_t *key_ok = dfp_text_json(name, nl); /* header names must be valid UTF-8 JSON keys */
    if (val && key_ok && strcmp(json_string_value(key_ok), name) == 0)
        json_object_set(t->headers, name, val);
    json_decref(key_ok);
    json_decref(val);
    return n;
}

/* ---- the request ---- */

/* The plugin's init hook (taskunit.h): refuses the plugin at load, with a clear message, when the
 * process's libcurl cannot make HTTP requests (no http protocol, or it cannot create a handle).
 * The engine has called curl_global_init for the process already: this plugin never calls
 * curl_global_init nor curl_global_cleanup itself. */
static int http_init(char *err, size_t errlen)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    int has_http = 0;
    for (const char *const *p = v ? v->protocols : NULL; p && *p; p++)
        has_http |= strcmp(*p, "http") == 0;
    if (!has_http) {
        snprintf(err, errlen, "libcurl %s has no http support", v ? v->version : "(unknown)");
        return 1;
    }
    CURL *probe = curl_easy_init();
    if (!probe) {
        snprintf(err, errlen, "libcurl %s cannot create a transfer (curl_easy_init failed)",
                 v->version);
        return 1;
    }
    curl_easy_cleanup(probe);
    return 0;
}

/* Whether the response's Content-Type is JSON: application/json or a +json suffix type. */
static int is_json_type(const json_t *headers)
{
    const char *ct = json_string_value(json_object_get(headers, "content-type"));
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct, '/', n) != NULL;
}

static int status_expected(const json_t *expect, long status)
{
    if (!expect)
        return status >= 200 && status <= 299;
    return dfp_int_in_array(expect, status);
}

/* "2xx" or the expected list, e.g. "200, 404", for error messages. */
static void expected_text(const json_t *expect, char *buf, size_t len)
{
    if (!expect) {
        snprintf(buf, len, "2xx");
        return;
    }
    size_t o = 0, i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(expect, i, v)
    {
        if (o >= len)
            break;
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "",
                              (long long)json_integer_value(v));
    }
}

/* Builds the request headers: the user's, plus Content-Type for a JSON body, and "Expect:" to
 * turn off curl's 100-continue handshake. Returns the list (NULL on no memory). */
static struct curl_slist *build_headers(const json_t *headers, int json_body, int *ok)
{
    struct curl_slist *list = NULL;
    int has_ct = 0, has_expect = 0;
    const char *name;
    json_t *v;
    *ok = 1;
    json_object_foreach((json_t *)headers, name, v)
    {
        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char *line = NULL;
        int rc = text ? (*text ? asprintf(&line, "%s: %s", name, text)
                               : asprintf(&line, "%s;", name)) /* curl's form of an empty value */
                      : -1;
        free(text);
        struct curl_slist *nl = rc >= 0 ? curl_slist_append(list, line) : NULL;
        free(line);
        if (!nl) {
            *ok = 0;
            return list;
        }
        list = nl;
        has_ct |= strcasecmp(name, "content-type") == 0;
        has_expect |= strcasecmp(name, "expect") == 0;
    }
    const char *extra[2] = {json_body && !has_ct ? "Content-Type: application/json" : NULL,
                            has_expect ? NULL : "Expect:"};
    for (int i = 0; i < 2; i++) {
        if (!extra[i])
            continue;
        struct curl_slist *nl = curl_slist_append(list, extra[i]);
        if (!nl) {
            *ok = 0;
            return list;
        }
        list = nl;
    }
    return list;
}

static int http_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    if (dfp_check_final(ctx, check_params, params, 512))
        return DF_TASK_FAILED_PERMANENT;
    const char *url = json_string_value(json_object_get(params, "url"));
    json_t *mv = json_object_get(params, "method");
    char method[16] = "GET";
    if (mv) {
        snprintf(method, sizeof method, "%s", json_string_value(mv));
        for (char *p = method; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    }
    json_t *body = json_object_get(params, "body");
    const json_t *expect = json_object_get(params, "expect_status");

    int status = DF_TASK_FAILED;
    transfer t = {.headers = json_object()};
    char *payload = NULL;
    size_t payload_len = 0;
    if (body && json_is_string(body)) {
        payload_len = json_string_length(body);
        payload = malloc(payload_len + 1);
        if (payload)
            memcpy(payload, json_string_value(body), payload_len + 1);
    } else if (body) {
        payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        payload_len = payload ? strlen(payload) : 0;
    }
    int hdr_ok = 1;
    struct curl_slist *hdrs =
        build_headers(json_object_get(params, "headers"), body && !json_is_string(body), &hdr_ok);
    CURL *easy = curl_easy_init();
    CURLM *multi = curl_multi_init();
    if (!t.headers || (body && !payload) || !hdr_ok || !easy || !multi) {
        df_task_set_error(ctx, "http: out of memory preparing the request");
        goto out;
    }

    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "dagflow-http/1.0");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
        if (payload) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)payload_len);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, payload);
        } else if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
        }
        if (strcmp(method, "GET") != 0 || payload)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        df_task_set_error(ctx, "http: cannot start the transfer");
        goto out;
    }

    long long start = dfp_mono_ms();
    long slice = SLICE_MIN_MS;
    unsigned idle = 0; /* polls in a row that saw no progress */
    size_t seen = 0;
    curl_off_t sent_seen = 0;
    int done = 0, cancelled = 0;
    CURLcode cc = CURLE_OK;
    while (!done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            snprintf(curl_err, sizeof curl_err, "%s", curl_multi_strerror(mc));
            cc = CURLE_FAILED_INIT;
            done = 1;
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
                cc = msg->data.result;
                done = 1;
            }
        }
        if (done)
            break;
        curl_off_t sent = 0;
        curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &sent);
        if (t.received != seen || sent != sent_seen) {
            slice = SLICE_MIN_MS;
            idle = 0;
            seen = t.received;
            sent_seen = sent;
        } else if (++idle > SLICE_MIN_POLLS && slice < SLICE_MAX_MS) {
            slice = slice * 2 > SLICE_MAX_MS ? SLICE_MAX_MS : slice * 2;
        }
        long wait = slice, hint = -1;
        curl_multi_timeout(multi, &hint);
        if (hint >= 0 && hint < wait)
            wait = hint < SLICE_MIN_MS ? SLICE_MIN_MS : hint;
        if (df_task_sleep(ctx, (uint64_t)wait) != 0) {
            cancelled = 1;
            break;
        }
    }
    long long took = dfp_mono_ms() - start;
    curl_multi_remove_handle(multi, easy);

    if (cancelled) {
        df_task_set_error(ctx, "http: %s %s cancelled after %lld ms (%zu bytes received)", method,
                          url, took, t.received);
        goto out;
    }
    if (cc != CURLE_OK) {
        if (t.too_big) {
            df_task_set_error(ctx, "http: %s %s: the response body exceeds %u MiB", method, url,
                              BODY_MAX / (1024 * 1024));
            status = DF_TASK_FAILED_PERMANENT;
        } else {
            df_task_set_error(ctx, "http: %s %s: %s", method, url,
                              curl_err[0] ? curl_err : curl_easy_strerror(cc));
            status = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
                         ? DF_TASK_FAILED_PERMANENT
                         : DF_TASK_FAILED;
        }
        goto out;
    }
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    df_task_log(ctx, "%s %s -> %ld in %lld ms, %zu body bytes", method, url, code, took,
                t.body_len);
    if (!status_expected(expect, code)) {
        char exp[256];
        expected_text(expect, exp, sizeof exp);
        size_t show = t.body_len < ERR_BODY_MAX ? t.body_len : ERR_BODY_MAX;
        json_t *snippet = dfp_text_json(t.body ? t.body : "", show);
        df_task_set_error(ctx, "HTTP %ld from %s %s (expected %s): %s%s", code, method, url, exp,
                          snippet ? json_string_value(snippet) : "",
                          t.body_len > show ? "..." : "");
        json_decref(snippet);
        goto out;
    }
    json_t *btext = dfp_text_json(t.body ? t.body : "", t.body_len);
    json_t *res = btext ? json_pack("{s:I, s:O, s:o}", "status", (json_int_t)code, "headers",
                                    t.headers, "body", btext)
                        : NULL;
    if (!res) {
        df_task_set_error(ctx, "http: out of memory building the result");
        goto out;
    }
    if (is_json_type(t.headers)) {
        json_error_t jerr;
        json_t *parsed = json_loadb(t.body ? t.body : "", t.body_len, JSON_DECODE_ANY, &jerr);
        if (parsed)
            json_object_set_new(res, "json", parsed);
        else
            df_task_log(ctx, "the response says JSON but does not parse: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
    }
    *result = res;
    status = DF_TASK_OK;

out:
    if (multi)
        curl_multi_cleanup(multi);
    if (easy)
        curl_easy_cleanup(easy);
    curl_slist_free_all(hdrs);
    free(payload);
    free(t.body);
    json_decref(t.headers);
    return status;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "http", .version = "1.0.0",
                   .description =
                       "makes one HTTP(S) request with libcurl, without holding a thread; result "
                       "{\"status\", \"headers\", \"body\", \"json\"}",
                   .validate = http_validate, .execute = http_execute, .init = http_init);
