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

/* "url": an http:// or https:// URL without spaces or control characters. */
static int check_url(const json_t *url, int templates, char *err, size_t errlen)
{
    if (!url) {
        snprintf(err, errlen, "missing required key \"url\"");
        return 1;
    }
    if (!json_is_string(url) || json_string_length(url) == 0) {
        snprintf(err, errlen, "\"url\" must be a non-empty string");
        return 1;
    }
    if (templates && dfp_is_template(url))
        return 0;
    const char *u = json_string_value(url);
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
        snprintf(err, errlen, "\"url\" must start with http:// or https:// (got \"%.60s\")", u);
        return 1;
    }
    if (strlen(u) != json_string_length(url) || strpbrk(u, " \t\r\n")) {
        snprintf(err, errlen, "\"url\" must not contain spaces or control characters");
        return 1;
    }
    return 0;
}

/* "method": one of the methods list, in any case. */
static int check_method(const json_t *method, char *err, size_t errlen)
{
    int ok = 0;
    for (size_t i = 0; json_is_string(method) && methods[i] && !ok; i++)
        ok = strcasecmp(methods[i], json_string_value(method)) == 0;
    if (!ok)
        snprintf(err, errlen,
                 "\"method\" must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
    return !ok;
}

/* "headers": an object of valid header names to strings without CR, LF or NUL. */
static int check_headers(const json_t *headers, char *err, size_t errlen)
{
    if (!json_is_object(headers)) {
        snprintf(err, errlen, "\"headers\" must be an object of strings (name -> value)");
        return 1;
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)headers, name, v)
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
    return 0;
}

/* "expect_status": a non-empty array of integers from 100 to 599 (or templates, at creation). */
static int check_expect(const json_t *expect, int templates, char *err, size_t errlen)
{
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
            snprintf(err, errlen, "\"expect_status\"[%zu] must be an integer from 100 to 599", i);
            return 1;
        }
    }
    return 0;
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
    if (check_url(json_object_get(params, "url"), templates, err, errlen))
        return 1;
    json_t *method = json_object_get(params, "method");
    if (method && !(templates && dfp_is_template(method)) && check_method(method, err, errlen))
        return 1;
    json_t *headers = json_object_get(params, "headers");
    if (headers && !(templates && dfp_is_template(headers)) && check_headers(headers, err, errlen))
        return 1;
    json_t *expect = json_object_get(params, "expect_status");
    if (expect && !(templates && dfp_is_template(expect)) &&
        check_expect(expect, templates, err, errlen))
        return 1;
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

/* One request, from its params to its result: what http_execute prepares, waits for and reads. */
typedef struct request {
    char method[16]; /* upper case */
    const char *url; /* borrowed from params */
    char *payload;   /* the body to send (NULL: none) */
    size_t payload_len;
    struct curl_slist *hdrs;
    CURL *easy;
    CURLM *multi;
    transfer t;
    char curl_err[CURL_ERROR_SIZE];
} request;

/* The method and body options of r->easy: HEAD sends no body; a POST without one sends an empty
 * body; any method other than GET, or a GET with a body, is set as the custom request. */
static void request_set_method(request *r)
{
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
        return;
    }
    if (r->payload) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->payload_len);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->payload);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
    }
    if (strcmp(r->method, "GET") != 0 || r->payload)
        curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, r->method);
}

/* Fills r from params (final values) and starts the transfer on r->multi. A string body is sent
 * as is, any other JSON value compacted (with Content-Type: application/json). Returns 0, or 1
 * with the task's error set (no memory, or the transfer cannot start); r is freed by the caller
 * either way (request_free). */
static int request_start(df_task_ctx *ctx, const json_t *params, request *r)
{
    r->url = json_string_value(json_object_get(params, "url"));
    json_t *mv = json_object_get(params, "method");
    snprintf(r->method, sizeof r->method, "%s", mv ? json_string_value(mv) : "GET");
    for (char *p = r->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    json_t *body = json_object_get(params, "body");
    if (body && json_is_string(body)) {
        r->payload_len = json_string_length(body);
        r->payload = malloc(r->payload_len + 1);
        if (r->payload)
            memcpy(r->payload, json_string_value(body), r->payload_len + 1);
    } else if (body) {
        r->payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        r->payload_len = r->payload ? strlen(r->payload) : 0;
    }
    int hdr_ok = 1;
    r->t.headers = json_object();
    r->hdrs =
        build_headers(json_object_get(params, "headers"), body && !json_is_string(body), &hdr_ok);
    r->easy = curl_easy_init();
    r->multi = curl_multi_init();
    if (!r->t.headers || (body && !r->payload) || !hdr_ok || !r->easy || !r->multi) {
        df_task_set_error(ctx, "http: out of memory preparing the request");
        return 1;
    }
    CURL *easy = r->easy;
    curl_easy_setopt(easy, CURLOPT_URL, r->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "dagflow-http/1.0");
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r->t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &r->t);
    request_set_method(r);
    if (curl_multi_add_handle(r->multi, easy) != CURLM_OK) {
        df_task_set_error(ctx, "http: cannot start the transfer");
        return 1;
    }
    return 0;
}

/* Drives the transfer until it ends, sleeping between polls without holding the worker: slices
 * start at SLICE_MIN_MS and double up to SLICE_MAX_MS while nothing moves, and follow curl's own
 * timeout hint. Returns 0 with *cc the transfer's result, or 1 when the task was cancelled. */
