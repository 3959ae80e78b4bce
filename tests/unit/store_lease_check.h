/* store_lease_check: the scenario of run leases (SPEC §11, store.h's "run leases") that both
 * backends must pass (included by test_store_attempts.c on SQLite and test_store_pg.c on
 * PostgreSQL), with two handles on one store as two engines: a serve's run with a live lease is
 * neither listed nor adoptable; once its lease ended it is both, and the adoption is a
 * compare-and-set (a second adopter loses); from then on every write of the old owner is refused
 * with DF_STORE_CONFLICT (alone or inside its transaction, which stays usable) and changes
 * nothing, its heartbeat claim too, while the new owner writes; a run of `dagflow run` (no kind)
 * is never adopted. The caller includes cmocka and store/store.h first. */
#ifndef DF_TEST_STORE_LEASE_CHECK_H
#define DF_TEST_STORE_LEASE_CHECK_H

#include <string.h>
#include <time.h>

static int64_t lease_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long lease_new_run(df_store *s, const df_engine_id *owner)
{
    const char *dag = "{\"name\":\"l\",\"tasks\":[{\"id\":\"t0\",\"plugin\":\"shell\"}]}";
    df_task_record tasks[] = {{.id = "t0", .plugin = "shell"}};
    df_run_record rec = {.workflow = "l",
                         .dag_json = dag,
                         .started_at = lease_now(),
                         .engine = owner,
                         .tasks = tasks,
                         .n_tasks = 1};
    long long run = 0;
    assert_int_equal(df_store_create_run(s, &rec, &run), DF_STORE_OK);
    return run;
}

/* Whether run is among the runs s may adopt for me. */
static bool lease_listed(df_store *s, const df_engine_id *me, long long run)
{
    long long *ids = NULL;
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(df_store_adoptable_runs(s, me, lease_now(), &ids, &names, &n), DF_STORE_OK);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found = found || ids[i] == run;
        free(names[i]);
    }
    free(names);
    free(ids);
    return found;
}

static char *lease_run_error(df_store *s, long long run)
{
    df_stored_run *r = NULL;
    assert_int_equal(df_store_load_run(s, run, &r), DF_STORE_OK);
    char *e = r->origin.error ? strdup(r->origin.error) : NULL;
    df_stored_run_free(r);
    return e;
}

static void check_run_leases(df_store *a, df_store *b, df_store *c)
{
    df_engine_id e1 = {.pid = 101, .host = "h1", .started_at = 1000, .kind = "serve"};
    df_engine_id e2 = {.pid = 202, .host = "h2", .started_at = 2000, .kind = "serve"};
    df_engine_id e3 = {.pid = 303, .host = "h3", .started_at = 3000, .kind = "serve"};
    df_engine_id cli = {.pid = 404, .host = "h4", .started_at = 4000};
    assert_int_equal(df_store_set_lease(a, &e1, 60000), DF_STORE_OK);
    assert_int_equal(df_store_set_lease(b, &e2, 60000), DF_STORE_OK);
    assert_int_equal(df_store_set_lease(c, &e3, 60000), DF_STORE_OK);

    long long run = lease_new_run(a, &e1);
    assert_int_equal(df_store_run_set_error(a, run, "mine"), DF_STORE_OK);
    assert_false(lease_listed(b, &e2, run));
    assert_int_equal(df_store_run_adopt(b, run, &e1, &e2, lease_now()), DF_STORE_CONFLICT);
    assert_true(lease_listed(a, &e1, run)); /* its own run is listed for the owner */

    /* the owner's lease shortened to 100 ms by its heartbeat, then left to end */
    assert_int_equal(df_store_set_lease(a, &e1, 100), DF_STORE_OK);
    assert_int_equal(df_store_run_heartbeat(a, run, lease_now()), DF_STORE_OK);
    struct timespec pause = {0, 400 * 1000000L};
    nanosleep(&pause, NULL);
    assert_true(lease_listed(b, &e2, run));
    assert_int_equal(df_store_run_adopt(b, run, &e1, &e2, lease_now()), DF_STORE_OK);
    /* a second adopter read the old owner: it loses */
    assert_int_equal(df_store_run_adopt(c, run, &e1, &e3, lease_now()), DF_STORE_CONFLICT);
    assert_false(lease_listed(c, &e3, run));

    /* the old owner's writes are refused and change nothing */
    assert_int_equal(df_store_run_set_error(a, run, "late"), DF_STORE_CONFLICT);
    assert_non_null(strstr(df_store_error(a), "no longer holds the run's lease"));
    assert_int_equal(df_store_begin(a), DF_STORE_OK);
    df_transition t = {.run_id = run,
                       .task_id = "t0",
                       .from = DF_TS_PENDING,
                       .to = DF_TS_QUEUED,
                       .at = lease_now()};
    assert_int_equal(df_store_transition(a, &t), DF_STORE_CONFLICT);
    assert_int_equal(df_store_instance_attempt_open(a, run, "t0", DF_NO_MAP_INDEX, 1, 5),
                     DF_STORE_CONFLICT);
    assert_int_equal(df_store_commit(a), DF_STORE_OK);
    assert_int_equal(df_store_run_claim(a, run, &e1, &e1, lease_now()), DF_STORE_CONFLICT);
    char *err = lease_run_error(b, run);
    assert_string_equal(err, "mine");
    free(err);

    /* the new owner writes */
    assert_int_equal(df_store_begin(b), DF_STORE_OK);
    assert_int_equal(df_store_transition(b, &t), DF_STORE_OK);
    assert_int_equal(df_store_run_set_error(b, run, "theirs"), DF_STORE_OK);
    assert_int_equal(df_store_commit(b), DF_STORE_OK);
    err = lease_run_error(a, run);
    assert_string_equal(err, "theirs");
    free(err);

    /* a run of `dagflow run` is never adopted, whatever its lease */
    assert_int_equal(df_store_set_lease(a, &cli, 100), DF_STORE_OK);
    long long mine = lease_new_run(a, &cli);
    nanosleep(&pause, NULL);
    assert_false(lease_listed(b, &e2, mine));
    assert_int_equal(df_store_run_adopt(b, mine, &cli, &e2, lease_now()), DF_STORE_CONFLICT);
}

#endif
