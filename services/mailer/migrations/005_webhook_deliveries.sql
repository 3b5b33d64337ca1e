-- Webhooks (issue #14): each delivery event relayed while WEBHOOK_URL is set becomes one webhook
-- delivery, inserted by the statement that removes the event from the outbox, so none is lost or
-- doubled between the two. Every mailer's dispatcher claims due rows (FOR UPDATE SKIP LOCKED);
-- a claim pushes next_attempt_at ahead by a lease, so a mailer that dies mid-POST leaves the
-- row to be attempted again.
CREATE TABLE webhook_deliveries (
  id               bigserial   PRIMARY KEY,
  event_id         uuid        NOT NULL UNIQUE,
  type             text        NOT NULL,
  order_id         text        NOT NULL,
  -- The event exactly as published to MAIL_EVENTS_EXCHANGE (erasure nulls its recipient).
  event            jsonb       NOT NULL,
  state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  failure_reason   text        CHECK (failure_reason IN ('gone', 'retries_exhausted')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
-- The dispatcher's claim: pending rows by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (order_id);
-- Retention deletes finished rows by age; the metrics count failed ones, a redelivery takes
-- them by the time they failed (updated_at).
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (updated_at) WHERE state = 'failed';

-- The delivery log: one row per attempt.
-- `attempt` starts again at 1 after a redelivery, so rows are keyed by their own id.
CREATE TABLE webhook_attempts (
  id                bigserial   PRIMARY KEY,
  delivery_id       bigint      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt           integer     NOT NULL,
  attempted_at      timestamptz NOT NULL DEFAULT now(),
  url               text        NOT NULL,
  status_code       integer,
  error             text,
  duration_ms       integer     NOT NULL,
  response_excerpt  text,
  outcome           text        NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed'))
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
