-- Incidents by the instant a person first responded: the figures' MTTA
-- and "responded" counts read one span of it (store::reports::figures).
-- Without it the digest read every incident in a sequential scan: 1.46 s
-- of its 1.65 s over a million incidents (BENCHMARKS run 6).
CREATE INDEX incidents_by_responded ON incidents (responded_at)
    WHERE responded_at IS NOT NULL;
