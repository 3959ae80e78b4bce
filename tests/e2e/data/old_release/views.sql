SELECT 'run', * FROM run_history ORDER BY run_id;
SELECT 'task', * FROM task_history ORDER BY run_id, task_id, map_index;
SELECT 'event', * FROM task_events ORDER BY run_id, seq;
SELECT 'attempt', run_id, task_id, attempt, outcome, started_at, ended_at, duration_ms, error, map_index FROM attempt_history ORDER BY run_id, task_id, map_index, attempt;
SELECT 'alert', * FROM alert_history ORDER BY alert_id;
SELECT 'breaker', * FROM breaker_history ORDER BY seq;
SELECT 'edge', * FROM run_edges ORDER BY run_id, upstream, downstream;
