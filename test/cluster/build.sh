#!/usr/bin/env bash
# Builds a real kube-apiserver, etcd and helm from published Go modules into a
# versioned cache dir, the way controller-runtime's envtest ships them.
#
#   test/cluster/build.sh            # build what is missing, print the dir
#   test/cluster/build.sh --node     # also kubelet, kube-controller-manager,
#                                    # kube-scheduler, kube-proxy, coredns, pause
#
# Cache: ${TOLLGATE_CACHE_DIR:-$HOME/.cache/tollgate}/cluster/k8s-$K8S_VERSION/
#   kube-apiserver  etcd  bin/helm   (+ .stamps/ recording what was built)
#   node/{kubelet,kube-controller-manager,kube-scheduler,kube-proxy,coredns,pause}
# A binary is rebuilt only when it is missing or its stamp (version + hash of
# the Go module files it was built from) changed, so a second run is a no-op.
# The last line printed is the cache dir, so callers can do
#   dir=$(test/cluster/build.sh | tail -n1)
set -euo pipefail

# Keep in sync with apiserver/go.mod and etcd/go.mod.
K8S_VERSION=v1.32.13   # newest v1.32 patch; matches kubectl v1.32
ETCD_VERSION=v3.5.24   # kubernetes v1.32.13 hack/lib/etcd.sh ETCD_VERSION
HELM_VERSION=v3.16.4
COREDNS_VERSION=v1.11.3

NODE=0
if [[ "${1:-}" == "--node" ]]; then NODE=1; fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${TOLLGATE_CACHE_DIR:-${HOME}/.cache/tollgate}"
DIR="${CACHE_ROOT}/cluster/k8s-${K8S_VERSION}"

