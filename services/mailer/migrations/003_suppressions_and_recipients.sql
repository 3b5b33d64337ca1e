-- What was sent to whom, and the addresses never to contact again (issue #14).

-- A random salt of this database for hashing addresses (`address_hash`): an erased address
-- stays suppressed by its hash, and a copy of the table alone does not reveal who it was.
CREATE TABLE pii_salt (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  salt       text    NOT NULL
);
INSERT INTO pii_salt (salt) VALUES (md5(random()::text || clock_timestamp()::text) || gen_random_uuid()::text);

-- hex(sha256(salt || key)), `key` as `suppressionKeyOf` builds it (local part as given, domain
-- in lower-case ASCII). Resolved through the caller's search_path, like the tables.
CREATE FUNCTION address_hash(key text) RETURNS text
  LANGUAGE sql STABLE STRICT
  AS $$ SELECT encode(sha256(convert_to((SELECT salt FROM pii_salt) || key, 'UTF8')), 'hex') $$;

-- Per delivery: who it went to and what it was. Null on rows from before this migration and
-- after the retention job removed them (recipient_hash stays for erasure).
ALTER TABLE deliveries
  ADD COLUMN recipient       text,
  ADD COLUMN recipient_hash  text,
  ADD COLUMN subject         text,
  ADD COLUMN template        text,
  ADD COLUMN locale          text;

-- `suppressed`: the recipient is on the suppression list; final, nothing was sent.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
  CHECK (status IN ('pending', 'sending', 'sent', 'retrying', 'dead', 'suppressed'));

CREATE INDEX deliveries_recipient_hash_idx ON deliveries (recipient_hash, id DESC) WHERE recipient_hash IS NOT NULL;

-- Addresses not to send to: a permanent rejection of the recipient by the SMTP server, or an
-- operator's entry. One row per address, by its hash; `address` is null once erased.
CREATE TABLE suppressions (
  id             bigserial   UNIQUE,
  address_hash   text        PRIMARY KEY,
  address        text,
  domain         text        NOT NULL,
  origin         text        NOT NULL CHECK (origin IN ('smtp_rejection', 'manual')),
  reason         text        NOT NULL,
  smtp_code      integer,
  smtp_response  text,
  order_id       text,
  created_by     text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX suppressions_domain_idx ON suppressions (domain, id);
