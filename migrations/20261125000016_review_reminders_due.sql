-- When each resolved P1/P2 incident's review reminder may be due, written
-- when it is resolved, so the every-minute sweep claims the due ones by
-- index instead of scanning every resolved incident for a missing review
-- (448 ms over a million tickets, see BENCHMARKS.md). `due_at` is a lower
-- bound: the sweep works out the real date in the incident's calendar and
-- moves the row on if it is later. Rows go when the reminder is posted or
-- is no longer owed (a review exists, the incident reopened).
CREATE TABLE review_reminders_due (
    incident_id bigint PRIMARY KEY REFERENCES tickets (id),
    due_at      timestamptz NOT NULL
);
CREATE INDEX review_reminders_due_by_time ON review_reminders_due (due_at);

-- Incidents resolved before this migration that may still be owed one.
INSERT INTO review_reminders_due (incident_id, due_at)
SELECT t.id, i.resolved_at
  FROM tickets t JOIN incidents i ON i.ticket_id = t.id
 WHERE t.kind = 'incident' AND t.priority IN (1, 2)
   AND t.status IN ('resolved', 'closed') AND i.resolved_at IS NOT NULL
   AND i.resolved_at >= now() - interval '30 days'
   AND NOT EXISTS (SELECT 1 FROM postmortems p WHERE p.incident_id = t.id)
   AND NOT EXISTS (SELECT 1 FROM postmortem_reminders r WHERE r.incident_id = t.id);
