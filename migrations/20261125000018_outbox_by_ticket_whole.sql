-- A card's rows are looked up by ticket over the whole outbox, not only
-- its unsent rows. The partial outbox_by_ticket was empty whenever the
-- queue had drained, and a VACUUM or ANALYZE then recorded it with no rows,
-- as it did outbox_due: with two "empty" partial indexes to choose from the
-- planner took outbox_due for a ticket's lookup and read every waiting row
-- per card (EXPLAIN ANALYZE: 248 ms for a batch of 16 with 55,000 cards
-- waiting). The queries that use this index say "unsent" as
-- coalesce(sent_at, failed_at) IS NULL, which outbox_due cannot serve. A
-- ticket's outbox history is a handful of rows, so reading it costs little.
DROP INDEX outbox_by_ticket;
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, platform, kind);
