-- Summary posts (issue 25): when a channel's waiting card posts would take
-- longer than `outbox.coalesce_after` to go out at the platform's pace, they
-- are listed in one post per channel instead, edited as things change. A
-- summary is open (new cards of its channel join it) until its storm is
-- over; its tickets keep it as their card on that platform.
CREATE TABLE outbox_summaries (
    id bigserial PRIMARY KEY,
    platform text NOT NULL,
    channel text NOT NULL,
    -- Where it landed, once posted.
    message_id text,
    thread text,
    opened_at timestamptz NOT NULL,
    -- The last time a ticket joined.
    updated_at timestamptz NOT NULL,
    closed_at timestamptz
);
CREATE UNIQUE INDEX outbox_summaries_open ON outbox_summaries (platform, channel)
    WHERE closed_at IS NULL;

CREATE TABLE outbox_summary_tickets (
    summary_id bigint NOT NULL REFERENCES outbox_summaries (id) ON DELETE CASCADE,
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (summary_id, ticket_id)
);
CREATE INDEX outbox_summary_tickets_by_ticket ON outbox_summary_tickets (ticket_id);

-- A `summary` row asks for a summary post (or its edit); a card row listed
-- in one instead of posted records which.
ALTER TABLE outbox ADD COLUMN summary_id bigint REFERENCES outbox_summaries (id) ON DELETE CASCADE;
CREATE INDEX outbox_by_summary ON outbox (summary_id) WHERE summary_id IS NOT NULL;
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('ticket_message', 'survey', 'notice', 'direct', 'summary'));
ALTER TABLE outbox DROP CONSTRAINT outbox_ticket_shape;
ALTER TABLE outbox ADD CONSTRAINT outbox_ticket_shape
    CHECK (kind IN ('notice', 'summary') OR ticket_id IS NOT NULL);
ALTER TABLE outbox ADD CONSTRAINT outbox_summary_shape
    CHECK (kind <> 'summary' OR (summary_id IS NOT NULL AND channel IS NOT NULL));
