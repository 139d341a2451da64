#!/usr/bin/env bash
# Stops the kube-apiserver and etcd started by up.sh and removes their state
# (etcd data, certs, kubeconfig, logs) from STATE_DIR.
#
#   test/cluster/down.sh [STATE_DIR]      # default ${TMPDIR:-/tmp}/tollgate-cluster
#
# Set TOLLGATE_CLUSTER_KEEP_LOGS=1 to keep etcd.log and kube-apiserver.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${1:-${TMPDIR:-/tmp}/tollgate-cluster}"
log() { echo "[cluster/down] $*" >&2; }

if [[ ! -d "${STATE_DIR}" ]]; then
  log "nothing to do: ${STATE_DIR} does not exist"
  exit 0
fi
STATE_DIR="$(cd "${STATE_DIR}" && pwd)"

# shellcheck source=lib.sh
source "${HERE}/lib.sh"

exec 9>"${STATE_DIR}/.lock"
flock 9

stop_proc "${STATE_DIR}/kube-apiserver.pid"
stop_proc "${STATE_DIR}/etcd.pid"

if [[ "${TOLLGATE_CLUSTER_KEEP_LOGS:-0}" == "1" ]]; then
  for f in etcd.log kube-apiserver.log; do
    [[ -f "${STATE_DIR}/${f}" ]] && mv -f "${STATE_DIR}/${f}" "${STATE_DIR}/${f}.kept"
  done
  clean_state "${STATE_DIR}"
  log "stopped; logs kept in ${STATE_DIR}/*.log.kept"
else
  clean_state "${STATE_DIR}"
  rm -f "${STATE_DIR}/.lock" "${STATE_DIR}"/*.log.kept
  rmdir "${STATE_DIR}" 2>/dev/null || true
  log "stopped and removed ${STATE_DIR}"
fi
