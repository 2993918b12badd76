# syntax=docker/dockerfile:1
# ndx-gateway: one image for the gateway, the log worker and the registry simulators.
#   docker build -t ndx-gateway .
#   docker run -p 8080:8080 -v "$PWD/keys/checkpoint.jwk.json:/run/secrets/checkpoint.jwk.json:ro" \
#     -e NDX_CHECKPOINT_KEY_FILE=/run/secrets/checkpoint.jwk.json ndx-gateway   # standalone (PGlite under /app/data)
#   (demo/ is not in the image: the gateway's checkpoint key is always mounted, never baked in; make one
#    with `npx ndx keygen --kid gw-1 --out keys/checkpoint.jwk.json`.)
#   docker compose up                                       # gateway, worker, Redis, PostgreSQL, simulators
# Node 24 is an LTS line; the code is tested on Node 20 and type-checked for 22+.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY simulators ./simulators
COPY sdk ./sdk
COPY cli ./cli
COPY bench ./bench
COPY schemas ./schemas
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts run (none are needed at runtime).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schemas ./schemas
COPY config ./config
COPY simulators/data ./simulators/data
RUN mkdir -p /app/data && chown node:node /app/data
USER node
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/app/data CONFIG_DIR=/app/config
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/gateway.js"]
