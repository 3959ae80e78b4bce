/* template_shell: where a ${...} reference stands in a /bin/sh script, and how its value is
 * escaped there (SPEC §12). Used by template.c: df_template_mark_shell records each reference's
 * place in the script as a marker inside the reference, and df_template_resolve escapes the
 * value for that place. */
#ifndef DF_TEMPLATE_SHELL_H
#define DF_TEMPLATE_SHELL_H

#include <stdbool.h>
#include <stddef.h>

/* A marked reference is written "${" DF_SH_MARK CTX REF "}", where CTX is one of the letters
 * below. A workflow cannot write it: a reference with a control character is a syntax error. */
#define DF_SH_MARK '\x01'
#define DF_SH_WORD 'w'    /* outside quotes: one single-quoted word */
#define DF_SH_DQ 'd'      /* inside double quotes: \ " $ ` escaped with a backslash */
#define DF_SH_SQ 's'      /* inside single quotes: ' written as '\'' */
#define DF_SH_COMMENT 'c' /* inside a comment: newlines become spaces */

/* True when c is one of the context letters above. */
bool df_sh_context_valid(char c);

/* The lexer: follows the quoting state of a script read left to right. Its frames are the
 * nested quotes and substitutions the position is in. */
#define DF_SH_DEPTH 64
typedef struct df_sh_lexer {
    unsigned char frames[DF_SH_DEPTH];
    unsigned paren[DF_SH_DEPTH]; /* open "(" in a $( ) frame */
    bool arith[DF_SH_DEPTH];     /* the $( ) frame is an arithmetic expansion $(( )) */
    bool ansi;        /* a $'...' was seen: bash and dash read the rest of the script differently */
    bool paren_fresh; /* a $( ) frame was just opened: a "(" now makes it $(( )) */
    unsigned depth;
    bool escape;     /* the previous character was an unquoted or double-quoted backslash */
    bool word_start; /* the next character starts a word (a "#" there starts a comment) */
    bool comment;
    char prev;
    int heredoc;       /* 0 none; 1 reading a "<<" delimiter word; 2 waiting for its line end;
                          3 inside the here-document's body */
    bool heredoc_tabs; /* "<<-": leading tabs of body lines are ignored */
    char delim[128];
    size_t delim_len;
    bool delim_started, delim_quote_s, delim_quote_d;
    char line[130]; /* the body line being read, to compare with the delimiter */
    size_t line_len;
    bool line_long, line_tabs_done;
    bool overflow; /* nested deeper than DF_SH_DEPTH or a delimiter too long */
} df_sh_lexer;

void df_sh_lex_init(df_sh_lexer *lx);

/* Feeds len bytes of script text (as the shell reads it). */
void df_sh_lex_feed(df_sh_lexer *lx, const char *s, size_t len);

/* The context letter of a reference standing at the lexer's position, or 0 when a value cannot be
 * inserted there safely, with the reason in *why (a static string). */
char df_sh_lex_context(const df_sh_lexer *lx, const char **why);

/* Tells the lexer that a reference's escaped value was inserted at its position (the quoting
 * state is unchanged; the word has started). */
void df_sh_lex_value(df_sh_lexer *lx);

/* The text of s (len bytes) escaped for context ctx: a malloc'd NUL-terminated string (length in
 * *out_len), or NULL when out of memory. */
char *df_sh_escape(char ctx, const char *s, size_t len, size_t *out_len);

#endif
