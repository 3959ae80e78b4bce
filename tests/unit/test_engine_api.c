/* test_engine_api: the embedding API (include/dagflow/dagflow.h) used as a program embedding
 * dagflow would: only the public header. Two engines on two stores in one process, one after the
 * other and at the same time from two threads, each running a small workflow to SUCCESS; the
 * process-wide state a library must not touch (UV_THREADPOOL_SIZE, RLIMIT_NOFILE, signal
 * dispositions and mask, the drand48 sequence) checked unchanged; df_engine_stop from another
 * thread; df_engine_cancel from another thread; the read calls, which never create a store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dagflow/dagflow.h>

/* ---- fixture: a fresh directory with a workflow file, plugins from the build ---- */

static char plugin_dir[PATH_MAX], test_plugin_dir[PATH_MAX];

/* dir from the environment variable var (ctest sets it), else <this executable's folder>/rel. */
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

/* The built-in plugins (noop, sleep, file_sensor) and the test plugins (sleepy). */
static void find_plugin_dirs(void)
{
    find_dir("DF_PLUGIN_DIR", "../plugins", plugin_dir, sizeof plugin_dir);
    find_dir("DF_TEST_PLUGIN_DIR", "plugins", test_plugin_dir, sizeof test_plugin_dir);
}

typedef struct site {
    char dir[64];
    char db[128];
    char wf[128];
} site;

/* A temporary folder holding a workflow (a: noop, then b and c: noop after a, b as given, in
 * JSON) and, once a run happened, its store. */
static void site_make_with(site *s, const char *task_b)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/df_api_XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->db, sizeof s->db, "%s/dagflow.db", s->dir);
    snprintf(s->wf, sizeof s->wf, "%s/wf.json", s->dir);
    FILE *f = fopen(s->wf, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"name\": \"embedded\", \"tasks\": [\n"
            "  {\"id\": \"a\", \"plugin\": \"noop\"},\n"
            "  %s,\n"
            "  {\"id\": \"c\", \"plugin\": \"noop\", \"depends_on\": [\"a\"]}\n"
            "]}\n",
            task_b);
    fclose(f);
}

