-- One row per SLA clock instead of one per threshold (issue 25).
--
-- `sla_outcomes` already holds one row per ticket and clock, written with
-- the ticket; it now also carries what the sweep posts next for that
-- clock: the threshold (percent of the target, 100 = the breach) and the
-- instant it falls due. The sweep claims due rows FOR UPDATE SKIP LOCKED,
-- posts, and advances them to the next threshold (NULL: nothing more to
-- post). `sla_notifications` stays the ledger of what was posted.
ALTER TABLE sla_outcomes
    ADD COLUMN next_threshold smallint CHECK (next_threshold BETWEEN 1 AND 100),
    ADD COLUMN next_due_at timestamptz,
    ADD CONSTRAINT sla_outcomes_next_shape CHECK ((next_threshold IS NULL) = (next_due_at IS NULL));

-- Each clock keeps the earliest of its checkpoints that was not posted yet.
UPDATE sla_outcomes o
   SET next_threshold = c.threshold, next_due_at = c.due_at
  FROM (SELECT DISTINCT ON (ticket_id, clock) ticket_id, clock, threshold, due_at
          FROM sla_checkpoints c
         WHERE NOT EXISTS (SELECT 1 FROM sla_notifications n
                            WHERE n.ticket_id = c.ticket_id AND n.clock = c.clock
                              AND n.threshold = c.threshold)
         ORDER BY ticket_id, clock, threshold) c
 WHERE o.ticket_id = c.ticket_id AND o.clock = c.clock;

DROP TABLE sla_checkpoints;

CREATE INDEX sla_outcomes_next_due ON sla_outcomes (next_due_at) WHERE next_due_at IS NOT NULL;
