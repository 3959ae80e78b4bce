/* workflow_stream: a workflow file parsed as a stream (issue 14), so that a big file's tasks are
 * never all in memory as JSON at once. yajl reads the text; jansson values are built for
 * everything but the elements of the top-level object's "tasks" array, which are built one at a
 * time, handed to a callback and freed. A million-task file then costs one task's JSON at a time
 * instead of ~0.9 GB of jansson nodes.
 *
 * The stream accepts exactly what json_loadb(JSON_REJECT_DUPLICATES) accepts, or gives up: on a
 * syntax error, a duplicate key, a "\u0000", a number jansson would refuse, or nesting deeper
 * than jansson's limit, or a form feed or vertical tab in the text (yajl takes them for whitespace
 * between tokens, JSON does not; inside a string they are invalid anyway) it returns -1 and the
 * caller parses the text with jansson, whose message (line and column) is the one users see. See
 * workflow_loader.h. */
#include "workflow_loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define STREAM_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct builder {
    json_t *stack[STREAM_MAX_DEPTH];
    size_t depth;
    json_t *root;
    json_t *tasks; /* the top-level "tasks" array (kept empty), or NULL */
    char *key;     /* the pending object key (owned), or NULL */
    size_t n;      /* tasks delivered */
    df_wfl_task_fn fn;
    void *ctx;
    bool failed;
} builder;

/* Whether the value being built now is an element of the tasks array. */
static bool in_tasks(const builder *b)
{
    return b->tasks && b->depth == 2 && b->stack[1] == b->tasks;
}

/* Hands a finished task element (owned) to the callback and frees it. */
static int deliver(builder *b, json_t *v)
{
    size_t i = b->n++;
    int rc = b->fn ? b->fn(b->ctx, i, v) : 0;
    json_decref(v);
    if (rc != 0)
        b->failed = true;
    return rc == 0;
}

/* Places a new value (owned) under its parent, or delivers it; a container is also pushed.
 * Returns 1 to go on, 0 to stop the parse. */
static int add(builder *b, json_t *v, bool container)
{
    if (!v || (container && b->depth >= STREAM_MAX_DEPTH)) {
        json_decref(v);
        b->failed = true;
        return 0;
    }
    if (b->depth == 0) {
        if (!json_is_object(v)) { /* only documents that are objects are streamed */
            json_decref(v);
            b->failed = true;
            return 0;
        }
        b->root = v;
    } else if (in_tasks(b)) {
        if (!container)
            return deliver(b, v);
    } else {
        json_t *parent = b->stack[b->depth - 1];
        if (json_is_object(parent)) {
            int bad = 0;
            if (!b->key || json_object_get(parent, b->key)) {
                json_decref(v); /* a duplicate key: jansson's message */
                bad = 1;
            } else if (json_object_set_new(parent, b->key, v) != 0) {
                bad = 1; /* out of memory (v is freed) */
            } else if (b->depth == 1 && strcmp(b->key, "tasks") == 0 && json_is_array(v)) {
                b->tasks = v;
            }
            free(b->key);
            b->key = NULL;
            if (bad) {
                b->failed = true;
                return 0;
            }
        } else if (json_array_append_new(parent, v) != 0) {
            b->failed = true;
            return 0;
        }
    }
    if (container)
        b->stack[b->depth++] = v;
    return 1;
}

static int on_null(void *ctx)
{
    return add(ctx, json_null(), false);
}

static int on_boolean(void *ctx, int v)
{
    return add(ctx, json_boolean(v), false);
}

/* A number as jansson reads it: an integer unless it has a fraction or an exponent; out of
 * range (jansson's "too big integer", "real number overflow") gives up. */
static int on_number(void *ctx, const char *s, size_t len)
{
    char buf[512];
    if (len >= sizeof buf) {
        ((builder *)ctx)->failed = true;
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    json_t *v;
    if (strpbrk(buf, ".eE")) {
        double d = strtod(buf, NULL);
        v = errno == ERANGE && d != 0 ? NULL : json_real(d);
    } else {
        long long i = strtoll(buf, NULL, 10);
        v = errno == ERANGE ? NULL : json_integer((json_int_t)i);
    }
    return add(ctx, v, false);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    if (memchr(s, '\0', len)) { /* jansson refuses "\u0000" without JSON_ALLOW_NUL */
        ((builder *)ctx)->failed = true;
        return 0;
    }
    return add(ctx, json_stringn((const char *)s, len), false);
}

static int on_start_map(void *ctx)
{
    return add(ctx, json_object(), true);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    free(b->key);
    b->key = NULL;
    if (memchr(s, '\0', len) || !(b->key = strndup((const char *)s, len))) {
        b->failed = true;
        return 0;
    }
    return 1;
}

/* The end of an object or array: a finished task element is delivered. */
static int on_end(void *ctx)
{
    builder *b = ctx;
    json_t *v = b->stack[--b->depth];
    if (in_tasks(b))
        return deliver(b, v);
    return 1;
}

static int on_start_array(void *ctx)
{
    return add(ctx, json_array(), true);
}

static const yajl_callbacks callbacks = {.yajl_null = on_null,
                                         .yajl_boolean = on_boolean,
                                         .yajl_number = on_number,
                                         .yajl_string = on_string,
                                         .yajl_start_map = on_start_map,
                                         .yajl_map_key = on_map_key,
                                         .yajl_end_map = on_end,
                                         .yajl_start_array = on_start_array,
                                         .yajl_end_array = on_end};

/* See workflow_loader.h. */
int df_wfl_stream(const char *text, size_t len, json_t **skeleton, size_t *n_tasks,
                  df_wfl_task_fn fn, void *ctx)
{
    if (skeleton)
        *skeleton = NULL;
    if (memchr(text, '\f', len) || memchr(text, '\v', len))
        return -1;
    builder *b = calloc(1, sizeof *b);
    yajl_handle h = b ? yajl_alloc(&callbacks, NULL, b) : NULL;
    if (!h) {
        free(b);
        return -1;
    }
    b->fn = fn;
    b->ctx = ctx;
    bool ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
              yajl_complete_parse(h) == yajl_status_ok && !b->failed && b->root && b->depth == 0;
    yajl_free(h);
    if (b->depth > 2 && b->tasks && b->stack[1] == b->tasks)
        json_decref(b->stack[2]); /* an unfinished task element is no one's child */
    free(b->key);
    if (ok && !b->tasks) /* no tasks array to stream: jansson's path is as good */
        ok = false;
    if (ok && skeleton)
        *skeleton = json_incref(b->root);
    if (ok && n_tasks)
        *n_tasks = b->n;
    json_decref(b->root);
    free(b);
    return ok ? 0 : -1;
}
