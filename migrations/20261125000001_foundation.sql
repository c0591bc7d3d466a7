-- The foundation: the service catalog, tickets of every kind with the
-- incident details beside them, the append-only timeline, role grants and
-- the ledger of processed inbound events.
--
-- Tickets of all three ITIL practices share one `tickets` table (reference
-- number, title, status, service, people, origin, timestamps) so that the
-- timeline, links, chat messages and notifications can point at any ticket
-- with one foreign key. Each kind keeps what only it has in a table of its
-- own (`incidents` here; problems and changes beside it later).

CREATE TABLE services (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    description text NOT NULL DEFAULT '',
    owner       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE incident_number_seq;
CREATE SEQUENCE problem_number_seq;
CREATE SEQUENCE change_number_seq;

CREATE TABLE tickets (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('incident', 'problem', 'change')),
    number          bigint NOT NULL CHECK (number > 0),
    title           text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    status          text NOT NULL,
    -- 1 (P1) to 4 (P4); changes and problems may leave it empty.
    priority        smallint CHECK (priority BETWEEN 1 AND 4),
    service_id      bigint REFERENCES services (id),
    reporter        text NOT NULL,
    assignee        text,
    origin_platform text NOT NULL,
    origin_channel  text NOT NULL,
    origin_thread   text,
    origin_message  text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (kind, number),
    CHECK (kind <> 'incident'
           OR (status IN ('new', 'acknowledged', 'on_hold', 'resolved', 'closed') AND priority IS NOT NULL))
);

-- Open-ticket queries (`/itsm open`, the SLA sweep) read only open rows.
CREATE INDEX tickets_open_by_priority ON tickets (kind, priority, created_at)
    WHERE status NOT IN ('resolved', 'closed', 'completed', 'failed', 'rolled_back', 'rejected', 'cancelled');
CREATE INDEX tickets_by_assignee ON tickets (assignee) WHERE assignee IS NOT NULL;
CREATE INDEX tickets_by_reporter ON tickets (reporter);
CREATE INDEX tickets_by_created ON tickets (kind, created_at);

CREATE TABLE incidents (
    ticket_id          bigint PRIMARY KEY REFERENCES tickets (id),
    impact             text NOT NULL CHECK (impact IN ('high', 'medium', 'low')),
    urgency            text NOT NULL CHECK (urgency IN ('high', 'medium', 'low')),
    status_before_hold text CHECK (status_before_hold IN ('new', 'acknowledged')),
    hold_reason        text,
    acknowledged_at    timestamptz,
    acknowledged_by    text,
    resolved_at        timestamptz,
    resolution         text,
    closed_at          timestamptz
);

-- The timeline: one row per change, never updated or deleted.
CREATE TABLE ticket_events (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    from_value text,
    to_value   text,
    body       text
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);

CREATE FUNCTION ticket_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ticket timeline is append-only (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER ticket_events_append_only
    BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only();

-- Roles granted from chat by an admin, in addition to those in config.
CREATE TABLE role_grants (
    user_id    text NOT NULL,
    role       text NOT NULL CHECK (role IN ('reporter', 'engineer', 'manager', 'cab', 'emergency_cab', 'admin')),
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Inbound events already handled (Slack event_id, Discord interaction id,
-- envelope ids), written in the same transaction as their effect, so a
-- redelivery changes nothing and gets the first answer again.
CREATE TABLE processed_inbound (
    platform     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL,
    reply        text NOT NULL,
    PRIMARY KEY (platform, event_id)
);
CREATE INDEX processed_inbound_by_time ON processed_inbound (processed_at);
