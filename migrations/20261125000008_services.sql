-- The service catalog grows into what on-call and the status page need:
-- owner channel, tier, availability target, rotation, visibility and
-- dependencies (all kept in sync from `[[services]]` at start). Incidents
-- can be marked as outages, which count as downtime until resolved;
-- public updates are what the status page shows of an incident.

ALTER TABLE services
    ADD COLUMN channel             text,
    ADD COLUMN tier                text,
    ADD COLUMN availability_target double precision NOT NULL DEFAULT 99.9
        CHECK (availability_target > 0 AND availability_target <= 100),
    ADD COLUMN rotation            text,
    ADD COLUMN public              boolean NOT NULL DEFAULT true,
    ADD COLUMN depends_on          text[] NOT NULL DEFAULT '{}';

-- Outages: `/incident INC-n outage [since <time>]` opens one (or moves the
-- start of the open one); resolving the incident ends it. A reopened
-- incident is not down again until someone says so, and the time it spent
-- resolved never counts as downtime.
CREATE TABLE outages (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    started_at timestamptz NOT NULL,
    ended_at   timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX outages_one_open_per_ticket ON outages (ticket_id) WHERE ended_at IS NULL;
CREATE INDEX outages_by_end ON outages (ended_at);

-- Updates meant for the public status page, never internal notes.
CREATE TABLE public_updates (
    id        bigserial PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES tickets (id),
    at        timestamptz NOT NULL,
    author    text NOT NULL,
    body      text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000)
);
CREATE INDEX public_updates_by_ticket ON public_updates (ticket_id, at);

-- `/itsm oncall override`: someone on call instead during [starts_at, ends_at).
CREATE TABLE oncall_overrides (
    id         bigserial PRIMARY KEY,
    rotation   text NOT NULL,
    member     text NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX oncall_overrides_by_rotation ON oncall_overrides (rotation, ends_at);

-- Pages of P1/P2 incidents and the ledger of their escalation steps
-- (0 = the on-call member, 1 = the next member, 2 = the service's channel
-- and owner): the primary key makes each step happen once, whichever
-- replica's sweep gets there first.
CREATE TABLE pages (
    ticket_id  bigint PRIMARY KEY REFERENCES tickets (id),
    rotation   text NOT NULL,
    paged      text NOT NULL,
    paged_at   timestamptz NOT NULL
);
CREATE TABLE page_steps (
    ticket_id bigint NOT NULL REFERENCES pages (ticket_id),
    step      smallint NOT NULL CHECK (step BETWEEN 0 AND 2),
    target    text NOT NULL,
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, step)
);

-- Error-budget warnings posted (50 and 100 percent spent), once per
-- crossing: a row is removed when the rolling budget recovers below its
-- threshold, so a later crossing is announced again.
CREATE TABLE budget_warnings (
    service_id bigint NOT NULL REFERENCES services (id),
    threshold  smallint NOT NULL CHECK (threshold IN (50, 100)),
    posted_at  timestamptz NOT NULL,
    PRIMARY KEY (service_id, threshold)
);
