/* utf8_text: text of unknown encoding (a child's output, a file name) as a JSON string, each byte
 * that does not start a valid UTF-8 sequence replaced by U+FFFD, since JSON text is UTF-8 and
 * jansson refuses anything else (json_string returns NULL). engine/utf8_text.c is also compiled
 * into the built-in plugins (see hidden.h). */
#ifndef DF_UTF8_TEXT_H
#define DF_UTF8_TEXT_H

#include <jansson.h>
#include <stddef.h>

#include "hidden.h"

/* n bytes of s as a JSON string, each byte that does not start a valid UTF-8 sequence (overlong
 * forms, surrogates and code points past U+10FFFF are invalid; NUL is kept) replaced by U+FFFD.
 * New reference, or NULL when out of memory. Thread-safe. */
DF_HIDDEN json_t *df_text_json(const char *s, size_t n);

/* The same for a NUL-terminated string; NULL s gives JSON null. */
DF_HIDDEN json_t *df_text_json_str(const char *s);

#endif
