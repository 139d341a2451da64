#!/usr/bin/env bash
# Tears down what node-up.sh made, also after a failed or half-finished start: every container
# and shim, kubelet, kube-proxy, the control plane, containerd, the cgroups, the namespaces (their
# mounts vanish with the anchor), the mount points it created on the host and the state dir.
#
#   test/cluster/node-down.sh     (make cluster-down)
#
# TOLLGATE_CLUSTER_KEEP_LOGS=1 keeps STATE_DIR/logs (everything else is removed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "${HERE}/lib.sh"
# shellcheck source=node-lib.sh
source "${HERE}/node-lib.sh"
STATE="${NODE_STATE_DIR}"
log() { echo "[cluster/node-down] $*" >&2; }

if [[ ! -d "${STATE}" ]] && ! ip netns list 2>/dev/null | grep -qw "${NODE_NETNS}"; then
  log "nothing to do: ${STATE} does not exist"
  exit 0
fi
mkdir -p "${STATE}"
exec 9>"${STATE}/.lock"
flock 9
start=$(date +%s)

# pids_in_cgroups: every process in kubelet's cgroup tree (all pods' containers).
pids_in_cgroups() {
  local mnt
  [[ -f "${STATE}/cgroup-roots" ]] || return 0
  while read -r mnt; do
    [[ -d "${mnt}/${CGROUP_PARENT}" ]] || continue
    find "${mnt}/${CGROUP_PARENT}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done <"${STATE}/cgroup-roots" | sort -u
}

# shim_pids: the containerd shims of this node; they carry the node's socket path as an argument.
shim_pids() {
  local sock pid
  sock="$(node_sock)"
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    tr '\0' '\n' 2>/dev/null <"/proc/${pid}/cmdline" | grep -qxF -- "${sock}" && echo "${pid}"
  done
  return 0
}

# 1. No new containers: the kubelet and kube-proxy go first.
stop_proc "${STATE}/kubelet.pid"
stop_proc "${STATE}/kube-proxy.pid"
# 2. Every container process, then the shims, then containerd.
for _ in 1 2 3; do
  pids="$(pids_in_cgroups)"
  [[ -z "${pids}" ]] && break
  # shellcheck disable=SC2086
  kill -KILL ${pids} 2>/dev/null || true
  sleep 0.5
done
for pid in $(shim_pids); do kill -KILL "${pid}" 2>/dev/null || true; done
stop_proc "${STATE}/containerd.pid"
for pid in $(shim_pids); do kill -KILL "${pid}" 2>/dev/null || true; done
# 3. The control plane.
for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_proc "${STATE}/${c}.pid"; done
# 4. The anchor: its mount namespace (container rootfs mounts, cgroup and bind mounts) dies with
#    the last process in it.
stop_proc "${STATE}/tollgate-anchor.pid"

# 5. cgroups, depth-first, once nothing runs in them.
if [[ -f "${STATE}/cgroup-roots" ]]; then
  while read -r mnt; do
    [[ -d "${mnt}/${CGROUP_PARENT}" ]] || continue
    for _ in 1 2 3 4 5; do
      find "${mnt}/${CGROUP_PARENT}" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "${mnt}/${CGROUP_PARENT}" ]] || break
      sleep 0.3
    done
    [[ -d "${mnt}/${CGROUP_PARENT}" ]] && log "WARNING: could not remove ${mnt}/${CGROUP_PARENT}"
  done <"${STATE}/cgroup-roots"
fi

# 6. The network namespace (with cni0, the veth pair and every pod's netns under the state dir).
if ip netns list 2>/dev/null | grep -qw "${NODE_NETNS}"; then
  ip netns del "${NODE_NETNS}" || log "WARNING: ip netns del ${NODE_NETNS} failed"
fi
# Pod network namespaces containerd mounted under its state dir (netns_mounts_under_state_dir).
while read -r m; do umount -l "${m}" 2>/dev/null || true; done < <(
  awk -v s="${STATE}/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r)

# 7. Mount points node-up.sh created on the host (empty directories).
if [[ -f "${STATE}/created-mountpoints" ]]; then
  while read -r p; do rmdir "${p}" 2>/dev/null || true; done <"${STATE}/created-mountpoints"
fi

# 8. The state dir (containerd's root and state included).
if [[ "${TOLLGATE_CLUSTER_KEEP_LOGS:-0}" == "1" && -d "${STATE}/logs" ]]; then
  kept="${STATE}.logs"
  rm -rf "${kept}" && mv "${STATE}/logs" "${kept}"
  log "logs kept in ${kept}"
fi
exec 9>&-
rm -rf "${STATE}"
log "removed the node in $(($(date +%s) - start))s"
