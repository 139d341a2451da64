#!/usr/bin/env bash
# Starts a real etcd + kube-apiserver on 127.0.0.1 (free ports) for
# integration tests, and writes STATE_DIR/kubeconfig for a system:masters
# admin.
#
#   test/cluster/up.sh [--restart-apiserver] [STATE_DIR]
#
# STATE_DIR defaults to ${TMPDIR:-/tmp}/tollgate-cluster. Running it again
# while the cluster is up is a no-op; if only kube-apiserver died (or
# --restart-apiserver was given, which stops it first) just kube-apiserver is
# (re)started on the same port, with the same certs and etcd data.
#
# What is on: RBAC authorization; x509 client certs (CA in pki/ca.crt);
# service-account tokens signed with pki/sa.key (TokenRequest API, so
# `kubectl create token SA --audience tollgate` works) and TokenReview, with
# --api-audiences=$ISSUER only, as on a real cluster (a token meant for Tollgate must be
# made with --audience tollgate). There is no kube-controller-manager:
# ServiceAccounts are not auto-created in namespaces (tests create them), no
# Pods run, and the ServiceAccount admission plugin is disabled (as in
# controller-runtime's envtest) so Pods can be created without one.
#
# Env: TOLLGATE_CLUSTER_BIN_DIR  dir holding kube-apiserver and etcd (skips
#                                build.sh); default: what build.sh prints.
#      TOLLGATE_CLUSTER_TIMEOUT  seconds to wait for readiness (default 90).
#
# Files in STATE_DIR: kubeconfig, cluster.env (ports, server URL),
# etcd.pid, kube-apiserver.pid, etcd.log, kube-apiserver.log, pki/, etcd-data/.
# The last line printed is `export KUBECONFIG=STATE_DIR/kubeconfig`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RESTART_APISERVER=0
if [[ "${1:-}" == "--restart-apiserver" ]]; then
  RESTART_APISERVER=1
  shift
fi
STATE_DIR="${1:-${TMPDIR:-/tmp}/tollgate-cluster}"
mkdir -p "${STATE_DIR}"
STATE_DIR="$(cd "${STATE_DIR}" && pwd)"
TIMEOUT="${TOLLGATE_CLUSTER_TIMEOUT:-90}"
ISSUER="https://kubernetes.default.svc.cluster.local"
PKI="${STATE_DIR}/pki"
KUBECONFIG_PATH="${STATE_DIR}/kubeconfig"

log() { echo "[cluster/up] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=lib.sh
source "${HERE}/lib.sh"

start_ts=$(date +%s)

if [[ -n "${TOLLGATE_CLUSTER_BIN_DIR:-}" ]]; then
  BIN_DIR="${TOLLGATE_CLUSTER_BIN_DIR}"
else
  BIN_DIR="$("${HERE}/build.sh" | tail -n1)"
fi
[[ -x "${BIN_DIR}/kube-apiserver" && -x "${BIN_DIR}/etcd" ]] ||
  die "kube-apiserver/etcd not found in ${BIN_DIR}"

pick_free_ports() { # <n>: prints n distinct free TCP ports on 127.0.0.1
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
  else
    node -e '
const net = require("net");
const n = Number(process.argv[1]); const servers = []; const ports = [];
const next = () => {
  if (ports.length === n) { console.log(ports.join(" ")); servers.forEach((s) => s.close()); return; }
  const s = net.createServer(); servers.push(s);
  s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); });
};
next();' "$1"
  fi
}

gen_pki() {
  mkdir -p "${PKI}"
  (
    cd "${PKI}"
    umask 077
    # Cluster CA: signs the serving cert and the admin client cert.
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.crt -subj "/CN=tollgate-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    # kube-apiserver serving cert.
    cat >serving.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout apiserver.key \
      -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in apiserver.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -extfile serving.ext -out apiserver.crt 2>/dev/null
    # Admin client cert: group system:masters (cluster-admin via RBAC bootstrap).
    cat >client.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout admin.key \
      -out admin.csr -subj "/O=system:masters/CN=tollgate-admin" 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in admin.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -extfile client.ext -out admin.crt 2>/dev/null
    # Service-account token signing key pair.
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
  )
}

write_kubeconfig() {
  local tmp="${KUBECONFIG_PATH}.tmp"
  (
    umask 077
    cat >"${tmp}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tollgate-test
  cluster:
    server: ${SERVER}
    certificate-authority-data: $(base64 -w0 <"${PKI}/ca.crt")
users:
- name: tollgate-admin
  user:
    client-certificate-data: $(base64 -w0 <"${PKI}/admin.crt")
    client-key-data: $(base64 -w0 <"${PKI}/admin.key")
contexts:
- name: tollgate-test
  context:
    cluster: tollgate-test
    user: tollgate-admin
    namespace: default
current-context: tollgate-test
EOF
  )
  mv -f "${tmp}" "${KUBECONFIG_PATH}"
}

