-- The summary posts still to send, by summary (`queue_summary`, the
-- claim). Every card listed in a summary carries its `summary_id` too, so
-- `outbox_by_summary` finds a summary's few waiting posts among all the
-- cards it lists: with a channel summarising a burst, each claim that
-- asked whether the summary's edit was already queued read every card the
-- summary had taken in. This index holds
-- only the waiting posts (a handful at any time). Built once; small.
CREATE INDEX outbox_waiting_summaries ON outbox (summary_id)
    WHERE kind = 'summary' AND sent_at IS NULL AND failed_at IS NULL;

-- The cards waiting in a channel that a claim folds into its summary, by
-- channel. Before, each such claim read the platform's whole unsent
-- backlog through `outbox_due` to pick out one channel's cards, so a burst
-- made every claim dearer than the last. (A card's channel is set when a
-- worker first claims it; until then it is NULL and not in this index.)
CREATE INDEX outbox_waiting_cards ON outbox (platform, channel)
    WHERE kind = 'ticket_message' AND sent_at IS NULL AND failed_at IS NULL
      AND channel IS NOT NULL;
