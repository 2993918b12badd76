# syntax=docker/dockerfile:1
# ndx-gateway: one image for the gateway, the log worker and the registry simulators.
#   docker build -t ndx-gateway:0.1.0 .
#   docker run -p 8080:8080 -v "$PWD/deploy/config:/app/config:ro" \
#     -v "$PWD/keys/checkpoint.jwk.json:/run/secrets/checkpoint.jwk.json:ro" \
#     -e NDX_CHECKPOINT_KEY_FILE=/run/secrets/checkpoint.jwk.json -e NDX_PSEUDONYM_KEY=… -e NDX_CACHE_KEY_ID=k1 \
#     -e NDX_CACHE_KEY=… ndx-gateway:0.1.0              # standalone (PGlite under /app/data)
#   docker compose up                                   # the platform: see compose.yaml and README "Operations"
# Neither configuration nor keys are in the image: CONFIG_DIR (/app/config) is always mounted, so editing it
# and reloading takes effect, and demo/ (whose private keys are public) is never shipped.
# Node 24 LTS, the version .ci/run tests on; pinned to the release, not a moving tag.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY gateway ./gateway
COPY adapters ./adapters
COPY simulators ./simulators
COPY sdk ./sdk
COPY cli ./cli
COPY bench ./bench
COPY schemas ./schemas
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts run (none are needed at runtime).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schemas ./schemas
COPY simulators/data ./simulators/data
RUN mkdir -p /app/data /app/config && chown node:node /app/data
USER node
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/app/data CONFIG_DIR=/app/config
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "bin/healthcheck.js", "gateway"]
CMD ["node", "bin/gateway.js"]
