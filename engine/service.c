/* service: `dagflow serve` as a library (SPEC §9; dagflow.h's df_service_*) — its life (open,
 * run, stop, close), the loop's handles (folder events and rescans, the fire timer, the
 * housekeeping timer that frees ended runs, starts queued fire times and publishes the workflow
 * list, the stop check), requests of other threads — runs started, cancelled, retried, resumed
 * (a mutex-guarded queue and a uv_async: the asker waits on a condition variable, the engine
 * thread never waits) — and the log.
 * The folder is service_dir.c's, schedules service_fire.c's. */
#include "service.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "runner.h"
#include "utf8_text.h"

#define HOUSEKEEP_MS 100
#define FS_EVENT_DELAY_MS 50 /* an fs event rescans after this (editors write in steps) */

void df_svc_log(df_service *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One event, one line: a control character in what the line names (a file name with a
     * newline, a task's stderr in an error) is written escaped (\n, \t, \x1b), so it can
     * neither forge a line nor drive the terminal. */
    char safe[sizeof line * 4];
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)line; *c; c++) {
        if (*c >= 0x20 && *c != 0x7f)
            safe[o++] = (char)*c;
        else if (*c == '\n' || *c == '\t' || *c == '\r')
            o += (size_t)snprintf(safe + o, sizeof safe - o, "\\%c",
                                  *c == '\n'   ? 'n'
                                  : *c == '\t' ? 't'
                                               : 'r');
        else
            o += (size_t)snprintf(safe + o, sizeof safe - o, "\\x%02x", *c);
    }
    safe[o] = '\0';
    s->log(s->log_ud, safe);
}

df_svc_wf *df_svc_find(df_service *s, const char *name)
{
    for (size_t i = 0; i < s->n_wfs; i++)
        if (s->wfs[i]->valid && strcmp(s->wfs[i]->wf->name, name) == 0)
            return s->wfs[i];
    return NULL;
}

int df_svc_start(df_service *s, df_svc_wf *w, const df_run_options *o, long long *run_id,
                 df_errlist *errs)
{
    int rc = df_engine_start_workflow_opts(s->e, w->wf, o, run_id, errs);
    if (rc != 0)
        return rc;
    char at[40];
    df_svc_log(s, "run %lld (%s) started: trigger %s, logical time %s", *run_id, w->wf->name,
               df_run_trigger_name(o->trigger),
               df_iso8601(o->logical_time ? o->logical_time : df_now_ms(), at, sizeof at));
    w->last_run_id = *run_id;
    w->last_state = DF_RS_RUNNING;
    s->dirty = true;
    return 0;
}

/* The engine's events: a run's end is logged, frees a place for queued fire times, and updates
 * its workflow's last run. The caller's own callback gets every event too. */
static void on_event(void *ud, const df_engine_event *ev)
{
    df_service *s = ud;
    if (s->user_event)
        s->user_event(s->user_ud, ev);
    /* the engine's notices: admission paused or resumed (run 0), a run stopped here because its
     * lease was lost */
    if (ev->notice && (ev->run_id == 0 || !ev->task_id))
        df_svc_log(s, "%s", ev->notice);
    if (ev->task_id || ev->notice || ev->run_state == DF_RS_RUNNING)
        return;
    if (ev->error)
        df_svc_log(s, "run %lld (%s) ended %s: %s", ev->run_id, ev->workflow,
                   df_run_state_name(ev->run_state), ev->error);
    else
        df_svc_log(s, "run %lld (%s) ended %s", ev->run_id, ev->workflow,
                   df_run_state_name(ev->run_state));
    df_svc_wf *w = ev->workflow ? df_svc_find(s, ev->workflow) : NULL;
    if (w && w->last_run_id == ev->run_id)
        w->last_state = ev->run_state;
    s->place_freed = true;
    s->dirty = true;
}

/* ---- the workflow list for other threads ---- */

