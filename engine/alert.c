/* alert: alert payloads, sink subscriptions, and delivery with retries to the `command`, `file`
 * and `webhook` sinks of SPEC §5, on the engine's event loop. */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "curl_global.h"
#include "path.h"
#include "proc.h"

/* A command sink or webhook that takes longer than this fails the try. */
#define DF_ALERT_TRY_TIMEOUT_MS 30000

typedef struct delivery {
    df_alerts *owner;
    long long alert_id;
    const json_t *sink;
    char *dir;
    char *payload;
    int tries;
    const json_t *env;              /* the workflow's "env" (borrowed), or NULL */
    const char *const *passthrough; /* its "env_passthrough" (borrowed), or NULL */
    uv_timer_t timer;               /* next try; also the command sink's time limit */
    df_proc *proc;                  /* running command sink */
    uv_work_t work;                 /* running webhook request */
    bool working;                   /* a webhook request is on the thread pool */
    char *work_error;               /* webhook outcome: NULL = delivered */
    struct delivery *prev, *next;
} delivery;

/* An alert of the outbox: recorded in the engine's open transaction, delivered once that
 * transaction has committed (df_alerts_flush). */
typedef struct queued {
    long long alert_id;
    const json_t *sink, *env;       /* borrowed from the run's workflow */
    const char *const *passthrough; /* likewise */
    char *dir;
    char *payload;
    int tries;
    struct queued *next;
} queued;

struct df_alerts {
    uv_loop_t *loop;
    df_alert_outcome_fn fn;
    void *ud;
    delivery *head;
    size_t busy;
    bool closing;
    const char *const *pass_env; /* the engine's --pass-env (borrowed), or NULL */
    queued *q_head, **q_tail;    /* the outbox */
};

void df_alerts_set_pass_env(df_alerts *a, const char *const *pass_env)
{
    if (a)
        a->pass_env = pass_env;
}

df_alerts *df_alerts_new(uv_loop_t *loop, df_alert_outcome_fn fn, void *ud)
{
    df_alerts *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->loop = loop;
    a->fn = fn;
    a->ud = ud;
    a->q_tail = &a->q_head;
    return a;
}

/* ---- the outbox ---- */

int df_alerts_queue(df_alerts *a, long long alert_id, const json_t *sink, const char *base_dir,
                    const char *payload, int tries_done, const json_t *env,
                    const char *const *passthrough)
{
    queued *q = calloc(1, sizeof *q);
    if (!q || !(q->dir = strdup(base_dir)) || !(q->payload = strdup(payload))) {
        if (q)
            free(q->dir);
        free(q);
        return -1;
    }
    q->alert_id = alert_id;
    q->sink = sink;
    q->env = env;
    q->passthrough = passthrough;
    q->tries = tries_done;
    *a->q_tail = q;
    a->q_tail = &q->next;
    return 0;
}

static void queued_free(queued *q)
{
    free(q->dir);
    free(q->payload);
    free(q);
}

int df_alerts_flush(df_alerts *a)
{
    int rc = 0;
    while (a->q_head) {
        queued *q = a->q_head;
        a->q_head = q->next;
        if (!a->q_head)
            a->q_tail = &a->q_head;
        if (df_alerts_deliver(a, q->alert_id, q->sink, q->dir, q->payload, q->tries, q->env,
                              q->passthrough) != 0)
            rc = -1;
        queued_free(q);
    }
    return rc;
}

void df_alerts_drop_queued(df_alerts *a)
{
    while (a && a->q_head) {
        queued *q = a->q_head;
        a->q_head = q->next;
        queued_free(q);
    }
    if (a)
        a->q_tail = &a->q_head;
}

bool df_alerts_queued(const df_alerts *a)
{
    return a && a->q_head != NULL;
}

size_t df_alerts_busy(const df_alerts *a)
{
    return a ? a->busy : 0;
}

