# One image recipe for both services; pick one with the SERVICE build argument:
#   docker build --build-arg SERVICE=order-api -t order-mail/order-api .
#   docker build --build-arg SERVICE=mailer    -t order-mail/mailer .
# Everything up to the SERVICE argument is identical for both, so the two builds share layers.
# Plain Dockerfile syntax (no BuildKit-only features), so docker-compose v1 can build it too.

# ---------------------------------------------------------------------------------------------
# build: install everything (dev dependencies included) and compile TypeScript to dist/
# ---------------------------------------------------------------------------------------------
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/order-api/package.json services/order-api/
COPY services/mailer/package.json services/mailer/
RUN npm ci --no-audit --no-fund

COPY tsconfig.base.json ./
COPY shared shared
COPY services services
# tsc -b services/order-api services/mailer (builds shared through the project references)
RUN npm run build

# ---------------------------------------------------------------------------------------------
# runtime: production dependencies and compiled output only
# ---------------------------------------------------------------------------------------------
FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# npm ci links the workspaces into node_modules/@order-mail/*, so every workspace manifest
# must be in place before it runs.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/order-api/package.json services/order-api/
COPY services/mailer/package.json services/mailer/
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

COPY --from=build /app/shared/dist shared/dist
COPY --from=build /app/services/order-api/dist services/order-api/dist
COPY --from=build /app/services/mailer/dist services/mailer/dist
# Read at run time: dist/adapters/templates/template-renderer.js resolves ../../../templates.
COPY services/mailer/templates services/mailer/templates
# Read at run time: dist/adapters/i18n/message-catalogues.js resolves ../../../locales.
COPY services/mailer/locales services/mailer/locales
# Read at run time: dist/adapters/db/database.js applies the SQL files in ../../../migrations
# at start-up (versioned, each once).
COPY services/mailer/migrations services/mailer/migrations

# order-api | mailer (no default: the build fails without it)
ARG SERVICE
RUN case "$SERVICE" in \
      order-api|mailer) ;; \
      *) echo "build argument SERVICE must be order-api or mailer, got '$SERVICE'" >&2; exit 1 ;; \
    esac
# HOST: both services listen on 127.0.0.1 unless told otherwise, which in a container no other
# container (nor a published port) can reach; every interface of the container instead.
# V8 would otherwise size the young generation and grow the old one for a 24 GiB machine: both
# services hold under 30 MB live yet peaked at 340-415 MB RSS draining a backlog. These caps held
# the mailer near 160 MB at a cost within the run-to-run noise (README, "Memory"); override
# NODE_OPTIONS to change them. npm run bench starts the services with this same line.
ENV NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=256"
ENV SERVICE=${SERVICE} \
    SERVICE_MAIN=/app/services/${SERVICE}/dist/main.js \
    HOST=0.0.0.0

USER node

# Documentation only; the port actually used is PORT (order-api 3000, mailer 3001 by default),
# on HOST (0.0.0.0 above).
EXPOSE 3000 3001

# Both services stop gracefully on SIGTERM (shared/src/lifecycle.ts: runUntilSignal).
STOPSIGNAL SIGTERM

# /healthz says the process answers; it does not wait for RabbitMQ, SMTP or PostgreSQL (that is
# /readyz, which docker-compose.yml's healthchecks use instead). It asks 127.0.0.1, which HOST
# 0.0.0.0 includes. Both services listen without waiting for the broker; the mailer also listens
# before its database answers, and consumes only once its migrations are applied (README,
# "Start-up when PostgreSQL is down, late or misconfigured").
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p = process.env.PORT || (process.env.SERVICE === 'mailer' ? 3001 : 3000); fetch('http://127.0.0.1:' + p + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]

# `exec` replaces the shell, so node is PID 1 and receives SIGTERM itself.
CMD ["sh", "-c", "exec node \"$SERVICE_MAIN\""]