static json_t *wf_json(const df_svc_wf *w)
{
    /* A file name need not be UTF-8 (JSON text is): such bytes become U+FFFD, in the name and
     * in the errors that quote it (json_string gave NULL, and the list a NULL entry). */
    json_t *errs = json_array();
    for (size_t k = 0; k < w->errs.n; k++)
        json_array_append_new(errs, df_text_json_str(w->errs.msgs[k]));
    json_t *sched = w->wf ? json_object_get(w->wf->doc, "schedule") : NULL;
    char at[40];
    json_t *last = w->last_run_id > 0
                       ? json_pack("{s:I, s:s}", "run_id", (json_int_t)w->last_run_id, "state",
                                   df_run_state_name(w->last_state))
                       : json_null();
    return json_pack("{s:o, s:o, s:b, s:o, s:O, s:o, s:o}", "name", df_text_json_str(w->name),
                     "file", df_text_json_str(w->file), "valid", w->valid, "errors", errs,
                     "schedule", sched ? sched : json_null(), "next_fire_at",
                     w->valid && w->next_fire ? json_string(df_iso8601(w->next_fire, at, sizeof at))
                                              : json_null(),
                     "last_run", last);
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *nx = json_string_value(json_object_get(x, "name"));
    const char *ny = json_string_value(json_object_get(y, "name"));
    const char *fx = json_string_value(json_object_get(x, "file"));
    const char *fy = json_string_value(json_object_get(y, "file"));
    int c = strcmp(nx ? nx : "", ny ? ny : "");
    return c ? c : strcmp(fx ? fx : "", fy ? fy : ""); /* an item not made (NULL): "" */
}

/* Publishes the workflow list for df_service_workflows. */
static void publish(df_service *s)
{
    json_t **items = calloc(s->n_wfs ? s->n_wfs : 1, sizeof *items);
    json_t *a = json_array();
    if (!items || !a) {
        free(items);
        json_decref(a);
        return;
    }
    for (size_t i = 0; i < s->n_wfs; i++)
        items[i] = wf_json(s->wfs[i]);
    qsort(items, s->n_wfs, sizeof *items, by_name);
    for (size_t i = 0; i < s->n_wfs; i++)
        if (items[i])
            json_array_append_new(a, items[i]);
    free(items);
    pthread_mutex_lock(&s->mu);
    json_t *old = s->snapshot;
    s->snapshot = a;
    pthread_mutex_unlock(&s->mu);
    json_decref(old);
    s->dirty = false;
}

int df_service_workflows(df_service *s, json_t **out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->snapshot ? json_deep_copy(s->snapshot) : json_array();
    pthread_mutex_unlock(&s->mu);
    return *out ? 0 : DF_ENOMEM;
}

/* ---- runs asked for by other threads ---- */

static void req_free(df_svc_req *r)
{
    if (!r)
        return;
    free(r->workflow);
    free(r->task);
    json_decref(r->params);
    df_errlist_clear(&r->errs);
    free(r);
}

static void answer(df_service *s, df_svc_req *r)
{
    pthread_mutex_lock(&s->mu);
    r->done = true;
    bool free_it = r->abandoned;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (free_it)
        req_free(r);
}

static void serve_start(df_service *s, df_svc_req *r)
{
    df_svc_wf *w = df_svc_find(s, r->workflow);
    bool known = w != NULL;
    for (size_t i = 0; !known && i < s->n_wfs; i++)
        known = s->wfs[i]->name && strcmp(s->wfs[i]->name, r->workflow) == 0;
    if (!w) {
        df_errlist_add(&r->errs, known ? "workflow %s is invalid" : "no workflow %s", r->workflow);
        r->rc = known ? DF_EREFUSED : DF_ENOTFOUND;
    } else {
        df_run_options o = {.params = r->params, .trigger = DF_TRIGGER_API};
        r->rc = df_svc_start(s, w, &o, &r->run_id, &r->errs);
        if (r->rc != 0 && r->rc != DF_EINPUT)
            df_svc_log(s, "workflow %s: an API run could not start: %s", r->workflow,
                       r->errs.n ? r->errs.msgs[0] : df_strerror(r->rc));
    }
}

