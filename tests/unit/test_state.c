/* test_state: unit tests of engine/state.c — state names and parsing, the final/failed
 * predicates, and the SPEC §3 transition table (plus SUCCESS -> PENDING for `retry --task`, SPEC
 * §6) checked over every (from, to, cause) triple. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/state.h"

#define P DF_TS_PENDING
#define Q DF_TS_QUEUED
#define RU DF_TS_RUNNING
#define UR DF_TS_UP_FOR_RETRY
#define S DF_TS_SUCCESS
#define F DF_TS_FAILED
#define UF DF_TS_UPSTREAM_FAILED
#define SK DF_TS_SKIPPED
#define INV DF_TS_INVALID
#define CA DF_TS_CANCELLED

/* SPEC §3, written out independently of state.c. */
typedef struct edge {
    df_task_state from, to;
    int only_cause; /* -1: any cause; otherwise the one cause that allows it */
} edge;

static const edge spec_edges[] = {
    {P, Q, -1},
    {P, UF, -1},
    {P, SK, -1},
    {Q, RU, -1},
    {RU, S, -1},
    {RU, F, -1},
    {RU, UR, -1},
    {UR, Q, -1},
    {P, INV, DF_TC_CREATE}, /* only when the run is created */
    {RU, Q, DF_TC_RECOVER}, /* an attempt lost to a crash or shutdown */
    {Q, P, DF_TC_RECOVER},
    {F, P, DF_TC_RETRY_CMD}, /* only through the retry command */
    {UF, P, DF_TC_RETRY_CMD},
    {SK, P, DF_TC_RETRY_CMD},
    /* not in SPEC §3's list, but `retry --task ID` re-runs that task "whatever its state"
     * (SPEC §6), so state.c allows it for the retry command only */
    {S, P, DF_TC_RETRY_CMD},
    /* SPEC §10: a cancelled or timed-out run */
    {P, CA, -1},
    {Q, CA, -1},
    {UR, CA, -1},
    {RU, CA, -1},
    {CA, P, DF_TC_RETRY_CMD},
    /* SPEC §10: the plugin returned DF_TASK_SKIPPED */
    {RU, SK, -1},
    /* SPEC §10: `when` failed before any attempt */
    {P, F, -1},
};

static const df_transition_cause causes[] = {DF_TC_NORMAL, DF_TC_CREATE, DF_TC_RECOVER,
                                             DF_TC_RETRY_CMD};

static int spec_allows(df_task_state from, df_task_state to, df_transition_cause cause)
{
    for (size_t i = 0; i < sizeof spec_edges / sizeof spec_edges[0]; i++)
        if (spec_edges[i].from == from && spec_edges[i].to == to)
            return spec_edges[i].only_cause < 0 || spec_edges[i].only_cause == (int)cause;
    return 0;
}

static void test_full_table(void **state)
{
    (void)state;
    size_t allowed = 0;
    for (int from = 0; from < DF_TS__COUNT; from++)
        for (int to = 0; to < DF_TS__COUNT; to++)
            for (size_t c = 0; c < sizeof causes / sizeof causes[0]; c++) {
                bool got = df_transition_allowed((df_task_state)from, (df_task_state)to, causes[c]);
                int want = spec_allows((df_task_state)from, (df_task_state)to, causes[c]);
                if (got != (want != 0))
                    fail_msg("%s -> %s (cause %d): got %d, want %d",
                             df_task_state_name((df_task_state)from),
                             df_task_state_name((df_task_state)to), (int)causes[c], got, want);
                allowed += got;
            }
    /* 14 edges for every one of the 4 causes, plus 8 edges for one cause each */
    assert_int_equal(allowed, 14 * 4 + 8);
}

static void test_allowed_normal_pairs(void **state)
{
    (void)state;
    assert_true(df_transition_allowed(P, Q, DF_TC_NORMAL));
    assert_true(df_transition_allowed(P, UF, DF_TC_NORMAL));
    assert_true(df_transition_allowed(P, SK, DF_TC_NORMAL));
    assert_true(df_transition_allowed(Q, RU, DF_TC_NORMAL));
    assert_true(df_transition_allowed(RU, S, DF_TC_NORMAL));
    assert_true(df_transition_allowed(RU, F, DF_TC_NORMAL));
    assert_true(df_transition_allowed(RU, UR, DF_TC_NORMAL));
    assert_true(df_transition_allowed(UR, Q, DF_TC_NORMAL));
}

static void test_forbidden_sample(void **state)
{
    (void)state;
    /* final states never move on their own */
    assert_false(df_transition_allowed(S, P, DF_TC_NORMAL));
    assert_false(df_transition_allowed(S, P, DF_TC_RECOVER));
    assert_false(df_transition_allowed(S, RU, DF_TC_NORMAL));
    assert_false(df_transition_allowed(INV, P, DF_TC_RETRY_CMD));
    assert_false(df_transition_allowed(INV, Q, DF_TC_NORMAL));
    /* no skipping steps */
    assert_false(df_transition_allowed(P, RU, DF_TC_NORMAL));
    assert_false(df_transition_allowed(P, S, DF_TC_NORMAL));
    assert_false(df_transition_allowed(Q, S, DF_TC_NORMAL));
    assert_false(df_transition_allowed(UR, RU, DF_TC_NORMAL));
    assert_false(df_transition_allowed(UR, F, DF_TC_NORMAL));
    /* cause-restricted edges refused for the wrong cause */
    assert_false(df_transition_allowed(P, INV, DF_TC_NORMAL));
    assert_false(df_transition_allowed(P, INV, DF_TC_RECOVER));
    assert_false(df_transition_allowed(RU, Q, DF_TC_NORMAL));
    assert_false(df_transition_allowed(Q, P, DF_TC_NORMAL));
    assert_false(df_transition_allowed(Q, P, DF_TC_RETRY_CMD));
    assert_false(df_transition_allowed(F, P, DF_TC_NORMAL));
    assert_false(df_transition_allowed(F, P, DF_TC_RECOVER));
    assert_false(df_transition_allowed(UF, P, DF_TC_CREATE));
    /* retry goes back to PENDING, nowhere else */
    assert_false(df_transition_allowed(F, Q, DF_TC_RETRY_CMD));
    /* self transitions */
    for (int s = 0; s < DF_TS__COUNT; s++)
        for (size_t c = 0; c < sizeof causes / sizeof causes[0]; c++)
            assert_false(df_transition_allowed((df_task_state)s, (df_task_state)s, causes[c]));
}

