#!/usr/bin/env bash
# Installs Chromium from Debian's packages when it is missing (the console tests drive it with
# playwright-core; no browser is downloaded). Idempotent; `make test` runs it.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../support/ensure-debian-package.sh" chromium 'chromium|chromium-browser' fonts-dejavu-core
