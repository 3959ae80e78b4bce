/* test_service: the service (dagflow.h's df_service_*, engine/service*.c) and fair dispatch
 * between runs, through the public header only. A folder with a valid workflow, one whose plugin
 * does not exist, one that takes a name already taken and one that declares a pool another file
 * declares with other slots: the list other threads read (valid, errors, schedule, last run);
 * runs started from another thread (trigger api, params, unknown and invalid workflows, bad
 * params); a stop from that thread. Fair dispatch: a 3-task run started after a 500-task run
 * on the same engine ends long before the big one (it used to wait for every ready task of the
 * big run to start). A stop asked for while fire times start (at the first run of two fired at
 * one second): the service stops (it looped for ever on the fire time queued again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dagflow/dagflow.h>

static char plugin_dir[PATH_MAX], test_plugin_dir[PATH_MAX];

static void find_dir(const char *var, const char *rel, char *out, size_t len)
{
    const char *d = getenv(var);
    if (d && *d) {
        snprintf(out, len, "%s", d);
        return;
    }
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s/%s", exe, rel);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void engine_config(df_engine_config *cfg, const char *db)
{
    static const char *dirs[2];
    dirs[0] = plugin_dir;
    dirs[1] = test_plugin_dir;
    df_engine_config_default(cfg);
    cfg->db = db;
    cfg->plugin_dirs = dirs;
    cfg->n_plugin_dirs = 2;
    cfg->workers_min = 1;
    cfg->workers_max = 2;
}

/* ---- the service ---- */

typedef struct served {
    df_service *s;
    int rc;
    df_errlist errs;
} served;

static void *serve_thread(void *arg)
{
    served *sv = arg;
    sv->rc = df_service_run(sv->s, &sv->errs);
    return NULL;
}

static json_t *find_wf(json_t *list, const char *file_end)
{
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        const char *f = json_string_value(json_object_get(w, "file"));
        size_t n = strlen(f), m = strlen(file_end);
        if (n >= m && strcmp(f + n - m, file_end) == 0)
            return w;
    }
    return NULL;
}

