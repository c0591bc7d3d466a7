-- Monitoring alerts (Alertmanager, Grafana) and the incident each one opened.
--
-- One row per alert source and fingerprint: the incident the alert is
-- currently tied to and whether it was last seen firing or resolved. A
-- repeat of a firing alert notes that incident instead of opening another;
-- when the alert fires again after its incident was resolved or closed, the
-- row moves to the new incident (the old one keeps its timeline).
--
-- The primary key is what makes concurrent deliveries of one fingerprint
-- open one incident: the engine also takes a transaction-scoped advisory
-- lock per fingerprint, so the second delivery waits and then sees the
-- first one's row; should anything skip the lock, the key refuses the second
-- row and its whole delivery rolls back.

CREATE TABLE alerts (
    source       text NOT NULL CHECK (source IN ('alertmanager', 'grafana')),
    fingerprint  text NOT NULL CHECK (char_length(fingerprint) BETWEEN 1 AND 200),
    ticket_id    bigint NOT NULL REFERENCES tickets (id),
    status       text NOT NULL CHECK (status IN ('firing', 'resolved')),
    -- When the incident was opened for it, and when a delivery last named it.
    opened_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (source, fingerprint)
);

-- An incident's card or API view looks up the alerts behind it.
CREATE INDEX alerts_by_ticket ON alerts (ticket_id);
