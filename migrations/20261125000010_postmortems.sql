-- Post-incident reviews (issue 11): one review per incident. The generated
-- parts (impact, timeline, SLA, problems, action items) are rendered from
-- the records each time it is shown; only the sections people edited are
-- stored, so an edit survives and everything else stays current.
CREATE TABLE postmortems (
    incident_id bigint PRIMARY KEY REFERENCES tickets (id),
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- section name → the text someone set with `postmortem set`.
    sections    jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Follow-up work agreed in a review.
CREATE TABLE action_items (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES tickets (id),
    text        text NOT NULL,
    owner       text,
    due         date,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    done_at     timestamptz,
    done_by     text
);
CREATE INDEX action_items_open ON action_items (due, id) WHERE done_at IS NULL;
CREATE INDEX action_items_by_incident ON action_items (incident_id, id);

-- Review reminders already posted: once per incident, on any replica.
CREATE TABLE postmortem_reminders (
    incident_id bigint PRIMARY KEY REFERENCES tickets (id),
    posted_at   timestamptz NOT NULL
);
