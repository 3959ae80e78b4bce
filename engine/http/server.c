/* http/server: the HTTP server's life and its requests' (SPEC §9), the only file that knows
 * libmicrohttpd (loaded when a server starts, mhd_dl.h): starting the daemon (one thread per
 * connection, so that a long poll or a slow client holds only its own thread, never an engine's),
 * reading a request's body up to 1 MiB (413 beyond: the rest is read and dropped, up to 16 MiB),
 * refusing at once, before any body is read, a foreign Host on a loopback listen and cross-site
 * writes (guard.c: 403, 415) and /api/ and /metrics without the token (401), handing the
 * request to routing.c and sending its reply. */
#include "http_internal.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../errlist.h"
#include "mhd_dl.h"

/* One request's state between libmicrohttpd's calls. */
typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_big;
} conn_state;

static const char *conn_arg(const df_http_req *r, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)r->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

/* Sends rep (and frees what it owns). */
static enum MHD_Result send_reply(struct MHD_Connection *c, df_http_reply *rep)
{
    char *body = rep->text;
    if (!body) {
        body = rep->json ? json_dumps(rep->json, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!body)
            body = strdup("{\"error\": \"internal error: no reply\"}");
        rep->content_type = "application/json";
    }
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"", MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        json_decref(rep->json);
        return MHD_NO;
    }
    if (!body || !len)
        free(body);
    MHD_add_response_header(resp, "Content-Type",
                            rep->content_type ? rep->content_type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (rep->location[0])
        MHD_add_response_header(resp, "Location", rep->location);
    if (rep->allow)
        MHD_add_response_header(resp, "Allow", rep->allow);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(rep->status ? rep->status : 500), resp);
    MHD_destroy_response(resp);
    json_decref(rep->json);
    return ret;
}

/* An error answered before the body is read (401, 413): the connection closes after it. */
static enum MHD_Result early_error(struct MHD_Connection *c, int status, const char *msg)
{
    df_http_reply rep = {0};
    df_http_error(&rep, status, "%s", msg);
    return send_reply(c, &rep);
}

/* The first call of a request: the checks that need no body. Returns true when it answered. */
static bool first_checks(df_http *h, struct MHD_Connection *c, const char *url, const char *method,
                         enum MHD_Result *ret)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    df_http_reply rep = {0};
    if (df_http_guard_host(h, host, &rep) != 0) {
        *ret = send_reply(c, &rep);
        return true;
    }
    if (h->has_token && df_http_auth_needed(url)) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!df_http_auth_ok(h, auth)) {
            *ret = early_error(c, 401,
                               auth ? "the bearer token is not the one of --token-file"
                                    : "this server needs \"Authorization: Bearer TOKEN\" "
                                      "(the token of --token-file)");
            return true;
        }
    }
    if (df_http_guard_write(method, url, host,
                            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
                            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"), &rep) != 0) {
        *ret = send_reply(c, &rep);
        return true;
    }
    /* A body announced over 1 MiB is still read (and dropped) up to 16 MiB, so that the client,
     * which is still sending, reads the 413 rather than a reset connection; beyond that the
     * answer comes at once. */
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > 16 * DF_HTTP_MAX_BODY) {
        *ret = early_error(c, 413, "the request body is over 1 MiB (1048576 bytes)");
        return true;
    }
    return false;
}

