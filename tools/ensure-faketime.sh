#!/usr/bin/env bash
# Installs libfaketime from Debian's packages when it is missing: tools/console-screenshots.ts runs
# `tollgate dev` under it to spread a week of traffic over a week of calendar days. Idempotent.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../test/support/ensure-debian-package.sh" libfaketime '/usr/lib/*/faketime/libfaketimeMT.so.1'
