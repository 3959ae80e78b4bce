# invariants.sh: the durability invariants of a dagflow store, checked with the sqlite3 shell over
# the SPEC §7 views. Sourced by tests/crash/crash_test.sh and by the durability e2e tests
# (tests/e2e/test_durability_*.sh); needs bash and sqlite3, nothing else.
#
#   inv_check DB RUN_ID MODE    prints one line per violated invariant and returns 1 if any;
#                               MODE is "dead" (no engine owns the run: it was just killed) or
#                               "finished" (the engine ended normally: no attempt may be open).
#
# What is checked, for the run RUN_ID:
#   - PRAGMA integrity_check is "ok";
#   - every transition in task_events is one of SPEC §3's table (DF_ALLOWED below), the first
#     event of each task is the creation (NULL -> PENDING), and each event starts from the state
#     the previous one of the same task ended in (no change went unrecorded);
#   - the latest event of each task ends in the state task_history shows;
#   - no task has two SUCCESS attempts; a SUCCESS task's successful attempt is its latest one;
#   - the attempts of each task are numbered 1..N without gaps, N = task_history.attempts, and
#     there is exactly one transition to RUNNING per attempt (with that attempt's number);
#   - an attempt is still open (outcome RUNNING) exactly when its task is RUNNING at that attempt
#     (MODE dead), and no attempt is open at all (MODE finished).

# SPEC §3's transition table, "FROM>TO" (FROM empty for the creation of a task instance).
# SUCCESS>PENDING is not in SPEC §3; the engine allows it for `retry --task` only, so callers
# that use `retry --task` add it with DF_ALLOWED_EXTRA="SUCCESS>PENDING".
DF_ALLOWED='
>PENDING
PENDING>QUEUED
PENDING>RUNNING
PENDING>UPSTREAM_FAILED
PENDING>SKIPPED
PENDING>INVALID
QUEUED>RUNNING
QUEUED>PENDING
RUNNING>SUCCESS
RUNNING>FAILED
RUNNING>UP_FOR_RETRY
RUNNING>QUEUED
UP_FOR_RETRY>QUEUED
FAILED>PENDING
UPSTREAM_FAILED>PENDING
SKIPPED>PENDING
'

