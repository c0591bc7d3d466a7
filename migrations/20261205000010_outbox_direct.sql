-- Direct messages in the outbox (issue 23): a `direct` row is a message to
-- one person (`channel` holds their platform id, `body` the message), such
-- as a request's approver being asked with Approve / Reject buttons, or its
-- requester told of a step. A later migration that adds a kind must list
-- every kind again (a CHECK cannot be widened in place).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('ticket_message', 'survey', 'notice', 'direct'));
ALTER TABLE outbox DROP CONSTRAINT outbox_notice_shape;
ALTER TABLE outbox ADD CONSTRAINT outbox_notice_shape
    CHECK (kind NOT IN ('notice', 'direct') OR (channel IS NOT NULL AND body IS NOT NULL));
ALTER TABLE outbox DROP CONSTRAINT outbox_ticket_shape;
ALTER TABLE outbox ADD CONSTRAINT outbox_ticket_shape
    CHECK (kind IN ('notice', 'direct') OR ticket_id IS NOT NULL);
