/* workflow_read: owns reading a workflow file's bytes (a file, or standard input) into memory,
 * with the cap on their size (DF_WORKFLOW_MAX_BYTES) and the refusal of a text with a NUL byte:
 * a file that is not JSON text (a sparse or corrupt file, a binary dropped in a served folder)
 * is refused from its size alone, or at its first NUL byte, instead of being read whole into
 * memory and reported as a JSON error "near end of file". */
#include "workflow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads all of f into a new buffer (*len bytes, NUL-terminated), at most max bytes. NULL with
 * errno set on failure (EFBIG: more than max bytes). */
static char *read_all(FILE *f, size_t max, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (ferror(f)) {
            int err = errno ? errno : EIO;
            free(buf);
            errno = err;
            return NULL;
        }
        if (n > max) {
            free(buf);
            errno = EFBIG;
            return NULL;
        }
        if (feof(f))
            break;
        if (n == cap - 1) {
            char *g = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!g) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = g;
            cap *= 2;
        }
    }
    if (!buf)
        return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* See workflow.h. */
char *df_workflow_read_text(FILE *f, const char *name, size_t *len, df_errlist *errs)
{
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uintmax_t)st.st_size > DF_WORKFLOW_MAX_BYTES) {
        df_errlist_add(errs,
                       "%s: the file is %jd bytes, over the cap of %zu bytes (1 GiB) for a "
                       "workflow file",
                       name, (intmax_t)st.st_size, (size_t)DF_WORKFLOW_MAX_BYTES);
        return NULL;
    }
    errno = 0;
    char *text = read_all(f, DF_WORKFLOW_MAX_BYTES, len);
    if (!text && errno == EFBIG) {
        df_errlist_add(errs, "%s: more than %zu bytes (1 GiB), the cap for a workflow file", name,
                       (size_t)DF_WORKFLOW_MAX_BYTES);
        return NULL;
    }
    if (!text) {
        df_errlist_add(errs, "%s: cannot read: %s", name, strerror(errno));
        return NULL;
    }
    const char *nul = memchr(text, '\0', *len);
    if (nul) {
        df_errlist_add(errs,
                       "%s: byte %zu is a NUL byte: this is not a JSON text file (a workflow "
                       "file is UTF-8 JSON)",
                       name, (size_t)(nul - text) + 1);
        free(text);
        return NULL;
    }
    return text;
}
