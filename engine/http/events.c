/* http/events: GET /api/v1/runs/ID/events?after=SEQ&wait_ms=N (SPEC §9), the long poll of live
 * pages. It runs on the request's own connection thread: it reads the run's events after SEQ
 * with a reader engine (given back between looks), and while there are none, the run is not
 * final and wait_ms has not passed, it waits on the server's condition variable, which
 * df_http_notify (an engine's on_event) signals, looking at the store again at least every
 * DF_HTTP_POLL_MS ms in any case (events written by another process wake no one here). So a new
 * event is answered within DF_HTTP_POLL_MS plus one read, and no engine thread is held. */
#include "http_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool final_run(const json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "state"));
    return s && (strcmp(s, "SUCCESS") == 0 || strcmp(s, "FAILED") == 0 ||
                 strcmp(s, "INVALID") == 0 || strcmp(s, "CANCELLED") == 0);
}

/* Waits until df_http_notify is called after gen was read, ms pass, or the server stops. */
static void wait_notify(df_http *h, unsigned long long gen, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->notify_mu);
    while (h->gen == gen && !h->stopping)
        if (pthread_cond_timedwait(&h->notify_cond, &h->notify_mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&h->notify_mu);
}

/* One look at the store: the events after `after`. NULL and a reply on an error. */
static json_t *look(df_http *h, long long run_id, long long after, df_http_reply *rep)
{
    df_errlist errs = {0};
    json_t *o = NULL;
    df_engine *e = df_http_reader_take(h);
    int rc = df_engine_run_events(e, run_id, after, 1000, &o, &errs);
    df_http_reader_give(h, e);
    if (rc)
        df_http_error_code(rep, rc, &errs);
    df_errlist_clear(&errs);
    return o;
}

void df_http_get_events(const df_http_req *r, df_http_reply *rep, long long run_id)
{
    long long after, wait_ms;
    if (df_http_int_arg(r, rep, "after", 0, INT64_MAX, 0, &after) ||
        df_http_int_arg(r, rep, "wait_ms", 0, DF_HTTP_MAX_WAIT_MS, 0, &wait_ms))
        return;
    df_http *h = r->h;
    int64_t deadline = mono_ms() + wait_ms;
    for (;;) {
        pthread_mutex_lock(&h->notify_mu);
        unsigned long long gen = h->gen;
        bool stopping = h->stopping;
        pthread_mutex_unlock(&h->notify_mu);
        json_t *o = look(h, run_id, after, rep);
        if (!o)
            return;
        int64_t left = deadline - mono_ms();
        if (json_array_size(json_object_get(o, "events")) > 0 || final_run(o) || left <= 0 ||
            stopping) {
            json_object_del(o, "run_id");
            json_object_del(o, "state");
            df_http_json(rep, 200, o);
            return;
        }
        json_decref(o);
        wait_notify(h, gen, left < DF_HTTP_POLL_MS ? left : DF_HTTP_POLL_MS);
    }
}
