#!/usr/bin/env bash
# Builds the S3-compatible server the capture tests write to: SeaweedFS's `weed` binary from its
# published Go module, into a versioned cache dir (as test/otel/build.sh does for the collector).
#
#   test/s3/build.sh            # build if missing, print the binary path
#
# Cache: ${TOLLGATE_CACHE_DIR:-$HOME/.cache/tollgate}/seaweedfs/$SEAWEEDFS_VERSION/weed
# The last line printed is the binary, so callers can do  bin=$(test/s3/build.sh | tail -n1)
set -euo pipefail

# SeaweedFS tags are not semantic versions, so the module is pinned by its pseudo-version.
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6

CACHE_ROOT="${TOLLGATE_CACHE_DIR:-${HOME}/.cache/tollgate}"
DIR="${CACHE_ROOT}/seaweedfs/${SEAWEEDFS_VERSION}"
OUT="${DIR}/weed"

GO="${GO:-}"
if [[ -z "${GO}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "s3/build.sh: go not found (set GO=/path/to/go)" >&2; exit 1
  fi
fi

log() { echo "[s3/build] $*" >&2; }

mkdir -p "${DIR}"
exec 9>"${DIR}/.lock"
flock 9

if [[ -x "${OUT}" ]]; then
  log "using cached SeaweedFS ${SEAWEEDFS_VERSION}: ${OUT}"
  echo "${OUT}"
  exit 0
fi

start=$(date +%s)
log "building SeaweedFS ${SEAWEEDFS_VERSION} (several minutes on 2 cores)..."
# Its go.mod has a replace directive, which `go install pkg@version` refuses: build inside a copy of
# the module source instead, as its main module. Static binary, no VCS stamp.
src="$(GOFLAGS='-mod=mod' "${GO}" mod download -json "github.com/seaweedfs/seaweedfs@${SEAWEEDFS_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
rm -rf "${DIR}/src"
cp -r "${src}" "${DIR}/src"
chmod -R u+w "${DIR}/src"
(cd "${DIR}/src" && CGO_ENABLED=0 GOFLAGS='-buildvcs=false -mod=mod' "${GO}" build -ldflags='-s -w' -o "${OUT}.tmp" ./weed)
mv -f "${OUT}.tmp" "${OUT}"
rm -rf "${DIR}/src"
log "built in $(($(date +%s) - start))s: ${OUT}"
echo "${OUT}"