/* site_make_with, b a sleep of sleep_ms. */
static void site_make(site *s, int sleep_ms)
{
    char b[160];
    snprintf(b, sizeof b,
             "{\"id\": \"b\", \"plugin\": \"sleep\", \"depends_on\": [\"a\"], \"params\": "
             "{\"ms\": %d}}",
             sleep_ms);
    site_make_with(s, b);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void site_remove(site *s)
{
    assert_int_equal(nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Run-level and task-level events seen by an engine's callback. */
typedef struct counts {
    int task_events;
    int run_events;
} counts;

static void count_event(void *ud, const df_engine_event *ev)
{
    counts *c = ud;
    if (ev->task_id)
        c->task_events++;
    else
        c->run_events++;
}

static df_engine *open_engine(const site *s, counts *c)
{
    const char *dirs[] = {plugin_dir, test_plugin_dir};
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db = s->db;
    cfg.plugin_dirs = dirs;
    cfg.n_plugin_dirs = 2;
    cfg.workers_min = 1;
    cfg.workers_max = 2;
    cfg.on_event = count_event;
    cfg.ud = c;
    df_engine *e = NULL;
    df_errlist errs = {0};
    int rc = df_engine_open(&cfg, &e, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("open: %s\n", errs.msgs[i]);
    df_errlist_clear(&errs);
    assert_int_equal(rc, 0);
    assert_non_null(e);
    return e;
}

/* Runs the site's workflow to its end on e; returns its state, checking the call succeeded. */
static df_run_state run_site(df_engine *e, const site *s, long long *run_id)
{
    df_errlist errs = {0};
    df_run_state state = DF_RS_RUNNING;
    int rc = df_engine_run_file(e, s->wf, NULL, run_id, &state, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("run: %s\n", errs.msgs[i]);
    df_errlist_clear(&errs);
    assert_int_equal(rc, 0);
    return state;
}

/* The stored state of a run, through df_engine_run_status. */
static void assert_stored_state(df_engine *e, long long run_id, const char *want)
{
    json_t *st = NULL;
    assert_int_equal(df_engine_run_status(e, run_id, &st, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(st, "state")), want);
    assert_int_equal(json_array_size(json_object_get(st, "tasks")), 3);
    json_decref(st);
}

/* ---- process-wide state the library must leave alone ---- */

typedef struct globals {
    char threadpool[64]; /* UV_THREADPOOL_SIZE, or "<unset>" */
    struct rlimit nofile;
    struct sigaction sa[5];
    sigset_t mask;
} globals;

static const int watched_signals[5] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1};

static void globals_read(globals *g)
{
    const char *v = getenv("UV_THREADPOOL_SIZE");
    snprintf(g->threadpool, sizeof g->threadpool, "%s", v ? v : "<unset>");
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &g->nofile), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sigaction(watched_signals[i], NULL, &g->sa[i]), 0);
    pthread_sigmask(SIG_SETMASK, NULL, &g->mask);
}

static void globals_assert_same(const globals *before)
{
    globals now;
    globals_read(&now);
    assert_string_equal(now.threadpool, before->threadpool);
    assert_int_equal(now.nofile.rlim_cur, before->nofile.rlim_cur);
    assert_int_equal(now.nofile.rlim_max, before->nofile.rlim_max);
    for (int i = 0; i < 5; i++) {
        assert_ptr_equal((void *)now.sa[i].sa_handler, (void *)before->sa[i].sa_handler);
        assert_int_equal(now.sa[i].sa_flags, before->sa[i].sa_flags);
    }
    for (int sig = 1; sig < 32; sig++)
        assert_int_equal(sigismember(&now.mask, sig), sigismember(&before->mask, sig));
}

/* Puts the process in a state the old engine would have changed: UV_THREADPOOL_SIZE unset, the
 * soft RLIMIT_NOFILE under the hard one (it raised it), and a known drand48 seed (it reseeded). */
static void globals_prepare(void)
{
    unsetenv("UV_THREADPOOL_SIZE");
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max > 512 && rl.rlim_cur > 512) {
        rl.rlim_cur = 512;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    srand48(4242);
}

/* The first drand48 value after srand48(4242): what the process must still draw. */
static double first_draw(void)
{
    unsigned short xsubi[3] = {0x330E, (unsigned short)4242, (unsigned short)(4242 >> 16)};
    return erand48(xsubi); /* srand48 sets the high 32 bits of the state, 0x330E the low 16 */
}

/* ---- tests ---- */

/* Two engines on two stores in one process, one run each, one after the other (and
 * interleaved: both open at once). */
static void test_two_engines_sequential(void **state)
{
    (void)state;
    globals_prepare();
    globals before;
    globals_read(&before);
    site s1, s2;
    site_make(&s1, 30);
    site_make(&s2, 30);
    counts c1 = {0}, c2 = {0};
    df_engine *e1 = open_engine(&s1, &c1);
    df_engine *e2 = open_engine(&s2, &c2);
    assert_false(file_exists(s1.db)); /* opening creates nothing */
    long long id1 = 0, id2 = 0;
    assert_int_equal(run_site(e1, &s1, &id1), DF_RS_SUCCESS);
    assert_int_equal(run_site(e2, &s2, &id2), DF_RS_SUCCESS);
    assert_int_equal(run_site(e1, &s1, &id1), DF_RS_SUCCESS); /* again, on the same engine */
    assert_int_equal(id1, 2);
    assert_int_equal(id2, 1);
    assert_stored_state(e1, 1, "SUCCESS");
    assert_stored_state(e1, 2, "SUCCESS");
    assert_stored_state(e2, 1, "SUCCESS");
    json_t *st = NULL;
    assert_int_equal(df_engine_run_status(e2, 2, &st, NULL), DF_ENOTFOUND); /* separate stores */
    assert_true(c1.task_events >= 6 && c2.task_events >= 3);
    assert_int_equal(df_engine_close(e1), 0);
    assert_int_equal(df_engine_close(e2), 0);
    globals_assert_same(&before);
    assert_true(drand48() == first_draw());
    site_remove(&s1);
    site_remove(&s2);
}

typedef struct worker_arg {
    site s;
    counts c;
    df_run_state state;
    long long run_id;
    int rc;
    pthread_barrier_t *start;
} worker_arg;

/* One thread: its own engine on its own store, started after the other thread is ready. */
static void *engine_thread(void *p)
{
    worker_arg *a = p;
    const char *dirs[] = {plugin_dir};
    df_engine_config cfg;
    df_engine_config_default(&cfg);
    cfg.db = a->s.db;
    cfg.plugin_dirs = dirs;
    cfg.n_plugin_dirs = 1;
    cfg.workers_min = 1;
    cfg.workers_max = 2;
    cfg.on_event = count_event;
    cfg.ud = &a->c;
    df_engine *e = NULL;
    a->rc = df_engine_open(&cfg, &e, NULL);
    pthread_barrier_wait(a->start);
    if (a->rc == 0)
        a->rc = df_engine_run_file(e, a->s.wf, NULL, &a->run_id, &a->state, NULL);
    df_engine_close(e);
    return NULL;
}

/* Two engines driven at the same time from two threads. */
static void test_two_engines_two_threads(void **state)
{
    (void)state;
    globals_prepare();
    globals before;
    globals_read(&before);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    worker_arg a[2];
    memset(a, 0, sizeof a);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        site_make(&a[i].s, 300); /* long enough for the two runs to overlap */
        a[i].start = &start;
        a[i].state = DF_RS__COUNT;
        assert_int_equal(pthread_create(&t[i], NULL, engine_thread, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].rc, 0);
        assert_int_equal(a[i].state, DF_RS_SUCCESS);
        assert_int_equal(a[i].run_id, 1);
        assert_true(a[i].c.task_events >= 3);
        assert_true(file_exists(a[i].s.db));
        site_remove(&a[i].s);
    }
    globals_assert_same(&before);
    assert_true(drand48() == first_draw());
}

typedef struct stopper {
    df_engine *e;
    int delay_ms;
} stopper;

static void *stop_later(void *p)
{
    stopper *s = p;
    struct timespec ts = {0, (long)s->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    df_engine_stop(s->e);
    return NULL;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* df_engine_stop from another thread interrupts the run (resumable), the stop is for good, and
 * a second engine on the same store resumes the run to SUCCESS. */
static void test_stop_from_another_thread_then_resume(void **state)
{
    (void)state;
    site s;
    /* b waits for the file "go" in the site's folder. */
    site_make_with(&s, "{\"id\": \"b\", \"plugin\": \"file_sensor\", \"depends_on\": [\"a\"], "
                       "\"params\": {\"path\": \"go\", \"poke_interval_ms\": 20}}");
    counts c = {0};
    df_engine *e = open_engine(&s, &c);
    long long id = 0;
    df_errlist errs = {0};
    assert_int_equal(df_engine_start_file(e, s.wf, NULL, &id, &errs), 0);
    assert_int_equal(id, 1);
    stopper st = {e, 300};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stop_later, &st), 0);
    uint64_t t0 = mono_ms();
    df_run_state rs = DF_RS_RUNNING;
    assert_int_equal(df_engine_wait(e, id, &rs, &errs), DF_EINTERRUPTED);
    uint64_t took = mono_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(rs, DF_RS_INTERRUPTED);
    assert_true(took < 10000); /* the sensor yields: it sees the cancellation at once */
    long long id2 = 0;
    assert_int_equal(df_engine_start_file(e, s.wf, NULL, &id2, &errs), DF_EINTERRUPTED);
    assert_int_equal(id2, 0);
    json_t *status = NULL;
    assert_int_equal(df_engine_run_status(e, id, &status, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(status, "state")), "INTERRUPTED");
    json_decref(status);
    df_engine_close(e);
    df_errlist_clear(&errs);

    char go[160];
    snprintf(go, sizeof go, "%s/go", s.dir);
    FILE *f = fopen(go, "w");
    assert_non_null(f);
    fclose(f);
    counts c2 = {0};
    df_engine *e2 = open_engine(&s, &c2);
    assert_int_equal(df_engine_resume(e2, id, &rs, NULL), 0);
    assert_int_equal(rs, DF_RS_SUCCESS);
    assert_true(c2.task_events >= 1);
    assert_stored_state(e2, id, "SUCCESS");
    df_engine_close(e2);
    site_remove(&s);
}

typedef struct canceller {
    df_engine *e;
    long long run_id;
    int delay_ms;
    int rc;
} canceller;

static void *cancel_later(void *p)
{
    canceller *k = p;
    struct timespec ts = {0, (long)k->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    k->rc = df_engine_cancel(k->e, k->run_id, "from another thread", NULL);
    return NULL;
}

/* df_engine_cancel from another thread while the engine's thread waits (SPEC §10): the run ends
 * CANCELLED (the wait returns 0), its waiting task CANCELLED with the reason; the request is
 * stored, so a finished run refuses another one (df_engine_request_cancel: DF_EREFUSED). */
static void test_cancel_from_another_thread(void **state)
{
    (void)state;
    site s;
    site_make_with(&s, "{\"id\": \"b\", \"plugin\": \"file_sensor\", \"depends_on\": [\"a\"], "
                       "\"params\": {\"path\": \"go\", \"poke_interval_ms\": 20}}");
    counts c = {0};
    df_engine *e = open_engine(&s, &c);
    long long id = 0;
    df_errlist errs = {0};
    assert_int_equal(df_engine_start_file(e, s.wf, NULL, &id, &errs), 0);
    canceller k = {e, id, 300, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
    uint64_t t0 = mono_ms();
    df_run_state rs = DF_RS_RUNNING;
    assert_int_equal(df_engine_wait(e, id, &rs, &errs), 0);
    uint64_t took = mono_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(k.rc, 0);
    assert_int_equal(rs, DF_RS_CANCELLED);
    assert_true(took < 10000);
    json_t *status = NULL;
    assert_int_equal(df_engine_run_status(e, id, &status, NULL), 0);
    json_t *b = json_array_get(json_object_get(status, "tasks"), 1);
    assert_string_equal(json_string_value(json_object_get(b, "state")), "CANCELLED");
    assert_string_equal(json_string_value(json_object_get(b, "error")),
                        "run cancelled: from another thread");
    json_decref(status);
    df_run_state st = DF_RS_RUNNING;
    assert_int_equal(df_engine_request_cancel(e, id, "again", &st, &errs), DF_EREFUSED);
    assert_int_equal(st, DF_RS_CANCELLED);
    assert_int_equal(df_engine_cancel(e, 0, NULL, NULL), DF_EINPUT);
    df_engine_close(e);
    df_errlist_clear(&errs);
    site_remove(&s);
}

/* Two df_engine_stop calls: the second stops at once, without waiting for an attempt that
 * ignores its cancellation, and records nothing more: the run stays RUNNING (resumable). */
static void test_second_stop_halts_at_once(void **state)
{
    (void)state;
    site s;
    site_make_with(&s, "{\"id\": \"b\", \"plugin\": \"sleepy\", \"depends_on\": [\"a\"], "
                       "\"params\": {\"ms\": 6000, \"ignore_cancel\": true}}");
    counts c = {0};
    df_engine *e = open_engine(&s, &c);
    long long id = 0;
    df_errlist errs = {0};
    assert_int_equal(df_engine_start_file(e, s.wf, NULL, &id, &errs), 0);
    stopper first = {e, 300}, second = {e, 600};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, stop_later, &first), 0);
    assert_int_equal(pthread_create(&t2, NULL, stop_later, &second), 0);
    uint64_t t0 = mono_ms();
    df_run_state rs = DF_RS__COUNT;
    assert_int_equal(df_engine_wait(e, id, &rs, &errs), DF_EINTERRUPTED);
    uint64_t took = mono_ms() - t0;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(rs, DF_RS_RUNNING);
    assert_true(took < 4000); /* not the 5000 ms grace a graceful stop gives the attempt */
    assert_true(errs.n >= 1);
    assert_non_null(strstr(errs.msgs[errs.n - 1], "stopped at once"));
    df_errlist_clear(&errs);
    json_t *status = NULL;
    assert_int_equal(df_engine_run_status(e, id, &status, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(status, "state")), "RUNNING");
    json_decref(status);
    df_engine_close(e);
    site_remove(&s);
}

/* A workflow loaded by the caller, started on an engine (which keeps its own copy), and the
 * other calls of the API: export, history, latest run, summary, validate, plugins. */
static void test_loaded_workflow_and_reads(void **state)
{
    (void)state;
    site s;
    site_make(&s, 10);
    counts c = {0};
    df_engine *e = open_engine(&s, &c);
    json_t *arr = NULL;
    long long latest = 0;
    assert_int_equal(df_engine_latest_run(e, &latest, NULL), DF_ENOTFOUND);
    assert_int_equal(df_engine_history(e, NULL, 0, &arr, NULL), 0);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    assert_false(file_exists(s.db)); /* the read calls never create the store */

    df_workflow *wf = NULL;
    assert_int_equal(df_workflow_load(s.wf, &wf, NULL), 0);
    assert_string_equal(df_workflow_name(wf), "embedded");
    assert_int_equal(df_workflow_task_count(wf), 3);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(df_workflow_export(wf, "mermaid", &text, &len), 0);
    assert_string_equal(text, "flowchart TD\n    a\n    b\n    c\n    a --> b\n    a --> c\n");
    assert_int_equal(len, strlen(text));
    free(text);
    assert_int_equal(df_workflow_export(wf, "svg", &text, NULL), DF_EINPUT);

    long long id = 0;
    assert_int_equal(df_engine_start_workflow(e, wf, NULL, &id, NULL), 0);
    df_workflow_free(wf); /* the engine has its own copy */
    df_run_state rs;
    assert_int_equal(df_engine_wait(e, id, &rs, NULL), 0);
    assert_int_equal(rs, DF_RS_SUCCESS);
    assert_int_equal(df_engine_wait(e, 99, &rs, NULL), DF_ENOTFOUND);

    assert_int_equal(df_engine_latest_run(e, &latest, NULL), 0);
    assert_int_equal(latest, id);
    assert_int_equal(df_engine_history(e, "embedded", 5, &arr, NULL), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    json_t *sum = NULL;
    assert_int_equal(df_engine_run_summary(e, id, 10, &sum, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(sum, "counts"), "SUCCESS")),
                     3);
    json_decref(sum);

    df_errlist errs = {0};
    size_t n = 0;
    assert_int_equal(df_engine_validate_file(e, s.wf, NULL, &n, &errs), 0);
    assert_int_equal(n, 3);
    assert_int_equal(errs.n, 0);
    json_t *bad = json_pack("{s:i}", "nosuch", 1);
    long long none = 0;
    assert_int_equal(df_engine_start_file(e, s.wf, bad, &none, &errs), DF_EINPUT);
    assert_int_equal(none, 0);
    assert_true(errs.n >= 1);
    assert_non_null(strstr(errs.msgs[0], "declares no param"));
    json_decref(bad);
    df_errlist_clear(&errs);
    assert_int_equal(df_engine_resume(e, id, &rs, &errs), DF_EREFUSED); /* finished */
    assert_int_equal(df_engine_retry(e, 42, NULL, &rs, &errs), DF_ENOTFOUND);
    df_errlist_clear(&errs);

    assert_int_equal(df_engine_plugins(e, &arr, NULL), 0);
    bool noop = false;
    for (size_t i = 0; i < json_array_size(arr); i++)
        noop |=
            strcmp(json_string_value(json_object_get(json_array_get(arr, i), "name")), "noop") == 0;
    assert_true(noop);
    json_decref(arr);
    df_engine_close(e);
    site_remove(&s);
}

/* A file that does not load: every error, each naming the file; nothing recorded. */
static void test_validate_reports_every_error(void **state)
{
    (void)state;
    site s;
    site_make(&s, 10);
    FILE *f = fopen(s.wf, "w");
    assert_non_null(f);
    fputs("{\"name\": \"x\", \"tasks\": [{\"id\": \"a\", \"plugin\": \"noop\", \"depend_on\": []},"
          " {\"id\": \"a\", \"plugin\": \"nosuchplugin\"}]}",
          f);
    fclose(f);
    counts c = {0};
    df_engine *e = open_engine(&s, &c);
    df_errlist errs = {0};
    assert_int_equal(df_engine_validate_file(e, s.wf, NULL, NULL, &errs), DF_EINPUT);
    assert_true(errs.n >= 2);
    for (size_t i = 0; i < errs.n; i++)
        assert_int_equal(strncmp(errs.msgs[i], s.wf, strlen(s.wf)), 0);
    df_errlist_clear(&errs);
    long long id = 0;
    df_run_state rs;
    assert_int_equal(df_engine_run_file(e, s.wf, NULL, &id, &rs, NULL), DF_EINPUT);
    assert_int_equal(id, 0);
    df_engine_close(e);
    assert_false(file_exists(s.db));
    site_remove(&s);
}

int main(void)
{
    find_plugin_dirs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_engines_sequential),
        cmocka_unit_test(test_two_engines_two_threads),
        cmocka_unit_test(test_stop_from_another_thread_then_resume),
        cmocka_unit_test(test_second_stop_halts_at_once),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_loaded_workflow_and_reads),
        cmocka_unit_test(test_validate_reports_every_error),
    };
    if (getenv("DF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("DF_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
