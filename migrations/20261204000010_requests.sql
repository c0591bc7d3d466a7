-- Service requests (issue 23): a `tickets` row of kind `request` (title =
-- the catalog item's title, description = the requester's free text,
-- requester as `reporter`, whoever took it as `assignee`), what only
-- requests have beside it, and their approvals.

CREATE SEQUENCE request_number_seq;

-- The kinds a ticket may be. A later migration that adds a kind must list
-- every kind again (a CHECK cannot be widened in place).
ALTER TABLE tickets DROP CONSTRAINT tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('incident', 'problem', 'change', 'request'));

ALTER TABLE tickets ADD CONSTRAINT tickets_request_status CHECK (
    kind <> 'request' OR status IN ('awaiting_approval', 'approved', 'in_progress', 'on_hold',
                                    'fulfilled', 'closed', 'rejected', 'cancelled'));

CREATE TABLE requests (
    ticket_id          bigint PRIMARY KEY REFERENCES tickets (id),
    -- The `[[requests.catalog]]` name. Not a foreign key: the catalog lives
    -- in config, and an item removed from it leaves its requests readable.
    item               text NOT NULL CHECK (char_length(item) BETWEEN 1 AND 100),
    -- Field values as validated, names and values side by side (the
    -- driver is built without JSON support).
    field_names        text[] NOT NULL DEFAULT '{}',
    field_values       text[] NOT NULL DEFAULT '{}',
    -- The 1-based numbers of the tasks done.
    tasks_done         integer[] NOT NULL DEFAULT '{}',
    status_before_hold text CHECK (status_before_hold IN ('approved', 'in_progress')),
    reason             text CHECK (char_length(reason) <= 4000),
    outcome            text CHECK (char_length(outcome) <= 4000),
    approved_at        timestamptz,
    fulfilled_at       timestamptz,
    CHECK (cardinality(field_names) = cardinality(field_values))
);

CREATE INDEX requests_by_item ON requests (item);

-- One approval per approver per request: the primary key makes a double
-- click or two replicas count once.
CREATE TABLE request_approvals (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    approver  text NOT NULL,
    at        timestamptz NOT NULL,
    comment   text CHECK (char_length(comment) <= 4000),
    PRIMARY KEY (ticket_id, approver)
);

-- A catalog item's runbook runs on approval for the request: the run
-- belongs to the request (its answer goes on the request's timeline).
ALTER TABLE runbook_runs ADD COLUMN request_id bigint REFERENCES tickets (id);
ALTER TABLE runbook_runs DROP CONSTRAINT runbook_runs_check;
ALTER TABLE runbook_runs ADD CONSTRAINT runbook_runs_check
    CHECK (incident_id IS NOT NULL OR change_id IS NOT NULL OR request_id IS NOT NULL);

-- Approver reminders posted by the sweep: once to the approvers, then once
-- more for the team, whichever replica gets there first.
CREATE TABLE request_reminders (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    kind      text NOT NULL CHECK (kind IN ('approvers', 'team')),
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, kind)
);

-- Fulfilment clock warnings (percent of `fulfil_within` used, 100 = breach)
-- posted by the sweep, once per request and threshold across replicas.
CREATE TABLE request_clock_alerts (
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    threshold smallint NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, threshold)
);
