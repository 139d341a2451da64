# shellcheck shell=bash
# Helpers shared by node-up.sh, node-down.sh and image.sh (sourced, not run).
# Names and addresses of the single-node cluster; all of them exist only inside the network
# namespace ${NODE_NETNS}.

NODE_NETNS="${TOLLGATE_NETNS:-tollgate-node}"
NODE_STATE_DIR="${TOLLGATE_NODE_STATE_DIR:-${TMPDIR:-/tmp}/tollgate-node}"
NODE_NAME=tollgate-node
NODE_IP=10.200.0.2      # on veth tg-node; its peer tg-gw (10.200.0.1) is the default gateway,
NODE_GW=10.200.0.1      # (an address nobody has): both ends stay inside, nothing leaves it
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_SVC_IP=10.96.0.10
APISERVER_PORT=6443
CGROUP_PARENT=tollgate-node   # kubelet's cgroupRoot in every hierarchy
PAUSE_IMAGE=localhost/tollgate/pause:1
COREDNS_IMAGE=localhost/tollgate/coredns:1

# Directories kubelet and containerd use whatever their configuration says; inside the node's
# private mount namespace each is bind-mounted from the state dir, so the host's stay untouched.
NODE_HOST_PATHS=(/var/lib/kubelet/device-plugins /var/log/pods /usr/libexec/kubernetes /run/containerd)

node_sock() { echo "${NODE_STATE_DIR}/containerd/containerd.sock"; }

# ensure_apt_packages <binary:package>...: installs the Debian packages whose binaries are missing.
ensure_apt_packages() {
  local missing=() pair bin pkg
  for pair in "$@"; do
    bin="${pair%%:*}"
    pkg="${pair#*:}"
    if [[ "${bin}" == /* ]]; then [[ -e "${bin}" ]] && continue
    else command -v "${bin}" >/dev/null 2>&1 && continue
    fi
    missing+=("${pkg}")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "[cluster/node] installing Debian packages: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
    DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  }
}

# anchor_pid: the process holding the node's network + mount namespace, or nothing.
anchor_pid() {
  local f="${NODE_STATE_DIR}/tollgate-anchor.pid"
  proc_alive "${f}" && cat "${f}"
}

# in_node <cmd...>: runs cmd in the node's network and mount namespace.
in_node() {
  local pid
  pid="$(anchor_pid)" || { echo "[cluster/node] the node is not running" >&2; return 1; }
  nsenter -t "${pid}" -m -n -- "$@"
}

# oci_image_tar <out.tar> <image name> <entrypoint JSON array> <rootfs dir>: writes an OCI image
# layout tarball with one uncompressed layer, which `ctr images import` takes. Deterministic: the
# same rootfs gives the same digest.
oci_image_tar() {
  local out="$1" name="$2" entrypoint="$3" rootfs="$4" work
  work="$(mktemp -d)"
  mkdir -p "${work}/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${rootfs}" -cf "${work}/layer.tar" .
  local layer_digest layer_size
  layer_digest="$(sha256sum "${work}/layer.tar" | cut -d' ' -f1)"
  layer_size="$(stat -c %s "${work}/layer.tar")"
  mv "${work}/layer.tar" "${work}/blobs/sha256/${layer_digest}"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"test/cluster/node-lib.sh oci_image_tar"}]}' \
    "${entrypoint}" "${layer_digest}" >"${work}/config.json"
  local config_digest config_size
  config_digest="$(sha256sum "${work}/config.json" | cut -d' ' -f1)"
  config_size="$(stat -c %s "${work}/config.json")"
  mv "${work}/config.json" "${work}/blobs/sha256/${config_digest}"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "${config_digest}" "${config_size}" "${layer_digest}" "${layer_size}" >"${work}/manifest.json"
  local manifest_digest manifest_size
  manifest_digest="$(sha256sum "${work}/manifest.json" | cut -d' ' -f1)"
  manifest_size="$(stat -c %s "${work}/manifest.json")"
  mv "${work}/manifest.json" "${work}/blobs/sha256/${manifest_digest}"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "${manifest_digest}" "${manifest_size}" "${name}" "${name##*:}" >"${work}/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"${work}/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${work}" -cf "${out}" oci-layout index.json blobs
  rm -rf "${work}"
}

# node_import_image <tar>: imports an image archive into the node's containerd (namespace k8s.io,
# the one the kubelet's CRI uses).
node_import_image() {
  in_node ctr -a "$(node_sock)" -n k8s.io images import --all-platforms "$1" >&2
}
