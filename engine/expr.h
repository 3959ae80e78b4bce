/* expr: conditions in jq syntax (SPEC §8 `when`), evaluated with libjq. The only module that
 * knows jq: the rest of the engine sees an opaque compiled expression and JSON (jansson) in.
 *
 * Behaviour follows jq's own (https://jqlang.github.io/jq/manual/): a program's first output is
 * its value; jq's truthiness (false and null are false, everything else true); no output counts
 * as false (SPEC §8). Pure computation: no I/O. Not thread-safe per expression (a jq_state
 * keeps its evaluation state): one thread evaluates a given expression at a time (the engine's). */
#ifndef DF_EXPR_H
#define DF_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct df_expr df_expr;

/* Compiles src (jq syntax). Returns a new expression (free with df_expr_free), or NULL with jq's
 * message (or "out of memory") written into err (at most errlen bytes, NUL-terminated). */
df_expr *df_expr_compile(const char *src, char *err, size_t errlen);

/* How long one evaluation may run before it is stopped (ms), and how often that is looked at. */
#define DF_EXPR_LIMIT_MS 5000
#define DF_EXPR_CHECK_MS 100

/* Evaluates e over input (borrowed). Returns 1 when the first output is neither false nor null,
 * 0 when it is false or null or there is no output, -1 on a run-time error (jq's message into
 * err), also when the evaluation ran past the limit (df_expr_set_limit_ms; a watchdog thread,
 * started at the first call, halts it: "jq: the condition did not finish within 5000 ms"). */
int df_expr_truthy(df_expr *e, const json_t *input, char *err, size_t errlen);

/* Sets the limit of one evaluation (ms; <= 0: DF_EXPR_LIMIT_MS), process-wide. For tests. */
void df_expr_set_limit_ms(int64_t ms);

/* The source text e was compiled from (borrowed). */
const char *df_expr_source(const df_expr *e);

/* Frees e; NULL is fine. */
void df_expr_free(df_expr *e);

#endif
