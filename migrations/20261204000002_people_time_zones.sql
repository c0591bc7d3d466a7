-- A person's own time zone (`/itsm timezone <zone>`): the zone the shell
-- shows them times in and their typed times are read in. People who set
-- none follow their platform profile (Slack's `tz`), then `[locale]`.
CREATE TABLE person_time_zones (
    user_id text PRIMARY KEY,
    time_zone text NOT NULL,
    set_at timestamptz NOT NULL
);