# inv_sql DB SQL: rows of SQL ('|' between columns); the busy timeout lets it read while another
# process writes (WAL). A PostgreSQL URI (the e2e tests' DAGFLOW_TEST_DB=pg runs) is read with
# lib.sh's df_sqlite (psql), where PRAGMA integrity_check, a SQLite file's check, is "ok".
inv_sql() {
    if [[ "${1,,}" == postgres://* || "${1,,}" == postgresql://* ]]; then
        [[ "$2" != "PRAGMA integrity_check" ]] || { echo ok; return 0; }
        df_sqlite "$1" "$2"
        return
    fi
    sqlite3 -batch -bail -cmd '.timeout 10000' "$1" "$2"
}

# inv_allowed_values: the table as an SQL VALUES list of (from, to).
inv_allowed_values() {
    local pair sep="" out=""
    for pair in $DF_ALLOWED ${DF_ALLOWED_EXTRA:-}; do
        out+="$sep('${pair%%>*}', '${pair##*>}')"
        sep=", "
    done
    printf '%s' "$out"
}

# inv_isql DB SQL: inv_sql with each mapped task instance (SPEC §8) standing as a task of its own
# named ID[N] in the views task_events, task_history and attempt_history, so that every check
# holds per instance. A mapped task's own row has no attempt: it goes PENDING -> RUNNING at its
# expansion (attempt 0) and ends when its instances have; the checks on attempts leave rows with
# attempt 0 alone (an unmapped task's RUNNING always has an attempt >= 1).
inv_isql() {
    local key="task_id || coalesce('[' || map_index || ']', '') AS task_id"
    local te="(SELECT seq, run_id, $key, from_state, to_state, at, attempt, detail FROM task_events)"
    local th="(SELECT run_id, $key, state, attempts, error FROM task_history)"
    local ah="(SELECT run_id, $key, attempt, outcome FROM attempt_history)"
    local sql="${2//task_events/$te}"
    sql="${sql//task_history/$th}"
    sql="${sql//attempt_history/$ah}"
    inv_sql "$1" "$sql"
}

# inv_check DB RUN_ID MODE: see the header.
inv_check() {
    local db="$1" run="$2" mode="$3" bad="" rows
    rows="$(inv_isql "$db" "PRAGMA integrity_check")" || rows="sqlite3 failed"
    [[ "$rows" == "ok" ]] || bad+="integrity_check: $rows"$'\n'

    # Transitions outside the table (the creation has from_state NULL, compared as '').
    rows="$(inv_isql "$db" "WITH allowed(f, t) AS (VALUES $(inv_allowed_values))
        SELECT task_id, seq, ifnull(from_state, '') || '>' || to_state FROM task_events e
         WHERE run_id = $run AND NOT EXISTS (SELECT 1 FROM allowed
               WHERE allowed.f = ifnull(e.from_state, '') AND allowed.t = e.to_state)
         LIMIT 10")"
    [[ -z "$rows" ]] || bad+="transition not in SPEC §3's table (task|seq|change): ${rows//$'\n'/; }"$'\n'

    # Each event starts where the previous one of the same task ended; the first is the creation.
    rows="$(inv_isql "$db" "SELECT task_id, seq, ifnull(from_state, 'NULL'), ifnull(prev, 'NULL') FROM
          (SELECT task_id, seq, from_state, to_state,
                  lag(to_state) OVER (PARTITION BY task_id ORDER BY seq) AS prev
             FROM task_events e0 WHERE run_id = $run)
         WHERE prev IS DISTINCT FROM from_state LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="event chain broken (task|seq|from|previous to): ${rows//$'\n'/; }"$'\n'

    # The latest event ends in the task's state.
    rows="$(inv_isql "$db" "SELECT h.task_id, h.state, ifnull(l.to_state, 'no event') FROM task_history h
          LEFT JOIN (SELECT e.task_id, e.to_state FROM task_events e
                      WHERE e.run_id = $run AND e.seq = (SELECT max(seq) FROM task_events m
                            WHERE m.run_id = $run AND m.task_id = e.task_id)) l
                 ON l.task_id = h.task_id
         WHERE h.run_id = $run AND l.to_state IS DISTINCT FROM h.state LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="task state differs from its latest event (task|state|event): ${rows//$'\n'/; }"$'\n'

    # At most one SUCCESS attempt per task.
    rows="$(inv_isql "$db" "SELECT task_id, count(*) FROM attempt_history a0
         WHERE run_id = $run AND outcome = 'SUCCESS' GROUP BY task_id HAVING count(*) > 1 LIMIT 10")"
    [[ -z "$rows" ]] || bad+="tasks with two SUCCESS attempts (task|count): ${rows//$'\n'/; }"$'\n'

    # A SUCCESS task's latest attempt is its successful one.
    rows="$(inv_isql "$db" "SELECT h.task_id, h.attempts, ifnull(a.outcome, 'none') FROM task_history h
          LEFT JOIN attempt_history a ON a.run_id = h.run_id AND a.task_id = h.task_id
                AND a.attempt = h.attempts
         WHERE h.run_id = $run AND h.state = 'SUCCESS' AND h.attempts > 0
           AND a.outcome IS DISTINCT FROM 'SUCCESS' LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="SUCCESS tasks whose latest attempt did not succeed (task|attempt|outcome): ${rows//$'\n'/; }"$'\n'

    # Attempts 1..N without gaps, N = the task's attempt count.
    rows="$(inv_isql "$db" "SELECT h.task_id, h.attempts, count(a.attempt), ifnull(min(a.attempt), 0),
                ifnull(max(a.attempt), 0)
           FROM task_history h LEFT JOIN attempt_history a
             ON a.run_id = h.run_id AND a.task_id = h.task_id
          WHERE h.run_id = $run GROUP BY h.task_id, h.attempts
         HAVING count(a.attempt) != h.attempts OR ifnull(max(a.attempt), 0) != h.attempts
             OR (h.attempts > 0 AND min(a.attempt) != 1) LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="attempts not numbered 1..N (task|N|rows|min|max): ${rows//$'\n'/; }"$'\n'

    # One transition to RUNNING per attempt, carrying its number.
    rows="$(inv_isql "$db" "SELECT task_id, attempt, n FROM (SELECT a.task_id, a.attempt,
                (SELECT count(*) FROM task_events e WHERE e.run_id = a.run_id
                   AND e.task_id = a.task_id AND e.to_state = 'RUNNING' AND e.attempt = a.attempt)
                AS n
           FROM attempt_history a WHERE a.run_id = $run) AS c WHERE n != 1 LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="attempts without exactly one RUNNING event (task|attempt|events): ${rows//$'\n'/; }"$'\n'
    rows="$(inv_isql "$db" "SELECT task_id, attempt FROM task_events e WHERE run_id = $run
            AND to_state = 'RUNNING' AND attempt > 0 AND NOT EXISTS (SELECT 1 FROM attempt_history a
                WHERE a.run_id = e.run_id AND a.task_id = e.task_id AND a.attempt = e.attempt)
          LIMIT 10")"
    [[ -z "$rows" ]] ||
        bad+="RUNNING events without an attempt (task|attempt): ${rows//$'\n'/; }"$'\n'

    # Open attempts.
    if [[ "$mode" == finished ]]; then
        rows="$(inv_isql "$db" "SELECT task_id, attempt FROM attempt_history a0
             WHERE run_id = $run AND outcome = 'RUNNING' LIMIT 10")"
        [[ -z "$rows" ]] ||
            bad+="attempts still open after the engine ended (task|attempt): ${rows//$'\n'/; }"$'\n'
        rows="$(inv_isql "$db" "SELECT task_id, state FROM task_history h0 WHERE run_id = $run
             AND state IN ('QUEUED', 'RUNNING', 'UP_FOR_RETRY', 'PENDING') LIMIT 10")"
        local rstate
        rstate="$(inv_isql "$db" "SELECT state FROM run_history WHERE run_id = $run")"
        if [[ "$rstate" == SUCCESS || "$rstate" == FAILED ]]; then
            [[ -z "$rows" ]] ||
                bad+="run $rstate with unfinished tasks (task|state): ${rows//$'\n'/; }"$'\n'
        fi
    else
        rows="$(inv_isql "$db" "SELECT a.task_id, a.attempt, h.state, CAST(h.attempts AS TEXT)
               FROM attempt_history a JOIN task_history h
                 ON h.run_id = a.run_id AND h.task_id = a.task_id
              WHERE a.run_id = $run AND a.outcome = 'RUNNING'
                AND (h.state != 'RUNNING' OR h.attempts != a.attempt)
             UNION ALL
             SELECT h.task_id, h.attempts, h.state, 'no open attempt' FROM task_history h
              WHERE h.run_id = $run AND h.state = 'RUNNING' AND h.attempts > 0 AND NOT EXISTS (
                    SELECT 1 FROM attempt_history a WHERE a.run_id = h.run_id
                       AND a.task_id = h.task_id AND a.outcome = 'RUNNING')
             LIMIT 10")"
        [[ -z "$rows" ]] ||
            bad+="open attempts do not match RUNNING tasks (task|attempt|state|task attempts): ${rows//$'\n'/; }"$'\n'
    fi

    if [[ -n "$bad" ]]; then
        printf 'run %s: %s' "$run" "$bad"
        return 1
    fi
    return 0
}
