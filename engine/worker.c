/* worker: `dagflow worker` as a library (dagflow.h's df_worker_*, SPEC §11) — a loop on the
 * calling thread that claims attempts from the store's queue (store/work.h) when woken by
 * NOTIFY "dagflow_work" (a poll every DF_WORKER_POLL_MS only as a fallback), runs them on its
 * own coroutine pool (pool/pool.h) with its own plugins, renews the claims' leases every third
 * of the lease, and sends back outcomes in batches. Pool threads never touch the store: results
 * travel through an inbox to this thread, which does all the store work. A lease that could not
 * be renewed by its expiry, or that the store says is lost, cancels the attempt (the pool kills
 * its process group); its late completion is refused by the store (fencing) and logged.
 *
 * The watchdog, a thread of its own, judges the leases by this host's clock whatever the loop
 * thread is doing: a store call blocked by a network cut (up to the connection's timeout, the
 * lease, then the reconnection's DAGFLOW_PG_RETRY_MS) must not let an attempt run on past its
 * lease while another worker runs it again. It cancels such attempts (and escalates the kills
 * of their process groups); their results are then not sent. slots_mu guards the list of slots
 * and their lease fields between the two threads. */
#include <dagflow/dagflow.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "../store/work.h"
#include "clock.h"
#include "plugin.h"
#include "pool/pool.h"
#include "proc.h"

#define DF_WORKER_POLL_MS 1000 /* fallback when no notification comes */
#define DF_WORKER_CLAIM_MAX 256
#define DF_WORKER_STOP_GRACE_MS 5000
#define DF_WORKER_PRUNE_MS 60000               /* how often the rows of ended runs are dropped */
#define DF_WORKER_WATCH_MS DF_PROC_ESCALATE_MS /* the watchdog's period (it escalates kills) */

/* One claimed attempt. */
typedef struct df_wslot {
    long long id, claim, run_id;
    unsigned attempt;
    char *task_id;
    df_pool_job *job;          /* NULL when it never reached the pool */
    uint64_t lease_until_mono; /* this host's view of the lease's expiry (ms) */
    bool lost, cancelled;      /* lost: given up here (its result is not sent) or by the store */
    struct df_wslot *prev, *next;
} df_wslot;

struct df_worker {
    df_worker_config cfg;
    char **queues;
    char name[300]; /* "host:pid" */
    df_store *store;
    df_plugin_registry *plugins;
    df_pool *pool;
    df_pool_config pool_cfg;
    uv_loop_t loop;
    uv_async_t inbox_async, stop_async;
    uv_timer_t renew, poll_timer, prune_timer;
    uv_poll_t notify_poll;
    int notify_fd;
    bool poll_open, poll_closing;
    pthread_mutex_t inbox_mu;
    df_job_result *inbox_head, *inbox_tail;
    atomic_int stops;
    pthread_mutex_t slots_mu; /* slots' list and lease fields, stats (with the watchdog) */
    pthread_cond_t watch_cv;
    pthread_t watchdog;
    bool watch_started, watch_stop;
    df_wslot *slots; /* in flight */
    size_t n_slots;
    bool fatal, claim_again;
    char err[1024];
    df_worker_stats stats;
};

