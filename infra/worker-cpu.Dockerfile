# syntax=docker/dockerfile:1
# mipseg CPU worker (`mipseg worker`): takes analysis and export jobs from Redis (REDIS_URL), reads studies
# from and stores MIP + SEG to the gateway (GATEWAY_URL, with the first of AUTH_TOKENS), and sends results to
# EXPORT_DESTINATIONS. Scale out with `docker compose up --scale worker-cpu=N`.
# Build from the repository root: docker build -f infra/worker-cpu.Dockerfile .

# What `npm ci` reads (see gateway.Dockerfile): cached until a manifest changes.
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
    INFERENCE_EXECUTION_PROVIDER=cpu
WORKDIR /app
# Includes models/mip-attention-unet (model.onnx, model.json, model.schema.json), which the worker loads.
COPY --from=build /app ./
USER node
# No port: a worker only connects out (Redis, the gateway, the export destinations).
CMD ["node", "--single-threaded-gc", "services/cli/dist/main.js", "worker"]
