/* engine: what engine.c offers the rest of the library beyond the public embedding API
 * (include/dagflow/dagflow.h, where df_engine and its configuration are declared): the pieces
 * api.c builds the public calls from, and the engine's random generator. Not a public header. */
#ifndef DF_ENGINE_H
#define DF_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <dagflow/dagflow.h>

#include "errlist.h"
#include "workflow.h"

/* The internal forms of the public calls take an errs that is never NULL (api.c passes a
 * scratch list for a caller's NULL). */

/* 0 when a run may start; DF_EINTERRUPTED once df_engine_stop was called, DF_ESTORE /
 * DF_ECONFLICT once the store failed or a run was taken over (the engine is then dead), each
 * with a message. */
int df_engine_can_start(df_engine *e, df_errlist *errs);

/* Checks the plugins and params of wf, records it as a new run and queues its first tasks (the
 * body of df_engine_start_file once the file has loaded). Takes ownership of wf, whatever it
 * returns. opts: borrowed, NULL for a zeroed one (dagflow.h's df_run_options). Returns as
 * df_engine_start_file. */
int df_engine_start_loaded(df_engine *e, df_workflow *wf, const df_run_options *opts,
                           long long *run_id, df_errlist *errs);

/* Adopts a run whose lease ended (SPEC §11; a service's): resume semantics, the claim being
 * df_store_run_adopt. Returns as df_engine_start_resume; DF_EREFUSED when the run is not
 * adoptable (any more). */
int df_engine_start_adopt(df_engine *e, long long run_id, df_errlist *errs);

/* df_engine_start_resume (retry false) and df_engine_start_retry. */
int df_engine_start_stored(df_engine *e, long long run_id, bool retry, const char *task,
                           df_errlist *errs);

/* df_engine_wait. */
int df_engine_wait_run(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs);

/* Opens the engine's store if it is not open yet. create false: a store that does not exist is
 * DF_ENOTFOUND ("PATH does not exist") rather than created (the read calls). name_path: a
 * message that does not name the store's path gets it as a prefix ("PATH: ..."), as the run
 * calls report it; the read calls report the store's message as is. Returns 0, DF_ENOTFOUND,
 * DF_ESTORE (message in errs). Engine thread. */
int df_engine_open_store(df_engine *e, bool create, bool name_path, df_errlist *errs);

/* A number uniform in [0, 1) from the engine's own generator (retry jitter): seeded at open
 * (df_engine_config.seed), independent of the process's drand48 state and of other engines.
 * Engine thread. */
double df_engine_random(df_engine *e);

#endif