/* Appends an upload chunk to the body (up to the limit; beyond it, marks it too big). */
static bool append_body(conn_state *st, const char *data, size_t n)
{
    if (st->too_big || st->len + n > DF_HTTP_MAX_BODY) {
        st->too_big = true;
        return true;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *b = realloc(st->body, cap);
        if (!b)
            return false;
        st->body = b;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    df_http *h = cls;
    conn_state *st = *con_cls;
    if (!st) {
        enum MHD_Result ret;
        if (first_checks(h, c, url, method, &ret))
            return ret;
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!append_body(st, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (st->too_big)
        return early_error(c, 413, "the request body is over 1 MiB (1048576 bytes)");
    df_http_req r = {.h = h,
                     .method = method,
                     .path = url,
                     .body = st->body ? st->body : "",
                     .body_len = st->len,
                     .arg = conn_arg,
                     .conn = c};
    df_http_reply rep = {0};
    df_http_route(&r, &rep);
    return send_reply(c, &rep);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages are dropped: the library never prints (its failures surface as
 * df_http_start's errors). */
static void no_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

/* Connections one client address may hold on a non-loopback listen (of 64 in all). */
#define DF_HTTP_PER_IP 16u

/* Starts the daemon on addr. */
static int start_daemon(df_http *h, const struct sockaddr_storage *addr, df_errlist *errs,
                        const char *listen)
{
    char lerr[256];
    if (df_mhd_load(lerr, sizeof lerr) != 0) {
        df_errlist_add(errs, "--listen %s: the HTTP API needs libmicrohttpd: %s", listen, lerr);
        return DF_EINTERNAL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
    /* Off loopback, one client address may hold at most DF_HTTP_PER_IP of the connections, so a
     * remote client that opens connections and never finishes a request (the token is checked
     * only once its header is complete) cannot take every slot from everyone else. */
    unsigned per_ip = h->loopback ? 0 : DF_HTTP_PER_IP;
    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_EXTERNAL_LOGGER, no_log, h, MHD_OPTION_END);
    if (!h->daemon) {
        df_errlist_add(errs, "--listen %s: cannot listen there (address in use, or not allowed)",
                       listen);
        return DF_EINTERNAL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return 0;
}

static int start_impl(const df_http_config *cfg, df_http **out, df_errlist *errs)
{
    const char *listen = cfg->listen ? cfg->listen : "127.0.0.1:8080";
    struct sockaddr_storage addr;
    unsigned addr_len = 0;
    bool loopback = false;
    int rc = df_http_resolve(listen, &addr, &addr_len, &loopback, errs);
    if (rc)
        return rc;
    if (!loopback && !cfg->token_file) {
        df_errlist_add(errs,
                       "--listen %s is not a loopback address: give --token-file so that the "
                       "API needs a token there",
                       listen);
        return DF_EINPUT;
    }
    df_http *h = calloc(1, sizeof *h);
    if (!h)
        return DF_ENOMEM;
    h->hooks = cfg->hooks;
    h->loopback = loopback;
    pthread_mutex_init(&h->notify_mu, NULL);
    pthread_cond_init(&h->notify_cond, NULL);
    if (cfg->token_file)
        rc = df_http_auth_load(h, cfg->token_file, errs);
    if (!rc)
        rc = df_http_readers_open(&h->readers, cfg->db ? cfg->db : "./dagflow.db",
                                  cfg->readers ? cfg->readers : 4, errs);
    if (!rc)
        rc = start_daemon(h, &addr, errs, listen);
    if (rc) {
        df_http_readers_close(&h->readers);
        pthread_cond_destroy(&h->notify_cond);
        pthread_mutex_destroy(&h->notify_mu);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int df_http_start(const df_http_config *cfg, df_http **out, df_errlist *errs)
{
    *out = NULL;
    df_errlist scratch = {0};
    int rc = start_impl(cfg, out, errs ? errs : &scratch);
    df_errlist_clear(&scratch);
    return rc;
}

int df_http_port(const df_http *h)
{
    return h ? h->port : 0;
}

void df_http_notify(df_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->notify_mu);
    h->gen++;
    pthread_cond_broadcast(&h->notify_cond);
    pthread_mutex_unlock(&h->notify_mu);
}

void df_http_stop(df_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->notify_mu);
    h->stopping = true;
    h->gen++;
    pthread_cond_broadcast(&h->notify_cond);
    pthread_mutex_unlock(&h->notify_mu);
    MHD_stop_daemon(h->daemon);
    df_http_readers_close(&h->readers);
    pthread_cond_destroy(&h->notify_cond);
    pthread_mutex_destroy(&h->notify_mu);
    free(h);
}