static void free_delivery(uv_handle_t *h)
{
    delivery *d = h->data;
    free(d->dir);
    free(d->payload);
    free(d->work_error);
    free(d);
}

static void unlink_delivery(delivery *d)
{
    df_alerts *a = d->owner;
    if (d->prev)
        d->prev->next = d->next;
    else
        a->head = d->next;
    if (d->next)
        d->next->prev = d->prev;
    a->busy--;
    uv_close((uv_handle_t *)&d->timer, free_delivery);
    if (a->closing && a->busy == 0)
        free(a);
}

static void try_once(uv_timer_t *h);

/* Records the outcome of one try; schedules the next one or ends the delivery. */
static void try_done(delivery *d, const char *error)
{
    df_alerts *a = d->owner;
    d->tries++;
    if (a->closing) {
        /* Closing: the outcome is not recorded; the alert stays pending for resume. */
        unlink_delivery(d);
        return;
    }
    if (!error) {
        a->fn(a->ud, d->alert_id, DF_ALERT_DELIVERED, d->tries, df_now_ms(), NULL, d->sink,
              d->payload);
        unlink_delivery(d);
        return;
    }
    if (d->tries >= DF_ALERT_MAX_TRIES) {
        a->fn(a->ud, d->alert_id, DF_ALERT_FAILED, d->tries, 0, error, d->sink, d->payload);
        unlink_delivery(d);
        return;
    }
    a->fn(a->ud, d->alert_id, DF_ALERT_PENDING, d->tries, 0, error, d->sink, d->payload);
    uint64_t delay = (uint64_t)DF_ALERT_BACKOFF_MS << (d->tries - 1);
    uv_timer_start(&d->timer, try_once, delay, 0);
}

/* Creates the folders above path that do not exist yet (like `mkdir -p "$(dirname path)"`). */
static void make_parents(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST)
            break;
        *p = '/';
    }
    free(copy);
}

static void deliver_file(delivery *d)
{
    const char *path = json_string_value(json_object_get(d->sink, "path"));
    char *full = df_path_resolve(d->dir, path);
    char err[512] = "";
    if (!full) {
        snprintf(err, sizeof err, "file sink: no path");
    } else {
        make_parents(full);
        /* Created 0600, never through a symbolic link (SPEC §12). */
        int fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ELOOP) {
            snprintf(err, sizeof err,
                     "file sink: %s is a symbolic link; dagflow does not follow links for alert "
                     "files",
                     full);
        } else if (fd < 0) {
            snprintf(err, sizeof err, "file sink: cannot open %s: %s", full, strerror(errno));
        } else {
            size_t len = strlen(d->payload);
            char *line = malloc(len + 1);
            if (!line) {
                snprintf(err, sizeof err, "file sink: out of memory");
            } else {
                memcpy(line, d->payload, len);
                line[len] = '\n';
                /* One write with O_APPEND keeps the line whole beside other writers. */
                ssize_t n = write(fd, line, len + 1);
                if (n != (ssize_t)(len + 1))
                    snprintf(err, sizeof err, "file sink: cannot write %s: %s", full,
                             n < 0 ? strerror(errno) : "short write");
                free(line);
            }
            close(fd);
        }
    }
    free(full);
    try_done(d, err[0] ? err : NULL);
}

static void on_command_timeout(uv_timer_t *h)
{
    delivery *d = h->data;
    if (d->proc)
        df_proc_kill(d->proc);
}

static void on_command_done(df_proc *proc, df_spawn_result *res, void *ud)
{
    (void)proc;
    delivery *d = ud;
    d->proc = NULL;
    uv_timer_stop(&d->timer);
    char err[1024] = "";
    if (res->cancelled)
        snprintf(err, sizeof err, "command sink: killed after %d ms", DF_ALERT_TRY_TIMEOUT_MS);
    else if (res->term_signal)
        snprintf(err, sizeof err, "command sink: killed by signal %d", res->term_signal);
    else if (res->exit_code != 0) {
        const char *tail = res->stderr_data ? res->stderr_data : "";
        size_t len = res->stderr_len;
        if (len > 300)
            tail += len - 300;
        snprintf(err, sizeof err, "command sink: exit code %lld%s%s", (long long)res->exit_code,
                 *tail ? ": " : "", tail);
    }
    df_spawn_result_free(res);
    try_done(d, err[0] ? err : NULL);
}

