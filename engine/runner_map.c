/* runner_map: the run shell's side of mapped task instances (SPEC §8; the core's is run_map.c):
 * the per-unit I/O records of instances (their libuv timers point at them, so they never move:
 * one block per expansion, reached through a table of pointers), the room for submissions, the
 * DF_FX_MAP_EXPAND write, and the names instances go by in events, alerts and messages
 * ("ID[N]"). */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

df_task_io *df_run_io(df_run *r, size_t unit)
{
    size_t n = r->wf->n_tasks;
    if (unit == DF_RUN_NO_TASK)
        return &r->io[n];
    if (unit < n)
        return &r->io[unit];
    return unit - n < r->n_uio ? r->uio[unit - n] : NULL;
}

const char *df_run_unit_name(df_run *r, size_t unit, char *buf, size_t len)
{
    long long mi;
    size_t task = df_run_core_unit_task(r->core, unit, &mi);
    if (mi < 0)
        return r->wf->tasks[task].id;
    snprintf(buf, len, "%s[%lld]", r->wf->tasks[task].id, mi);
    return buf;
}

/* Gives every unit of the core an I/O record and room for a submission. */
static int grow_io(df_run *r)
{
    size_t units = df_run_core_units(r->core), n = r->wf->n_tasks;
    size_t want = units - n;
    if (want > r->n_uio) {
        size_t more = want - r->n_uio;
        df_task_io **tab = realloc(r->uio, want * sizeof *tab);
        if (!tab)
            return -1;
        r->uio = tab;
        df_task_io *block = calloc(more, sizeof *block);
        void **blocks = realloc(r->io_blocks, (r->n_io_blocks + 1) * sizeof *blocks);
        if (!block || !blocks) {
            free(block);
            if (blocks)
                r->io_blocks = blocks;
            return -1;
        }
        r->io_blocks = blocks;
        r->io_blocks[r->n_io_blocks++] = block;
        for (size_t k = 0; k < more; k++) {
            block[k] = (df_task_io){.run = r, .task = n + r->n_uio + k};
            tab[r->n_uio + k] = &block[k];
        }
        r->n_uio = want;
    }
    if (units > r->pending_cap) {
        df_pending_submit *p = realloc(r->pending, units * sizeof *p);
        if (!p)
            return -1;
        r->pending = p;
        r->pending_cap = units;
    }
    return 0;
}

void df_run_map_expanded(df_run *r, const df_effect *fx)
{
    df_engine *e = r->e;
    if (grow_io(r) != 0) {
        df_engine_fail(e, "out of memory");
        return;
    }
    if (e->fatal || df_engine_tx(e) != 0)
        return;
    int rc = df_store_map_expand(e->store, r->id, r->wf->tasks[fx->task].id, fx->map_from,
                                 fx->map_n, fx->at);
    if (rc != DF_STORE_OK)
        df_engine_store_failed(e, r->id, rc);
}

void df_run_map_free_io(df_run *r)
{
    for (size_t k = 0; k < r->n_io_blocks; k++)
        free(r->io_blocks[k]);
    free(r->io_blocks);
    free(r->uio);
}

int df_run_map_restored(df_run *r)
{
    return grow_io(r);
}
