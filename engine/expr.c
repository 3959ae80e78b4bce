/* expr: jq conditions through libjq (see expr.h). The JSON input crosses from jansson to jq as
 * text (jansson dumps it, jq parses it): the two libraries share no value type, and a condition's
 * input is small (params, the run, the upstreams' results). */
#include "expr.h"

#include <jq.h>
#include <jv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

struct df_expr {
    jq_state *jq;
    char *src;
    char msg[512]; /* the last message jq reported (compile errors come through the callback) */
};

/* jq's error callback: keeps the first message of a compilation, on one line (jq quotes the
 * program on a line of its own). */
static void on_error(void *data, jv msg)
{
    df_expr *e = data;
    if (!e->msg[0] && jv_get_kind(msg) == JV_KIND_STRING) {
        snprintf(e->msg, sizeof e->msg, "%s", jv_string_value(msg));
        for (char *p = e->msg; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        size_t n = strlen(e->msg);
        while (n > 0 && e->msg[n - 1] == ' ')
            e->msg[--n] = '\0';
    }
    jv_free(msg);
}

/* ---- the watchdog: a condition that does not end is halted ----
 * jq has no interrupt: a condition such as `last(range(1e10))` or `repeat(.)` ran on the engine
 * thread for ever (no heartbeat, no reaction to SIGTERM, every run of a serve stopped). One
 * thread per process looks every DF_EXPR_CHECK_MS at the evaluation in progress (only the
 * engine thread evaluates, one at a time) and halts one that has run DF_EXPR_LIMIT_MS with
 * jq_halt: libjq 1.6 (Debian 12) checks the halt flag before each instruction, so jq_next
 * returns at once; a libjq that checks it only between outputs still ends at the next one. */

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t wd_once = PTHREAD_ONCE_INIT;
static bool wd_running;
static jq_state *wd_jq;  /* the evaluation in progress, or NULL */
static int64_t wd_since; /* when it started (df_mono_ms) */
static int64_t wd_limit_ms = DF_EXPR_LIMIT_MS;

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = DF_EXPR_CHECK_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&wd_mu);
        if (wd_jq && (int64_t)df_mono_ms() - wd_since >= wd_limit_ms && !jq_halted(wd_jq))
            /* invalid values hold no memory: libjq 1.6's jq_reset frees the two without
             * clearing them, so anything allocated here would be freed twice by a later reset */
            jq_halt(wd_jq, jv_invalid(), jv_invalid());
        pthread_mutex_unlock(&wd_mu);
    }
    return NULL;
}

static void start_watchdog(void)
{
    pthread_t t;
    pthread_attr_t a;
    if (pthread_attr_init(&a) != 0)
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    wd_running = pthread_create(&t, &a, watchdog, NULL) == 0;
    pthread_attr_destroy(&a);
}

void df_expr_set_limit_ms(int64_t ms)
{
    pthread_mutex_lock(&wd_mu);
    wd_limit_ms = ms > 0 ? ms : DF_EXPR_LIMIT_MS;
    pthread_mutex_unlock(&wd_mu);
}

/* Marks jq as the evaluation in progress (NULL: none); returns whether it was halted. */
static bool watch(jq_state *jq)
{
    pthread_once(&wd_once, start_watchdog);
    pthread_mutex_lock(&wd_mu);
    bool halted = wd_jq && jq_halted(wd_jq);
    wd_jq = jq;
    wd_since = (int64_t)df_mono_ms();
    pthread_mutex_unlock(&wd_mu);
    return halted;
}

df_expr *df_expr_compile(const char *src, char *err, size_t errlen)
{
    df_expr *e = calloc(1, sizeof *e);
    if (!e || !(e->src = strdup(src)) || !(e->jq = jq_init())) {
        snprintf(err, errlen, "out of memory");
        df_expr_free(e);
        return NULL;
    }
    jq_set_error_cb(e->jq, on_error, e);
    if (!jq_compile(e->jq, src)) {
        snprintf(err, errlen, "%s", e->msg[0] ? e->msg : "the jq expression does not compile");
        df_expr_free(e);
        return NULL;
    }
    return e;
}

int df_expr_truthy(df_expr *e, const json_t *input, char *err, size_t errlen)
{
    char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    jv in = jv_parse(text);
    free(text);
    if (!jv_is_valid(in)) {
        jv_free(in);
        snprintf(err, errlen, "cannot hand the input to jq");
        return -1;
    }
    e->msg[0] = '\0';
    jq_start(e->jq, in, 0); /* takes in (and clears a halt of an earlier evaluation) */
    watch(e->jq);
    jv out = jq_next(e->jq);
    bool halted = watch(NULL);
    int rc;
    if (halted) {
        jv_free(out);
        snprintf(err, errlen,
                 "jq: the condition did not finish within %lld ms and was stopped (a loop?)",
                 (long long)wd_limit_ms);
        rc = -1;
    } else if (jv_is_valid(out)) {
        jv_kind k = jv_get_kind(out);
        rc = k != JV_KIND_FALSE && k != JV_KIND_NULL;
        jv_free(out);
    } else if (jv_invalid_has_msg(jv_copy(out))) {
        jv m = jv_invalid_get_msg(out); /* takes out */
        if (jv_get_kind(m) == JV_KIND_STRING) {
            snprintf(err, errlen, "jq: %s", jv_string_value(m));
        } else {
            jv s = jv_dump_string(jv_copy(m), 0);
            snprintf(err, errlen, "jq: %s (not a string)", jv_string_value(s));
            jv_free(s);
        }
        jv_free(m);
        rc = -1;
    } else {
        jv_free(out);
        rc = 0; /* no output: false (SPEC §8) */
    }
    return rc;
}

const char *df_expr_source(const df_expr *e)
{
    return e->src;
}

void df_expr_free(df_expr *e)
{
    if (!e)
        return;
    if (e->jq)
        jq_teardown(&e->jq);
    free(e->src);
    free(e);
}