static void wlog(df_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(df_worker *w, const char *fmt, ...)
{
    if (!w->cfg.log)
        return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    w->cfg.log(w->cfg.ud, line);
}

static void fail(df_worker *w, const char *msg)
{
    if (w->fatal)
        return;
    w->fatal = true;
    snprintf(w->err, sizeof w->err, "%s", msg);
    uv_stop(&w->loop);
}

/* ---- the inbox: results from pool threads ---- */

static void on_pool_done(df_job_result *res, void *ud)
{
    df_worker *w = ud;
    res->next = NULL;
    pthread_mutex_lock(&w->inbox_mu);
    if (w->inbox_tail)
        w->inbox_tail->next = res;
    else
        w->inbox_head = res;
    w->inbox_tail = res;
    uv_async_send(&w->inbox_async);
    pthread_mutex_unlock(&w->inbox_mu);
}

/* Called with slots_mu held. */
static void slot_unlink(df_worker *w, df_wslot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        w->slots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->n_slots--;
    free(s->task_id);
    free(s);
}

static void pump(df_worker *w);

/* Sends back every result in the inbox in one statement; refused ones are logged. */
static void on_inbox(uv_async_t *h)
{
    df_worker *w = h->data;
    pthread_mutex_lock(&w->inbox_mu);
    df_job_result *head = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_mu);
    size_t n = 0;
    for (df_job_result *r = head; r; r = r->next)
        n++;
    if (n == 0)
        return;
    df_work_done *done = calloc(n, sizeof *done);
    char **texts = calloc(n, sizeof *texts);
    bool *ok = calloc(n, sizeof *ok), *sent = calloc(n, sizeof *sent);
    df_wslot **slots = calloc(n, sizeof *slots);
    if (!done || !texts || !ok || !sent || !slots) {
        fail(w, "out of memory");
    } else {
        /* The results of attempts given up here (their lease ran out by this host's clock)
         * are not sent: their leases are gone, or going, and the engine records them LOST. */
        size_t k = 0, m = 0;
        pthread_mutex_lock(&w->slots_mu);
        for (df_job_result *r = head; r; r = r->next, k++) {
            slots[k] = r->user;
            sent[k] = !slots[k]->lost; /* (the watchdog may mark it lost while it is sent) */
            if (!sent[k])
                continue;
            texts[m] = r->result ? json_dumps(r->result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            done[m++] = (df_work_done){.id = slots[k]->id,
                                       .claim = slots[k]->claim,
                                       .status = r->status,
                                       .result = texts[m - 1],
                                       .error = r->error,
                                       .log = r->log};
        }
        pthread_mutex_unlock(&w->slots_mu);
        if (!w->fatal && m && df_store_work_complete(w->store, done, m, ok) != DF_STORE_OK)
            fail(w, df_store_error(w->store));
        pthread_mutex_lock(&w->slots_mu);
        for (k = 0, m = 0; k < n && !w->fatal; k++) {
            if (sent[k] && ok[m++]) {
                w->stats.completed++;
                continue;
            }
            w->stats.refused++;
            wlog(w,
                 "refused: the result of run %lld task %s attempt %u came after its lease was "
                 "lost (%s); it changes nothing",
                 slots[k]->run_id, slots[k]->task_id, slots[k]->attempt,
                 sent[k] ? "expired or claimed again" : "not renewed by its expiry here: not sent");
        }
        for (k = 0; k < n; k++)
            slot_unlink(w, slots[k]);
        pthread_mutex_unlock(&w->slots_mu);
    }
    while (head) {
        df_job_result *next = head->next;
        df_job_result_free(head);
        head = next;
    }
    if (texts)
        for (size_t k = 0; k < n; k++)
            free(texts[k]);
    free(done);
    free(texts);
    free(ok);
    free(sent);
    free(slots);
    w->claim_again = true;
    pump(w);
}

/* ---- claiming ---- */

/* A claimed attempt that cannot run here (its plugin does not load, bad params): failed
 * permanently, sent back through the inbox like a pool result. */
static void fail_here(df_worker *w, df_wslot *s, const char *msg)
{
    df_job_result *res = calloc(1, sizeof *res);
    if (!res) {
        fail(w, "out of memory");
        return;
    }
    res->status = DF_TASK_FAILED_PERMANENT;
    char buf[1400];
    snprintf(buf, sizeof buf, "worker %s: %s", w->name, msg);
    res->error = strdup(buf);
    res->user = s;
    on_pool_done(res, w);
}

static void start_claim(df_worker *w, const df_work_claim *c, uint64_t lease_until)
{
    df_wslot *s = calloc(1, sizeof *s);
    if (!s || !(s->task_id = strdup(c->task_id))) {
        free(s);
        fail(w, "out of memory");
        return;
    }
    s->id = c->id;
    s->claim = c->claim;
    s->run_id = c->run_id;
    s->attempt = c->attempt;
    s->lease_until_mono = lease_until;
    pthread_mutex_lock(&w->slots_mu);
    s->next = w->slots;
    if (w->slots)
        w->slots->prev = s;
    w->slots = s;
    w->n_slots++;
    w->stats.claimed++;
    pthread_mutex_unlock(&w->slots_mu);
    char err[1024];
    const df_plugin *p = NULL;
    if (df_plugin_get(w->plugins, c->plugin, c->workdir, &p, err, sizeof err) != 0) {
        fail_here(w, s, err);
        return;
    }
    json_error_t jerr;
    json_t *params = json_loads(c->params, JSON_DECODE_ANY, &jerr);
    df_job *job = calloc(1, sizeof *job);
    if (!params || !job || !(job->task_id = strdup(c->task_id)) ||
        !(job->workdir = strdup(c->workdir))) {
        json_decref(params);
        if (job)
            free(job->task_id);
        free(job);
        fail_here(w, s, "cannot read the attempt's params");
        return;
    }
    job->unit = p->unit;
    job->params = params;
    job->run_id = c->run_id;
    job->attempt = c->attempt;
    job->mapped = c->map_index >= 0;
    job->map_index = c->map_index;
    job->user = s;
    df_pool_job *handle = NULL;
    /* Under slots_mu: the watchdog cancels through s->job. */
    pthread_mutex_lock(&w->slots_mu);
    int rc = df_pool_submit(w->pool, job, &handle);
    s->job = rc == 0 ? handle : NULL;
    if (rc == 0 && s->lost)
        df_pool_cancel(w->pool, handle);
    pthread_mutex_unlock(&w->slots_mu);
    if (rc != 0) {
        json_decref(job->params);
        free(job->task_id);
        free(job->workdir);
        free(job);
        fail_here(w, s, "the worker's pool refused the attempt");
    }
}

/* Claims as many attempts as there is room for, while batches come back full. */
static void claim(df_worker *w)
{
    while (!w->fatal && atomic_load(&w->stops) == 0 && w->n_slots < w->cfg.concurrency) {
        size_t room = w->cfg.concurrency - w->n_slots;
        size_t max = room < DF_WORKER_CLAIM_MAX ? room : DF_WORKER_CLAIM_MAX;
        df_work_claim *c = NULL;
        size_t n = 0;
        uint64_t before = df_mono_ms();
        if (df_store_work_claim(w->store, w->name, (const char *const *)w->queues, w->cfg.n_queues,
                                max, w->cfg.lease_ms, &c, &n) != DF_STORE_OK) {
            fail(w, df_store_error(w->store));
            return;
        }
        for (size_t k = 0; k < n; k++)
            start_claim(w, &c[k], before + (uint64_t)w->cfg.lease_ms);
        df_work_claims_free(c, n);
        if (n < max)
            return;
    }
}

/* ---- notifications ---- */

static void on_notify(uv_poll_t *h, int status, int events);

static void on_poll_closed(uv_handle_t *h)
{
    df_worker *w = h->data;
    w->poll_closing = false;
}

/* Polls the connection's socket (it changes after a reconnection). */
static void watch_fd(df_worker *w)
{
    int fd = df_store_work_fd(w->store);
    if (w->poll_closing || (w->poll_open && fd == w->notify_fd))
        return;
    if (w->poll_open) {
        uv_poll_stop(&w->notify_poll);
        w->poll_open = false;
        w->poll_closing = true;
        uv_close((uv_handle_t *)&w->notify_poll, on_poll_closed);
        return; /* the handle closes at the next loop turn; watched again after */
    }
    if (fd < 0 || uv_poll_init(&w->loop, &w->notify_poll, fd) != 0)
        return;
    w->notify_poll.data = w;
    w->notify_fd = fd;
    w->poll_open = true;
    uv_poll_start(&w->notify_poll, UV_READABLE, on_notify);
}

/* Claims when something may be waiting, completes nothing (on_inbox does). */
static void pump(df_worker *w)
{
    if (w->fatal)
        return;
    if (df_store_work_notified(w->store) > 0)
        w->claim_again = true;
    if (w->claim_again) {
        w->claim_again = false;
        claim(w);
        /* notifications that came while claiming */
        if (!w->fatal && df_store_work_notified(w->store) > 0 && w->n_slots < w->cfg.concurrency)
            claim(w);
    }
    if (!w->fatal)
        watch_fd(w);
    if (atomic_load(&w->stops) > 0 && w->n_slots == 0)
        uv_stop(&w->loop);
}

static void on_notify(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    pump(h->data);
}

/* Drops the queue rows of runs that ended without their engine collecting them (work.h). */
static void on_prune(uv_timer_t *h)
{
    df_worker *w = h->data;
    long long n = 0;
    if (w->fatal)
        return;
    if (df_store_work_prune(w->store, &n) != DF_STORE_OK)
        fail(w, df_store_error(w->store));
    else if (n > 0)
        wlog(w, "dropped %lld queued attempts of runs that are no longer running", n);
}

static void on_poll_timer(uv_timer_t *h)
{
    df_worker *w = h->data;
    w->claim_again = true;
    pump(w);
}

/* ---- leases ---- */

/* Called with slots_mu held (both threads). */
static void cancel_slot(df_worker *w, df_wslot *s)
{
    if (s->cancelled)
        return;
    s->cancelled = true;
    w->stats.cancelled++;
    if (s->job)
        df_pool_cancel(w->pool, s->job);
}

/* Gives an attempt up: its lease is lost (why) and it is cancelled. slots_mu held. */
static void lose_slot(df_worker *w, df_wslot *s, const char *why)
{
    if (s->lost)
        return;
    s->lost = true;
    w->stats.lost++;
    wlog(w, "lease of run %lld task %s attempt %u %s: cancelling the attempt", s->run_id,
         s->task_id, s->attempt, why);
    cancel_slot(w, s);
}

static void on_renew(uv_timer_t *h)
{
    df_worker *w = h->data;
    if (w->fatal || w->n_slots == 0)
        return;
    size_t n = w->n_slots, k = 0;
    long long *ids = calloc(n, sizeof *ids), *claims = calloc(n, sizeof *claims);
    unsigned char *state = calloc(n, 1);
    df_wslot **slots = calloc(n, sizeof *slots);
    if (!ids || !claims || !state || !slots) {
        fail(w, "out of memory");
        goto out;
    }
    /* Only this thread adds or frees slots: the ones listed stay valid during the call. */
    pthread_mutex_lock(&w->slots_mu);
    for (df_wslot *s = w->slots; s && k < n; s = s->next) {
        if (s->lost)
            continue;
        slots[k] = s;
        ids[k] = s->id;
        claims[k++] = s->claim;
    }
    pthread_mutex_unlock(&w->slots_mu);
    if (k == 0)
        goto out;
    uint64_t before = df_mono_ms();
    int rc = df_store_work_renew(w->store, ids, claims, k, w->cfg.lease_ms, state);
    uint64_t now = df_mono_ms();
    char why[700];
    snprintf(why, sizeof why, "not renewed by its expiry (%s)",
             rc == DF_STORE_OK ? "" : df_store_error(w->store));
    pthread_mutex_lock(&w->slots_mu);
    for (size_t j = 0; j < k; j++) {
        df_wslot *s = slots[j];
        if (s->lost)
            continue; /* the watchdog gave it up meanwhile */
        if (rc != DF_STORE_OK) {
            /* Not renewed: once its lease has run out here, the attempt is someone else's. */
            if (now >= s->lease_until_mono)
                lose_slot(w, s, why);
        } else if (state[j] == 1) {
            lose_slot(w, s, "lost (expired or claimed again)");
        } else if (now >= s->lease_until_mono) {
            /* Renewed in the store, but the answer came after the lease ran out by this host's
             * clock: the watchdog may be cancelling it; give it up (the row expires). */
            lose_slot(w, s, "renewed only after its expiry here");
        } else {
            s->lease_until_mono = before + (uint64_t)w->cfg.lease_ms;
            if (state[j] == 2)
                cancel_slot(w, s);
        }
    }
    pthread_mutex_unlock(&w->slots_mu);
out:
    free(ids);
    free(claims);
    free(state);
    free(slots);
}

/* The watchdog thread: every DF_WORKER_WATCH_MS, gives up the attempts whose lease ran out by
 * this host's clock (the loop thread may be blocked in a store call that cannot renew them) and
 * escalates the kills of cancelled attempts' process groups. */
static void *watchdog(void *arg)
{
    df_worker *w = arg;
    pthread_mutex_lock(&w->slots_mu);
    while (!w->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += DF_WORKER_WATCH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->watch_cv, &w->slots_mu, &ts);
        uint64_t now = df_mono_ms();
        for (df_wslot *s = w->slots; s && !w->watch_stop; s = s->next)
            if (!s->lost && now >= s->lease_until_mono)
                lose_slot(w, s, "not renewed by its expiry (the database did not answer in time)");
        pthread_mutex_unlock(&w->slots_mu);
        df_proc_escalate();
        pthread_mutex_lock(&w->slots_mu);
    }
    pthread_mutex_unlock(&w->slots_mu);
    return NULL;
}

