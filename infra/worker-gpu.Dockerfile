# syntax=docker/dockerfile:1
# mipseg GPU worker: `mipseg worker` with onnxruntime-node's CUDA execution provider
# (INFERENCE_EXECUTION_PROVIDER=cuda). linux/amd64 only (the only platform onnxruntime-node ships CUDA for);
# the host needs the NVIDIA Container Toolkit and a driver for CUDA 12.
# Build from the repository root: docker build -f infra/worker-gpu.Dockerfile .

# onnxruntime-node's CUDA provider has been built for CUDA 12.x with cuDNN 9 (any CUDA 12 minor version); the build
# stage checks that its libraries resolve in this image, since a later release may move to CUDA 13 (not verified here:
# no Docker engine and no download of the NuGet package). The host's driver must support the image's CUDA version.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# Node 20 comes from the official image: its binary is nodejs.org's (glibc >= 2.28), which runs on Ubuntu 22.04.
FROM node:20-bookworm-slim AS node

# What `npm ci` reads (see gateway.Dockerfile): cached until a manifest changes.
FROM node:20-bookworm-slim AS manifests
WORKDIR /app
COPY . .
RUN mkdir /manifests \
 && cp package.json package-lock.json .npmrc /manifests/ \
 && for p in shared/package.json services/*/package.json; do \
      mkdir -p "/manifests/$(dirname "$p")" && cp "$p" "/manifests/$p"; \
    done

FROM ${CUDA_IMAGE} AS base
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx

# Built on the runtime's own OS so that native modules match its glibc.
FROM base AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Overrides .npmrc's `onnxruntime-node-install=skip`: onnxruntime-node's install script reads
# ONNXRUNTIME_NODE_INSTALL before npm's config and downloads the CUDA 12 provider libraries (NuGet package
# Microsoft.ML.OnnxRuntime.Gpu.Linux) at npm ci. ONNXRUNTIME_NODE_INSTALL_CUDA would not do: the script reads
# it only when both of those are unset, so with .npmrc it would be a silent skip.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
COPY --from=manifests /manifests ./
# A skipped download is silent, so check that the CUDA provider arrived, and that every library it links against
# is in this CUDA image: a provider built for another CUDA major version (the NuGet package is not pinned to one)
# would fail the build here, naming the missing library, instead of every job at the worker's start.
RUN npm ci --no-audit --no-fund \
 && cd node_modules/onnxruntime-node/bin/napi-v6/linux/x64 \
 && test -f libonnxruntime_providers_cuda.so && test -f libonnxruntime_providers_shared.so \
 && missing="$(LD_LIBRARY_PATH=. ldd libonnxruntime_providers_cuda.so | grep 'not found' | grep -v 'libcuda\.so' || true)" \
 && if [ -n "$missing" ]; then echo "the CUDA provider needs libraries this CUDA_IMAGE lacks (choose a matching one):" >&2; echo "$missing" >&2; exit 1; fi
COPY . .
# Build with the dev dependencies, then drop them and onnxruntime-node's macOS and Windows binaries (~220 MB).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

FROM base
# Ubuntu 24.04 bases already have uid 1000 (user 'ubuntu'): use it there rather than fail on a second one.
RUN id -u 1000 >/dev/null 2>&1 || useradd --uid 1000 --create-home --shell /usr/sbin/nologin mipseg
ENV NODE_ENV=production \
    INFERENCE_EXECUTION_PROVIDER=cuda
WORKDIR /app
# Includes models/mip-attention-unet (model.onnx, model.json, model.schema.json), which the worker loads.
COPY --from=build /app ./
USER 1000
CMD ["node", "--single-threaded-gc", "services/cli/dist/main.js", "worker"]