/* A run this engine took over (resume, retry, a cancel that runs the handlers): it becomes its
 * workflow's last run. */
static void note_taken(df_service *s, long long run_id, const char *how)
{
    const char *name = NULL;
    for (size_t i = 0; i < s->e->n_runs && !name; i++)
        if (df_run_id(s->e->runs[i]) == run_id)
            name = s->e->runs[i]->wf->name;
    df_svc_log(s, "run %lld (%s) %s", run_id, name ? name : "?", how);
    df_svc_wf *w = name ? df_svc_find(s, name) : NULL;
    if (w && run_id >= w->last_run_id) {
        w->last_run_id = run_id;
        w->last_state = DF_RS_RUNNING;
    }
    s->dirty = true;
}

/* cancel as `dagflow cancel` does: the request stored (and acted on now when this engine owns
 * the run, within 1 s by its owner otherwise); a run no live engine owns is taken over, as
 * resume would, so that its handlers run and it ends CANCELLED. */
static void serve_cancel(df_service *s, df_svc_req *r)
{
    df_run_state st = DF_RS_RUNNING;
    r->rc = df_engine_request_cancel(s->e, r->run_id, "HTTP API", &st, &r->errs);
    if (r->rc != 0)
        return;
    df_svc_log(s, "run %lld: cancel asked through the HTTP API", r->run_id);
    if (st == DF_RS_INTERRUPTED) {
        r->rc = df_engine_start_resume(s->e, r->run_id, &r->errs);
        if (r->rc == 0)
            note_taken(s, r->run_id, "taken over to be cancelled");
    }
}

static void serve_request(df_service *s, df_svc_req *r)
{
    if (s->stopping || s->e->fatal) {
        df_errlist_add(&r->errs, "the service is stopping: no new run starts");
        r->rc = DF_EINTERRUPTED;
    } else if (r->kind == DF_SVC_REQ_START) {
        serve_start(s, r);
    } else if (r->kind == DF_SVC_REQ_CANCEL) {
        serve_cancel(s, r);
    } else {
        bool retry = r->kind == DF_SVC_REQ_RETRY;
        r->rc = retry ? df_engine_start_retry(s->e, r->run_id, r->task, &r->errs)
                      : df_engine_start_resume(s->e, r->run_id, &r->errs);
        if (r->rc == 0)
            note_taken(s, r->run_id,
                       retry ? "retried through the HTTP API" : "resumed through the HTTP API");
    }
    /* What the asker is told happened is in the store before it hears so: a read right after
     * (GET /api/v1/runs/ID) sees the run RUNNING again, the cancel request stored. */
    if (r->rc == 0 && df_engine_commit(s->e) != 0) {
        df_errlist_add(&r->errs, "%s", s->e->fatal_msg);
        r->rc = DF_ESTORE;
    }
    answer(s, r);
}

static void on_requests(uv_async_t *h)
{
    df_service *s = h->data;
    pthread_mutex_lock(&s->mu);
    df_svc_req *r = s->reqs;
    s->reqs = NULL;
    pthread_mutex_unlock(&s->mu);
    /* oldest first: the list is newest first */
    df_svc_req *rev = NULL;
    while (r) {
        df_svc_req *next = r->next;
        r->next = rev;
        rev = r;
        r = next;
    }
    while (rev) {
        df_svc_req *next = rev->next;
        serve_request(s, rev);
        rev = next;
    }
}

/* Hands r to the engine thread and waits for its answer, at most timeout_ms (0 = 30000). Takes
 * r (freed here, or by the engine thread when the wait times out). Returns the request's code
 * with its messages appended to errs; *run_id (may be NULL) gets the request's run. */
