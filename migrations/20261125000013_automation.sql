-- Automation: outbound HTTP calls owed by rules (webhooks) and runbooks,
-- and the runbook runs people asked for.

-- A runbook run: who asked for what, with which parameters, and how it
-- ended. A run that needs approval waits on its change (a standard change
-- in the change schedule) and is queued when the CAB approves it.
CREATE TABLE runbook_runs (
    id           bigserial PRIMARY KEY,
    runbook      text NOT NULL,
    params       jsonb NOT NULL,
    requested_by text NOT NULL,
    incident_id  bigint REFERENCES tickets (id),
    change_id    bigint REFERENCES tickets (id),
    -- Where the result is announced.
    platform     text NOT NULL,
    channel      text NOT NULL,
    thread       text,
    status       text NOT NULL CHECK (status IN ('awaiting_approval', 'queued', 'succeeded', 'failed', 'rejected')),
    http_status  integer,
    link         text,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    CHECK (incident_id IS NOT NULL OR change_id IS NOT NULL)
);
CREATE UNIQUE INDEX runbook_runs_by_change ON runbook_runs (change_id) WHERE change_id IS NOT NULL;

-- Every call owed to an outside endpoint, written in the transaction of
-- the event (or approval) that causes it and sent by a worker that leases
-- it first, like the outbox. Secrets are not here: `secret_env` and the
-- `${NAME}` references in `headers` name environment variables read when
-- sending.
CREATE TABLE outbound_calls (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('rule', 'runbook')),
    name          text NOT NULL,
    event         text NOT NULL,
    ticket_id     bigint NOT NULL REFERENCES tickets (id),
    run_id        bigint REFERENCES runbook_runs (id),
    method        text NOT NULL,
    url           text NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}',
    body          text NOT NULL,
    secret_env    text,
    max_attempts  integer NOT NULL CHECK (max_attempts >= 1),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    http_status   integer,
    created_at    timestamptz NOT NULL,
    not_before    timestamptz NOT NULL,
    claimed_until timestamptz,
    sent_at       timestamptz,
    failed_at     timestamptz
);
CREATE INDEX outbound_calls_due ON outbound_calls (not_before, id) WHERE sent_at IS NULL AND failed_at IS NULL;

-- `/itsm rules` counts each rule's firings and failures from the timeline.
CREATE INDEX ticket_events_by_rule ON ticket_events (to_value, at)
    WHERE action IN ('rule_fired', 'rule_failed');
