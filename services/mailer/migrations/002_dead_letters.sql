-- Dead letters, recorded from the dead-letter queue by the mailer (committed before the ack), so
-- operators list, replay and purge them here instead of in the queue.
CREATE TABLE replay_jobs (
  id              uuid        PRIMARY KEY,
  state           text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'succeeded', 'failed')),
  filter          jsonb       NOT NULL,
  max_letters     integer     NOT NULL,
  requested_by    text        NOT NULL,
  matched         integer     NOT NULL DEFAULT 0,
  moved           integer     NOT NULL DEFAULT 0,
  skipped         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  failed          integer     NOT NULL DEFAULT 0,
  republished     integer     NOT NULL DEFAULT 0,
  resumes         integer     NOT NULL DEFAULT 0,
  running_on      text,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);

-- At most one unfinished job, whatever the mailers do (the advisory lock decides who runs it).
CREATE UNIQUE INDEX replay_jobs_one_running_idx ON replay_jobs ((true)) WHERE state = 'running';

CREATE TABLE dead_letters (
  id                bigserial   PRIMARY KEY,
  -- sha256 of body, properties and headers (without the broker's per-delivery `x-delivery-count`):
  -- a dead letter redelivered after a crash between commit and ack is recorded once.
  fingerprint       text        NOT NULL UNIQUE,
  message_id        text,
  event_id          text,
  order_id          text,
  correlation_id    text,
  reason            text        NOT NULL,
  error             text,
  smtp_code         integer,
  smtp_response     text,
  attempts          integer     NOT NULL DEFAULT 0,
  first_failure_at  text,
  last_failure_at   text,
  worker_id         text,
  body              bytea       NOT NULL,
  properties        jsonb       NOT NULL,
  headers           jsonb       NOT NULL,
  dead_lettered_at  timestamptz NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  state             text        NOT NULL DEFAULT 'dead'
                      CHECK (state IN ('dead', 'replaying', 'replayed', 'purged')),
  replay_job_id     uuid        REFERENCES replay_jobs (id),
  replayed_at       timestamptz,
  purged_at         timestamptz,
  purged_by         text
);

CREATE INDEX dead_letters_state_id_idx ON dead_letters (state, id);
CREATE INDEX dead_letters_state_reason_idx ON dead_letters (state, reason, id);
CREATE INDEX dead_letters_order_idx ON dead_letters (order_id, id);
CREATE INDEX dead_letters_job_idx ON dead_letters (replay_job_id, state, id) WHERE replay_job_id IS NOT NULL;
CREATE INDEX dead_letters_dead_lettered_idx ON dead_letters (state, dead_lettered_at);
