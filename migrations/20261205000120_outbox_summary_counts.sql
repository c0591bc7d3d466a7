-- A summary post counts its tickets ("4,213 new incidents") and names the
-- first few. Counted at each render, a storm's summary read every ticket it
-- listed (50 ms for 30,000) at every edit; the counts are kept with the
-- summary instead, by the statement that lists tickets in it (tickets are
-- never deleted, so nothing else changes them).
ALTER TABLE outbox_summaries
    ADD COLUMN listed integer NOT NULL DEFAULT 0,
    ADD COLUMN listed_incidents integer NOT NULL DEFAULT 0;

UPDATE outbox_summaries s
SET listed = c.listed, listed_incidents = c.incidents
FROM (SELECT l.summary_id, count(*) AS listed,
             count(*) FILTER (WHERE t.kind = 'incident') AS incidents
      FROM outbox_summary_tickets l JOIN tickets t ON t.id = l.ticket_id
      GROUP BY l.summary_id) c
WHERE c.summary_id = s.id;
