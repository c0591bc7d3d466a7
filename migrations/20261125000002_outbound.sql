-- Outbound: what the bot owes the chat platforms, and what it has posted.

-- The message that shows a ticket on a platform (an incident card), so that
-- every later change edits it in place. `thread` is the thread that
-- conversation about the ticket happens in: replies there become notes.
CREATE TABLE ticket_messages (
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    platform   text NOT NULL,
    channel    text NOT NULL,
    message_id text NOT NULL,
    thread     text NOT NULL,
    posted_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, platform)
);
-- Not unique: an incident reported from a reply can have its card in a
-- thread that already holds another incident's card.
CREATE INDEX ticket_messages_by_thread ON ticket_messages (platform, channel, thread);

-- Every post or edit owed to a platform, written in the same transaction as
-- the change that causes it. A delivery worker claims due rows with
-- FOR UPDATE SKIP LOCKED, sends them and marks them sent in one
-- transaction, so a crash re-sends at most the message in flight.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    platform   text NOT NULL CHECK (platform IN ('slack', 'discord')),
    -- ticket_message: post or update the ticket's card (coalesced per ticket);
    -- survey: ask the reporter for a satisfaction score.
    kind       text NOT NULL CHECK (kind IN ('ticket_message', 'survey')),
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    created_at timestamptz NOT NULL,
    not_before timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at    timestamptz,
    failed_at  timestamptz
);
CREATE INDEX outbox_due ON outbox (platform, not_before, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, platform, kind) WHERE sent_at IS NULL AND failed_at IS NULL;

-- Customer satisfaction: one score per ticket, given once by its reporter.
CREATE TABLE satisfaction (
    ticket_id   bigint PRIMARY KEY REFERENCES tickets (id),
    score       smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    respondent  text NOT NULL,
    answered_at timestamptz NOT NULL
);

-- A chat message becomes at most one incident, even when two people react
-- to it at the same moment.
CREATE UNIQUE INDEX tickets_by_origin_message ON tickets (kind, origin_platform, origin_channel, origin_message)
    WHERE origin_message IS NOT NULL;
