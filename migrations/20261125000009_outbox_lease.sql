-- A worker leases the rows it claims before sending them, and records the
-- result afterwards in a transaction of its own: a database that goes away
-- mid-send cannot hand the row to another replica to send again.
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
