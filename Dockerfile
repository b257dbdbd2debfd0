# syntax=docker/dockerfile:1
# One image for the three programs: `worker` (the default), `api` and
# `operator`, plus the tools (`migrate`, `submit`, `inspect`, `verify`, `dlq`).
#   docker run flowpool:0.1.0               -> flowpool worker
#   docker run flowpool:0.1.0 migrate       -> flowpool migrate

# --- build: every dependency, compile TypeScript to dist/ ---------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY workflow ./workflow
COPY store ./store
COPY stream ./stream
COPY scaling ./scaling
COPY engine ./engine
COPY worker ./worker
COPY api ./api
COPY client ./client
COPY cli ./cli
COPY local ./local
COPY operator ./operator
COPY migrations ./migrations
# The web console: sources and the script that bundles them into dist/console.
COPY console ./console
COPY scripts/build-console.mjs ./scripts/build-console.mjs
RUN npm run build

# --- deps: production dependencies only --------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: compiled code, production node_modules, nothing else -----------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at run time: it declares "type": "module" for dist/.
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# A fixed numeric non-root user, so `runAsNonRoot` can be checked by Kubernetes.
USER 10001:10001
EXPOSE 8080
# No init process: node runs as PID 1. PID 1 gets no default signal handling
# from the kernel, so the programs install their own: the Shutdown handler
# (core/process/shutdown.ts) catches SIGTERM and SIGINT, drains and exits
# 0; a second signal exits at once. The programs start no child processes,
# so there are no orphans to reap. Exec form: no shell is needed at run time.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["worker"]
