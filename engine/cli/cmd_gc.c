/* cmd_gc: the `gc --older-than DAYS [--dry-run]` command (SPEC §10): deletes the finished runs
 * that ended before then, with all their rows, and says how many runs and bytes that freed. A
 * missing database is not created (nothing to delete). */
#include "cli.h"

#include <inttypes.h>
#include <time.h>

/* Bytes as short text: "0 bytes", "512 bytes", "4.0 KiB", "12.3 MiB". */
static void bytes_text(long long b, char *buf, size_t len)
{
    if (b < 1024)
        snprintf(buf, len, "%lld byte%s", b, b == 1 ? "" : "s");
    else if (b < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", b / 1024.0);
    else if (b < 1024LL * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", b / (1024.0 * 1024));
    else
        snprintf(buf, len, "%.1f GiB", b / (1024.0 * 1024 * 1024));
}

/* `dagflow gc --older-than DAYS [--dry-run] [--db PATH] [--json]`. Returns 0, 2 on bad usage,
 * 3 on a store error. */
int df_cmd_gc(const df_cli *cli)
{
    if (cli->older_than < 0) {
        df_cli_error("gc: --older-than DAYS is required (see 'dagflow gc --help')");
        return DF_EXIT_USAGE;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t cutoff = now_ms - (int64_t)(cli->older_than * 86400000.0);
    df_engine *e = df_cli_open_engine(cli, NULL, NULL);
    if (!e)
        return DF_EXIT_INTERNAL;
    df_errlist errs = {0};
    df_gc_stats st;
    int code = DF_EXIT_OK;
    if (df_engine_gc(e, cutoff, cli->dry_run, &st, &errs) != 0) {
        df_cli_print_errlist(&errs);
        code = DF_EXIT_INTERNAL;
    } else if (cli->json) {
        json_t *o = json_pack("{sI sI sI sb sI}", "runs", (json_int_t)st.runs, "rows",
                              (json_int_t)st.rows, "bytes", (json_int_t)st.bytes, "dry_run",
                              cli->dry_run, "cutoff_ms", (json_int_t)cutoff);
        code = o && df_cli_print_json(o) == 0 ? DF_EXIT_OK : DF_EXIT_INTERNAL;
        json_decref(o);
    } else {
        char b[32];
        bytes_text(st.bytes, b, sizeof b);
        printf("%s %lld run%s (%lld rows), %s %s", cli->dry_run ? "would delete" : "deleted",
               st.runs, st.runs == 1 ? "" : "s", st.rows, cli->dry_run ? "freeing" : "freed", b);
        if (st.bytes >= 1024)
            printf(" (%lld bytes)", st.bytes);
        printf("\n");
    }
    df_errlist_clear(&errs);
    df_engine_close(e);
    return code;
}
