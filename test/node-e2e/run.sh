#!/usr/bin/env bash
# make e2e: the real-node end-to-end suite. Starts the node (make cluster-up NODE=1) unless one is
# running, builds the images and imports them (make image), runs test/node-e2e inside the node's
# network namespace, and removes the node again if it started it (also on failure or Ctrl-C).
# Prints how long each phase took.
#   TOLLGATE_E2E_KEEP=1  leave the node running afterwards (for debugging; make cluster-down)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"
# shellcheck source=../cluster/lib.sh
source test/cluster/lib.sh
# shellcheck source=../cluster/node-lib.sh
source test/cluster/node-lib.sh
log() { echo "[e2e] $*" >&2; }
t_all=$(date +%s)
timed() { # <phase> <cmd...>
  local name="$1" t0 rc=0
  shift
  t0=$(date +%s)
  "$@" || rc=$?
  log "phase ${name}: $(($(date +%s) - t0)) s"
  return "${rc}"
}

started=0
if ! anchor_pid >/dev/null; then
  started=1
  trap 'if [[ "${TOLLGATE_E2E_KEEP:-0}" != 1 ]]; then TOLLGATE_CLUSTER_KEEP_LOGS=1 bash test/cluster/node-down.sh || true; fi' EXIT
  timed cluster-up bash test/cluster/node-up.sh >/dev/null
fi
helm_bin="$(bash test/cluster/build.sh | tail -n1)/bin/helm"
timed image bash test/cluster/image.sh >/dev/null
timed suite ip netns exec "${NODE_NETNS}" env KUBECONFIG="${NODE_STATE_DIR}/kubeconfig" \
  TOLLGATE_E2E_HELM="${helm_bin}" HELM_CACHE_HOME=/tmp/tollgate-e2e-helm/cache \
  HELM_CONFIG_HOME=/tmp/tollgate-e2e-helm/config HELM_DATA_HOME=/tmp/tollgate-e2e-helm/data \
  npx vitest run -c vitest.node-e2e.config.ts
if ((started)); then timed cluster-down bash test/cluster/node-down.sh; trap - EXIT; fi
log "e2e passed in $(($(date +%s) - t_all)) s"
