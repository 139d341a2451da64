#!/usr/bin/env bash
# Installs Prometheus from Debian's packages when it is missing (test/integration/grafana-panels.test.ts
# starts its own on loopback and runs every panel query of the chart's dashboard; nothing is started
# here, and the service the package may start on 9090 is stopped). Idempotent; `make test-integration` runs it.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/ensure-debian-package.sh" --stop-service prometheus prometheus prometheus
