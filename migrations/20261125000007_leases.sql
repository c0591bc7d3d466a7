-- Leases: work that only one replica may do at a time (the Discord gateway
-- connection), held by a row with an expiry and renewed by a heartbeat.
--
-- A lease is claimed with a conditional upsert that succeeds only when the
-- row is missing, has expired, or already names the claimant, so two
-- replicas can never both hold it. Expiry is judged by the database's clock
-- (clock_timestamp()), never by the replicas', so their clocks may drift.
-- A holder that dies simply stops renewing; the row expires and a standby
-- claims it. A holder that stops cleanly deletes its row, so a standby can
-- take over at its next attempt.

CREATE TABLE leases (
    name         text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 100),
    -- Who holds it: host, process and a per-process nonce, for the logs.
    holder       text NOT NULL CHECK (char_length(holder) BETWEEN 1 AND 200),
    -- When the current holder claimed it (kept across renewals).
    acquired_at  timestamptz NOT NULL,
    -- The holder's last heartbeat plus the lease's time to live.
    expires_at   timestamptz NOT NULL
);
