/* expr: jq conditions through libjq (see expr.h). The JSON input crosses from jansson to jq as
 * text (jansson dumps it, jq parses it): the two libraries share no value type, and a condition's
 * input is small (params, the run, the upstreams' results). */
#include "expr.h"

#include <jq.h>
#include <jv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    jq_start(e->jq, in, 0); /* takes in */
    jv out = jq_next(e->jq);
    int rc;
    if (jv_is_valid(out)) {
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
