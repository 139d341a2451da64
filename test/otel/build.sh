#!/usr/bin/env bash
# Builds the OpenTelemetry Collector used by the telemetry tests from its
# published Go modules with the collector's own builder (ocb), into a
# versioned cache dir, the way test/cluster/build.sh builds kube-apiserver.
#
#   test/otel/build.sh            # build if missing, print the binary path
#
# Cache: ${TOLLGATE_CACHE_DIR:-$HOME/.cache/tollgate}/otelcol/$OTELCOL_VERSION/
#   bin/builder  otelcol-tollgate  (+ .stamp: version + hash of builder-config.yaml)
# A second run with the same version and manifest is a no-op. The last line
# printed is the collector binary, so callers can do
#   bin=$(test/otel/build.sh | tail -n1)
set -euo pipefail

# Keep in sync with the module versions in builder-config.yaml. v0.161.0, not the newest: from
# v0.162.0 on, otlpreceiver and fileexporter pull modules (go.opentelemetry.io/collector/internal/
# statusutil, contrib's otlpencodingextension) whose versions the module proxy reachable from this
# workplace refuses ("403 This module version is not available").
OTELCOL_VERSION=v0.161.0

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${TOLLGATE_CACHE_DIR:-${HOME}/.cache/tollgate}"
DIR="${CACHE_ROOT}/otelcol/${OTELCOL_VERSION}"
OUT="${DIR}/otelcol-tollgate"

GO="${GO:-}"
if [[ -z "${GO}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "otel/build.sh: go not found (set GO=/path/to/go)" >&2; exit 1
  fi
fi

log() { echo "[otel/build] $*" >&2; }

mkdir -p "${DIR}/bin"
# Serialise concurrent callers on one cache dir.
exec 9>"${DIR}/.lock"
flock 9

stamp="${OTELCOL_VERSION} $(sha256sum "${HERE}/builder-config.yaml" | cut -c1-16)"
if [[ -x "${OUT}" && -f "${DIR}/.stamp" && "$(cat "${DIR}/.stamp")" == "${stamp}" ]]; then
  log "using cached collector ${OTELCOL_VERSION}: ${OUT}"
  echo "${OUT}"
  exit 0
fi

start=$(date +%s)
if [[ ! -x "${DIR}/bin/builder" ]]; then
  log "installing builder ${OTELCOL_VERSION}..."
  # go install pkg@version ignores any go.mod around us and refuses GOFLAGS=-mod=...
  GOFLAGS='' GOBIN="${DIR}/bin" "${GO}" install \
    "go.opentelemetry.io/collector/cmd/builder@${OTELCOL_VERSION}"
fi

log "building the collector ${OTELCOL_VERSION} (a few minutes on 2 cores)..."
rm -rf "${DIR}/src"
sed "s#^  output_path: .*#  output_path: ${DIR}/src#" "${HERE}/builder-config.yaml" >"${DIR}/builder-config.yaml"
# The builder runs go mod tidy and go build in src/; static binary, no VCS stamp.
(cd "${DIR}" && CGO_ENABLED=0 GOFLAGS='-buildvcs=false' PATH="$(dirname "${GO}"):${PATH}" \
  "${DIR}/bin/builder" --config "${DIR}/builder-config.yaml" --ldflags="-s -w")
mv -f "${DIR}/src/otelcol-tollgate" "${OUT}"
rm -rf "${DIR}/src"
echo "${stamp}" >"${DIR}/.stamp"
log "built in $(($(date +%s) - start))s: ${OUT}"
echo "${OUT}"
