#!/usr/bin/env bash
# Installs redis-server from Debian's packages when it is missing (the Redis backend tests start
# their own servers on loopback; nothing is started here, and the service the package may start on
# 6379 is stopped). Idempotent; `make test` runs it.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/ensure-debian-package.sh" --stop-service redis-server redis-server redis-server
