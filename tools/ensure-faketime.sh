#!/usr/bin/env bash
# Installs libfaketime from Debian's packages when it is missing: tools/console-screenshots.ts runs
# `tollgate dev` under it to spread a week of traffic over a week of calendar days. Idempotent.
set -euo pipefail

if compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null; then exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "libfaketime is missing and we are not root: install Debian's libfaketime package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show libfaketime >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends libfaketime >/dev/null