GO="${GO:-}"
if [[ -z "${GO}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "build.sh: go not found (set GO=/path/to/go)" >&2; exit 1
  fi
fi

log() { echo "[cluster/build] $*" >&2; }

# Static, reproducible, small binaries; never touch the module files here.
export CGO_ENABLED=0
BUILD_FLAGS=(-mod=readonly -trimpath)

mkdir -p "${DIR}/bin" "${DIR}/node" "${DIR}/.stamps"
# Serialise concurrent callers (e.g. several test workers) on one cache dir.
exec 9>"${DIR}/.lock"
flock 9

stamp_of() { # <version> [module dir]
  if [[ $# -gt 1 ]]; then
    local files=("$2/go.mod")
    [[ -f "$2/go.sum" ]] && files+=("$2/go.sum") # a module without dependencies has none
    files+=("$2"/*.go)
    echo "$1 $(cat "${files[@]}" | sha256sum | cut -c1-16)"
  else
    echo "$1"
  fi
}

stamp_file() { echo "${DIR}/.stamps/$(basename "$1")"; }

up_to_date() { # <binary> <stamp>
  local f; f="$(stamp_file "$1")"
  [[ -x "$1" && -f "${f}" && "$(cat "${f}")" == "$2" ]]
}

timed() { # <name> <cmd...>
  local name="$1" start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  log "built ${name} in $((end - start))s"
}

build_apiserver() {
  local out="${DIR}/kube-apiserver"
  local stamp; stamp="$(stamp_of "${K8S_VERSION}" "${HERE}/apiserver")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached kube-apiserver ${K8S_VERSION}: ${out}"
    return
  fi
  log "building kube-apiserver ${K8S_VERSION} (takes a while on 2 cores)..."
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local v=k8s.io/component-base/version
  local ld="-s -w"
  ld+=" -X ${v}.gitVersion=${K8S_VERSION} -X ${v}.gitMajor=1 -X ${v}.gitMinor=${minor}"
  ld+=" -X ${v}.gitTreeState=clean -X ${v}.buildDate=1970-01-01T00:00:00Z"
  local cv=k8s.io/client-go/pkg/version
  ld+=" -X ${cv}.gitVersion=${K8S_VERSION} -X ${cv}.gitMajor=1 -X ${cv}.gitMinor=${minor}"
  (cd "${HERE}/apiserver" &&
    timed kube-apiserver "${GO}" build "${BUILD_FLAGS[@]}" -ldflags="${ld}" \
      -o "${out}.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv -f "${out}.tmp" "${out}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

build_etcd() {
  local out="${DIR}/etcd"
  local stamp; stamp="$(stamp_of "${ETCD_VERSION}" "${HERE}/etcd")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached etcd ${ETCD_VERSION}: ${out}"
    return
  fi
  log "building etcd ${ETCD_VERSION}..."
  (cd "${HERE}/etcd" &&
    timed etcd "${GO}" build "${BUILD_FLAGS[@]}" -ldflags="-s -w" -o "${out}.tmp" .)
  mv -f "${out}.tmp" "${out}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

build_helm() {
  local out="${DIR}/bin/helm"
  # Helm's release build (its Makefile) stamps the Kubernetes version it was built against (its
  # k8s.io/client-go minor + 1 major): without it `helm template` reports v1.20 and charts with a
  # kubeVersion constraint need --kube-version. v3.16.4 uses client-go v0.31.
  local kube_major=1 kube_minor=31
  local stamp; stamp="$(stamp_of "${HELM_VERSION} kube-${kube_major}.${kube_minor}")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached helm ${HELM_VERSION}: ${out}"
    return
  fi
  log "installing helm ${HELM_VERSION}..."
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  ld+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld+=" -X ${pkg}.k8sVersionMajor=${kube_major} -X ${pkg}.k8sVersionMinor=${kube_minor}"
  done
  # go install pkg@version ignores any go.mod around us; GOFLAGS=-mod=... is
  # not allowed there, so drop it for this one command.
  GOFLAGS='' GOBIN="${DIR}/bin" timed helm "${GO}" install -trimpath -ldflags="${ld}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

# k8s_ldflags: the version stamps of a Kubernetes release build (kubectl version, node info).
k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local v=k8s.io/component-base/version cv=k8s.io/client-go/pkg/version ld="-s -w" p
  for p in "${v}" "${cv}"; do
    ld+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
    ld+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
  done
  echo "${ld}"
}

# The node components come from test/cluster/node (same k8s.io/kubernetes pin, its own module so
# apiserver/go.mod stays minimal).
build_node_component() { # <cmd name>
  local name="$1" out="${DIR}/node/$1"
  local stamp; stamp="$(stamp_of "${K8S_VERSION}" "${HERE}/node")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached ${name} ${K8S_VERSION}"
    return
  fi
  log "building ${name} ${K8S_VERSION}..."
  (cd "${HERE}/node" &&
    timed "${name}" "${GO}" build "${BUILD_FLAGS[@]}" -ldflags="$(k8s_ldflags)" \
      -o "${out}.tmp" "k8s.io/kubernetes/cmd/${name}")
  mv -f "${out}.tmp" "${out}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

build_coredns() {
  local out="${DIR}/node/coredns"
  local stamp; stamp="$(stamp_of "${COREDNS_VERSION}")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached coredns ${COREDNS_VERSION}"
    return
  fi
  log "installing coredns ${COREDNS_VERSION}..."
  GOFLAGS='' GOBIN="${DIR}/node" timed coredns "${GO}" install -trimpath -ldflags="-s -w" \
    "github.com/coredns/coredns@${COREDNS_VERSION}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

# The pod sandbox ("pause") image's only binary: a static Go program (test/cluster/pause).
build_pause() {
  local out="${DIR}/node/pause"
  local stamp; stamp="$(stamp_of pause "${HERE}/pause")"
  if up_to_date "${out}" "${stamp}"; then
    log "using cached pause"
    return
  fi
  (cd "${HERE}/pause" &&
    timed pause "${GO}" build "${BUILD_FLAGS[@]}" -ldflags="-s -w" -o "${out}.tmp" .)
  mv -f "${out}.tmp" "${out}"
  echo "${stamp}" >"$(stamp_file "${out}")"
}

total_start=$(date +%s)
build_etcd
build_apiserver
build_helm
if ((NODE)); then
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do build_node_component "${c}"; done
  build_coredns
  build_pause
fi
log "done in $(($(date +%s) - total_start))s; cache $(du -sh "${DIR}" | cut -f1): ${DIR}"
echo "${DIR}"
