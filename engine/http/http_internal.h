/* http_internal: what the files of the HTTP API (engine/http/) share: the server's state, one
 * request as the handlers see it, the reply they fill, and each file's entry points. Only
 * server.c knows libmicrohttpd; the handlers see a df_http_req and fill a df_http_reply. */
#ifndef DF_HTTP_INTERNAL_H
#define DF_HTTP_INTERNAL_H

#include <dagflow/dagflow.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Request bodies over this many bytes get 413 (SPEC §9). */
#define DF_HTTP_MAX_BODY ((size_t)1024 * 1024)
/* The longest wait of a long poll (SPEC §9), and how often it looks at the store meanwhile. */
#define DF_HTTP_MAX_WAIT_MS 30000
#define DF_HTTP_POLL_MS 50

/* The reader engines: each used by one request at a time (readers.c). */
typedef struct df_http_readers {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    df_engine **all;  /* n of them */
    df_engine **free; /* a stack of the ones not in use */
    size_t n, n_free;
} df_http_readers;

struct df_http {
    struct MHD_Daemon *daemon;
    int port;
    char token_digest[65]; /* SHA-256 hex of the token; "" without a token file */
    bool has_token;
    bool loopback; /* --listen is a loopback address: Host is checked (guard.c) */
    df_http_hooks hooks;
    df_http_readers readers;
    /* long polls wait here: df_http_notify bumps gen and broadcasts */
    pthread_mutex_t notify_mu;
    pthread_cond_t notify_cond;
    unsigned long long gen;
    bool stopping;
};

/* One request as the handlers see it: everything borrowed for the call. */
typedef struct df_http_req {
    df_http *h;
    const char *method; /* "GET" */
    const char *path;   /* "/api/v1/runs/3" (decoded, without the query) */
    const char *body;   /* NUL-terminated; "" when none */
    size_t body_len;
    /* a query argument's value, or NULL when absent (server.c) */
    const char *(*arg)(const struct df_http_req *r, const char *name);
    void *conn; /* the connection, for arg */
} df_http_req;

/* What a handler answers. json (owned) is sent as the body unless text (owned) is set. */
typedef struct df_http_reply {
    int status;
    json_t *json;
    char *text;
    const char *content_type; /* static; default application/json */
    char location[64];        /* Location header when not "" */
    const char *allow;        /* Allow header (405) */
} df_http_reply;

