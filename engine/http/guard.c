/* http/guard: which browsers' requests the server takes (SPEC §9, issue 11), against the two
 * ways a web page the user visits could reach an API on loopback without a token:
 *  - DNS rebinding (a foreign name made to resolve to 127.0.0.1, so the page's own origin reads
 *    the API): on a loopback listen, the Host header must name a loopback host (127.0.0.0/8,
 *    [::1], localhost) with the port listened on. A non-loopback listen needs a token, and the
 *    names it is reached by are the operator's: there Host is not restricted.
 *  - cross-site writes ("simple" cross-origin POSTs, which a browser sends without asking): a
 *    request on /api/ other than GET/HEAD must say Content-Type: application/json (which a
 *    browser sends cross-origin only after a CORS preflight, which this server never grants),
 *    and an Origin header, when present, must be http://HOST of the request's own Host.
 * Requests without Origin (curl, scripts) are not browsers' cross-site requests and pass. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Splits a Host header value ("name", "name:port", "[v6]", "[v6]:port") into its host (without
 * brackets) and port (-1 when absent). Returns 0, or -1 when it is not of that form. */
static int split_host(const char *value, char *host, size_t hl, long *port)
{
    const char *p;
    *port = -1;
    if (value[0] == '[') {
        const char *end = strchr(value, ']');
        if (!end || (size_t)(end - value - 1) >= hl)
            return -1;
        snprintf(host, hl, "%.*s", (int)(end - value - 1), value + 1);
        p = end + 1;
        if (*p && *p != ':')
            return -1;
    } else {
        p = strchr(value, ':');
        size_t n = p ? (size_t)(p - value) : strlen(value);
        if (n >= hl || (p && strchr(p + 1, ':')))
            return -1;
        snprintf(host, hl, "%.*s", (int)n, value);
        if (!p)
            p = value + n;
    }
    if (*p == ':') {
        long v = 0;
        const char *d = p + 1;
        if (!*d || strlen(d) > 5)
            return -1;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            v = v * 10 + (*d - '0');
        }
        *port = v;
    }
    return host[0] ? 0 : -1;
}

/* Whether a host name or address (brackets removed) is loopback. */
static bool loopback_name(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

int df_http_guard_host(const df_http *h, const char *host_header, df_http_reply *rep)
{
    if (!h->loopback)
        return 0;
    char host[256];
    long port = -1;
    if (!host_header || split_host(host_header, host, sizeof host, &port) != 0 ||
        !loopback_name(host) || port != (port < 0 && h->port == 80 ? -1 : h->port)) {
        df_http_error(rep, 403,
                      "the Host header \"%s\" does not name this server: on a loopback address it "
                      "must be 127.0.0.1, [::1] or localhost with port %d (a foreign name that "
                      "resolves here is refused, against DNS rebinding)",
                      host_header ? host_header : "", h->port);
        return -1;
    }
    return 0;
}

/* Whether a Content-Type value is application/json (parameters such as charset allowed). */
static bool is_json_type(const char *ct)
{
    const char *want = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, strlen(want)) != 0)
        return false;
    ct += strlen(want);
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int df_http_guard_write(const char *method, const char *path, const char *host_header,
                        const char *content_type, const char *origin, df_http_reply *rep)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
        (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0))
        return 0;
    if (origin) {
        char same[300];
        snprintf(same, sizeof same, "http://%s", host_header ? host_header : "");
        if (!host_header || strcasecmp(origin, same) != 0) {
            df_http_error(rep, 403,
                          "%s %s from Origin \"%s\": cross-site requests are refused (the Origin "
                          "must be this server's own, %s)",
                          method, path, origin, host_header ? same : "http://HOST");
            return -1;
        }
    }
    if (!is_json_type(content_type)) {
        df_http_error(rep, 415,
                      "%s %s: send \"Content-Type: application/json\" (got %s%s%s): requests that "
                      "change state take only JSON",
                      method, path, content_type ? "\"" : "no Content-Type",
                      content_type ? content_type : "", content_type ? "\"" : "");
        return -1;
    }
    return 0;
}
