/* dag_export: a workflow's DAG as text, edges from upstream to downstream — Graphviz DOT or a
 * Mermaid flowchart (df_workflow_export in dagflow.h; `dagflow graph` prints it). on_exit
 * handlers are nodes of their own, labelled "(on_exit)", without edges. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dagflow/dagflow.h>

#include "workflow.h"

/* Writes s as a DOT double-quoted string (quotes and backslashes escaped). */
static void dot_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void print_dot(const df_workflow *wf, FILE *out)
{
    fputs("digraph ", out);
    dot_quoted(out, wf->name);
    fputs(" {\n", out);
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *t = &wf->tasks[i];
        fputs("    ", out);
        dot_quoted(out, t->id);
        /* label: the id, then the plugin on a second line (DOT's "\n" escape). */
        fputs(" [label=\"", out);
        for (const char *p = t->id; *p; p++)
            fputc(*p, out);
        fputs("\\n", out);
        for (const char *p = t->plugin; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc(*p, out);
        }
        fputs(t->handler ? "\\n(on_exit)\", style=dashed];\n" : "\"];\n", out);
    }
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *t = &wf->tasks[i];
        for (size_t u = 0; u < t->n_upstream && !t->handler; u++) {
            fputs("    ", out);
            dot_quoted(out, wf->tasks[t->upstream[u]].id);
            fputs(" -> ", out);
            dot_quoted(out, t->id);
            fputs(";\n", out);
        }
    }
    fputs("}\n", out);
}

/* Words Mermaid's flowchart grammar reserves (compared without case, as Mermaid's lexer trips on
 * some of them in any case). */
static const char *const MERMAID_KEYWORDS[] = {
    "end",   "graph",  "flowchart", "subgraph",  "style",     "class",    "classdef",
    "click", "call",   "href",      "linkstyle", "direction", "default",  "interpolate",
    "td",    "tb",     "bt",        "rl",        "lr",        "accTitle", "accDescr",
    "_self", "_blank", "_parent",   "_top",
};

/* True when id can be a Mermaid node id as is: a letter or underscore, then letters, digits and
 * underscores, and not a keyword. */
static bool mermaid_safe(const char *id)
{
    if (!isalpha((unsigned char)id[0]) && id[0] != '_')
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    for (size_t k = 0; k < sizeof MERMAID_KEYWORDS / sizeof MERMAID_KEYWORDS[0]; k++)
        if (strcasecmp(id, MERMAID_KEYWORDS[k]) == 0)
            return false;
    return true;
}

/* True when name is already used: as a task id kept as is, or as an id generated before. */
static bool mermaid_taken(const df_workflow *wf, char **ids, size_t n_done, const char *name)
{
    for (size_t i = 0; i < wf->n_tasks; i++)
        if (mermaid_safe(wf->tasks[i].id) && strcmp(wf->tasks[i].id, name) == 0)
            return true;
    for (size_t i = 0; i < n_done; i++)
        if (ids[i] && strcmp(ids[i], name) == 0)
            return true;
    return false;
}

static int print_mermaid(const df_workflow *wf, FILE *out)
{
    /* ids[i]: the generated id of task i, or NULL when the task id is used as is. */
    char **ids = calloc(wf->n_tasks ? wf->n_tasks : 1, sizeof *ids);
    if (!ids)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < wf->n_tasks; i++) {
        if (mermaid_safe(wf->tasks[i].id))
            continue;
        char name[64];
        snprintf(name, sizeof name, "n%zu", i);
        while (mermaid_taken(wf, ids, i, name))
            strcat(name, "_"); /* ids have at most 128 chars, so this ends quickly */
        if (!(ids[i] = strdup(name))) {
            rc = -1;
            goto out;
        }
    }
    fputs("flowchart TD\n", out);
    for (size_t i = 0; i < wf->n_tasks; i++) {
        /* Task ids are [A-Za-z0-9_-]: nothing to escape inside the quoted label. */
        if (wf->tasks[i].handler) /* on_exit handlers: no edges, they follow every task */
            fprintf(out, "    %s[\"%s (on_exit)\"]\n", ids[i] ? ids[i] : wf->tasks[i].id,
                    wf->tasks[i].id);
        else if (ids[i])
            fprintf(out, "    %s[\"%s\"]\n", ids[i], wf->tasks[i].id);
        else
            fprintf(out, "    %s\n", wf->tasks[i].id);
    }
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *t = &wf->tasks[i];
        for (size_t u = 0; u < t->n_upstream && !t->handler; u++) {
            size_t up = t->upstream[u];
            fprintf(out, "    %s --> %s\n", ids[up] ? ids[up] : wf->tasks[up].id,
                    ids[i] ? ids[i] : t->id);
        }
    }
out:
    for (size_t i = 0; i < wf->n_tasks; i++)
        free(ids[i]);
    free(ids);
    return rc;
}

int df_workflow_export(const df_workflow *wf, const char *format, char **text, size_t *len)
{
    *text = NULL;
    bool mermaid = format && strcmp(format, "mermaid") == 0;
    if (!mermaid && (!format || strcmp(format, "dot") != 0))
        return DF_EINPUT;
    char *buf = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&buf, &n);
    if (!mem)
        return DF_ENOMEM;
    int rc = 0;
    if (mermaid)
        rc = print_mermaid(wf, mem);
    else
        print_dot(wf, mem);
    if (fclose(mem) != 0 || rc != 0) {
        free(buf);
        return DF_ENOMEM;
    }
    *text = buf;
    if (len)
        *len = n;
    return 0;
}