static size_t count_list(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

/* A command sink's extra environment (SPEC §5, §8, §12): the workflow's "env" as "K=V" (new
 * strings in *wenv, NULL-terminated), the names its env_passthrough and the engine's --pass-env
 * let through (entries without "=", proc.h), then the six DAGFLOW_* variables (which win).
 * Returns a new NULL-terminated array borrowing those strings, or NULL when out of memory. */
static const char **command_env(const delivery *d, const char *const *dagflow, char ***wenv)
{
    size_t n_env = json_object_size(d->env), n_pt = count_list(d->passthrough);
    size_t n_pe = count_list(d->owner->pass_env), k = 0;
    const char **extra = calloc(n_env + n_pt + n_pe + 7, sizeof *extra);
    *wenv = calloc(n_env + 1, sizeof **wenv);
    if (!extra || !*wenv) {
        free(extra);
        return NULL;
    }
    const char *key;
    json_t *v;
    size_t w = 0;
    json_object_foreach((json_t *)d->env, key, v)
    {
        if (asprintf(&(*wenv)[w], "%s=%s", key, json_string_value(v) ? json_string_value(v) : "") <
            0) {
            (*wenv)[w] = NULL;
            free(extra);
            return NULL;
        }
        extra[k++] = (*wenv)[w++];
    }
    for (size_t i = 0; i < n_pt; i++)
        extra[k++] = d->passthrough[i];
    for (size_t i = 0; i < n_pe; i++)
        extra[k++] = d->owner->pass_env[i];
    for (int i = 0; i < 6; i++)
        extra[k++] = dagflow[i];
    extra[k] = NULL;
    return extra;
}

static void deliver_command(delivery *d)
{
    const json_t *argv = json_object_get(d->sink, "argv");
    size_t n = json_array_size(argv);
    const char **av = calloc(n + 1, sizeof *av);
    char *argv0 = NULL, *line = NULL;
    json_t *p = json_loads(d->payload, 0, NULL);
    char *envs[6] = {0};
    char **wenv = NULL;
    const char **extra = NULL;
    char err[1024] = "";
    if (!av || n == 0 || !p) {
        snprintf(err, sizeof err, "command sink: %s", n == 0 ? "empty argv" : "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        av[i] = json_string_value(json_array_get(argv, i));
    if (strchr(av[0], '/') && av[0][0] != '/') {
        argv0 = df_path_resolve(d->dir, av[0]);
        av[0] = argv0;
    }
    static const char *const names[6] = {"DAGFLOW_EVENT",   "DAGFLOW_RUN_ID", "DAGFLOW_WORKFLOW",
                                         "DAGFLOW_TASK_ID", "DAGFLOW_STATE",  "DAGFLOW_ERROR"};
    static const char *const keys[6] = {"event", "run_id", "workflow", "task_id", "state", "error"};
    for (int i = 0; i < 6; i++) {
        const json_t *v = json_object_get(p, keys[i]);
        int rc;
        if (json_is_string(v))
            rc = asprintf(&envs[i], "%s=%s", names[i], json_string_value(v));
        else if (json_is_integer(v))
            rc = asprintf(&envs[i], "%s=%lld", names[i], (long long)json_integer_value(v));
        else
            rc = asprintf(&envs[i], "%s=", names[i]);
        if (rc < 0)
            envs[i] = NULL;
    }
    for (int i = 0; i < 6; i++)
        if (!envs[i]) {
            snprintf(err, sizeof err, "command sink: out of memory");
            goto done;
        }
    if (!(extra = command_env(d, (const char *const *)envs, &wenv))) {
        snprintf(err, sizeof err, "command sink: out of memory");
        goto done;
    }
    /* The alert JSON as one line, newline included (as the file sink writes it): `read` in a
     * shell and line-reading tools see a whole line. */
    size_t plen = strlen(d->payload);
    line = malloc(plen + 2);
    if (!line) {
        snprintf(err, sizeof err, "command sink: out of memory");
        goto done;
    }
    memcpy(line, d->payload, plen);
    memcpy(line + plen, "\n", 2);
    df_spawn_opts opts = {
        .argv = av, .stdin_data = line, .stdin_len = plen + 1, .capture_max = 64 * 1024};
    if (df_proc_run(d->owner->loop, &opts, (const char *const *)extra, d->dir, on_command_done, d,
                    &d->proc, err, sizeof err) == 0) {
        uv_timer_start(&d->timer, on_command_timeout, DF_ALERT_TRY_TIMEOUT_MS, 0);
        err[0] = '\0';
    } else if (!err[0]) {
        snprintf(err, sizeof err, "command sink: cannot start %s", av[0]);
    }
done:
    for (int i = 0; i < 6; i++)
        free(envs[i]);
    for (size_t i = 0; wenv && wenv[i]; i++)
        free(wenv[i]);
    free(wenv);
    free(extra);
    free(argv0);
    free(line);
    free(av);
    json_decref(p);
    if (err[0])
        try_done(d, err);
}

/* ---- webhook: a blocking libcurl POST on libuv's thread pool ---- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void webhook_work(uv_work_t *w)
{
    delivery *d = w->data;
    const char *url = json_string_value(json_object_get(d->sink, "url"));
    const df_curl_api *cu = df_curl_load(NULL, 0); /* loaded by deliver_webhook */
    CURL *c = cu ? cu->easy_init() : NULL;
    struct curl_slist *hdrs = cu ? cu->slist_append(NULL, "Content-Type: application/json") : NULL;
    char *msg = NULL;
    if (!c || !hdrs || !url) {
        d->work_error = strdup("webhook sink: cannot start a request");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(d->sink, "headers"), k, v)
    {
        char *line = NULL;
        if (asprintf(&line, "%s: %s", k, json_string_value(v) ? json_string_value(v) : "") >= 0) {
            struct curl_slist *n = cu->slist_append(hdrs, line);
            if (n)
                hdrs = n;
            free(line);
        }
    }
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
    cu->easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)DF_ALERT_TRY_TIMEOUT_MS);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    CURLcode rc = cu->easy_perform(c);
    long status = 0;
    cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        if (asprintf(&msg, "webhook sink: %s: %s", url, cu->easy_strerror(rc)) < 0)
            msg = NULL;
        d->work_error = msg ? msg : strdup("webhook sink: request failed");
    } else if (status < 200 || status > 299) {
        if (asprintf(&msg, "webhook sink: %s answered HTTP %ld", url, status) < 0)
            msg = NULL;
        d->work_error = msg ? msg : strdup("webhook sink: not 2xx");
    }
