-- Channels told that their alerts joined an incident whose card is in
-- another channel (a storm of every service, or a group spanning
-- services): one notice per incident and channel, whatever the number of
-- replicas or deliveries.
CREATE TABLE alert_channel_notices (
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    platform    text NOT NULL,
    channel     text NOT NULL,
    noticed_at  timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, platform, channel)
);
