#!/usr/bin/env bash
# Runs the Tollgate operator and N data planes against the API server of `make cluster-up`, with
# the data-plane Service and its EndpointSlice written as the EndpointSlice controller would.
#
#   test/cluster/local.sh up [N] [STATE_DIR]     # default N=2
#   test/cluster/local.sh down [STATE_DIR]
#   (make cluster-local DATAPLANES=N / make cluster-local-down)
#
# STATE_DIR is cluster-up's (default ${TMPDIR:-/tmp}/tollgate-cluster). Files in STATE_DIR/local:
# admin-token, operator.pid, operator.log, dataplane-<i>.pid, dataplane-<i>.log.
# EndpointSlices refuse loopback addresses, so data plane i listens on ${POD_NET}.(10+i), an
# address that must be local: run this (and make cluster-up) inside
# `test/integration/run-in-netns.sh bash`, where 10.250.0.0/24 is on the namespace's loopback.
#
# Env: TOLLGATE_LOCAL_POD_NET (default 10.250.0), TOLLGATE_LOCAL_OPERATOR_PORT (default 9091).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
CMD="${1:-}"
shift || true
log() { echo "[cluster/local] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

POD_NET="${TOLLGATE_LOCAL_POD_NET:-10.250.0}"
OPERATOR_PORT="${TOLLGATE_LOCAL_OPERATOR_PORT:-9091}"
CLI="${ROOT}/dist/cli/tollgate.js"

# ours <pidfile>: the process in pidfile runs and is a Tollgate CLI process (not a recycled pid).
ours() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "${pid}" =~ ^[0-9]+$ && -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- 'tollgate.js'
}

# stop <pidfile>...: SIGTERM to each at once (data planes drain and report), SIGKILL to what still
# runs after 20 s; removes the pidfiles.
stop() {
  local pidf i running
  for pidf in "$@"; do ours "${pidf}" && kill -TERM "$(cat "${pidf}")" 2>/dev/null || true; done
  for ((i = 0; i < 200; i++)); do
    running=0
    for pidf in "$@"; do ours "${pidf}" && running=1; done
    ((running)) || break
    sleep 0.1
  done
  for pidf in "$@"; do
    if ours "${pidf}"; then kill -KILL "$(cat "${pidf}")" 2>/dev/null || true; fi
    rm -f "${pidf}"
  done
}

down() {
  local dir="$1/local"
  [[ -d "${dir}" ]] || { log "nothing to stop in ${dir}"; return 0; }
  # The data planes first, while the operator still takes their last usage reports (without it,
  # each would wait its whole drain timeout for an operator to report to).
  stop "${dir}"/dataplane-*.pid
  stop "${dir}/operator.pid"
  rm -f "${dir}/admin-token"
  log "stopped the operator and the data planes (logs kept in ${dir})"
}

wait_ready() { # <url> <what>
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$2 not ready at $1 (see its log in ${LOCAL})"
}

up() {
  local n="$1" state="$2" i ips=() slice_endpoints=""
  [[ "${n}" =~ ^[1-9][0-9]?$ ]] || die "N must be 1..99, got ${n}"
  [[ -f "${state}/kubeconfig" ]] || die "no cluster in ${state}: run make cluster-up first"
  export KUBECONFIG="${state}/kubeconfig"
  kubectl get --raw /readyz >/dev/null || die "the API server of ${state} does not answer: run make cluster-up"
  [[ -f "${CLI}" ]] || (cd "${ROOT}" && npx tsc -p tsconfig.build.json)
  for ((i = 1; i <= n; i++)); do ips+=("${POD_NET}.$((10 + i))"); done
  node -e 'const s=require("net").createServer();s.on("error",()=>process.exit(1));s.listen(0,process.argv[1],()=>s.close())' "${ips[0]}" ||
    die "${ips[0]} is not a local address: run inside test/integration/run-in-netns.sh bash (EndpointSlices refuse loopback)"

  LOCAL="${state}/local"
  mkdir -p "${LOCAL}"
  down "${state}" 2>/dev/null
  (umask 077 && openssl rand -hex 16 >"${LOCAL}/admin-token")

  kubectl apply -f "${ROOT}/crds/" >/dev/null
  kubectl wait --for=condition=Established crd --all --timeout=30s >/dev/null
  kubectl create namespace tollgate-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  for ip in "${ips[@]}"; do slice_endpoints+="  - { addresses: [${ip}], conditions: { ready: true } }"$'\n'; done
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: { name: tollgate-dataplane, namespace: tollgate-system }
spec:
  ports: [{ name: http, port: 80, targetPort: 8080 }, { name: admin, port: 9090, targetPort: 9090 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: tollgate-dataplane-local
  namespace: tollgate-system
  labels: { kubernetes.io/service-name: tollgate-dataplane }
addressType: IPv4
endpoints:
${slice_endpoints}ports: [{ name: http, port: 8080 }, { name: admin, port: 9090 }]
YAML

  for ((i = 1; i <= n; i++)); do
    nohup node "${CLI}" dataplane --host "${ips[$((i - 1))]}" --port 8080 --admin-port 9090 \
      --token-file "${LOCAL}/admin-token" --operator-url "http://127.0.0.1:${OPERATOR_PORT}" \
      --kubeconfig "${KUBECONFIG}" >"${LOCAL}/dataplane-${i}.log" 2>&1 &
    echo $! >"${LOCAL}/dataplane-${i}.pid"
  done
  nohup node "${CLI}" operator --kubeconfig "${KUBECONFIG}" --dataplane-namespace tollgate-system \
    --host 127.0.0.1 --port "${OPERATOR_PORT}" --token-file "${LOCAL}/admin-token" >"${LOCAL}/operator.log" 2>&1 &
  echo $! >"${LOCAL}/operator.pid"

  wait_ready "http://127.0.0.1:${OPERATOR_PORT}/readyz" operator
  for ip in "${ips[@]}"; do wait_ready "http://${ip}:9090/readyz" "data plane ${ip}"; done
  log "operator on 127.0.0.1:${OPERATOR_PORT}, ${n} data plane(s) on ${ips[*]} (port 8080); PID files and logs in ${LOCAL}"
  log "try: kubectl apply -f examples/quickstart/ && curl -s http://${ips[0]}:8080/v1/models"
  log "stop: make cluster-local-down (or $0 down ${state})"
}

case "${CMD}" in
  up)
    N="${1:-2}"
    up "${N}" "$(cd "${2:-${TMPDIR:-/tmp}/tollgate-cluster}" 2>/dev/null && pwd || echo "${2:-${TMPDIR:-/tmp}/tollgate-cluster}")"
    ;;
  down)
    STATE="${1:-${TMPDIR:-/tmp}/tollgate-cluster}"
    down "${STATE}"
    ;;
  *) die "usage: $0 up [N] [STATE_DIR] | down [STATE_DIR]" ;;
esac
