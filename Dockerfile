# syntax=docker/dockerfile:1
# Herald: a Pusher Channels protocol server. Node 24 on Debian 13 trixie (glibc 2.41), where the
# newer uWebSockets.js build (v20.57, glibc >= 2.38) loads; see README, Requirements.
#   docker build -t herald .
#   docker run -p 8080:8080 -p 9601:9601 -e HERALD_APP_ID=… -e HERALD_APP_KEY=… -e HERALD_APP_SECRET=… herald
# Configuration is by environment (every option has a HERALD_* variable, see README), or mount a file
# and run `start --config /etc/herald/herald.json` / `start --env-file /etc/herald/laravel.env`.

# ---- build: dev dependencies + TypeScript → dist/ ---------------------------------------------
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY protocol ./protocol
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only --------------------------
FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Both uWebSockets.js packages carry binaries for every platform and Node ABI (~150 MB): keep this one's.
RUN find node_modules -name 'uws_*.node' ! -name "uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node" -delete
COPY --from=build /app/dist ./dist
# Fail the build, with herald check's one line, if no native uWebSockets.js build loads on this base.
RUN HERALD_APP_ID=build HERALD_APP_KEY=build HERALD_APP_SECRET=build node dist/src/cli.js check
# The `node` user (uid 1000) comes with the official image; Herald writes nothing to disk.
USER node
# 8080: WebSockets (/app/{key}) and the HTTP API; 9601: Prometheus GET /metrics.
EXPOSE 8080 9601
# slim has no curl: probe /up with Node's fetch on the port and prefix Herald is configured with.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "--no-warnings", "-e", "const p=process.env.HERALD_TLS_CERT?'https':'http';if(p==='https')process.env.NODE_TLS_REJECT_UNAUTHORIZED='0';fetch(p+'://127.0.0.1:'+(process.env.HERALD_PORT||8080)+(process.env.HERALD_PATH_PREFIX||'')+'/up').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker stop) closes every connection with 4200 and exits 0 within shutdownGracePeriod.
STOPSIGNAL SIGTERM
# A 1 MB young generation keeps idle connections near 1.5 KB of RSS each (see README, Memory).
ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/src/cli.js"]
CMD ["start"]