out:
    if (hdrs)
        cu->slist_free_all(hdrs);
    if (c)
        cu->easy_cleanup(c);
}

static void webhook_after(uv_work_t *w, int status)
{
    delivery *d = w->data;
    d->working = false;
    char *err = d->work_error;
    d->work_error = NULL;
    if (status == UV_ECANCELED && !err)
        err = strdup("webhook sink: cancelled");
    try_done(d, err ? err : NULL);
    free(err);
}

static void deliver_webhook(delivery *d)
{
    char cerr[256], msg[300];
    if (!df_curl_load(cerr, sizeof cerr)) {
        snprintf(msg, sizeof msg, "webhook sink: %s", cerr);
        try_done(d, msg);
        return;
    }
    d->work.data = d;
    free(d->work_error);
    d->work_error = NULL;
    d->working = true;
    if (uv_queue_work(d->owner->loop, &d->work, webhook_work, webhook_after) != 0) {
        d->working = false;
        try_done(d, "webhook sink: cannot queue the request");
    }
}

static void try_once(uv_timer_t *h)
{
    delivery *d = h->data;
    const char *type = json_string_value(json_object_get(d->sink, "type"));
    if (type && strcmp(type, "file") == 0)
        deliver_file(d);
    else if (type && strcmp(type, "command") == 0)
        deliver_command(d);
    else if (type && strcmp(type, "webhook") == 0)
        deliver_webhook(d);
    else
        try_done(d, "unknown sink type");
}

