-- Service level management: clock pauses, the instants at which clocks
-- cross their warning and breach thresholds, the ledger of what was posted,
-- each clock's outcome for reports, and scheduled job runs.

-- When the response clock stopped: the first acknowledgement or
-- resolution. Unlike resolved_at, a reopen does not clear it.
ALTER TABLE incidents ADD COLUMN responded_at timestamptz;

-- Intervals in which an incident's resolve clock does not count: time on
-- hold, and time between a resolve and a reopen.
CREATE TABLE sla_pauses (
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    PRIMARY KEY (ticket_id, started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);

-- Future threshold crossings of running clocks, recomputed in the same
-- transaction as every change to the ticket. The sweep claims due rows with
-- FOR UPDATE SKIP LOCKED, so replicas share the work without doubling it.
CREATE TABLE sla_checkpoints (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    clock     text NOT NULL CHECK (clock IN ('respond', 'resolve')),
    threshold smallint NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    due_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, clock, threshold)
);
CREATE INDEX sla_checkpoints_due ON sla_checkpoints (due_at);

-- Every warning (threshold < 100) and breach (100) posted: once per ticket,
-- clock and threshold, whatever the number of replicas or restarts.
CREATE TABLE sla_notifications (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    clock     text NOT NULL,
    threshold smallint NOT NULL,
    due_at    timestamptz NOT NULL,
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, clock, threshold)
);

-- Each clock's result for reports: met or breached, and by how much
-- (positive margin = time to spare, negative = late by).
CREATE TABLE sla_outcomes (
    ticket_id      bigint NOT NULL REFERENCES tickets (id),
    clock          text NOT NULL CHECK (clock IN ('respond', 'resolve')),
    target_seconds bigint NOT NULL,
    due_at         timestamptz,
    stopped_at     timestamptz,
    met            boolean,
    margin_seconds bigint,
    PRIMARY KEY (ticket_id, clock)
);
CREATE INDEX sla_outcomes_by_stop ON sla_outcomes (stopped_at);

-- Notices (SLA warnings, digests) owed to a channel, beside cards and surveys.
ALTER TABLE outbox ALTER COLUMN ticket_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN channel text, ADD COLUMN thread text, ADD COLUMN body text;
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('ticket_message', 'survey', 'notice'));
ALTER TABLE outbox ADD CONSTRAINT outbox_notice_shape CHECK (kind <> 'notice' OR (channel IS NOT NULL AND body IS NOT NULL));
ALTER TABLE outbox ADD CONSTRAINT outbox_ticket_shape CHECK (kind = 'notice' OR ticket_id IS NOT NULL);

-- Scheduled runs (digests, sweeps), once per job and instant across replicas.
CREATE TABLE job_runs (
    job           text NOT NULL,
    scheduled_for timestamptz NOT NULL,
    started_at    timestamptz NOT NULL,
    PRIMARY KEY (job, scheduled_for)
);

-- Reports read incidents by when they were acknowledged and resolved.
CREATE INDEX incidents_by_acknowledged ON incidents (acknowledged_at) WHERE acknowledged_at IS NOT NULL;
CREATE INDEX incidents_by_resolved ON incidents (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX satisfaction_by_answer ON satisfaction (answered_at);
CREATE INDEX sla_notifications_by_post ON sla_notifications (posted_at) WHERE threshold = 100;