static int request_wait(df_task_ctx *ctx, request *r, CURLcode *cc)
{
    long slice = SLICE_MIN_MS;
    unsigned idle = 0; /* polls in a row that saw no progress */
    size_t seen = 0;
    curl_off_t sent_seen = 0;
    *cc = CURLE_OK;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(r->multi, &running);
        if (mc != CURLM_OK) {
            snprintf(r->curl_err, sizeof r->curl_err, "%s", curl_multi_strerror(mc));
            *cc = CURLE_FAILED_INIT;
            return 0;
        }
        CURLMsg *msg;
        int left, done = 0;
        while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == r->easy) {
                *cc = msg->data.result;
                done = 1;
            }
        }
        if (done)
            return 0;
        curl_off_t sent = 0;
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
        if (r->t.received != seen || sent != sent_seen) {
            slice = SLICE_MIN_MS;
            idle = 0;
            seen = r->t.received;
            sent_seen = sent;
        } else if (++idle > SLICE_MIN_POLLS && slice < SLICE_MAX_MS) {
            slice = slice * 2 > SLICE_MAX_MS ? SLICE_MAX_MS : slice * 2;
        }
        long wait = slice, hint = -1;
        curl_multi_timeout(r->multi, &hint);
        if (hint >= 0 && hint < wait)
            wait = hint < SLICE_MIN_MS ? SLICE_MIN_MS : hint;
        if (df_task_sleep(ctx, (uint64_t)wait) != 0)
            return 1;
    }
}

/* The outcome of a transfer that ended with cc after took ms: an error (a transport failure, a
 * body over BODY_MAX, a status not expected) or the result {"status", "headers", "body", and
 * "json" when the response says JSON and parses}, a new reference into *result. Returns the
 * task status. */
static int request_finish(df_task_ctx *ctx, request *r, const json_t *expect, CURLcode cc,
                          long long took, json_t **result)
{
    transfer *t = &r->t;
    if (cc != CURLE_OK) {
        if (t->too_big) {
            df_task_set_error(ctx, "http: %s %s: the response body exceeds %u MiB", r->method,
                              r->url, BODY_MAX / (1024 * 1024));
            return DF_TASK_FAILED_PERMANENT;
        }
        df_task_set_error(ctx, "http: %s %s: %s", r->method, r->url,
                          r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc));
        return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
                   ? DF_TASK_FAILED_PERMANENT
                   : DF_TASK_FAILED;
    }
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    df_task_log(ctx, "%s %s -> %ld in %lld ms, %zu body bytes", r->method, r->url, code, took,
                t->body_len);
    if (!status_expected(expect, code)) {
        char exp[256];
        expected_text(expect, exp, sizeof exp);
        size_t show = t->body_len < ERR_BODY_MAX ? t->body_len : ERR_BODY_MAX;
        json_t *snippet = dfp_text_json(t->body ? t->body : "", show);
        df_task_set_error(ctx, "HTTP %ld from %s %s (expected %s): %s%s", code, r->method, r->url,
                          exp, snippet ? json_string_value(snippet) : "",
                          t->body_len > show ? "..." : "");
        json_decref(snippet);
        return DF_TASK_FAILED;
    }
    json_t *btext = dfp_text_json(t->body ? t->body : "", t->body_len);
    json_t *res = btext ? json_pack("{s:I, s:O, s:o}", "status", (json_int_t)code, "headers",
                                    t->headers, "body", btext)
                        : NULL;
    if (!res) {
        df_task_set_error(ctx, "http: out of memory building the result");
        return DF_TASK_FAILED;
    }
    if (is_json_type(t->headers)) {
        json_error_t jerr;
        json_t *parsed = json_loadb(t->body ? t->body : "", t->body_len, JSON_DECODE_ANY, &jerr);
        if (parsed)
            json_object_set_new(res, "json", parsed);
        else
            df_task_log(ctx, "the response says JSON but does not parse: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
    }
    *result = res;
    return DF_TASK_OK;
}

/* Frees what request_start made (any part may be missing). */
static void request_free(request *r)
{
    if (r->multi && r->easy)
        curl_multi_remove_handle(r->multi, r->easy);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->payload);
    free(r->t.body);
    json_decref(r->t.headers);
}

static int http_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    if (dfp_check_final(ctx, check_params, params, 512))
        return DF_TASK_FAILED_PERMANENT;
    request r = {0};
    int status = DF_TASK_FAILED;
    if (request_start(ctx, params, &r) == 0) {
        long long start = dfp_mono_ms();
        CURLcode cc;
        int cancelled = request_wait(ctx, &r, &cc);
        long long took = dfp_mono_ms() - start;
        if (cancelled)
            df_task_set_error(ctx, "http: %s %s cancelled after %lld ms (%zu bytes received)",
                              r.method, r.url, took, r.t.received);
        else
            status =
                request_finish(ctx, &r, json_object_get(params, "expect_status"), cc, took, result);
    }
    request_free(&r);
    return status;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "http", .version = "1.0.0",
                   .description =
                       "makes one HTTP(S) request with libcurl, without holding a thread; result "
                       "{\"status\", \"headers\", \"body\", \"json\"}",
                   .validate = http_validate, .execute = http_execute, .init = http_init);
