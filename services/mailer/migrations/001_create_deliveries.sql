-- The delivery ledger: one row per (event kind, order), so a redelivered or re-posted event
-- finds the order already `sent` and is acked without sending.
CREATE TABLE deliveries (
  id                       bigserial PRIMARY KEY,
  event_kind               text        NOT NULL,
  order_id                 text        NOT NULL,
  event_id                 uuid        NOT NULL,
  correlation_id           text        NOT NULL,
  status                   text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'sending', 'sent', 'retrying', 'dead')),
  attempts                 integer     NOT NULL DEFAULT 0,
  last_error               text,
  last_error_class         text,
  smtp_code                integer,
  smtp_response            text,
  message_id               text,
  worker_id                text,
  unknown_outcome_resends  integer     NOT NULL DEFAULT 0,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  sending_started_at       timestamptz,
  sent_at                  timestamptz,
  CONSTRAINT deliveries_kind_order_key UNIQUE (event_kind, order_id)
);

CREATE INDEX deliveries_status_updated_idx ON deliveries (status, updated_at DESC);

-- Every send attempt, for operators: which event, which worker, what the server said.
CREATE TABLE delivery_attempts (
  delivery_id    bigint      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt        integer     NOT NULL,
  event_id       uuid        NOT NULL,
  worker_id      text        NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  outcome        text,
  smtp_code      integer,
  smtp_response  text,
  error          text,
  PRIMARY KEY (delivery_id, attempt)
);
