# syntax=docker/dockerfile:1
# mipseg gateway: the archive, DICOMweb (STOW/QIDO/WADO), the DIMSE C-STORE SCP and the jobs API in one
# process (`mipseg serve`). With REDIS_URL set it runs in queue mode and leaves analyses to the workers.
# Build from the repository root: docker build -f infra/gateway.Dockerfile .

# What `npm ci` reads: the root manifests and the package.json of every workspace ("shared", "services/*").
# This stage's output changes only when those files do, so the npm ci layer stays cached across code edits.
FROM node:20-bookworm-slim AS manifests
WORKDIR /app
COPY . .
RUN mkdir /manifests \
 && cp package.json package-lock.json .npmrc /manifests/ \
 && for p in shared/package.json services/*/package.json; do \
      mkdir -p "/manifests/$(dirname "$p")" && cp "$p" "/manifests/$p"; \
    done

FROM node:20-bookworm-slim AS build
# Compilers only for a native module without a prebuilt binary (better-sqlite3); they stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# CPU only: onnxruntime-node's install script must not download the CUDA libraries.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY --from=manifests /manifests ./
RUN npm ci --no-audit --no-fund
COPY . .
# Build with the dev dependencies, then drop them and onnxruntime-node's macOS and Windows binaries (~220 MB).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DIMSE_PORT=11112 \
    DATA_DIR=/data
WORKDIR /app
# dist/ beside src/ (the source maps point there), production node_modules with its relative workspace
# links, and models/mip-attention-unet (model.onnx, model.json, model.schema.json), which the CLI loads.
COPY --from=build /app ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 11112
# /healthz needs no token; Node 20's fetch saves installing curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The entry point of `npm start` (scripts/start.sh). HOST=0.0.0.0 is refused without AUTH_TOKENS (or --insecure).
CMD ["node", "--single-threaded-gc", "services/cli/dist/main.js", "serve"]
