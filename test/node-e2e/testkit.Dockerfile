# The e2e suite's second image (test/cluster/image.sh builds it with buildah on the same base as
# tollgate:dev): the emulators and the in-cluster client, run from TypeScript with tsx.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
# Same first steps as the Dockerfile's build stage, so buildah reuses its `npm ci` layer.
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY test/emulators/ test/emulators/
COPY test/node-e2e/pod/ test/node-e2e/pod/
USER 65532:65532
ENTRYPOINT ["node", "--import", "tsx"]
