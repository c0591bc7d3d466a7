-- Change enablement: what only change requests have, beside their `tickets`
-- row (title, status, service, requester as `reporter`, implementer as
-- `assignee`), their CAB approvals, and the reminders already posted.

CREATE TABLE changes (
    ticket_id     bigint PRIMARY KEY REFERENCES tickets (id),
    change_type   text NOT NULL CHECK (change_type IN ('standard', 'normal', 'emergency')),
    standard      text,
    plan          text CHECK (char_length(plan) <= 4000),
    test_plan     text CHECK (char_length(test_plan) <= 4000),
    rollback_plan text CHECK (char_length(rollback_plan) <= 4000),
    window_start  timestamptz,
    window_end    timestamptz,
    impact        text NOT NULL CHECK (impact IN ('high', 'medium', 'low')),
    likelihood    text NOT NULL CHECK (likelihood IN ('high', 'medium', 'low')),
    risk          text NOT NULL CHECK (risk IN ('high', 'medium', 'low')),
    rejection     text,
    outcome       text,
    submitted_at  timestamptz,
    approved_at   timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    CHECK ((window_start IS NULL) = (window_end IS NULL) AND (window_end IS NULL OR window_end > window_start)),
    CHECK (change_type = 'standard' OR standard IS NULL)
);

ALTER TABLE tickets ADD CONSTRAINT tickets_change_status CHECK (
    kind <> 'change' OR status IN ('draft', 'submitted', 'approved', 'rejected', 'in_progress',
                                   'completed', 'failed', 'rolled_back', 'cancelled'));

-- The schedule and the overlap check read approved and running windows.
CREATE INDEX changes_by_window ON changes (window_start, window_end) WHERE window_start IS NOT NULL;

-- One approval per CAB member per change: the primary key makes a double
-- click or two replicas count once.
CREATE TABLE change_approvals (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    approver  text NOT NULL,
    at        timestamptz NOT NULL,
    comment   text CHECK (char_length(comment) <= 4000),
    PRIMARY KEY (ticket_id, approver)
);

-- Reminders and overrun flags posted by the scheduler, once per change,
-- kind and window (a rescheduled window is reminded again).
CREATE TABLE change_reminders (
    ticket_id    bigint NOT NULL REFERENCES tickets (id),
    kind         text NOT NULL CHECK (kind IN ('before_24h', 'before_1h', 'overrun')),
    window_start timestamptz NOT NULL,
    posted_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, kind, window_start)
);
