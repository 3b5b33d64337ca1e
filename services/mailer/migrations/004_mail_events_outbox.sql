-- Delivery events waiting to be published to MAIL_EVENTS_EXCHANGE (issue #14): written in the
-- same transaction as the ledger change they report, so a crash between the two loses nothing;
-- the outbox relay publishes them in id order with publisher confirms, then deletes them.
CREATE TABLE mail_events_outbox (
  id              bigserial   PRIMARY KEY,
  event_id        uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  type            text        NOT NULL
                    CHECK (type IN ('email.sent', 'email.retrying', 'email.dead_lettered', 'email.suppressed')),
  order_id        text        NOT NULL,
  order_event_id  text        NOT NULL,
  message_id      text,
  recipient       text,
  status          text        NOT NULL,
  attempt         integer     NOT NULL,
  smtp_code       integer,
  smtp_response   text,
  reason          text,
  occurred_at     timestamptz NOT NULL DEFAULT now()
);