static int submit(df_service *s, df_svc_req *r, unsigned timeout_ms, long long *run_id,
                  df_errlist *errs)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t ms = timeout_ms ? timeout_ms : 30000;
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->accepting) {
        pthread_mutex_unlock(&s->mu);
        req_free(r);
        df_errlist_add(errs, "the service is not running");
        return DF_EINTERRUPTED;
    }
    r->next = s->reqs;
    s->reqs = r;
    uv_async_send(&s->req_async);
    int wait = 0;
    while (!r->done && wait == 0)
        wait = pthread_cond_timedwait(&s->cv, &s->mu, &until);
    if (!r->done) {
        r->abandoned = true; /* the engine thread frees it */
        pthread_mutex_unlock(&s->mu);
        df_errlist_add(errs, "the service did not answer within %llu ms", (unsigned long long)ms);
        return DF_EBUSY;
    }
    pthread_mutex_unlock(&s->mu);
    int rc = r->rc;
    if (run_id)
        *run_id = r->run_id;
    for (size_t i = 0; i < r->errs.n; i++)
        df_errlist_add(errs, "%s", r->errs.msgs[i]);
    req_free(r);
    return rc;
}

/* A new request, or NULL (errs says out of memory). */
static df_svc_req *req_new(df_svc_req_kind kind, const char *workflow, const json_t *params,
                           const char *task, long long run_id, df_errlist *errs)
{
    df_svc_req *r = calloc(1, sizeof *r);
    if (r) {
        r->kind = kind;
        r->run_id = run_id;
        if ((workflow && !(r->workflow = strdup(workflow))) ||
            (params && !(r->params = json_deep_copy(params))) ||
            (task && !(r->task = strdup(task)))) {
            req_free(r);
            r = NULL;
        }
    }
    if (!r)
        df_errlist_add(errs, "out of memory");
    return r;
}

int df_service_start_run(df_service *s, const char *workflow, const json_t *params,
                         unsigned timeout_ms, long long *run_id, df_errlist *errs)
{
    *run_id = 0;
    df_svc_req *r = req_new(DF_SVC_REQ_START, workflow, params, NULL, 0, errs);
    return r ? submit(s, r, timeout_ms, run_id, errs) : DF_ENOMEM;
}

/* The run actions: a positive run id, then the request. */
static int run_action(df_service *s, df_svc_req_kind kind, long long run_id, const char *task,
                      unsigned timeout_ms, df_errlist *errs)
{
    if (run_id <= 0) {
        df_errlist_add(errs, "run id must be positive, not %lld", run_id);
        return DF_EINPUT;
    }
    df_svc_req *r = req_new(kind, NULL, NULL, task, run_id, errs);
    return r ? submit(s, r, timeout_ms, NULL, errs) : DF_ENOMEM;
}

int df_service_cancel_run(df_service *s, long long run_id, unsigned timeout_ms, df_errlist *errs)
{
    return run_action(s, DF_SVC_REQ_CANCEL, run_id, NULL, timeout_ms, errs);
}

int df_service_retry_run(df_service *s, long long run_id, const char *task, unsigned timeout_ms,
                         df_errlist *errs)
{
    return run_action(s, DF_SVC_REQ_RETRY, run_id, task, timeout_ms, errs);
}

int df_service_resume_run(df_service *s, long long run_id, unsigned timeout_ms, df_errlist *errs)
{
    return run_action(s, DF_SVC_REQ_RESUME, run_id, NULL, timeout_ms, errs);
}

/* ---- the loop ---- */

/* Stops taking requests; answers the ones waiting. */
static void refuse_requests(df_service *s)
{
    pthread_mutex_lock(&s->mu);
    s->accepting = false;
    pthread_mutex_unlock(&s->mu);
    on_requests(&s->req_async);
}

