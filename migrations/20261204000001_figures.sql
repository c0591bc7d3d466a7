-- Figures a manager can trust (issue 20).
--
-- A response is a person's action. An incident that its monitoring source
-- resolved before anyone responded is counted apart ("resolved by
-- monitoring"): its clocks end without a verdict, so they are neither met
-- nor breached, and it is not in MTTA or MTTR.
ALTER TABLE incidents ADD COLUMN resolved_by_monitoring boolean NOT NULL DEFAULT false;

-- Whether a clock counts towards SLA compliance (false for the clocks of
-- an incident resolved by monitoring). A clock is judged met at its stop
-- when it stopped at or before `due_at`, and breached at `due_at` when it
-- had not stopped by then: `due_at` is the instant the clock reached (or
-- will reach) its target, pauses included.
ALTER TABLE sla_outcomes ADD COLUMN counted boolean NOT NULL DEFAULT true;

-- Breaches are counted in the period their due instant falls in.
CREATE INDEX sla_outcomes_by_due ON sla_outcomes (due_at) WHERE due_at IS NOT NULL;

-- Change and problem figures: changes by when they finished, submitted and
-- were approved; problems by when they were opened (tickets_by_created).
CREATE INDEX changes_by_finished ON changes (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX changes_by_submitted ON changes (submitted_at) WHERE submitted_at IS NOT NULL;
CREATE INDEX problem_incidents_by_link ON problem_incidents (linked_at);
