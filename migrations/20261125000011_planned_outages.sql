-- A change can declare that its window takes its service down on purpose:
-- ITIL counts only unplanned downtime against availability, so outages
-- inside such a window (once the change is approved) are not counted.
ALTER TABLE changes ADD COLUMN planned_outage boolean NOT NULL DEFAULT false;