static void watchdog_stop(df_worker *w)
{
    if (!w->watch_started)
        return;
    pthread_mutex_lock(&w->slots_mu);
    w->watch_stop = true;
    pthread_cond_signal(&w->watch_cv);
    pthread_mutex_unlock(&w->slots_mu);
    pthread_join(w->watchdog, NULL);
    w->watch_started = false;
}

static void on_stop(uv_async_t *h)
{
    df_worker *w = h->data;
    if (atomic_load(&w->stops) >= 2 || w->n_slots == 0)
        uv_stop(&w->loop);
}

/* ---- public ---- */

int df_worker_open(const df_worker_config *cfg, df_worker **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->db || df_store_is_path(cfg->db)) {
        snprintf(err, errlen,
                 "worker: --db must be a PostgreSQL URI (postgresql://...): a SQLite file is "
                 "used by one engine on one host, which runs its tasks itself");
        return DF_EINPUT;
    }
    df_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return DF_ENOMEM;
    }
    w->cfg = *cfg;
    if (!w->cfg.concurrency)
        w->cfg.concurrency = 256;
    if (w->cfg.lease_ms <= 0)
        w->cfg.lease_ms = 15000;
    static const char *const def_queue[] = {"default"};
    const char *const *qs = cfg->n_queues ? cfg->queues : def_queue;
    w->cfg.n_queues = cfg->n_queues ? cfg->n_queues : 1;
    w->queues = calloc(w->cfg.n_queues, sizeof *w->queues);
    for (size_t k = 0; w->queues && k < w->cfg.n_queues; k++)
        w->queues[k] = strdup(qs[k]);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(w->name, sizeof w->name, "%s:%ld", host, (long)getpid());
    pthread_mutex_init(&w->inbox_mu, NULL);
    pthread_mutex_init(&w->slots_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    w->plugins = df_plugin_registry_new(cfg->plugin_dirs, cfg->n_plugin_dirs);
    if (w->plugins)
        df_plugin_registry_allow_insecure(w->plugins, cfg->allow_insecure_plugins);
    int rc = df_store_open(cfg->db, &w->store, err, errlen);
    /* A renewal sent into a network cut fails once the lease is gone anyway (see work.h). */
    if (rc == DF_STORE_OK &&
        (df_store_work_set_timeout(w->store, w->cfg.lease_ms < 1000 ? 1000 : w->cfg.lease_ms) !=
             DF_STORE_OK ||
         df_store_work_listen(w->store, "dagflow_work") != DF_STORE_OK)) {
        snprintf(err, errlen, "%s", df_store_error(w->store));
        rc = DF_ESTORE;
    }
    if (rc == DF_STORE_OK && (!w->plugins || !w->queues)) {
        snprintf(err, errlen, "out of memory");
        rc = DF_ENOMEM;
    }
    if (rc != DF_STORE_OK) {
        df_worker_close(w);
        return rc;
    }
    df_pool_config_default(&w->pool_cfg);
    if (cfg->workers_min)
        w->pool_cfg.workers_min = cfg->workers_min;
    if (cfg->workers_max)
        w->pool_cfg.workers_max = cfg->workers_max;
    if (w->pool_cfg.workers_max < w->pool_cfg.workers_min)
        w->pool_cfg.workers_max = w->pool_cfg.workers_min;
    if (cfg->stack_size)
        w->pool_cfg.stack_size = cfg->stack_size;
    w->pool_cfg.pass_env = cfg->pass_env;
    *out = w;
    return 0;
}