static void test_service_list_and_api_runs(void **state)
{
    (void)state;
    char dir[64] = "/tmp/df_svc_XXXXXX", wfdir[96], db[96];
    assert_non_null(mkdtemp(dir));
    snprintf(wfdir, sizeof wfdir, "%s/wf", dir);
    snprintf(db, sizeof db, "%s/s.db", dir);
    assert_int_equal(mkdir(wfdir, 0700), 0);
    write_file(wfdir, "a_ok.json",
               "{\"name\": \"ok\", \"params\": {\"n\": 1}, \"pools\": {\"p\": 2},"
               " \"tasks\": [{\"id\": \"t\", \"plugin\": \"noop\", \"pool\": \"p\"}]}");
    write_file(wfdir, "b_broken.json",
               "{\"name\": \"broken\", \"tasks\": [{\"id\": \"t\", \"plugin\": \"nosuch\"}]}");
    write_file(wfdir, "c_dup.json",
               "{\"name\": \"ok\", \"tasks\": [{\"id\": \"t\", \"plugin\": \"noop\"}]}");
    write_file(wfdir, "d_pool.json",
               "{\"name\": \"pool2\", \"pools\": {\"p\": 3},"
               " \"tasks\": [{\"id\": \"t\", \"plugin\": \"noop\", \"pool\": \"p\"}]}");
    write_file(wfdir, "notes.txt", "not a workflow");

    df_service_config cfg = {.workflows_dir = wfdir};
    engine_config(&cfg.engine, db);
    served sv = {0};
    df_errlist errs = {0};
    assert_int_equal(df_service_open(&cfg, &sv.s, &errs), 0);
    long long id = 0;
    /* not running yet: refused */
    assert_int_equal(df_service_start_run(sv.s, "ok", NULL, 1000, &id, &errs), DF_EINTERRUPTED);
    df_errlist_clear(&errs);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_thread, &sv), 0);

    json_t *list = NULL;
    for (int i = 0; i < 200; i++) { /* up to 10 s for the first load */
        assert_int_equal(df_service_workflows(sv.s, &list), 0);
        if (json_array_size(list) == 4)
            break;
        json_decref(list);
        list = NULL;
        sleep_ms(50);
    }
    assert_non_null(list);
    json_t *ok = find_wf(list, "/a_ok.json"), *broken = find_wf(list, "/b_broken.json");
    json_t *dup = find_wf(list, "/c_dup.json"), *pool = find_wf(list, "/d_pool.json");
    assert_non_null(ok);
    assert_true(json_is_true(json_object_get(ok, "valid")));
    assert_true(json_is_null(json_object_get(ok, "schedule")));
    assert_true(json_is_null(json_object_get(ok, "next_fire_at")));
    assert_true(json_is_false(json_object_get(broken, "valid")));
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(broken, "errors"), 0)), "nosuch"));
    assert_true(json_is_false(json_object_get(dup, "valid")));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(dup, "errors"), 0)),
                           "already taken"));
    assert_true(json_is_false(json_object_get(pool, "valid")));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(pool, "errors"), 0)),
                           "pool \"p\""));
    json_decref(list);

    json_t *params = json_pack("{s:i}", "n", 5);
    assert_int_equal(df_service_start_run(sv.s, "ok", params, 0, &id, &errs), 0);
    assert_true(id > 0);
    assert_int_equal(df_service_start_run(sv.s, "nosuch", NULL, 0, &id, &errs), DF_ENOTFOUND);
    assert_int_equal(df_service_start_run(sv.s, "broken", NULL, 0, &id, &errs), DF_EREFUSED);
    json_t *bad = json_pack("{s:i}", "undeclared", 1);
    assert_int_equal(df_service_start_run(sv.s, "ok", bad, 0, &id, &errs), DF_EINPUT);
    json_decref(bad);
    json_decref(params);
    df_errlist_clear(&errs);

    /* the run's last state reaches the list */
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        assert_int_equal(df_service_workflows(sv.s, &list), 0);
        json_t *last = json_object_get(find_wf(list, "/a_ok.json"), "last_run");
        seen = json_is_object(last) &&
               strcmp(json_string_value(json_object_get(last, "state")), "SUCCESS") == 0;
        json_decref(list);
        if (!seen)
            sleep_ms(50);
    }
    assert_true(seen);

    df_service_stop(sv.s);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sv.rc, 0);
    df_errlist_clear(&sv.errs);
    df_service_close(sv.s);

    /* the run is recorded as the API's, with its params */
    df_engine_config ec;
    engine_config(&ec, db);
    df_engine *e = NULL;
    assert_int_equal(df_engine_open(&ec, &e, NULL), 0);
    json_t *hist = NULL;
    assert_int_equal(df_engine_history(e, "ok", 5, &hist, NULL), 0);
    assert_int_equal(json_array_size(hist), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "trigger")),
                        "api");
    json_decref(hist);
    df_engine_close(e);
    assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- fair dispatch ---- */

