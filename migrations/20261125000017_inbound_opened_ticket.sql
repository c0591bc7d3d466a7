-- A chat delivery that opens an incident is claimed in the same statement
-- that opens it (one round trip, no transaction around it). Its reply is not
-- stored then: it is rebuilt from the incident on a redelivery, so the row
-- names the ticket instead. Every other command keeps storing its reply.
ALTER TABLE processed_inbound
    ALTER COLUMN reply DROP NOT NULL,
    ADD COLUMN ticket_id bigint,
    ADD CONSTRAINT processed_inbound_reply_or_ticket
        CHECK (reply IS NOT NULL OR ticket_id IS NOT NULL);
