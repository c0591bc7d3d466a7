-- Problem management: the problem details beside `incidents`, the incidents
-- each problem caused (many to many), and full-text search over problems
-- for `/problem search` and for the known errors suggested on new incidents.

ALTER TABLE tickets ADD CONSTRAINT tickets_problem_status
    CHECK (kind <> 'problem' OR status IN ('new', 'investigating', 'known_error', 'resolved', 'closed'));

CREATE TABLE problems (
    ticket_id      bigint PRIMARY KEY REFERENCES tickets (id),
    -- A copy of tickets.title: a generated column can read only its own
    -- row. Problem titles are written once, with the ticket, in the same
    -- statement, and no command changes them.
    title          text NOT NULL,
    root_cause     text,
    workaround     text,
    resolution     text,
    fix_change_id  bigint REFERENCES tickets (id),
    known_error_at timestamptz,
    resolved_at    timestamptz,
    closed_at      timestamptz,
    -- Titles weigh most, then root causes, then workarounds.
    search         tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', coalesce(root_cause, '')), 'B')
        || setweight(to_tsvector('english', coalesce(workaround, '')), 'C')
    ) STORED
);
CREATE INDEX problems_search ON problems USING gin (search);

CREATE TABLE problem_incidents (
    problem_id  bigint NOT NULL REFERENCES tickets (id),
    incident_id bigint NOT NULL REFERENCES tickets (id),
    linked_at   timestamptz NOT NULL,
    linked_by   text NOT NULL,
    PRIMARY KEY (problem_id, incident_id)
);
-- An incident's problems, for its side of the link.
CREATE INDEX problem_incidents_by_incident ON problem_incidents (incident_id);
