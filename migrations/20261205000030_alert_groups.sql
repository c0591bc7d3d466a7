-- Alerts grouped into incidents (`hooks.group_by`) and the storm guard.
--
-- One row per alert source and group key: the incident the group's alerts
-- currently attach to. A firing alert with no open incident of its own
-- joins its group's incident while that is open; when the group's incident
-- has been resolved or closed, the next alert of the group opens a new one
-- and the row moves to it (as `alerts` rows move between episodes).
--
-- Group keys carry their kind ("group:<Alertmanager groupKey>",
-- "fingerprint:<fp>", "labels:…"), so changing `hooks.group_by` starts new
-- groups. A storm incident has a row of its own ("storm:<service>" or
-- "storm:*", `storm` true); the groups whose alerts joined it point at it
-- too, so their later alerts follow.
--
-- Existing alerts need no row: a group with no row opens a new incident on
-- its next firing alert, which is what one incident per fingerprint did.

CREATE TABLE alert_groups (
    source      text NOT NULL CHECK (source IN ('alertmanager', 'grafana')),
    group_key   text NOT NULL CHECK (char_length(group_key) BETWEEN 1 AND 600),
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    storm       boolean NOT NULL DEFAULT false,
    -- When the row last moved to an incident.
    opened_at   timestamptz NOT NULL,
    PRIMARY KEY (source, group_key)
);

-- An incident's groups: is it a storm incident, which groups follow it.
CREATE INDEX alert_groups_by_ticket ON alert_groups (ticket_id);

-- An incident's card and `show` list its alerts by name (the alert's title:
-- summary, else alertname); rows from before this have none and show their
-- fingerprint.
ALTER TABLE alerts ADD COLUMN name text CHECK (char_length(name) <= 200);
