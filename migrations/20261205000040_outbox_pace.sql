-- Per-channel pacing of chat posts, shared by every replica (issue 25): for
-- each platform and pace key (a method and channel, `chat.postMessage:C123`,
-- or a method alone for a workspace-wide limit) the instant its token
-- bucket is full again (GCRA's theoretical arrival time). A worker takes
-- sends from it under a row lock in the transaction that claims them, so
-- two replicas together stay under the platform's limit.
CREATE TABLE outbox_pace (
    platform text NOT NULL,
    key text NOT NULL,
    next_at timestamptz NOT NULL,
    PRIMARY KEY (platform, key)
);
