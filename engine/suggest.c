/* suggest: owns the edit distance and the "did you mean" choice (see suggest.h). Compiled into
 * the engine and into each built-in plugin, so it uses nothing but the C library. */
#include "suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

static int same(char x, char y, unsigned opts)
{
    if (opts & DF_EDIT_FOLD_CASE)
        return tolower((unsigned char)x) == tolower((unsigned char)y);
    return x == y;
}

size_t df_edit_distance_opt(const char *a, const char *b, unsigned opts)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > DF_SUGGEST_MAX_LEN || lb > DF_SUGGEST_MAX_LEN)
        return SIZE_MAX;
    /* Three rolling rows: the one two back is needed for transpositions. Distances are at most
     * DF_SUGGEST_MAX_LEN, so 16 bits hold them (the rows stay small on a plugin's coroutine
     * stack). */
    uint16_t rows[3][DF_SUGGEST_MAX_LEN + 1];
    uint16_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (uint16_t)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (uint16_t)i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = same(a[i - 1], b[j - 1], opts) ? 0 : 1;
            size_t d = min3(prev[j] + 1u, cur[j - 1] + 1u, prev[j - 1] + cost);
            if ((opts & DF_EDIT_TRANSPOSE) && i > 1 && j > 1 && same(a[i - 1], b[j - 2], opts) &&
                same(a[i - 2], b[j - 1], opts) && prev2[j - 2] + 1u < d)
                d = prev2[j - 2] + 1u;
            cur[j] = (uint16_t)d;
        }
        uint16_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

size_t df_edit_distance(const char *a, const char *b)
{
    return df_edit_distance_opt(a, b, DF_EDIT_FOLD_CASE | DF_EDIT_TRANSPOSE);
}

void df_suggest_init(df_suggester *s, const char *word)
{
    size_t len = strlen(word);
    size_t limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    s->word = word;
    s->best = NULL;
    s->best_distance = SIZE_MAX;
    s->limit = len ? limit : 0;
}

void df_suggest_add(df_suggester *s, const char *candidate)
{
    if (!candidate || s->limit == 0 || strcmp(candidate, s->word) == 0)
        return;
    size_t la = strlen(s->word), lb = strlen(candidate);
    size_t diff = la > lb ? la - lb : lb - la;
    if (diff > s->limit) /* the distance is at least the length difference */
        return;
    size_t d = df_edit_distance(s->word, candidate);
    if (d <= s->limit && d < s->best_distance) {
        s->best = candidate;
        s->best_distance = d;
    }
}

const char *df_suggest_best(const df_suggester *s)
{
    return s->best;
}

const char *df_suggest(const char *word, const char *const *candidates, size_t n)
{
    df_suggester s;
    df_suggest_init(&s, word);
    for (size_t i = 0; i < n; i++)
        df_suggest_add(&s, candidates[i]);
    return df_suggest_best(&s);
}
