/* subworkflow: the built-in `workflow` plugin (SPEC §10) — its load-time check
 * (subworkflow_check.c) and its attempts, run by the engine itself as child runs
 * (subworkflow.c; their declarations are in engine_internal.h). */
#ifndef DF_SUBWORKFLOW_H
#define DF_SUBWORKFLOW_H

#include "errlist.h"
#include "workflow.h"

/* Deepest chain of workflows running workflows: loading follows no deeper, and a child run is
 * refused at this many runs above it (subworkflow.c). */
#define DF_SUBWORKFLOW_MAX_DEPTH 32

/* Loads the child workflow of every `workflow` task of wf (params.file, relative to wf's folder;
 * one with a template is skipped), recursively, adding an error to errs for a file that does not
 * load and for a workflow that runs itself (directly or not: "a workflow that runs itself:
 * /w/a.json -> /w/b.json -> /w/a.json") or a chain deeper than 32. Returns 0, or -1 after adding
 * errors. Thread-safe (reads files only). */
int df_subworkflow_check(const df_workflow *wf, df_errlist *errs);

#endif