/* ---- reply.c ---- */
/* Sets an error reply {"error": message} with status. Returns status. */
int df_http_error(df_http_reply *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets an error reply from a DF_E* code and the messages in errs (joined by "; "): DF_ENOTFOUND
 * 404, DF_EREFUSED and DF_ECONFLICT 409, DF_EINPUT 400, DF_EBUSY 503, anything else 500. */
int df_http_error_code(df_http_reply *rep, int code, const df_errlist *errs);
/* Sets a JSON reply (takes the reference). */
int df_http_json(df_http_reply *rep, int status, json_t *value);
/* Parses a query argument as an integer in [min, max]; absent: *out = dflt. Returns 0, or sets a
 * 400 reply naming the argument and returns -1. */
int df_http_int_arg(const df_http_req *r, df_http_reply *rep, const char *name, long long min,
                    long long max, long long dflt, long long *out);

/* ---- body.c ---- */
/* The request's body as a JSON object with only the keys in allowed (NULL-terminated): an empty
 * body is {}; anything that is not one JSON object (trailing text, duplicate keys included) or
 * has another key is a 400 reply (returns -1). Sets *out (new reference) and returns 0. */
int df_http_body_object(const df_http_req *r, df_http_reply *rep, const char *const *allowed,
                        json_t **out);

/* ---- auth.c ---- */
/* Reads the token file into h (its SHA-256 digest). Returns 0 or DF_EINPUT (errs). */
int df_http_auth_load(df_http *h, const char *path, df_errlist *errs);
/* Whether an Authorization header value carries the token (constant time). */
bool df_http_auth_ok(const df_http *h, const char *authorization);
/* Whether the path needs the token: /api/ and /metrics. */
bool df_http_auth_needed(const char *path);
/* Resolves "HOST:PORT" into *addr (len *addr_len) and tells whether every address it names is
 * loopback. Returns 0 or DF_EINPUT (errs). */
struct sockaddr_storage;
int df_http_resolve(const char *listen, struct sockaddr_storage *addr, unsigned *addr_len,
                    bool *loopback, df_errlist *errs);

/* ---- guard.c ---- */
/* On a loopback listen, whether the Host header value (NULL: absent) names a loopback host
 * (127.0.0.0/8, [::1], localhost) with the port listened on; on any other listen, always.
 * Returns 0, or sets a 403 reply saying why and returns -1. */
int df_http_guard_host(const df_http *h, const char *host_header, df_http_reply *rep);
/* For a request on /api/ other than GET and HEAD: an Origin header (NULL: absent) must be
 * "http://" + the Host header (else 403), and Content-Type must be application/json, parameters
 * allowed (else 415). Other requests pass. Returns 0, or sets the reply and returns -1. */
int df_http_guard_write(const char *method, const char *path, const char *host_header,
                        const char *content_type, const char *origin, df_http_reply *rep);

/* ---- readers.c ---- */
int df_http_readers_open(df_http_readers *rs, const char *db, size_t n, df_errlist *errs);
void df_http_readers_close(df_http_readers *rs);
df_engine *df_http_reader_take(df_http *h);
void df_http_reader_give(df_http *h, df_engine *e);

/* ---- routing.c ---- */
/* Answers one request (every route of SPEC §9). */
void df_http_route(const df_http_req *r, df_http_reply *rep);

/* ---- the resources (one file each) ---- */
void df_http_get_runs(const df_http_req *r, df_http_reply *rep);
void df_http_get_run(const df_http_req *r, df_http_reply *rep, long long run_id);
void df_http_get_attempts(const df_http_req *r, df_http_reply *rep, long long run_id,
                          const char *task);
void df_http_run_action(const df_http_req *r, df_http_reply *rep, long long run_id,
                        const char *action);
void df_http_get_events(const df_http_req *r, df_http_reply *rep, long long run_id);
void df_http_get_workflows(const df_http_req *r, df_http_reply *rep);
void df_http_get_schedule(const df_http_req *r, df_http_reply *rep, const char *name);
void df_http_start_run(const df_http_req *r, df_http_reply *rep, const char *name);
void df_http_get_metrics(const df_http_req *r, df_http_reply *rep);
/* ui.c: GET / (the web UI's index page), GET /runs/ID (its run page), GET
 * /api/v1/runs/ID/report (df_run_page_data's object, without log texts). */
void df_http_get_index(const df_http_req *r, df_http_reply *rep);
void df_http_get_ui_run(const df_http_req *r, df_http_reply *rep, long long run_id);
void df_http_get_run_report(const df_http_req *r, df_http_reply *rep, long long run_id);

/* run_page.c, for the live run page: df_run_page_data's object (without log texts) with
 * "last_seq", the highest task_events seq of the run read before that data (so that a change
 * after it is in a later delta). New object in *out; 0 or a DF_E* code with errs filled. */
int df_run_page_live_data(df_engine *e, long long run_id, json_t **out, df_errlist *errs);
/* What changed after event seq `since`: {"run": the run's object with only the tasks that had an
 * event after since, "attempts": {KEY: [...]} of those instances (no log texts), "since",
 * "last_seq", "partial": true}; when more than 20,000 events came after since, the whole
 * df_run_page_live_data object instead (no "partial"). New object in *out; 0 or a DF_E* code. */
int df_run_page_delta(df_engine *e, long long run_id, long long since, json_t **out,
                      df_errlist *errs);

/* The run's object of SPEC §9 (GET /api/v1/runs/ID) read with reader e, as a new object; or a
 * reply set (404, 500) and NULL (runs.c). */
json_t *df_http_run_object(df_engine *e, long long run_id, df_http_reply *rep);

#endif
