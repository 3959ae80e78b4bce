/* errlist: owns the growing list of error messages (see errlist.h). */
#include "errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char oom_msg[] = "out of memory";

void df_errlist_add(df_errlist *l, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **m = realloc(l->msgs, cap * sizeof *m);
        if (!m) {
            free(msg);
            if (l->n > 0)
                l->msgs[l->n - 1] = oom_msg;
            return;
        }
        l->msgs = m;
        l->cap = cap;
    }
    l->msgs[l->n++] = msg ? msg : oom_msg;
}

void df_errlist_clear(df_errlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->msgs[i] != oom_msg)
            free(l->msgs[i]);
    free(l->msgs);
    memset(l, 0, sizeof *l);
}

const char *df_utf8_cut(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n < len)
        return s;
    if (len < 4)
        return "";
    size_t keep = len - 4; /* room for "..." and the NUL */
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* do not split a multi-byte character */
    memcpy(buf, s, keep);
    memcpy(buf + keep, "...", 4);
    return buf;
}
