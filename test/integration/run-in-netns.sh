#!/usr/bin/env bash
# Runs a command in a private network namespace whose loopback also carries the test pod network
# (EndpointSlices refuse 127.0.0.0/8, so data-plane "pods" get 10.250.0.x addresses that exist only
# here). Nothing leaves the namespace and the host's network is untouched.
set -euo pipefail
if [ "${TOLLGATE_IN_NETNS:-}" = 1 ]; then exec "$@"; fi
exec unshare --net -- bash -c 'ip link set lo up && ip addr add 10.250.0.1/24 dev lo && TOLLGATE_IN_NETNS=1 exec "$@"' bash "$@"
