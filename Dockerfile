# syntax=docker/dockerfile:1
# One image for both roles:
#   docker run IMAGE operator  --kubeconfig ...   (the chart runs it in-cluster)
#   docker run IMAGE dataplane --operator-url ...
# Build:  docker build -t tollgate:0.1.0 .
# Pin the base image by digest in your registry mirror for reproducible builds
# (e.g. node:20-bookworm-slim@sha256:...).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript to dist/ (dev dependencies are needed here only) -----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli/ cli/
COPY operator/ operator/
COPY dataplane/ dataplane/
RUN npx tsc -p tsconfig.build.json && npx tsc -p operator/console/web/tsconfig.json

# --- deps: production node_modules only ------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# The product runs node alone: the base's package managers (npm, npx, corepack, yarn) are attack
# surface in a running pod and nothing in it calls them (the entrypoint execs node; the chart's only
# command is preStop's sleep). Removed while still root; node is run once to show it still starts.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-v* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
  && node -e "process.exit(0)"
WORKDIR /app
# Files stay owned by root and read-only for the process: the chart also mounts the root filesystem
# read-only (containerSecurityContext.readOnlyRootFilesystem).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/ ./dist/
COPY package.json ./
# The entrypoint: starts node with the flags the environment asks for (bin/tollgate).
COPY bin/tollgate ./bin/tollgate
# A numeric, non-root user (not the image's `node` user) so that runAsNonRoot can be verified by
# the kubelet; the chart runs as the same 65532.
USER 65532:65532
# 8080 public OpenAI API, 9090 data-plane admin, 9091 operator.
EXPOSE 8080 9090 9091
ENTRYPOINT ["/app/bin/tollgate"]
CMD ["help"]