static void test_fair_dispatch(void **state)
{
    (void)state;
    char dir[64] = "/tmp/df_fair_XXXXXX", big[96], small[96], db[96];
    assert_non_null(mkdtemp(dir));
    snprintf(big, sizeof big, "%s/big.json", dir);
    snprintf(small, sizeof small, "%s/small.json", dir);
    snprintf(db, sizeof db, "%s/f.db", dir);
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    fputs("{\"name\": \"big\", \"tasks\": [", f);
    for (int i = 0; i < 500; i++)
        fprintf(f, "%s{\"id\": \"t%d\", \"plugin\": \"sleepy\", \"params\": {\"ms\": 20}}",
                i ? "," : "", i);
    fputs("]}", f);
    fclose(f);
    f = fopen(small, "w");
    assert_non_null(f);
    fputs("{\"name\": \"small\", \"tasks\": ["
          "{\"id\": \"a\", \"plugin\": \"sleepy\", \"params\": {\"ms\": 20}},"
          "{\"id\": \"b\", \"plugin\": \"sleepy\", \"params\": {\"ms\": 20}},"
          "{\"id\": \"c\", \"plugin\": \"sleepy\", \"params\": {\"ms\": 20}}]}",
          f);
    fclose(f);

    df_engine_config cfg;
    engine_config(&cfg, db);
    cfg.concurrency = 4;
    df_engine *e = NULL;
    assert_int_equal(df_engine_open(&cfg, &e, NULL), 0);
    long long b = 0, s = 0;
    df_errlist errs = {0};
    assert_int_equal(df_engine_start_file(e, big, NULL, &b, &errs), 0);
    assert_int_equal(df_engine_start_file(e, small, NULL, &s, &errs), 0);
    df_run_state st;
    assert_int_equal(df_engine_wait(e, s, &st, &errs), 0);
    assert_int_equal(st, DF_RS_SUCCESS);
    json_t *sum = NULL;
    assert_int_equal(df_engine_run_summary(e, b, 0, &sum, NULL), 0);
    long long done = json_integer_value(json_object_get(json_object_get(sum, "counts"), "SUCCESS"));
    json_decref(sum);
    /* 500 tasks at 4 at a time: the small run, served in turn, ends while most of them wait
     * (before the fix it waited for all 500 to have started) */
    if (done >= 250)
        fail_msg("the 3-task run ended only after %lld of the 500-task run's tasks", done);
    assert_int_equal(df_engine_wait(e, b, &st, &errs), 0);
    assert_int_equal(st, DF_RS_SUCCESS);
    df_errlist_clear(&errs);
    df_engine_close(e);
    assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- a stop while fire times start ---- */

/* The service being run, for the log callback (engine thread). */
static df_service *stop_target;
static int stop_sent;

/* At the first run started by a fire time, asks the service to stop, as a SIGTERM arriving
 * right then does: the engine thread is still deciding that second's fire times. */
static void stop_at_first_start(void *ud, const char *line)
{
    (void)ud;
    if (!stop_sent && strstr(line, "started: trigger schedule")) {
        stop_sent = 1;
        df_service_stop(stop_target);
    }
}

/* Two workflows fire at the same second: the first's run starts, the stop comes in, the
 * second's fire time is put back as queued (for the next serve). The service then stops. Before
 * the fix, starting the queued fire times looped for ever on that one (claimed, refused by the
 * stopping engine, queued again, committed: a transaction every few ms), since the service
 * notices a stop only between the loop's turns; serve did not stop after SIGTERM. */
static void test_stop_while_fire_times_start(void **state)
{
    (void)state;
    char dir[64] = "/tmp/df_svc_XXXXXX", wfdir[96], db[96];
    assert_non_null(mkdtemp(dir));
    snprintf(wfdir, sizeof wfdir, "%s/wf", dir);
    snprintf(db, sizeof db, "%s/s.db", dir);
    assert_int_equal(mkdir(wfdir, 0700), 0);
    for (int i = 0; i < 2; i++) {
        char name[16], text[256];
        snprintf(name, sizeof name, "f%d.json", i);
        snprintf(text, sizeof text,
                 "{\"name\": \"f%d\", \"schedule\": {\"cron\": \"* * * * * *\", \"catchup\": "
                 "\"all\", \"max_active_runs\": 5}, \"tasks\": [{\"id\": \"a\", \"plugin\": "
                 "\"noop\"}]}",
                 i);
        write_file(wfdir, name, text);
    }
    df_service_config cfg = {.workflows_dir = wfdir, .log = stop_at_first_start};
    engine_config(&cfg.engine, db);
    served sv = {0};
    df_errlist errs = {0};
    assert_int_equal(df_service_open(&cfg, &sv.s, &errs), 0);
    stop_target = sv.s;
    stop_sent = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_thread, &sv), 0);
    /* the first fire time comes within 1 s; the stop then takes well under a second */
    int ended = 0;
    for (int i = 0; i < 300 && !ended; i++) {
        sleep_ms(100);
        ended = pthread_tryjoin_np(th, NULL) == 0;
    }
    if (!ended)
        fail_msg("the service did not stop within 30 s of a stop asked for while fire times "
                 "started (stop asked: %d)",
                 stop_sent);
    assert_int_equal(stop_sent, 1);
    assert_int_equal(sv.rc, 0);
    df_errlist_clear(&sv.errs);
    df_errlist_clear(&errs);
    df_service_close(sv.s);
    assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
    find_dir("DF_PLUGIN_DIR", "../plugins", plugin_dir, sizeof plugin_dir);
    find_dir("DF_TEST_PLUGIN_DIR", "plugins", test_plugin_dir, sizeof test_plugin_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_list_and_api_runs),
        cmocka_unit_test(test_fair_dispatch),
        cmocka_unit_test(test_stop_while_fire_times_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
