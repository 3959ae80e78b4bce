/* output: how `dagflow` writes — `dagflow: ` error lines (task text made safe for a terminal),
 * JSON on stdout, durations and the store's ISO times, and aligned text tables. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Length of the valid UTF-8 sequence starting at p (1..4), or 0 when p does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void df_cli_sanitize(char *s)
{
    if (!s)
        return;
    unsigned char *r = (unsigned char *)s, *w = r;
    while (*r) {
        unsigned char c = *r;
        if (c < 0x20 || c == 0x7f) {
            *w++ = (c >= '\t' && c <= '\r') ? ' ' : '?';
            r++;
            continue;
        }
        size_t n = utf8_len(r);
        if (n == 0) {
            *w++ = '?';
            r++;
        } else if (n == 2 && c == 0xC2 && r[1] < 0xA0) {
            *w++ = '?'; /* C1 control U+0080..U+009F */
            r += 2;
        } else {
            memmove(w, r, n);
            w += n;
            r += n;
        }
    }
    *w = '\0';
}

static void print_error_line(const char *msg)
{
    /* Messages may carry task or plugin output (an error, a validate message): sanitized. */
    char *copy = strdup(msg);
    fputs("dagflow: ", stderr);
    if (copy) {
        df_cli_sanitize(copy);
        fputs(copy, stderr);
        free(copy);
    } else {
        for (const char *p = msg; *p; p++)
            fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, stderr);
    }
    fputc('\n', stderr);
}

void df_cli_error(const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    print_error_line(n < 0 ? "out of memory" : msg);
    free(msg);
}

void df_cli_print_errlist(const df_errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error_line(errs->msgs[i]);
}

int df_cli_print_json(const json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text) {
        df_cli_error("out of memory");
        return -1;
    }
    int rc = (puts(text) == EOF || fflush(stdout) != 0) ? -1 : 0;
    free(text);
    if (rc)
        df_cli_error("cannot write to stdout: %s", strerror(errno));
    return rc;
}

char *df_cli_format_duration(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 1000)
        snprintf(buf, len, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, len, "%.1fs", (double)(ms / 100) / 10.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    return buf;
}

int df_cli_parse_time(const char *iso, int64_t *ms)
{
    if (!iso)
        return -1;
    struct tm tm = {0};
    const char *p = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*p == 'Z')
        p++;
    if (*p != '\0')
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

const char *df_cli_json_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

long long df_cli_json_int(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

/* Milliseconds since the epoch, now. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t df_cli_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *df_cli_duration_text(const json_t *obj, bool live, char *buf, size_t len)
{
    json_t *d = json_object_get(obj, "duration_ms");
    int64_t start, end;
    if (json_is_integer(d)) {
        df_cli_format_duration(json_integer_value(d), buf, len);
    } else if (df_cli_parse_time(df_cli_json_str(obj, "started_at", NULL), &start) != 0) {
        snprintf(buf, len, "-");
    } else if (df_cli_parse_time(df_cli_json_str(obj, "ended_at", NULL), &end) == 0) {
        df_cli_format_duration(end - start, buf, len);
    } else if (live) {
        char t[32];
        int64_t now = now_ms();
        snprintf(buf, len, "running for %s",
                 df_cli_format_duration(now > start ? now - start : 0, t, sizeof t));
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

/* ---- Tables ------------------------------------------------------------------------------- */

struct df_cli_table {
    size_t ncols;
    size_t nrows; /* including the header row */
    size_t cap;
    char **cells; /* nrows * ncols, row-major */
};

df_cli_table *df_cli_table_new(size_t ncols, const char *const *headers)
{
    df_cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (df_cli_table_add(t, headers) != 0) {
        df_cli_table_free(t);
        return NULL;
    }
    return t;
}

int df_cli_table_add(df_cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
        df_cli_sanitize(row[i]); /* cells may hold task output (errors) */
    }
    t->nrows++;
    return 0;
}

/* Width of a sanitized cell in characters: its UTF-8 code points (continuation bytes do not
 * count). */
static size_t cell_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void df_cli_table_print(const df_cli_table *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t l = cell_width(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols)
                fprintf(out, "%s\n", cell);
            else
                fprintf(out, "%s%*s  ", cell, (int)(w[c] - cell_width(cell)), "");
        }
    }
    free(w);
}

void df_cli_table_free(df_cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int df_cli_table_finish(df_cli_table *t, bool ok)
{
    if (t && ok)
        df_cli_table_print(t, stdout);
    df_cli_table_free(t);
    if (t && ok)
        return DF_EXIT_OK;
    df_cli_error("out of memory");
    return DF_EXIT_INTERNAL;
}

/* ---- The resume command ------------------------------------------------------------------- */

/* The text of df_cli_resume_args: written by it, read by anyone after (the crash handler too). */
static char resume_args[2048];

/* Appends s to resume_args single-quoted for a POSIX shell ('\'' for a quote). */
static void append_quoted(size_t *n, const char *s)
{
    size_t cap = sizeof resume_args;
    if (*n + 2 >= cap)
        return;
    resume_args[(*n)++] = '\'';
    for (; *s && *n + 6 < cap; s++) {
        if (*s == '\'') {
            memcpy(resume_args + *n, "'\\''", 4);
            *n += 4;
        } else {
            resume_args[(*n)++] = *s;
        }
    }
    resume_args[(*n)++] = '\'';
    resume_args[*n] = '\0';
}

static void append_option(size_t *n, const char *opt, const char *value)
{
    size_t len = strlen(opt);
    if (*n + len + 2 >= sizeof resume_args)
        return;
    memcpy(resume_args + *n, opt, len);
    *n += len;
    resume_args[(*n)++] = ' ';
    resume_args[*n] = '\0';
    append_quoted(n, value);
}

const char *df_cli_resume_args(const df_cli *cli)
{
    size_t n = 0;
    resume_args[0] = '\0';
    if (cli->db_path && strcmp(cli->db_path, "./dagflow.db") != 0)
        append_option(&n, " --db", cli->db_path);
    for (size_t i = 0; i < cli->n_plugin_dirs; i++)
        append_option(&n, " --plugin-dir", cli->plugin_dirs[i]);
    return resume_args;
}
