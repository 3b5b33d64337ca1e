#!/usr/bin/env bash
# Validates docker-compose.yml statically (syntax, schema, ${VAR} interpolation); needs no Docker
# engine. Uses docker-compose (v1 or v2 standalone) if installed, else the `docker compose`
# plugin; if neither is available it says so and exits 0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
compose_file="$root/docker-compose.yml"

if command -v docker-compose >/dev/null 2>&1; then
  tool=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  tool=(docker compose)
else
  echo "check-compose: skipped: no docker-compose (neither docker-compose nor the docker compose plugin is available)"
  exit 0
fi

echo "check-compose: $("${tool[@]}" version --short 2>/dev/null || echo "${tool[*]}")"
if "${tool[@]}" --project-directory "$root" -f "$compose_file" config -q; then
  echo "check-compose: ok: $compose_file is valid (${tool[*]} config -q)"
else
  status=$?
  echo "check-compose: FAILED: ${tool[*]} config -q rejected $compose_file" >&2
  exit "$status"
fi
