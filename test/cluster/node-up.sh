#!/usr/bin/env bash
# Starts a real single-node Kubernetes cluster inside a private network namespace:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc + bridge CNI,
# kubelet, kube-proxy (iptables) and CoreDNS (a Deployment behind the kube-dns Service).
#
#   test/cluster/node-up.sh        (make cluster-up NODE=1)
#
# Env: TOLLGATE_NETNS            network namespace name (default tollgate-node)
#      TOLLGATE_NODE_STATE_DIR   state dir (default ${TMPDIR:-/tmp}/tollgate-node)
#      TOLLGATE_CLUSTER_TIMEOUT  seconds to wait for each component (default 120)
#
# Everything lives in the network namespace: node 10.200.0.2 (a veth pair whose both ends stay
# inside), pods 10.244.0.0/24 on bridge cni0, Services 10.96.0.0/16, DNS 10.96.0.10. One anchor
# process holds the namespace and a private mount namespace (cgroup hierarchies remounted, the
# kubelet's hard-coded host paths bind-mounted from the state dir); every component runs in both
# (nsenter -t ANCHOR -m -n), so kubelet and containerd see the same mounts and no container mount
# reaches the host's mount table. containerd's root, state and socket are under STATE_DIR/containerd.
#
# On: RBAC + Node authorization, NodeRestriction, PodSecurity and ServiceAccount admission, the
# token controllers. --api-audiences is only the issuer (as on a real cluster: `tollgate` is not a
# default audience). Run again while up: no-op. The last two lines printed are
#   export KUBECONFIG=STATE_DIR/kubeconfig
#   export TOLLGATE_NETNS=<name>
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
# shellcheck source=node-lib.sh
source "${HERE}/node-lib.sh"

TIMEOUT="${TOLLGATE_CLUSTER_TIMEOUT:-120}"
STATE="${NODE_STATE_DIR}"
PKI="${STATE}/pki"
ISSUER="https://kubernetes.default.svc.cluster.local"
SERVER="https://${NODE_IP}:${APISERVER_PORT}"

log() { echo "[cluster/node] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
phase_start=$(date +%s)
phase() { # <name>: prints how long the previous phase took
  local now; now=$(date +%s)
  log "$1 ($((now - phase_start))s)"
  phase_start=${now}
}
total_start=$(date +%s)

[[ "$(id -u)" == 0 ]] || die "needs root (network namespace, mounts, containerd)"

ensure_apt_packages containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins \
  iptables:iptables nsenter:util-linux ip:iproute2 openssl:openssl curl:curl
command -v kubectl >/dev/null 2>&1 || die "kubectl is required on PATH (as for the integration suite)"

BIN_DIR="$("${HERE}/build.sh" --node | tail -n1)"
NODE_BIN="${BIN_DIR}/node"
phase "binaries ready: ${BIN_DIR}"

mkdir -p "${STATE}"
exec 9>"${STATE}/.lock"
flock 9

if anchor_pid >/dev/null && proc_alive "${STATE}/kubelet.pid" && [[ -f "${STATE}/kubeconfig" ]]; then
  log "already running (state: ${STATE})"
  echo "export KUBECONFIG=${STATE}/kubeconfig"
  echo "export TOLLGATE_NETNS=${NODE_NETNS}"
  exit 0
fi
if [[ -f "${STATE}/kubeconfig" ]] || ip netns list | grep -qw "${NODE_NETNS}"; then
  log "cleaning up a stale node first"
  exec 9>&-
  "${HERE}/node-down.sh"
  mkdir -p "${STATE}"
  exec 9>"${STATE}/.lock"
  flock 9
fi
mkdir -p "${STATE}"/{pki,logs,containerd,cni/net.d,cni/ipam,kubelet,manifests,volume-plugins,images}

# --- certificates --------------------------------------------------------------------------------
sign() { # <name> <subject> <extfile content>
  local name="$1" subj="$2"
  printf '%s\n' "$3" >"${PKI}/${name}.ext"
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "${PKI}/${name}.key" \
    -out "${PKI}/${name}.csr" -subj "${subj}" 2>/dev/null
  openssl x509 -req -sha256 -days 3650 -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" \
    -CAkey "${PKI}/ca.key" -CAcreateserial -extfile "${PKI}/${name}.ext" \
    -out "${PKI}/${name}.crt" 2>/dev/null
  rm -f "${PKI}/${name}.csr" "${PKI}/${name}.ext"
}
client_ext='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'

gen_pki() {
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout "${PKI}/ca.key" -out "${PKI}/ca.crt" -subj "/CN=tollgate-node-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:${NODE_IP},IP:${KUBERNETES_SVC_IP},IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=tollgate-admin" "${client_ext}"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "${client_ext}"
    sign kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" "${client_ext}"
    sign controller-manager "/CN=system:kube-controller-manager" "${client_ext}"
    sign scheduler "/CN=system:kube-scheduler" "${client_ext}"
    sign kube-proxy "/CN=system:kube-proxy" "${client_ext}"
    openssl genrsa -out "${PKI}/sa.key" 2048 2>/dev/null
    openssl rsa -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null
    rm -f "${PKI}/ca.srl"
  )
}

