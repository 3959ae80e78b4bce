/* json_kind: the words for a JSON value's type in messages ("an integer", "a string", ...), one
 * list for the loader's launch checks and the templates. */
#ifndef DF_JSON_KIND_H
#define DF_JSON_KIND_H

#include <jansson.h>

/* The JSON type of v in words with its article: "an object", "an array", "a string",
 * "an integer", "a number", "a boolean" or "null" (also for a NULL v). Returns a static string
 * (never NULL, never to be freed). Thread-safe (reads v only). */
const char *df_json_kind(const json_t *v);

#endif
