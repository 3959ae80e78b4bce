/* suggest: "did you mean" — finds the known word closest to a misspelt one (unknown keys, trigger
 * rules, pools, task ids in workflow files). */
#ifndef DF_SUGGEST_H
#define DF_SUGGEST_H

#include <stddef.h>

/* Edit distance between a and b (optimal string alignment: insertions, deletions, substitutions
 * and transpositions of two adjacent characters each cost 1), comparing ASCII letters without
 * regard to case. Strings longer than DF_SUGGEST_MAX_LEN bytes are not compared: the result is
 * then SIZE_MAX. Pure; thread-safe. */
#define DF_SUGGEST_MAX_LEN 256
size_t df_edit_distance(const char *a, const char *b);

/* An incremental search for the closest candidate, for candidates that are not in an array
 * (e.g. the keys of a jansson object). Usage: df_suggest_init, df_suggest_add for each
 * candidate, df_suggest_best. All strings are borrowed and must outlive the search. */
typedef struct df_suggester {
    const char *word;
    const char *best;
    size_t best_distance;
    size_t limit; /* the largest distance still worth suggesting for this word */
} df_suggester;

void df_suggest_init(df_suggester *s, const char *word);
void df_suggest_add(df_suggester *s, const char *candidate);

/* The closest candidate added so far (the first one on ties), or NULL when none is close enough:
 * a candidate is suggested when its distance is at most max(1, strlen(word) / 3) (capped at 3)
 * and it is not identical to word. Borrowed. */
const char *df_suggest_best(const df_suggester *s);

/* Convenience: the closest of n candidates, as above, or NULL. Borrowed. */
const char *df_suggest(const char *word, const char *const *candidates, size_t n);

#endif