static void close_handles(df_service *s)
{
    if (!s->handles_open)
        return;
    s->handles_open = false;
    if (s->watching)
        uv_close((uv_handle_t *)&s->dir_watch, NULL);
    s->watching = false;
    uv_close((uv_handle_t *)&s->rescan, NULL);
    uv_close((uv_handle_t *)&s->fire, NULL);
    uv_close((uv_handle_t *)&s->housekeep, NULL);
    uv_close((uv_handle_t *)&s->stop_check, NULL);
    uv_close((uv_handle_t *)&s->req_async, NULL);
}

/* The engine was asked to stop (df_service_stop, df_engine_stop, a signal): no new run, no more
 * fire times or reloads; the runs in flight end INTERRUPTED, then the loop ends. */
static void begin_stop(df_service *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    df_svc_log(s, "stopping: runs in flight are interrupted (resumable)");
    uv_timer_stop(&s->fire);
    uv_timer_stop(&s->rescan);
    if (s->watching)
        uv_fs_event_stop(&s->dir_watch);
    refuse_requests(s);
}

static void on_stop_check(uv_check_t *h)
{
    df_service *s = h->data;
    if (atomic_load(&s->e->stop_requests) > 0 || s->e->fatal)
        begin_stop(s);
}

static bool all_ended(df_service *s)
{
    for (size_t i = 0; i < s->e->n_runs; i++)
        if (!df_run_ended(s->e->runs[i]))
            return false;
    return true;
}

static void on_housekeep(uv_timer_t *h)
{
    df_service *s = h->data;
    on_stop_check(&s->stop_check);
    df_engine_reap_ended(s->e);
    if (s->stopping) {
        if (all_ended(s)) {
            s->e->keep_handles = false;
            df_engine_wake(s->e);
            if (s->dirty)
                publish(s);
            close_handles(s);
        }
        return;
    }
    if (df_mono_ms() >= s->next_adopt_ms) {
        long long every = df_engine_lease_ms(s->e) / 4;
        s->next_adopt_ms = df_mono_ms() + (every < 250 ? 250 : every > 5000 ? 5000 : every);
        df_svc_adopt(s);
    }
    if (s->e->lost_txs != s->lost_txs_seen) {
        /* the fire times decided in a lost transaction are undecided again (SPEC §9: no fire
         * time is lost): each schedule catches up from its last recorded decision */
        s->lost_txs_seen = s->e->lost_txs;
        df_svc_log(s, "schedules: deciding again the fire times of a transaction the store lost");
        for (size_t i = 0; i < s->n_wfs; i++)
            if (s->wfs[i]->valid && s->wfs[i]->scheduled)
                df_svc_schedule_init(s, s->wfs[i]);
        df_svc_arm(s);
    }
    if (s->place_freed) {
        s->place_freed = false;
        df_svc_start_queued(s);
    }
    if (s->dirty)
        publish(s);
}

static void rescan(df_service *s)
{
    if (s->stopping)
        return;
    if (df_svc_scan(s))
        df_svc_arm(s);
}

static void on_rescan(uv_timer_t *h)
{
    df_service *s = h->data;
    rescan(s);
    uv_timer_start(&s->rescan, on_rescan, s->rescan_ms, 0);
}

static void on_dir_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)name;
    (void)events;
    (void)status;
    df_service *s = h->data;
    if (!s->stopping)
        uv_timer_start(&s->rescan, on_rescan, FS_EVENT_DELAY_MS, 0);
}

static int open_handles(df_service *s, df_errlist *errs)
{
    uv_loop_t *loop = &s->e->loop;
    uv_timer_init(loop, &s->rescan);
    uv_timer_init(loop, &s->fire);
    uv_timer_init(loop, &s->housekeep);
    uv_check_init(loop, &s->stop_check);
    uv_async_init(loop, &s->req_async, on_requests);
    s->rescan.data = s->fire.data = s->housekeep.data = s;
    s->stop_check.data = s->req_async.data = s;
    s->handles_open = true;
    uv_check_start(&s->stop_check, on_stop_check);
    uv_unref((uv_handle_t *)&s->stop_check);
    uv_timer_start(&s->housekeep, on_housekeep, HOUSEKEEP_MS, HOUSEKEEP_MS);
    uv_timer_start(&s->rescan, on_rescan, s->rescan_ms, 0);
    if (uv_fs_event_init(loop, &s->dir_watch) == 0) {
        s->dir_watch.data = s;
        s->watching = true;
        int rc = uv_fs_event_start(&s->dir_watch, on_dir_event, s->dir, 0);
        if (rc != 0) /* the stat rescans alone then */
            df_svc_log(s, "cannot watch %s (%s): looking at it every %u ms", s->dir,
                       uv_strerror(rc), s->rescan_ms);
    }
    (void)errs;
    return 0;
}

