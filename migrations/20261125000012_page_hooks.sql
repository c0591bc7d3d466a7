-- Events owed to the outbound paging hook ([oncall.paging]): written in the
-- same transaction as the page, escalation step, acknowledgement or
-- resolution they report, and delivered by a worker with retry. The body is
-- the PagerDuty Events API v2 event *without* the routing key, which is a
-- secret and is added when sending, so it never lands in the database.
CREATE TABLE page_hooks (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint NOT NULL REFERENCES tickets (id),
    event_action  text NOT NULL CHECK (event_action IN ('trigger', 'acknowledge', 'resolve')),
    body          text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    created_at    timestamptz NOT NULL,
    not_before    timestamptz NOT NULL,
    claimed_until timestamptz,
    sent_at       timestamptz,
    failed_at     timestamptz
);
CREATE INDEX page_hooks_due ON page_hooks (not_before, id) WHERE sent_at IS NULL AND failed_at IS NULL;
