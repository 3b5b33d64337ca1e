-- The cap on sends per second shared by every mailer (SMTP_MAX_RATE, issue #15): the counters of
-- rate-limiter-flexible's RateLimiterPostgres, one row per key (the mailers use one, `mailer:smtp`).
-- Created here, in the shape of the library's own CREATE TABLE (RateLimiterPostgres.js,
-- `_getCreateTableStmt`, rate-limiter-flexible 11.4), so that the mailer runs no DDL outside its
-- migrations (the adapter passes `tableCreated: true`). The library's upsert inserts
-- `VALUES (key, points, expire)` by position: keep the columns in this order. `expire` is the end
-- of the current window in Unix milliseconds, by the clock of the mailer that opened it.
CREATE TABLE send_rate_limits (
  key     varchar(255) PRIMARY KEY,
  points  integer      NOT NULL DEFAULT 0,
  expire  bigint
);