int df_worker_run(df_worker *w, char *err, size_t errlen)
{
    char perr[512];
    if (df_pool_create(&w->pool_cfg, on_pool_done, w, &w->pool, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "%s", perr);
        return DF_EINTERNAL;
    }
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->inbox_async, on_inbox);
    w->inbox_async.data = w;
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    w->stop_async.data = w;
    uv_timer_init(&w->loop, &w->renew);
    w->renew.data = w;
    uint64_t every = (uint64_t)w->cfg.lease_ms / 3;
    uv_timer_start(&w->renew, on_renew, every ? every : 1, every ? every : 1);
    uv_timer_init(&w->loop, &w->poll_timer);
    w->poll_timer.data = w;
    uv_timer_start(&w->poll_timer, on_poll_timer, 0, DF_WORKER_POLL_MS);
    uv_timer_init(&w->loop, &w->prune_timer);
    w->prune_timer.data = w;
    uv_timer_start(&w->prune_timer, on_prune, 0, DF_WORKER_PRUNE_MS);
    if (pthread_create(&w->watchdog, NULL, watchdog, w) != 0) {
        snprintf(err, errlen, "worker: cannot start the watchdog thread");
        return DF_EINTERNAL;
    }
    w->watch_started = true;
    wlog(w, "worker %s started: queues %zu, concurrency %zu, lease %lld ms", w->name,
         w->cfg.n_queues, w->cfg.concurrency, (long long)w->cfg.lease_ms);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Stopped: what is still in flight (a second stop, or a failure) is cancelled; its leases
     * expire and the engines queue those attempts again. */
    pthread_mutex_lock(&w->slots_mu);
    for (df_wslot *s = w->slots; s; s = s->next)
        cancel_slot(w, s);
    pthread_mutex_unlock(&w->slots_mu);
    if (w->fatal)
        snprintf(err, errlen, "%s", w->err);
    return w->fatal ? DF_ESTORE : 0;
}

