-- store/sqlite/schema.sql: schema version 1 of the dagflow store (PRAGMA user_version = 1), applied
-- by store/sqlite/open.c inside one BEGIN IMMEDIATE transaction on a new file. Later versions go
-- into further store/sqlite/NNN_*.sql migrations; this file never changes once released (but
-- for this header, which SQLite does not keep).
--
-- Tables (internal; the five views at the end are the stable query surface of SPEC §7).
-- Times are integers in milliseconds since the Unix epoch (UTC); JSON columns hold JSON text.
--
-- runs             one row per run. run_id only ever increases (AUTOINCREMENT).
--   workflow       the workflow's name
--   state          RUNNING | SUCCESS | FAILED | INVALID | INTERRUPTED as stored (the views show a
--                  RUNNING run whose heartbeat is older than 30 s as INTERRUPTED)
--   started_at, ended_at (NULL while unfinished)
--   dag            the workflow document as loaded (JSON), so a run survives its file changing
--   path, dir      the workflow file and its folder at the time of the run
--   params         the resolved run parameters (JSON object)
--   plugins        the version of each plugin the run used (JSON object name -> version)
--   engine_pid, engine_host, engine_started_at
--                  the engine process owning the run (so `resume` can tell dead from alive)
--   heartbeat_at   the owning engine's last heartbeat
--   metrics        the worker pool's metrics (JSON object), or NULL
-- run_edges        the DAG's edges per run: upstream -> downstream (task ids)
-- task_instances   one row per task per run, PRIMARY KEY (run_id, task_id)
--   idx            position of the task in the workflow file (0-based)
--   plugin         the plugin name as written in the workflow
--   state          a task state of SPEC §3
--   attempt        number of the latest attempt (0 before the first; keeps counting across
--                  `retry` commands)
--   retry_base     attempt number at which the current retry budget started (0, or the attempt
--                  number when a `retry` command reopened the task)
--   next_retry_at  when an UP_FOR_RETRY task's next attempt is due, else NULL
--   started_at     start of the first attempt; ended_at: when it became final (NULL otherwise)
--   error          the task's error text, or NULL; result: the task's result (JSON), or NULL
-- task_event_log   every state change (the task_events view): seq increases with each one
--                  (a rowid: max + 1; events are never deleted, so no AUTOINCREMENT is needed);
--                  from_state is NULL for the creation of the instance; attempt is the attempt
--                  number after the change; detail is free text or NULL
-- attempts         one row per attempt, PRIMARY KEY (run_id, task_id, attempt); outcome is
--                  RUNNING while the attempt is open, then SUCCESS | FAILED | TIMED_OUT |
--                  CANCELLED | LOST; log holds the lines the plugin logged
-- breaker_log      every state change of a circuit breaker (the breaker_history view): the run
--                  and task of the attempt that caused it, the breaker's name, from/to state
--                  (CLOSED | OPEN | HALF_OPEN), the failure rate over its window then, and the
--                  number of outcomes that rate is over
-- alerts           one row per alert event and sink: sink is a short description
--                  ("command:./notify.sh"), sink_index its position in the workflow's "alerts",
--                  payload the alert JSON; status pending | delivered | failed; tries so far

CREATE TABLE runs (
    run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow          TEXT    NOT NULL,
    state             TEXT    NOT NULL
        CHECK (state IN ('RUNNING', 'SUCCESS', 'FAILED', 'INVALID', 'INTERRUPTED')),
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    dag               TEXT    NOT NULL CHECK (json_valid(dag)),
    path              TEXT,
    dir               TEXT,
    params            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    plugins           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(plugins)),
    engine_pid        INTEGER,
    engine_host       TEXT,
    engine_started_at INTEGER,
    heartbeat_at      INTEGER,
    metrics           TEXT    CHECK (metrics IS NULL OR json_valid(metrics))
);
CREATE INDEX runs_by_workflow ON runs (workflow, run_id);

