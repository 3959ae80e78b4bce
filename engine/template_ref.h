/* template_ref: the pieces of the ${...} syntax shared by template.c (see the grammar at its top):
 * reading a string's tokens, parsing one reference, and looking it up in a scope (template.h).
 * Internal to template.c and template_ref.c. Every function is pure apart from getenv (lookup of
 * ${env.NAME}) and thread-safe. */
#ifndef DF_TEMPLATE_REF_H
#define DF_TEMPLATE_REF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "template.h"

/* Longest reference text quoted in a message. */
#define QMAX 200

/* A small growable byte buffer (NUL-terminated once not empty); oom set on allocation failure,
 * after which puts are ignored. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

void df_tpl_sb_put(sbuf *b, const char *s, size_t len);

/* snprintf into err (errlen bytes; nothing when err is NULL). */
void df_tpl_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- tokens ---- */

typedef enum tok_kind { TOK_END, TOK_LIT, TOK_ESC, TOK_REF } tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *p; /* LIT: the text; ESC: points at "${" inside "$${"; REF: the text inside ${} */
    size_t len;
    const char *raw; /* REF: the whole "${...}" */
    size_t raw_len;
} tok;

/* Reads the token of s (len bytes) at *i and advances past it. Returns 0, or -1 with a message
 * for an unterminated "${". */
int df_tpl_next_tok(const char *s, size_t len, size_t *i, tok *t, char *err, size_t errlen);

/* ---- references ---- */

typedef enum ns { NS_PARAMS, NS_RUN, NS_TASK, NS_ENV, NS_TASKS, NS_ITEM, NS_ITEM_INDEX } ns;

typedef struct ref {
    const char *text; /* inside ${} */
    size_t len;
    ns ns;
    const char *name; /* params: NAME; run/task: the field; env: NAME; tasks: ID */
    size_t name_len;
    const char *keys; /* the KEY... part (dot-separated), or NULL */
    size_t keys_len;
    size_t keys_at; /* offset of keys in text (for messages) */
    char esc;       /* a DF_SH_* context letter when the reference is marked (shell script) */
} ref;

/* Parses the text inside ${ } (len bytes at t) into *r (pointing into t); with marks, a shell
 * context marker (template_shell.h) may lead it. Returns 0, or -1 with a message. */
int df_tpl_parse_ref(const char *t, size_t len, ref *r, bool marks, char *err, size_t errlen);

/* Whether the scope leaves this reference as written. */
bool df_tpl_deferred(const ref *r, const df_template_scope *sc);

/* Resolves one reference the scope does not defer. Returns a new reference, or NULL with a
 * message. */
json_t *df_tpl_lookup(const ref *r, const df_template_scope *sc, char *err, size_t errlen);

#endif
