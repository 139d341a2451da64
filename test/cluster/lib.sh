# shellcheck shell=bash
# Helpers shared by up.sh and down.sh (sourced, not run).

# proc_alive <pidfile>: the process in pidfile runs and is the binary named
# like the pidfile (etcd.pid -> etcd), so a recycled pid is not mistaken for
# ours. Zombies count as dead.
proc_alive() {
  local pidf="$1" pid name state
  [[ -f "${pidf}" ]] || return 1
  pid="$(cat "${pidf}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/${pid}/stat" ]] || return 1
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/${pid}/stat" 2>/dev/null)" || return 1
  [[ "${state}" != "Z" && "${state}" != "X" ]] || return 1
  name="$(basename "${pidf}" .pid)"
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q -- "${name}"
}

# stop_proc <pidfile>: SIGTERM, then SIGKILL after 15s; removes the pidfile.
stop_proc() {
  local pidf="$1" pid i
  if proc_alive "${pidf}"; then
    pid="$(cat "${pidf}")"
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      proc_alive "${pidf}" || break
      sleep 0.1
    done
    if proc_alive "${pidf}"; then
      kill -KILL "${pid}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        proc_alive "${pidf}" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "${pidf}"
}

# clean_state <dir>: removes only the files up.sh creates, never anything else.
clean_state() {
  local d="$1"
  rm -rf "${d}/etcd-data" "${d}/pki"
  rm -f "${d}/kubeconfig" "${d}/kubeconfig.tmp" "${d}/cluster.env" \
    "${d}/etcd.pid" "${d}/kube-apiserver.pid" "${d}/etcd.log" "${d}/kube-apiserver.log"
}

# wait_for_proc <what> <log file> <pid file> <cmd...>: polls cmd until it succeeds; fails (die, from
# the sourcing script, with the log's tail) when the process in pid file exits or after $TIMEOUT s.
wait_for_proc() {
  local what="$1" logf="$2" pidf="$3"
  shift 3
  local deadline=$(($(date +%s) + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! proc_alive "${pidf}"; then
      tail -n 40 "${logf}" >&2 || true
      die "${what} exited; see ${logf}"
    fi
    if (($(date +%s) >= deadline)); then
      tail -n 40 "${logf}" >&2 || true
      die "timed out after ${TIMEOUT}s waiting for ${what}; see ${logf}"
    fi
    sleep 0.2
  done
}
