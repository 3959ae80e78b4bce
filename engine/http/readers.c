/* http/readers: the HTTP server's reader engines on the store: each one is a df_engine of the
 * server's own (an engine is driven by one thread at a time), opened on the same database, used
 * only for reads, lent to one request at a time. A request that finds none free waits for one:
 * the engine that runs the workflows is never touched. */
#include "http_internal.h"

#include <stdlib.h>

#include "../errlist.h"

int df_http_readers_open(df_http_readers *rs, const char *db, size_t n, df_errlist *errs)
{
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cond, NULL);
    rs->all = calloc(n, sizeof *rs->all);
    rs->free = calloc(n, sizeof *rs->free);
    if (!rs->all || !rs->free) {
        df_errlist_add(errs, "out of memory");
        return DF_ENOMEM;
    }
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db = db;
    for (size_t i = 0; i < n; i++) {
        int rc = df_engine_open(&cfg, &rs->all[i], errs);
        if (rc)
            return rc;
        rs->n++;
        rs->free[rs->n_free++] = rs->all[i];
    }
    return 0;
}

void df_http_readers_close(df_http_readers *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        df_engine_close(rs->all[i]);
    free(rs->all);
    free(rs->free);
    pthread_cond_destroy(&rs->cond); /* zeroed (never opened) is fine with glibc */
    pthread_mutex_destroy(&rs->mu);
    *rs = (df_http_readers){0};
}

df_engine *df_http_reader_take(df_http *h)
{
    df_http_readers *rs = &h->readers;
    pthread_mutex_lock(&rs->mu);
    while (rs->n_free == 0)
        pthread_cond_wait(&rs->cond, &rs->mu);
    df_engine *e = rs->free[--rs->n_free];
    pthread_mutex_unlock(&rs->mu);
    return e;
}

void df_http_reader_give(df_http *h, df_engine *e)
{
    df_http_readers *rs = &h->readers;
    pthread_mutex_lock(&rs->mu);
    rs->free[rs->n_free++] = e;
    pthread_cond_signal(&rs->cond);
    pthread_mutex_unlock(&rs->mu);
}
