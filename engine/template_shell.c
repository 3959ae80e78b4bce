/* template_shell: owns the quoting rules of a reference inside a /bin/sh script (SPEC §12), see
 * template_shell.h.
 *
 * The lexer follows POSIX sh's quoting (XCU 2.2 and 2.6.3) far enough to tell where a reference
 * stands: outside quotes (also inside $( )), inside double quotes, inside single quotes, or in a
 * comment. Places where no escaping keeps a value inert are refused, so that the workflow fails
 * to load instead of running something unexpected: inside backquotes (their contents are parsed
 * twice), inside a ${...} parameter expansion, inside an arithmetic expansion $(( )) (its text is
 * expanded as in double quotes whatever quotes it holds, then evaluated: a value "a[$(cmd)]"
 * runs cmd in bash, and a single-quoted word ran it in dash), anywhere after a $'...' string
 * (bash's ANSI-C quotes, where \' does not end the string: the shells' quoting differs after
 * it), in a here-document (a value line
 * equal to the delimiter would end it), and right after a backslash. Each escaped value
 * leaves the quoting state as it found it, so the state at a reference depends only on the
 * script's own text: it is found once, when the workflow is loaded. */
#include "template_shell.h"

#include <stdlib.h>
#include <string.h>

/* Frames: T the script, P $( ) or $(( )), D double quotes, S single quotes, B backquotes,
 * E ${ } (a parameter expansion). */
enum { F_TOP = 'T', F_PAREN = 'P', F_DQ = 'D', F_SQ = 'S', F_BQ = 'B', F_BRACE = 'E' };

bool df_sh_context_valid(char c)
{
    return c == DF_SH_WORD || c == DF_SH_DQ || c == DF_SH_SQ || c == DF_SH_COMMENT;
}

void df_sh_lex_init(df_sh_lexer *lx)
{
    memset(lx, 0, sizeof *lx);
    lx->frames[0] = F_TOP;
    lx->depth = 1;
    lx->word_start = true;
}

static unsigned char top(const df_sh_lexer *lx)
{
    return lx->frames[lx->depth - 1];
}

static void push(df_sh_lexer *lx, unsigned char f)
{
    if (lx->depth == DF_SH_DEPTH) {
        lx->overflow = true;
        return;
    }
    lx->frames[lx->depth] = f;
    lx->paren[lx->depth] = 0;
    lx->arith[lx->depth] = false;
    lx->depth++;
    lx->paren_fresh = f == F_PAREN;
    lx->prev = 0;
    lx->word_start = f == F_PAREN;
}

