/* test_store_history: history's filters, gc, a run's events and the counts by state on SQLite
 * (the scenarios of store_history_check.h, which test_store_pg.c runs on PostgreSQL), and gc's
 * bytes as the pages SQLite's free list gained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_fixture.h"

#include "store_history_check.h"

static void test_history_filters(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    check_history_filters(f->s);
}

/* A 300000-byte log lives in overflow pages that the deletion frees: at least that many bytes,
 * and what the file's free list gained. */
static void test_gc(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    sqlite3 *db = raw_open(f->path);
    /* The migrations of a new file rebuild tables and leave free pages, which the runs that
     * check_gc creates would use up before its deletion: start from none. */
    sqlite3_exec(db, "VACUUM", NULL, NULL, NULL);
    long long before = q_int(db, "PRAGMA freelist_count");
    long long freed = check_gc(f->s, 300000);
    assert_true(freed >= 300000);
    long long page = q_int(db, "PRAGMA page_size");
    long long after = q_int(db, "PRAGMA freelist_count");
    assert_true((after - before) * page >= freed);
    sqlite3_close(db);
}

static void test_events_and_counts(void **state)
{
    fx *f = *state;
    f->s = open_ok(f);
    check_events_and_counts(f->s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
