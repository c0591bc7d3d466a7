-- Triage as a trained model (issue 24): a naive Bayes over the words of
-- resolved incidents, kept as counts the scheduler brings up to date as
-- history grows, so a suggestion reads a few dozen rows whatever the size
-- of the history (nearest neighbours over live full text read every
-- matching incident: seconds at a million). Everything here is derived
-- from tickets and incidents and may be emptied and retrained.

-- How many trained incidents of each service ('' = none) and priority used
-- each word (a lexeme of the english text search configuration, as in
-- `ticket_document`).
CREATE TABLE triage_terms (
    lexeme    text NOT NULL,
    service   text NOT NULL,
    priority  smallint NOT NULL,
    incidents bigint NOT NULL,
    PRIMARY KEY (lexeme, service, priority)
);

-- How many trained incidents each service and priority has: the priors.
CREATE TABLE triage_classes (
    service   text NOT NULL,
    priority  smallint NOT NULL,
    incidents bigint NOT NULL,
    PRIMARY KEY (service, priority)
);

-- Every word the model knows, so a misspelt word of a report ("priner")
-- is read as the known word it is nearest to ("printer").
CREATE TABLE triage_vocabulary (
    lexeme    text PRIMARY KEY,
    incidents bigint NOT NULL
);
CREATE INDEX triage_vocabulary_trgm ON triage_vocabulary USING gin (lexeme gin_trgm_ops);

-- How far training has read: incidents resolved up to (resolved_at,
-- ticket_id), in that order. One row; the trainer locks it, so one
-- replica trains at a time and no incident is counted twice.
CREATE TABLE triage_training (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    trained_through timestamptz NOT NULL,
    last_ticket_id  bigint NOT NULL,
    incidents       bigint NOT NULL,
    trained_at      timestamptz
);
INSERT INTO triage_training (trained_through, last_ticket_id, incidents)
VALUES ('1970-01-01T00:00:00Z', 0, 0);

CREATE INDEX incidents_for_training ON incidents (resolved_at, ticket_id)
    WHERE resolved_at IS NOT NULL AND duplicate_of IS NULL;

-- Duplicates are looked for among open incidents only: these partial
-- indexes hold just those, so a report's look-alike search reads the open
-- incidents that match, not every match in years of history.
CREATE INDEX tickets_open_incident_document ON tickets
    USING gin (ticket_document(title, description))
    WHERE kind = 'incident' AND status IN ('new', 'acknowledged', 'on_hold');
CREATE INDEX tickets_open_incident_title_trgm ON tickets
    USING gin (title gin_trgm_ops)
    WHERE kind = 'incident' AND status IN ('new', 'acknowledged', 'on_hold');