int df_service_run(df_service *s, df_errlist *errs)
{
    df_errlist scratch = {0};
    df_errlist *l = errs ? errs : &scratch;
    df_engine *e = s->e;
    int rc = df_engine_can_start(e, l);
    if (rc == 0)
        rc = df_engine_open_store(e, true, true, l);
    if (rc == 0)
        rc = df_engine_open_handles(e, l);
    if (rc != 0) {
        df_errlist_clear(&scratch);
        return rc;
    }
    e->keep_handles = true; /* runs come and go: the engine's handles stay open */
    s->starting = true; /* the runs left behind first, then missed fire times (they count them) */
    df_svc_scan(s);
    s->starting = false;
    df_svc_resume_left(s);
    for (size_t i = 0; i < s->n_wfs; i++)
        if (s->wfs[i]->valid && !s->wfs[i]->scheduled)
            df_svc_schedule_init(s, s->wfs[i]);
    df_svc_start_queued(s);
    publish(s);
    pthread_mutex_lock(&s->mu);
    s->accepting = true;
    pthread_mutex_unlock(&s->mu);
    open_handles(s, l);
    df_svc_log(s, "serving %zu workflow file(s) from %s", s->n_wfs, s->dir);
    df_svc_arm(s);
    while (uv_run(&e->loop, UV_RUN_DEFAULT) != 0 && s->handles_open)
        ;
    close_handles(s);
    refuse_requests(s);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    rc = 0;
    if (e->fatal && !e->halted) {
        df_errlist_add(l, "%s", e->fatal_msg);
        rc = e->taken_over ? DF_ECONFLICT : DF_ESTORE;
    }
    df_errlist_clear(&scratch);
    return rc;
}

void df_service_stop(df_service *s)
{
    df_engine_stop(s->e);
}

df_engine *df_service_engine(df_service *s)
{
    return s->e;
}

int df_service_open(const df_service_config *cfg, df_service **out, df_errlist *errs)
{
    *out = NULL;
    struct stat st;
    if (!cfg || !cfg->workflows_dir || stat(cfg->workflows_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        df_errlist_add(errs, "--workflows: %s is not a folder",
                       cfg && cfg->workflows_dir ? cfg->workflows_dir : "(none)");
        return DF_EINPUT;
    }
    df_service *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(cfg->workflows_dir))) {
        free(s);
        df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    size_t n = strlen(s->dir);
    while (n > 1 && s->dir[n - 1] == '/')
        s->dir[--n] = '\0';
    s->log = cfg->log;
    s->log_ud = cfg->log_ud;
    s->rescan_ms = cfg->rescan_ms ? cfg->rescan_ms : 1000;
    s->user_event = cfg->engine.on_event;
    s->user_ud = cfg->engine.ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    df_engine_config ec = cfg->engine;
    ec.service = true;
    ec.on_event = on_event;
    ec.ud = s;
    int rc = df_engine_open(&ec, &s->e, errs);
    if (rc != 0) {
        df_service_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

size_t df_service_close(df_service *s)
{
    if (!s)
        return 0;
    size_t left = df_engine_close(s->e);
    for (size_t i = 0; i < s->n_wfs; i++)
        df_svc_wf_free(s->wfs[i]);
    free(s->wfs);
    json_decref(s->snapshot);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->dir);
    free(s);
    return left;
}
