#!/usr/bin/env bash
# Validates docker-compose.yml statically (syntax, schema, ${VAR} interpolation); needs no Docker
# engine. Uses docker-compose (v1 or v2 standalone) if installed, else the `docker compose`
# plugin; if neither is available it says so and exits 0.
#
# Two checks, each in an environment of its own (nothing from this shell leaks in):
#   - with .env.example as the env file, the file is valid;
#   - with an empty env file, it is refused: the secrets have no defaults.
# test/infra/compose.test.ts checks more (every secret named when missing, published ports,
# healthchecks, pinned images).
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

# `config` with only PATH and HOME, and the given env file.
compose_config() {
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${tool[@]}" --project-directory "$root" -f "$compose_file" \
    --env-file "$1" config -q
}

echo "check-compose: $("${tool[@]}" version --short 2>/dev/null || echo "${tool[*]}")"
if compose_config "$root/.env.example"; then
  echo "check-compose: ok: $compose_file is valid with .env.example (${tool[*]} config -q)"
else
  status=$?
  echo "check-compose: FAILED: ${tool[*]} config -q rejected $compose_file with .env.example" >&2
  exit "$status"
fi

empty="$(mktemp)"
trap 'rm -f "$empty"' EXIT
if compose_config "$empty" 2>/dev/null; then
  echo "check-compose: FAILED: $compose_file is accepted without any secret set (an empty env file)" >&2
  exit 1
fi
echo "check-compose: ok: without the secrets (an empty env file) it is refused"