int df_alerts_deliver(df_alerts *a, long long alert_id, const json_t *sink, const char *base_dir,
                      const char *payload, int tries_done, const json_t *env,
                      const char *const *passthrough)
{
    delivery *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(base_dir ? base_dir : ".")) || !(d->payload = strdup(payload))) {
        if (d)
            free(d->dir);
        free(d);
        return -1;
    }
    d->owner = a;
    d->alert_id = alert_id;
    d->sink = sink;
    d->tries = tries_done;
    d->env = env;
    d->passthrough = passthrough;
    uv_timer_init(a->loop, &d->timer);
    d->timer.data = d;
    d->next = a->head;
    if (a->head)
        a->head->prev = d;
    a->head = d;
    a->busy++;
    uv_timer_start(&d->timer, try_once, 0, 0);
    return 0;
}

void df_alerts_close(df_alerts *a)
{
    if (!a)
        return;
    a->closing = true;
    while (a->q_head) { /* never delivered: they stay "pending" in the store */
        queued *q = a->q_head;
        a->q_head = q->next;
        queued_free(q);
    }
    a->q_tail = &a->q_head;
    size_t had = a->busy;
    /* Deliveries waiting for their next try are dropped (they stay "pending" in the store and
     * are delivered on resume); a running command or request ends on its own, unrecorded. */
    delivery *d = a->head;
    while (d) {
        delivery *next = d->next;
        if (d->proc)
            df_proc_kill(d->proc);
        else if (!d->working) {
            uv_timer_stop(&d->timer);
            unlink_delivery(d); /* frees a with the last one */
        }
        d = next;
    }
    if (had == 0)
        free(a);
}

json_t *df_alert_payload(const char *event, long long run_id, const char *workflow,
                         const char *task_id, const char *state, const char *error,
                         unsigned attempt, int64_t at_ms)
{
    char at[40];
    df_iso8601(at_ms, at, sizeof at);
    return json_pack("{s:s, s:I, s:s, s:s?, s:s?, s:s?, s:o, s:s}", "event", event, "run_id",
                     (json_int_t)run_id, "workflow", workflow, "task_id", task_id, "state", state,
                     "error", error, "attempt",
                     attempt ? json_integer((json_int_t)attempt) : json_null(), "at", at);
}

bool df_alert_sink_wants(const json_t *sink, const char *event)
{
    const json_t *on = json_object_get(sink, "on");
    if (!on)
        return strcmp(event, "task_failed") == 0 || strcmp(event, "run_failed") == 0;
    size_t i;
    const json_t *v;
    json_array_foreach(on, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), event) == 0)
            return true;
    }
    return false;
}

char *df_alert_sink_describe(const json_t *sink)
{
    const char *type = json_string_value(json_object_get(sink, "type"));
    const char *what = NULL;
    if (!type)
        type = "?";
    if (strcmp(type, "command") == 0)
        what = json_string_value(json_array_get(json_object_get(sink, "argv"), 0));
    else if (strcmp(type, "file") == 0)
        what = json_string_value(json_object_get(sink, "path"));
    else if (strcmp(type, "webhook") == 0)
        what = json_string_value(json_object_get(sink, "url"));
    char *out = NULL;
    if (asprintf(&out, "%s:%s", type, what ? what : "") < 0)
        return NULL;
    return out;
}
