/* utf8_text: owns the replacement of invalid UTF-8 in text made into JSON strings (see
 * utf8_text.h); also compiled into the built-in plugins. */
#include "utf8_text.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0)
        return 0; /* surrogate */
    if (c == 0xF0 && s[1] < 0x90)
        return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90)
        return 0; /* beyond U+10FFFF */
    return len;
}

/* See utf8_text.h. */
json_t *df_text_json(const char *data, size_t n)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(s + i, n - i);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(data, n);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

/* See utf8_text.h. */
json_t *df_text_json_str(const char *s)
{
    return s ? df_text_json(s, strlen(s)) : json_null();
}