start_etcd() {
  rm -rf "${STATE_DIR}/etcd-data"
  mkdir -p "${STATE_DIR}/etcd-data"
  chmod 700 "${STATE_DIR}/etcd-data"
  # 9>&-: the daemons must not inherit the state-dir lock (see flock below).
  log "starting etcd on 127.0.0.1:${ETCD_PORT}"
  "${BIN_DIR}/etcd" \
    --name=tollgate \
    --data-dir="${STATE_DIR}/etcd-data" \
    --listen-client-urls="http://127.0.0.1:${ETCD_PORT}" \
    --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster="tollgate=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster-state=new \
    --unsafe-no-fsync=true \
    --log-level=warn \
    </dev/null >"${STATE_DIR}/etcd.log" 2>&1 9>&- &
  echo $! >"${STATE_DIR}/etcd.pid"
  wait_for_proc etcd "${STATE_DIR}/etcd.log" "${STATE_DIR}/etcd.pid" \
    curl -fsS "http://127.0.0.1:${ETCD_PORT}/health"
}

start_apiserver() {
  log "starting kube-apiserver on ${SERVER}"
  "${BIN_DIR}/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="${APISERVER_PORT}" \
    --tls-cert-file="${PKI}/apiserver.crt" \
    --tls-private-key-file="${PKI}/apiserver.key" \
    --client-ca-file="${PKI}/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer="${ISSUER}" \
    --service-account-key-file="${PKI}/sa.pub" \
    --service-account-signing-key-file="${PKI}/sa.key" \
    --api-audiences="${ISSUER}" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount \
    --allow-privileged=true \
    --profiling=false \
    </dev/null >"${STATE_DIR}/kube-apiserver.log" 2>&1 9>&- &
  echo $! >"${STATE_DIR}/kube-apiserver.pid"
  wait_for_proc kube-apiserver "${STATE_DIR}/kube-apiserver.log" "${STATE_DIR}/kube-apiserver.pid" \
    curl -fsS --cacert "${PKI}/ca.crt" "${SERVER}/readyz"
}

admin_curl() { # <path>
  curl -fsS --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
    "${SERVER}$1"
}

ensure_default_namespace() {
  # The apiserver creates it itself shortly after start; create it if not.
  local deadline=$(($(date +%s) + 20))
  until admin_curl /api/v1/namespaces/default >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then
      log "creating namespace default"
      curl -fsS --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
        -H 'Content-Type: application/json' -X POST \
        -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}' \
        "${SERVER}/api/v1/namespaces" >/dev/null
      break
    fi
    sleep 0.2
  done
  if command -v kubectl >/dev/null 2>&1; then
    kubectl --kubeconfig "${KUBECONFIG_PATH}" get namespace default >/dev/null ||
      die "kubectl --kubeconfig ${KUBECONFIG_PATH} get namespace default failed"
  fi
}

command -v openssl >/dev/null 2>&1 || die "openssl is required"
command -v curl >/dev/null 2>&1 || die "curl is required"

# Serialise concurrent up/down on one state dir.
exec 9>"${STATE_DIR}/.lock"
flock 9

if [[ -f "${STATE_DIR}/cluster.env" ]] && proc_alive "${STATE_DIR}/etcd.pid"; then
  # shellcheck source=/dev/null
  source "${STATE_DIR}/cluster.env"
  if ((RESTART_APISERVER)); then
    log "stopping kube-apiserver for restart"
    stop_proc "${STATE_DIR}/kube-apiserver.pid"
  fi
else
  ((RESTART_APISERVER)) && log "no running cluster in ${STATE_DIR}; starting a new one"
  # Fresh cluster: clear anything stale from an earlier run.
  stop_proc "${STATE_DIR}/kube-apiserver.pid"
  stop_proc "${STATE_DIR}/etcd.pid"
  clean_state "${STATE_DIR}"
  read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT <<<"$(pick_free_ports 3)"
  SERVER="https://127.0.0.1:${APISERVER_PORT}"
  gen_pki
  cat >"${STATE_DIR}/cluster.env" <<EOF
ETCD_PORT=${ETCD_PORT}
ETCD_PEER_PORT=${ETCD_PEER_PORT}
APISERVER_PORT=${APISERVER_PORT}
SERVER=${SERVER}
EOF
  write_kubeconfig
  start_etcd
fi

if proc_alive "${STATE_DIR}/kube-apiserver.pid"; then
  log "kube-apiserver already running at ${SERVER}"
else
  start_apiserver
fi
ensure_default_namespace

log "cluster ready in $(($(date +%s) - start_ts))s: ${SERVER} (state: ${STATE_DIR})"
echo "export KUBECONFIG=${KUBECONFIG_PATH}"
