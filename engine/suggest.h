/* suggest: "did you mean" — finds the known word closest to a misspelt one (unknown keys, trigger
 * rules, pools, task ids in workflow files), and the one edit distance of dagflow: the CLI's
 * nearest command (engine/cli/main.c) and the built-in plugins' unknown keys
 * (plugins/common/plugin_util.c) use df_edit_distance_opt too.
 *
 * engine/suggest.c is also compiled into the built-in plugins (see hidden.h): every function here
 * has hidden visibility. */
#ifndef DF_SUGGEST_H
#define DF_SUGGEST_H

#include <stddef.h>

#include "hidden.h"

/* Strings longer than this many bytes are not compared (their distance is SIZE_MAX). */
#define DF_SUGGEST_MAX_LEN 256

/* Options of df_edit_distance_opt. */
enum {
    DF_EDIT_FOLD_CASE = 1, /* compare ASCII letters without regard to case */
    DF_EDIT_TRANSPOSE = 2, /* a transposition of two adjacent characters costs 1, not 2 */
};

/* Edit distance between a and b: insertions, deletions and substitutions each cost 1
 * (Levenshtein), and so do transpositions of two adjacent characters with DF_EDIT_TRANSPOSE
 * (optimal string alignment); opts is 0 or DF_EDIT_* values or'ed. SIZE_MAX when a or b is longer
 * than DF_SUGGEST_MAX_LEN bytes. Pure; thread-safe. */
DF_HIDDEN size_t df_edit_distance_opt(const char *a, const char *b, unsigned opts);

/* The distance of the "did you mean" searches below: df_edit_distance_opt(a, b,
 * DF_EDIT_FOLD_CASE | DF_EDIT_TRANSPOSE). Pure; thread-safe. */
DF_HIDDEN size_t df_edit_distance(const char *a, const char *b);

/* An incremental search for the closest candidate, for candidates that are not in an array
 * (e.g. the keys of a jansson object). Usage: df_suggest_init, df_suggest_add for each
 * candidate, df_suggest_best. All strings are borrowed and must outlive the search. */
typedef struct df_suggester {
    const char *word;
    const char *best;
    size_t best_distance;
    size_t limit; /* the largest distance still worth suggesting for this word */
} df_suggester;

DF_HIDDEN void df_suggest_init(df_suggester *s, const char *word);
DF_HIDDEN void df_suggest_add(df_suggester *s, const char *candidate);

/* The closest candidate added so far (the first one on ties), or NULL when none is close enough:
 * a candidate is suggested when its distance is at most max(1, strlen(word) / 3) (capped at 3)
 * and it is not identical to word. Borrowed. */
DF_HIDDEN const char *df_suggest_best(const df_suggester *s);

/* Convenience: the closest of n candidates, as above, or NULL. Borrowed. */
DF_HIDDEN const char *df_suggest(const char *word, const char *const *candidates, size_t n);

#endif
