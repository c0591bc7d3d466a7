-- Fulfilment SLA compliance (issue 23): the instant each request's
-- fulfilment clock is due, kept by the engine as the request moves (set at
-- approval, moved by holds, NULL while it is paused with time left or was
-- cancelled or rejected before it was due). The figures judge a clock met
-- when the request was fulfilled by it, and breached at it otherwise, as
-- they do incident SLA clocks. Requests approved before this migration have
-- none and are not judged.
ALTER TABLE requests ADD COLUMN fulfil_due_at timestamptz;
CREATE INDEX requests_by_fulfil_due ON requests (fulfil_due_at) WHERE fulfil_due_at IS NOT NULL;
CREATE INDEX requests_by_fulfilled ON requests (fulfilled_at) WHERE fulfilled_at IS NOT NULL;
