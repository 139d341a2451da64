#!/usr/bin/env bash
# Installs Prometheus from Debian's packages when it is missing (test/integration/grafana-panels.test.ts
# starts its own on loopback and runs every panel query of the chart's dashboard; nothing is started
# here). Idempotent; `make test-integration` runs it.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  echo "prometheus: $(prometheus --version 2>&1 | head -n1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "prometheus is missing and we are not root: install Debian's prometheus package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when apt does not know the package yet.
if ! apt-cache show prometheus >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package may start a system service on 9090; the test does not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus || true
fi
echo "prometheus: $(prometheus --version 2>&1 | head -n1)"