static void test_cause_specific(void **state)
{
    (void)state;
    assert_true(df_transition_allowed(P, INV, DF_TC_CREATE));
    assert_true(df_transition_allowed(RU, Q, DF_TC_RECOVER));
    assert_true(df_transition_allowed(Q, P, DF_TC_RECOVER));
    assert_true(df_transition_allowed(F, P, DF_TC_RETRY_CMD));
    assert_true(df_transition_allowed(UF, P, DF_TC_RETRY_CMD));
    assert_true(df_transition_allowed(SK, P, DF_TC_RETRY_CMD));
    assert_true(df_transition_allowed(S, P, DF_TC_RETRY_CMD)); /* retry --task (SPEC §6) */
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_false(df_transition_allowed((df_task_state)DF_TS__COUNT, P, DF_TC_NORMAL));
    assert_false(df_transition_allowed((df_task_state)-1, Q, DF_TC_NORMAL));
    assert_false(df_transition_allowed(P, (df_task_state)DF_TS__COUNT, DF_TC_NORMAL));
}

static void test_names_round_trip(void **state)
{
    (void)state;
    static const char *const tnames[] = {"PENDING", "QUEUED",   "RUNNING",         "UP_FOR_RETRY",
                                         "SUCCESS", "FAILED",   "UPSTREAM_FAILED", "SKIPPED",
                                         "INVALID", "CANCELLED"};
    for (int i = 0; i < DF_TS__COUNT; i++) {
        df_task_state s;
        assert_string_equal(df_task_state_name((df_task_state)i), tnames[i]);
        assert_int_equal(df_task_state_parse(tnames[i], &s), 0);
        assert_int_equal(s, i);
    }
    static const char *const rnames[] = {"RUNNING", "SUCCESS",     "FAILED",
                                         "INVALID", "INTERRUPTED", "CANCELLED"};
    for (int i = 0; i < DF_RS__COUNT; i++) {
        df_run_state s;
        assert_string_equal(df_run_state_name((df_run_state)i), rnames[i]);
        assert_int_equal(df_run_state_parse(rnames[i], &s), 0);
        assert_int_equal(s, i);
    }
    static const char *const onames[] = {"RUNNING",   "SUCCESS", "FAILED", "TIMED_OUT",
                                         "CANCELLED", "LOST",    "SKIPPED"};
    for (int i = 0; i < DF_AO__COUNT; i++) {
        df_attempt_outcome o;
        assert_string_equal(df_attempt_outcome_name((df_attempt_outcome)i), onames[i]);
        assert_int_equal(df_attempt_outcome_parse(onames[i], &o), 0);
        assert_int_equal(o, i);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    df_task_state s = DF_TS_SUCCESS;
    df_run_state r = DF_RS_SUCCESS;
    df_attempt_outcome o = DF_AO_LOST;
    assert_int_equal(df_task_state_parse("pending", &s), -1); /* names are upper case */
    assert_int_equal(df_task_state_parse("", &s), -1);
    assert_int_equal(df_task_state_parse(NULL, &s), -1);
    assert_int_equal(df_task_state_parse("INTERRUPTED", &s), -1); /* a run state only */
    assert_int_equal(s, DF_TS_SUCCESS);                           /* untouched on failure */
    assert_int_equal(df_run_state_parse("QUEUED", &r), -1);
    assert_int_equal(r, DF_RS_SUCCESS);
    assert_int_equal(df_attempt_outcome_parse("UPSTREAM_FAILED", &o), -1);
    assert_int_equal(o, DF_AO_LOST);
    assert_string_equal(df_task_state_name((df_task_state)DF_TS__COUNT), "?");
    assert_string_equal(df_run_state_name((df_run_state)-1), "?");
    assert_string_equal(df_attempt_outcome_name((df_attempt_outcome)42), "?");
}

static void test_final_and_failed(void **state)
{
    (void)state;
    for (int i = 0; i < DF_TS__COUNT; i++) {
        df_task_state s = (df_task_state)i;
        bool final = s == S || s == F || s == UF || s == SK || s == INV || s == CA;
        bool failed = s == F || s == UF || s == INV || s == CA;
        assert_int_equal(df_task_state_final(s), final);
        assert_int_equal(df_task_state_failed(s), failed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_table),       cmocka_unit_test(test_allowed_normal_pairs),
        cmocka_unit_test(test_forbidden_sample), cmocka_unit_test(test_cause_specific),
        cmocka_unit_test(test_out_of_range),     cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_parse_rejects),    cmocka_unit_test(test_final_and_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