kubeconfig_for() { # <cert name> <out file>
  (
    umask 077
    cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tollgate-node
  cluster:
    server: ${SERVER}
    certificate-authority-data: $(base64 -w0 <"${PKI}/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 <"${PKI}/$1.crt")
    client-key-data: $(base64 -w0 <"${PKI}/$1.key")
contexts:
- name: tollgate-node
  context:
    cluster: tollgate-node
    user: $1
    namespace: default
current-context: tollgate-node
EOF
  )
}

gen_pki
for c in admin kubelet controller-manager scheduler kube-proxy; do
  kubeconfig_for "${c}" "${STATE}/${c}.kubeconfig"
done
mv "${STATE}/admin.kubeconfig" "${STATE}/kubeconfig.tmp"
phase "certificates and kubeconfigs written"

# --- network + mount namespace -------------------------------------------------------------------
ip netns add "${NODE_NETNS}"
ip -n "${NODE_NETNS}" link set lo up
ip -n "${NODE_NETNS}" link add tg-node type veth peer name tg-gw
ip -n "${NODE_NETNS}" addr add "${NODE_IP}/24" dev tg-node
ip -n "${NODE_NETNS}" link set tg-node up
ip -n "${NODE_NETNS}" link set tg-gw up
ip -n "${NODE_NETNS}" route add default via "${NODE_GW}" dev tg-node onlink src "${NODE_IP}"
ip netns exec "${NODE_NETNS}" sysctl -qw net.ipv4.ip_forward=1
# Pod → Service → pod on the same bridge needs the bridge to hand frames to iptables.
if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null; then
  ip netns exec "${NODE_NETNS}" sysctl -qw net.bridge.bridge-nf-call-iptables=1 || true
fi

# The cgroup hierarchies this machine has, so they can be mounted again inside (ip netns exec
# remounts /sys, which hides /sys/fs/cgroup). cgroup v1 controllers plus the unified cgroup2.
cgroup_mounts="$(awk '$9 == "cgroup" || $9 == "cgroup2" {print $5 " " $9 " " $NF}' /proc/self/mountinfo)"
[[ -n "${cgroup_mounts}" ]] || die "no cgroup hierarchy is mounted on this machine"
# kubelet's cgroupRoot (created in every hierarchy, removed depth-first by node-down.sh).
while read -r mnt type opts; do
  [[ "${mnt}" == /sys/fs/cgroup* ]] || continue
  mkdir -p "${mnt}/${CGROUP_PARENT}"
  if [[ -f "${mnt}/cpuset.cpus" ]]; then
    cat "${mnt}/cpuset.cpus" >"${mnt}/${CGROUP_PARENT}/cpuset.cpus"
    cat "${mnt}/cpuset.mems" >"${mnt}/${CGROUP_PARENT}/cpuset.mems"
  fi
  echo "${mnt}" >>"${STATE}/cgroup-roots"
done <<<"${cgroup_mounts}"

# Mount points of the host paths: created only if missing, recorded so node-down.sh removes them.
for p in "${NODE_HOST_PATHS[@]}"; do
  d="${p}"
  while [[ ! -d "${d}" ]]; do # deepest first, so node-down.sh can rmdir them in order
    echo "${d}" >>"${STATE}/created-mountpoints"
    d="$(dirname "${d}")"
  done
  mkdir -p "${p}" "${STATE}/host${p}"
done

cat >"${STATE}/anchor.sh" <<'EOF'
#!/usr/bin/env bash
# Runs inside `ip netns exec` (a new mount namespace, not propagating to the host): remount the
# cgroup hierarchies, bind the kubelet's host paths from the state dir, then hold the namespaces.
set -euo pipefail
state="$1"; shift
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
while read -r mnt type opts; do
  [[ "${mnt}" == /sys/fs/cgroup* ]] || continue
  mkdir -p "${mnt}"
  if [[ "${type}" == cgroup2 ]]; then mount -t cgroup2 cgroup2 "${mnt}"
  else mount -t cgroup -o "$(tr , '\n' <<<"${opts}" | grep -v -E '^(rw|ro)$' | paste -sd,)" cgroup "${mnt}"
  fi
done <"${state}/cgroup-mounts"
for p in "$@"; do mount --bind "${state}/host${p}" "${p}"; done
exec -a tollgate-anchor sleep infinity
EOF
echo "${cgroup_mounts}" >"${STATE}/cgroup-mounts"
ip netns exec "${NODE_NETNS}" bash "${STATE}/anchor.sh" "${STATE}" "${NODE_HOST_PATHS[@]}" \
  </dev/null >"${STATE}/logs/anchor.log" 2>&1 9>&- &
echo $! >"${STATE}/tollgate-anchor.pid"
deadline=$(($(date +%s) + 20))
until in_node test -d /sys/fs/cgroup/memory/"${CGROUP_PARENT}" 2>/dev/null &&
  grep -q tollgate-anchor "/proc/$(cat "${STATE}/tollgate-anchor.pid")/cmdline" 2>/dev/null; do
  kill -0 "$(cat "${STATE}/tollgate-anchor.pid")" 2>/dev/null ||
    { cat "${STATE}/logs/anchor.log" >&2; die "anchor exited"; }
  (($(date +%s) < deadline)) || die "anchor did not come up; see ${STATE}/logs/anchor.log"
  sleep 0.1
done
ANCHOR="$(cat "${STATE}/tollgate-anchor.pid")"
phase "network namespace ${NODE_NETNS} and mount namespace ready (anchor pid ${ANCHOR})"

# start <name> <cmd...>: runs a component in the node's namespaces; pid in STATE/<name>.pid.
start() {
  local name="$1"
  shift
  nsenter -t "${ANCHOR}" -m -n -- "$@" </dev/null >"${STATE}/logs/${name}.log" 2>&1 9>&- &
  echo $! >"${STATE}/${name}.pid"
}

wait_for() { # <name> <cmd...>: polls cmd (run inside the node) until it succeeds
  local name="$1"
  shift
  wait_for_proc "${name}" "${STATE}/logs/${name}.log" "${STATE}/${name}.pid" in_node "$@"
}

# --- control plane -------------------------------------------------------------------------------
mkdir -p "${STATE}/etcd-data" && chmod 700 "${STATE}/etcd-data"
start etcd "${BIN_DIR}/etcd" --name=tollgate-node --data-dir="${STATE}/etcd-data" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=tollgate-node=http://127.0.0.1:2380 --initial-cluster-state=new \
  --unsafe-no-fsync=true --log-level=warn
wait_for etcd curl -fsS http://127.0.0.1:2379/health

start kube-apiserver "${BIN_DIR}/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --advertise-address="${NODE_IP}" --secure-port="${APISERVER_PORT}" \
  --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
  --client-ca-file="${PKI}/ca.crt" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-account-issuer="${ISSUER}" \
  --service-account-key-file="${PKI}/sa.pub" \
  --service-account-signing-key-file="${PKI}/sa.key" \
  --api-audiences="${ISSUER}" \
  --service-cluster-ip-range="${SERVICE_CIDR}" \
  --endpoint-reconciler-type=lease \
  --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" \
  --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --allow-privileged=true --profiling=false
wait_for kube-apiserver curl -fsS --cacert "${PKI}/ca.crt" "${SERVER}/readyz"
mv "${STATE}/kubeconfig.tmp" "${STATE}/kubeconfig"
export KUBECONFIG="${STATE}/kubeconfig"
phase "etcd and kube-apiserver ready at ${SERVER}"

start kube-controller-manager "${NODE_BIN}/kube-controller-manager" \
  --kubeconfig="${STATE}/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${PKI}/sa.key" \
  --root-ca-file="${PKI}/ca.crt" \
  --cluster-name=tollgate-node --profiling=false
start kube-scheduler "${NODE_BIN}/kube-scheduler" \
  --kubeconfig="${STATE}/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# --- containerd ----------------------------------------------------------------------------------
cat >"${STATE}/containerd/config.toml" <<EOF
version = 2
root = "${STATE}/containerd/root"
state = "${STATE}/containerd/state"
[grpc]
  address = "$(node_sock)"
[ttrpc]
  address = "$(node_sock).ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${STATE}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This VM lacks CAP_SYS_RESOURCE: the pause container's oom_score_adj of -998 would fail.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${STATE}/cni/net.d"
EOF
cat >"${STATE}/cni/net.d/10-tollgate.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "tollgate-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "${STATE}/cni/ipam",
        "ranges": [[{"subnet": "${POD_CIDR}"}]], "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
start containerd containerd --config "${STATE}/containerd/config.toml"
wait_for containerd ctr -a "$(node_sock)" version

# Pause and CoreDNS images: one static binary each, made into OCI archives here (no registry).
make_binary_image() { # <name> <binary> <image> <entrypoint JSON>
  local rootfs="${STATE}/images/$1-rootfs"
  rm -rf "${rootfs}" && mkdir -p "${rootfs}"
  cp "$2" "${rootfs}/$1"
  oci_image_tar "${STATE}/images/$1.tar" "$3" "$4" "${rootfs}"
  rm -rf "${rootfs}"
  node_import_image "${STATE}/images/$1.tar" >/dev/null
}
make_binary_image pause "${NODE_BIN}/pause" "${PAUSE_IMAGE}" '["/pause"]'
make_binary_image coredns "${NODE_BIN}/coredns" "${COREDNS_IMAGE}" \
  '["/coredns","-conf","/etc/coredns/Corefile"]'
phase "containerd ready, pause and coredns images imported"

# --- kubelet + kube-proxy ------------------------------------------------------------------------
echo "nameserver ${NODE_GW}" >"${STATE}/resolv.conf"
cat >"${STATE}/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "${PKI}/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /${CGROUP_PARENT}
containerRuntimeEndpoint: unix://$(node_sock)
failSwapOn: false
podLogsDir: "${STATE}/pod-logs"
volumePluginDir: "${STATE}/volume-plugins"
staticPodPath: "${STATE}/manifests"
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDNS: ["${DNS_SVC_IP}"]
clusterDomain: cluster.local
resolvConf: "${STATE}/resolv.conf"
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
# Locally imported images can never be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
start kubelet "${NODE_BIN}/kubelet" \
  --config="${STATE}/kubelet-config.yaml" \
  --kubeconfig="${STATE}/kubelet.kubeconfig" \
  --root-dir="${STATE}/kubelet" --cert-dir="${STATE}/kubelet/pki" \
  --hostname-override="${NODE_NAME}" --node-ip="${NODE_IP}" --v=1

cat >"${STATE}/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "${STATE}/kube-proxy.kubeconfig"}
mode: iptables
clusterCIDR: "${POD_CIDR}"
hostnameOverride: "${NODE_NAME}"
bindAddress: "${NODE_IP}"
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# No sysctl writes: conntrack is left as the kernel has it.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "${NODE_BIN}/kube-proxy" --config="${STATE}/kube-proxy-config.yaml"

wait_for kubelet kubectl get node "${NODE_NAME}"
wait_for kubelet bash -c "kubectl get node ${NODE_NAME} -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
phase "kubelet registered the node and it is Ready"

# --- CoreDNS -------------------------------------------------------------------------------------
sed -e "s#@COREDNS_IMAGE@#${COREDNS_IMAGE}#g" -e "s#@DNS_SVC_IP@#${DNS_SVC_IP}#g" \
  "${HERE}/node/coredns.yaml" | in_node kubectl apply -f - >/dev/null
wait_for kubelet kubectl -n kube-system rollout status deployment/coredns --timeout=5s
wait_for kubelet bash -c "kubectl -n kube-system get endpointslices -l kubernetes.io/service-name=kube-dns -o jsonpath='{.items[*].endpoints[*].conditions.ready}' | grep -q true"
phase "CoreDNS ready at ${DNS_SVC_IP}"

log "node ready in $(($(date +%s) - total_start))s (state: ${STATE}, netns: ${NODE_NETNS})"
echo "export KUBECONFIG=${STATE}/kubeconfig"
echo "export TOLLGATE_NETNS=${NODE_NETNS}"
