/* api_metrics: df_engine_metrics (include/dagflow/dagflow.h), the engine's own series of GET
 * /metrics read from any thread: its counters (engine/metrics.c) and its pool's load now. */
#include "engine_internal.h"

int df_engine_metrics(df_engine *e, json_t **out, df_errlist *errs)
{
    *out = df_metrics_json(&e->metrics);
    if (!*out) {
        if (errs)
            df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    /* The pool is created once, by the engine thread, with the engine's first run, and destroyed
     * only by df_engine_close (which must not run meanwhile). */
    df_pool *p = __atomic_load_n(&e->pool, __ATOMIC_ACQUIRE);
    size_t queued = 0;
    unsigned live = 0, busy = 0, peak = 0;
    if (p) {
        df_pool_stats st;
        df_pool_load(p, &queued, &live, &busy);
        df_pool_get_stats(p, &st);
        peak = st.workers_peak;
    }
    json_object_set_new(*out, "queue_depth", json_integer((json_int_t)queued));
    json_object_set_new(*out, "pool_workers",
                        json_pack("{sI sI sI}", "current", (json_int_t)live, "busy",
                                  (json_int_t)busy, "peak", (json_int_t)peak));
    return 0;
}
