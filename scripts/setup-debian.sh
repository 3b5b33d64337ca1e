#!/usr/bin/env bash
# Installs (from Debian's apt) and starts everything `npm test` needs besides Node 24 and
# node_modules: RabbitMQ with its Prometheus plugin, PostgreSQL with a database `test` that user
# postgres reaches over 127.0.0.1 without a password, Prometheus's `promtool` and `prometheus`,
# docker-compose, and chromium (test/browser renders the emails in it). Idempotent: what is
# installed and running is left alone, so it is safe to run again after a reboot (it then only
# starts the servers). Used by .ci/run and README's quick start; `npm test`'s preflight
# (scripts/preflight.ts) points here when something is missing.
#
#   bash scripts/setup-debian.sh     # as root, or a user with sudo
#
# Debian 12 (bookworm); other Debian-based systems with the same package names should do.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# rabbitmq-server, rabbitmqctl, rabbitmq-plugins and pg_ctlcluster live in /usr/sbin.
export PATH="$PATH:/usr/sbin:/sbin"

# Debian packages `npm test` needs: "<package>:<command it provides>"; a package is installed when
# its command is missing. Add a line here for a new prerequisite (and a check in
# scripts/preflight.ts).
PACKAGES=(
  rabbitmq-server:rabbitmq-server
  postgresql:pg_ctlcluster
  prometheus:promtool
  prometheus:prometheus
  docker-compose:docker-compose
  chromium:chromium
)

install_missing_packages() {
  local entry package command missing=()
  for entry in "${PACKAGES[@]}"; do
    package="${entry%%:*}"
    command="${entry#*:}"
    if ! command -v "$command" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $package "* ]]; then
      missing+=("$package")
    fi
  done
  # postgresql's pg_ctlcluster comes with postgresql-common; a cluster needs the server itself.
  if [[ " ${missing[*]} " != *" postgresql "* ]] && { ! command -v pg_isready >/dev/null 2>&1 || [ -z "$(pg_version)" ]; }; then
    missing+=(postgresql)
  fi
  # Chinese and Japanese glyphs for the browser checks and screenshots of the zh/ja samples (DejaVu,
  # which chromium brings, covers Arabic and Hebrew only); a font has no command, so fontconfig says.
  if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }; then
    missing+=(fonts-wqy-microhei)
  fi
  if [ "${#missing[@]}" = 0 ]; then
    log "Debian packages present: $(printf '%s\n' "${PACKAGES[@]%%:*}" | sort -u | tr '\n' ' ')"
    return
  fi
  log "installing from Debian: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # --no-install-recommends: prometheus would otherwise pull in its node exporter.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then POSTGRES_INSTALLED_NOW=1; fi
}

POSTGRES_INSTALLED_NOW=0

ensure_rabbitmq() {
  if rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    log "RabbitMQ is running"
    return
  fi
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached || true
  for _ in $(seq 1 60); do
    if rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
      log "RabbitMQ is up"
      return
    fi
    sleep 2
  done
  log "RabbitMQ did not start within 120 s"
  exit 1
}

# RabbitMQ's management API (15672) and Prometheus endpoint (15692, scraped by
# test/infra/dashboards.test.ts) are plugins; enabling them on the running node is idempotent
# (and recorded in its enabled_plugins file).
enable_rabbitmq_plugins() {
  log "enabling RabbitMQ plugins rabbitmq_management and rabbitmq_prometheus"
  as_root rabbitmq-plugins enable -q rabbitmq_management rabbitmq_prometheus >/dev/null
}

# The mailer's delivery ledger: the tests (and `npm start`) connect as user postgres, without a
# password (trust), to database `test` on 127.0.0.1:5432 (DATABASE_URL's default).
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
pg_test_db_reachable() { psql -U postgres -h 127.0.0.1 -p 5432 -d test -Atqc 'select 1' >/dev/null 2>&1; }
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# Only for a cluster this script has just installed: Debian's default asks for passwords over TCP.
pg_trust_local_connections() {
  local hba
  hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
  log "configuring trust authentication for local connections in $hba (fresh install)"
  as_root sh -c "printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust' > '$hba'"
  if pg_ready; then as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload; fi
}

ensure_postgres() {
  if [ -z "$(pg_version)" ]; then
    log "no PostgreSQL cluster in /etc/postgresql"
    exit 1
  fi
  if [ "$POSTGRES_INSTALLED_NOW" = 1 ]; then pg_trust_local_connections; fi
  if pg_ready; then
    log "PostgreSQL is running"
  else
    log "starting PostgreSQL $(pg_version)/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start || true
    local up=0
    for _ in $(seq 1 60); do
      if pg_ready; then
        up=1
        break
      fi
      sleep 1
    done
    if [ "$up" != 1 ]; then
      log "PostgreSQL did not start within 60 s"
      exit 1
    fi
    log "PostgreSQL is up"
  fi
  if ! pg_test_db_reachable; then
    log "creating database test"
    as_root su postgres -c "createdb test" 2>/dev/null ||
      psql -U postgres -h 127.0.0.1 -p 5432 -d postgres -c 'create database test' || true
  fi
  if ! pg_test_db_reachable; then
    log "cannot connect as user postgres to database test on 127.0.0.1:5432 without a password;"
    log "the tests need trust authentication for 127.0.0.1 in /etc/postgresql/$(pg_version)/main/pg_hba.conf"
    exit 1
  fi
  log "PostgreSQL database test is reachable"
}

install_missing_packages
ensure_rabbitmq
enable_rabbitmq_plugins
ensure_postgres
log "done"