void df_worker_stop(df_worker *w)
{
    atomic_fetch_add(&w->stops, 1);
    uv_async_send(&w->stop_async);
}

void df_worker_get_stats(const df_worker *w, df_worker_stats *out)
{
    *out = w->stats;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

size_t df_worker_close(df_worker *w)
{
    if (!w)
        return 0;
    size_t left = 0;
    if (w->pool) {
        watchdog_stop(w); /* before the pool goes: it cancels through it */
        left = df_pool_destroy(w->pool, DF_WORKER_STOP_GRACE_MS);
        uv_walk(&w->loop, close_handle, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    df_job_result *r = w->inbox_head;
    while (r) {
        df_job_result *next = r->next;
        df_job_result_free(r);
        r = next;
    }
    while (w->slots) {
        df_wslot *s = w->slots;
        w->slots = s->next;
        free(s->task_id);
        free(s);
    }
    df_store_close(w->store);
    if (w->plugins) {
        df_plugin_registry_left_behind(w->plugins, left);
        df_plugin_registry_free(w->plugins);
    }
    for (size_t k = 0; w->queues && k < w->cfg.n_queues; k++)
        free(w->queues[k]);
    free(w->queues);
    pthread_mutex_destroy(&w->inbox_mu);
    pthread_mutex_destroy(&w->slots_mu);
    pthread_cond_destroy(&w->watch_cv);
    free(w);
    return left;
}
