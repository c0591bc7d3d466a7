-- Action items, part 2 (issue 11).
--
-- An action item can be raised as a problem or a change with one command
-- (`/itsm action <id> problem|change`). The item keeps a reference to the
-- ticket it was raised as and stays open until someone marks it done: the
-- owner and due date agreed in the review still stand, and the digest keeps
-- counting it, so a follow-up is not forgotten just because a ticket exists.
ALTER TABLE action_items ADD COLUMN raised_as bigint REFERENCES tickets (id);

-- The digest and the reports count open items and list the overdue ones
-- (due before today, soonest due first) with `action_items_open (due, id)
-- WHERE done_at IS NULL` from 20261125000010: no new index is needed.