static void pop(df_sh_lexer *lx)
{
    if (lx->depth > 1)
        lx->depth--;
    lx->prev = 0;
    lx->word_start = false;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool ends_word(char c)
{
    return is_blank(c) || c == '\n' || strchr(";&|()<>", c) != NULL;
}

static void end_of_line(df_sh_lexer *lx)
{
    if (lx->heredoc == 2) {
        lx->heredoc = 3;
        lx->line_len = 0;
        lx->line_long = lx->line_tabs_done = false;
    } else if (lx->heredoc == 1) {
        lx->heredoc = 0; /* "<<" without a word: the shell's own syntax error */
    }
}

/* A character of a here-document's body: a line equal to the delimiter ends it. */
static void body_char(df_sh_lexer *lx, char c)
{
    if (c == '\n') {
        if (!lx->line_long && lx->line_len == lx->delim_len &&
            memcmp(lx->line, lx->delim, lx->delim_len) == 0)
            lx->heredoc = 0;
        lx->line_len = 0;
        lx->line_long = lx->line_tabs_done = false;
        return;
    }
    if (lx->heredoc_tabs && !lx->line_tabs_done && c == '\t')
        return;
    lx->line_tabs_done = true;
    if (lx->line_len < sizeof lx->line - 1)
        lx->line[lx->line_len++] = c;
    else
        lx->line_long = true;
}

static void delim_add(df_sh_lexer *lx, char c)
{
    if (lx->delim_len < sizeof lx->delim - 1)
        lx->delim[lx->delim_len++] = c;
    else
        lx->overflow = true;
}

/* A character after "<<": the delimiter word (quotes removed). Returns true when consumed. */
static bool delim_char(df_sh_lexer *lx, char c)
{
    if (!lx->delim_started) {
        if (c == '-' && lx->prev == '<' && !lx->heredoc_tabs) {
            lx->heredoc_tabs = true;
            lx->prev = '-';
            return true;
        }
        if (is_blank(c))
            return true;
        lx->delim_started = true;
    }
    if (lx->delim_quote_s) {
        if (c == '\'')
            lx->delim_quote_s = false;
        else
            delim_add(lx, c);
        return true;
    }
    if (lx->delim_quote_d) {
        if (c == '"')
            lx->delim_quote_d = false;
        else if (c != '\\')
            delim_add(lx, c);
        return true;
    }
    if (c == '\'' || c == '"') {
        lx->delim_quote_s = c == '\'';
        lx->delim_quote_d = c == '"';
        return true;
    }
    if (c == '\\')
        return true;
    if (ends_word(c)) {
        lx->heredoc = 2;
        return false;
    }
    delim_add(lx, c);
    return true;
}

/* A character inside a comment: a newline ends it. */
static void comment_char(df_sh_lexer *lx, char c)
{
    if (c == '\n') {
        lx->comment = false;
        end_of_line(lx);
        lx->word_start = true;
    }
}

/* The second "<" of "<<": a here-document's delimiter word follows. */
static void heredoc_open(df_sh_lexer *lx)
{
    if (lx->heredoc != 0)
        lx->overflow = true; /* a second here-document on one line */
    lx->heredoc = 1;
    lx->heredoc_tabs = lx->delim_started = false;
    lx->delim_quote_s = lx->delim_quote_d = false;
    lx->delim_len = 0;
    lx->prev = '<';
    lx->word_start = true;
}

/* A character outside quotes (the script, $( ), or ${ }). */
static void unquoted(df_sh_lexer *lx, char c, bool fresh)
{
    unsigned char f = top(lx);
    if (lx->comment) {
        comment_char(lx, c);
        return;
    }
    if (lx->heredoc == 1 && delim_char(lx, c))
        return;
    bool start = ends_word(c);
    switch (c) {
    case '\\':
        lx->escape = true;
        break;
    case '\'':
        if (lx->prev == '$')
            lx->ansi = true;
        push(lx, F_SQ);
        return;
    case '"':
        push(lx, F_DQ);
        return;
    case '`':
        push(lx, F_BQ);
        return;
    case '(':
        if (lx->prev == '$') {
            push(lx, F_PAREN);
            return;
        }
        if (f == F_PAREN) {
            if (fresh) /* "$((": its "))" closes it as "( )" inside "$( )" would */
                lx->arith[lx->depth - 1] = true;
            lx->paren[lx->depth - 1]++;
        }
        break;
    case ')':
        if (f == F_PAREN) {
            if (lx->paren[lx->depth - 1] == 0) {
                pop(lx);
                return;
            }
            lx->paren[lx->depth - 1]--;
        }
        break;
    case '{':
        if (lx->prev == '$') {
            push(lx, F_BRACE);
            return;
        }
        break;
    case '}':
        if (f == F_BRACE) {
            pop(lx);
            return;
        }
        break;
    case '#':
        if (lx->word_start && f != F_BRACE) {
            lx->comment = true;
            return;
        }
        break;
    case '<':
        if (lx->prev == '<' && f != F_BRACE) {
            heredoc_open(lx);
            return;
        }
        break;
    case '\n':
        end_of_line(lx);
        break;
    }
    lx->word_start = start;
    lx->prev = c;
}

static void step(df_sh_lexer *lx, char c)
{
    bool fresh = lx->paren_fresh;
    lx->paren_fresh = false;
    if (lx->heredoc == 3) {
        body_char(lx, c);
        return;
    }
    if (lx->escape) {
        lx->escape = false;
        lx->prev = 0;
        lx->word_start = false;
        return;
    }
    switch (top(lx)) {
    case F_SQ:
        if (c == '\'')
            pop(lx);
        return;
    case F_BQ:
        if (c == '\\')
            lx->escape = true;
        else if (c == '`')
            pop(lx);
        return;
    case F_DQ:
        if (c == '\\')
            lx->escape = true;
        else if (c == '"')
            pop(lx);
        else if (c == '`')
            push(lx, F_BQ);
        else if (c == '(' && lx->prev == '$')
            push(lx, F_PAREN);
        else if (c == '{' && lx->prev == '$')
            push(lx, F_BRACE);
        else
            lx->prev = c;
        return;
    default:
        unquoted(lx, c, fresh);
    }
}

void df_sh_lex_feed(df_sh_lexer *lx, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        step(lx, s[i]);
}

char df_sh_lex_context(const df_sh_lexer *lx, const char **why)
{
    if (lx->overflow) {
        *why = "the script nests quotes, substitutions or here-documents beyond what dagflow "
               "follows";
        return 0;
    }
    if (lx->heredoc == 3) {
        *why = "inside a here-document (pass the value with \"stdin\" or \"env\" instead)";
        return 0;
    }
    if (lx->heredoc == 1) {
        *why = "in a here-document's delimiter";
        return 0;
    }
    if (lx->ansi) {
        *why = "after a $'...' string (bash reads a backslash there as an escape, dash does not, "
               "so the quoting that follows differs)";
        return 0;
    }
    if (lx->escape) {
        *why = "right after a backslash";
        return 0;
    }
    for (unsigned i = 0; i < lx->depth; i++)
        if (lx->frames[i] == F_BQ) {
            *why = "inside backquotes (write $(...) instead)";
            return 0;
        }
    for (unsigned i = 0; i < lx->depth; i++)
        if (lx->frames[i] == F_PAREN && lx->arith[i]) {
            *why = "inside an arithmetic expansion $((...)), whose text the shell evaluates "
                   "(pass the value with \"env\" and check it is a number first)";
            return 0;
        }
    switch (top(lx)) {
    case F_BRACE:
        *why = "inside a ${...} parameter expansion (assign the value to a variable first)";
        return 0;
    case F_SQ:
        return DF_SH_SQ;
    case F_DQ:
        return DF_SH_DQ;
    default:
        return lx->comment ? DF_SH_COMMENT : DF_SH_WORD;
    }
}

void df_sh_lex_value(df_sh_lexer *lx)
{
    lx->word_start = false;
    lx->prev = 0;
}

char *df_sh_escape(char ctx, const char *s, size_t len, size_t *out_len)
{
    /* At most 4 bytes out per byte in ('\'' for '), plus the two quotes of a word. */
    char *out = malloc(len * 4 + 3);
    if (!out)
        return NULL;
    size_t n = 0;
    if (ctx == DF_SH_WORD)
        out[n++] = '\'';
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((ctx == DF_SH_WORD || ctx == DF_SH_SQ) && c == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
            continue;
        }
        if (ctx == DF_SH_DQ && (c == '\\' || c == '"' || c == '$' || c == '`'))
            out[n++] = '\\';
        if (ctx == DF_SH_COMMENT && c == '\n')
            c = ' ';
        out[n++] = c;
    }
    if (ctx == DF_SH_WORD)
        out[n++] = '\'';
    out[n] = '\0';
    *out_len = n;
    return out;
}
