-- The open incidents, oldest first: the daily digest's "oldest open" list
-- and its open-by-priority counts. Their predicate (`status IN ('new',
-- 'acknowledged', 'on_hold')`) is not the one tickets_open_by_priority was
-- built with (`status NOT IN (…closed states…)`), so the planner could not
-- use it: over a million tickets the digest walked the whole created_at
-- index (950,000 closed rows filtered out) to find the five oldest open.
-- This index holds only the open incidents, in the order the list wants,
-- with the priority alongside so the counts never touch the table.
CREATE INDEX tickets_open_incidents ON tickets (created_at, id) INCLUDE (priority)
    WHERE kind = 'incident' AND status IN ('new', 'acknowledged', 'on_hold');
