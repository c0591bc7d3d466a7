-- Knowledge and search (issue 24): knowledge-base articles as tickets of
-- kind 'kb', full-text and trigram search over every ticket kind, and
-- duplicate incidents with their followers.
--
-- pg_trgm ships in PostgreSQL's contrib (Debian: postgresql-contrib, part of
-- the server package since PostgreSQL 10). Where it is missing, or the
-- migrating role may not create extensions, this statement fails with
-- PostgreSQL's own message ("extension \"pg_trgm\" is not available" /
-- "permission denied to create extension") and nothing below is applied:
-- install contrib, or have a superuser run `CREATE EXTENSION pg_trgm` once.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- 'request' is listed too so this constraint stays right whichever order
-- the service-request and knowledge branches are merged in.
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_kind_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_kind_check
    CHECK (kind IN ('incident', 'problem', 'change', 'request', 'kb'));
ALTER TABLE tickets ADD CONSTRAINT tickets_kb_status
    CHECK (kind <> 'kb' OR status IN ('draft', 'published', 'retired'));

CREATE SEQUENCE kb_number_seq;

CREATE TABLE kb_articles (
    ticket_id        bigint PRIMARY KEY REFERENCES tickets (id),
    -- A copy of tickets.title, as for problems: a generated column reads
    -- only its own row. Article titles are written once, with the ticket.
    title            text NOT NULL,
    body             text NOT NULL DEFAULT '' CHECK (char_length(body) <= 20000),
    -- The incident or problem the article was drafted from, if any.
    source_ticket_id bigint REFERENCES tickets (id),
    published_at     timestamptz,
    retired_at       timestamptz,
    -- Titles weigh more than bodies in the ranking.
    search           tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', body), 'B')
    ) STORED
);
CREATE INDEX kb_articles_search ON kb_articles USING gin (search);
CREATE INDEX kb_articles_title_trgm ON kb_articles USING gin (title gin_trgm_ops);

-- Every ticket's title (A) and description (B) as one document. A function
-- so the expression index and the queries spell it identically; IMMUTABLE
-- holds because the text search configuration is named, not taken from
-- the session. An expression index adds nothing to the rows: no table
-- rewrite on a large `tickets`.
CREATE FUNCTION ticket_document(title text, description text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('english'::regconfig, title), 'A')
           || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')
$$;
CREATE INDEX tickets_document ON tickets USING gin (ticket_document(title, description));
-- Trigram similarity of titles, for typos ("vnp") and near-duplicates.
CREATE INDEX tickets_title_trgm ON tickets USING gin (title gin_trgm_ops);

-- Incident resolutions are searchable too (the answer is often there).
CREATE INDEX incidents_resolution_search ON incidents
    USING gin (to_tsvector('english'::regconfig, coalesce(resolution, '')));

-- Duplicates: an incident closed as a duplicate points at the one that
-- stays open; figures count the pair once.
ALTER TABLE incidents ADD COLUMN duplicate_of bigint REFERENCES tickets (id);
ALTER TABLE incidents ADD CONSTRAINT incidents_not_own_duplicate CHECK (duplicate_of <> ticket_id);
CREATE INDEX incidents_by_duplicate_of ON incidents (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- People told when a ticket is resolved besides its reporter: the
-- reporters of its duplicates.
CREATE TABLE ticket_followers (
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    user_id    text NOT NULL,
    -- Where to tell them: the channel (and thread) they reported in.
    platform   text NOT NULL,
    channel    text NOT NULL,
    thread     text,
    via        bigint REFERENCES tickets (id),
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