CREATE TABLE task_instances (
    run_id        INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id       TEXT    NOT NULL,
    idx           INTEGER NOT NULL,
    plugin        TEXT    NOT NULL,
    state         TEXT    NOT NULL
        CHECK (state IN ('PENDING', 'QUEUED', 'RUNNING', 'UP_FOR_RETRY', 'SUCCESS', 'FAILED',
                         'UPSTREAM_FAILED', 'SKIPPED', 'INVALID')),
    attempt       INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    retry_base    INTEGER NOT NULL DEFAULT 0 CHECK (retry_base >= 0),
    next_retry_at INTEGER,
    started_at    INTEGER,
    ended_at      INTEGER,
    error         TEXT,
    result        TEXT    CHECK (result IS NULL OR json_valid(result)),
    PRIMARY KEY (run_id, task_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX task_instances_by_idx ON task_instances (run_id, idx);

CREATE TABLE run_edges (
    run_id     INTEGER NOT NULL,
    upstream   TEXT    NOT NULL,
    downstream TEXT    NOT NULL,
    PRIMARY KEY (run_id, upstream, downstream),
    FOREIGN KEY (run_id, upstream) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE,
    FOREIGN KEY (run_id, downstream) REFERENCES task_instances (run_id, task_id)
        ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX run_edges_by_downstream ON run_edges (run_id, downstream);

CREATE TABLE task_event_log (
    seq        INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL,
    task_id    TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    detail     TEXT,
    FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE
);
CREATE INDEX task_event_log_by_task ON task_event_log (run_id, task_id, seq);

CREATE TABLE attempts (
    run_id     INTEGER NOT NULL,
    task_id    TEXT    NOT NULL,
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    outcome    TEXT    NOT NULL
        CHECK (outcome IN ('RUNNING', 'SUCCESS', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'LOST')),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    error      TEXT,
    log        TEXT,
    PRIMARY KEY (run_id, task_id, attempt),
    FOREIGN KEY (run_id, task_id) REFERENCES task_instances (run_id, task_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE alerts (
    alert_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id      TEXT,
    event        TEXT    NOT NULL,
    sink         TEXT    NOT NULL,
    sink_index   INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    tries        INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    error        TEXT
);
CREATE INDEX alerts_by_run_status ON alerts (run_id, status, alert_id);

CREATE TABLE breaker_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    task_id      TEXT,
    breaker      TEXT    NOT NULL,
    from_state   TEXT    NOT NULL CHECK (from_state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
    to_state     TEXT    NOT NULL CHECK (to_state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
    failure_rate REAL    NOT NULL,
    calls        INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX breaker_log_by_run ON breaker_log (run_id, seq);

-- Views: SPEC §7, the stable query surface. Times as ISO-8601 UTC text with milliseconds,
-- durations as integers in milliseconds (NULL while unfinished).

CREATE VIEW run_history AS
SELECT r.run_id AS run_id,
       r.workflow AS workflow,
       CASE
           WHEN r.state = 'RUNNING'
                AND COALESCE(r.heartbeat_at, r.started_at)
                    < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - 30000
               THEN 'INTERRUPTED'
           ELSE r.state
       END AS state,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', r.ended_at / 1000.0, 'unixepoch') AS ended_at,
       r.ended_at - r.started_at AS duration_ms,
       (SELECT count(*) FROM task_instances t WHERE t.run_id = r.run_id) AS tasks_total,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state = 'SUCCESS') AS tasks_succeeded,
       (SELECT count(*) FROM task_instances t
         WHERE t.run_id = r.run_id AND t.state IN ('FAILED', 'UPSTREAM_FAILED', 'INVALID'))
           AS tasks_failed
  FROM runs r;

CREATE VIEW task_history AS
SELECT t.run_id AS run_id,
       r.workflow AS workflow,
       t.task_id AS task_id,
       t.plugin AS plugin,
       t.state AS state,
       t.attempt AS attempts,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.ended_at / 1000.0, 'unixepoch') AS ended_at,
       t.ended_at - t.started_at AS duration_ms,
       t.error AS error
  FROM task_instances t
  JOIN runs r ON r.run_id = t.run_id;

CREATE VIEW task_events AS
SELECT e.seq AS seq,
       e.run_id AS run_id,
       e.task_id AS task_id,
       e.from_state AS from_state,
       e.to_state AS to_state,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.at / 1000.0, 'unixepoch') AS at,
       e.attempt AS attempt,
       e.detail AS detail
  FROM task_event_log e;

CREATE VIEW attempt_history AS
SELECT a.run_id AS run_id,
       a.task_id AS task_id,
       a.attempt AS attempt,
       a.outcome AS outcome,
       strftime('%Y-%m-%dT%H:%M:%fZ', a.started_at / 1000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', a.ended_at / 1000.0, 'unixepoch') AS ended_at,
       a.ended_at - a.started_at AS duration_ms,
       a.error AS error,
       a.log AS log
  FROM attempts a;

CREATE VIEW alert_history AS
SELECT l.alert_id AS alert_id,
       l.run_id AS run_id,
       l.task_id AS task_id,
       l.event AS event,
       l.sink AS sink,
       l.status AS status,
       l.tries AS tries,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.created_at / 1000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', l.delivered_at / 1000.0, 'unixepoch') AS delivered_at,
       l.error AS error
  FROM alerts l;

-- breaker_history: every circuit breaker state change (SPEC §3a), in order of seq. An addition to
-- SPEC §7's surface, documented in the README.
CREATE VIEW breaker_history AS
SELECT b.seq AS seq,
       b.run_id AS run_id,
       b.task_id AS task_id,
       b.breaker AS breaker,
       b.from_state AS from_state,
       b.to_state AS to_state,
       b.failure_rate AS failure_rate,
       b.calls AS calls,
       strftime('%Y-%m-%dT%H:%M:%fZ', b.at / 1000.0, 'unixepoch') AS at
  FROM breaker_log b;
