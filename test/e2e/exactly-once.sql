-- Exactly once, from the database's side, for the executions of one burst
-- (test/e2e/burst.mjs). Variables: run (the execution id prefix), tenant and
-- expected (executions x events). kind.sh runs it with psql -v; burst.test.ts
-- runs the same text against a local PostgreSQL.
--
-- Every comment event adds one to its execution's commentCount, so the sum of
-- commentCount equals the number of applied events only if none was applied
-- twice (or lost). ok is true when the counts agree, nothing is left
-- unapplied and every execution's applied_seq has reached its last seq.
WITH executions AS (
  SELECT * FROM workflow_executions
  WHERE tenant = :'tenant' AND execution_id LIKE :'run' || '-%'
), events AS (
  SELECT e.* FROM workflow_events e
  JOIN executions x ON x.tenant = e.tenant AND x.execution_id = e.execution_id
), figures AS (
  SELECT
    (SELECT count(*) FROM executions) AS executions,
    (SELECT count(*) FROM events) AS events,
    (SELECT count(*) FROM events WHERE status = 'applied') AS applied,
    (SELECT count(*) FROM events WHERE status <> 'applied') AS not_applied,
    (SELECT count(*) FROM workflow_event_processing p JOIN events e ON e.event_id = p.event_id
      WHERE p.status = 'completed') AS completed,
    (SELECT coalesce(sum((data ->> 'commentCount')::bigint), 0) FROM executions) AS comments,
    (SELECT count(*) FROM executions WHERE applied_seq <> next_seq - 1) AS behind
)
SELECT
  executions, events, applied, not_applied, completed, comments, behind,
  (events = :expected AND applied = events AND comments = events AND completed = events
    AND not_applied = 0 AND behind = 0) AS ok
FROM figures;
