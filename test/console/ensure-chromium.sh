#!/usr/bin/env bash
# Installs Chromium from Debian's packages when it is missing (the console tests drive it with
# playwright-core; no browser is downloaded). Idempotent; `make test` runs it.
set -euo pipefail

find_chromium() { command -v chromium || command -v chromium-browser || true; }

if [ -n "$(find_chromium)" ]; then
  echo "chromium: $("$(find_chromium)" --version 2>/dev/null | head -n1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing and we are not root: install Debian's chromium package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when apt does not know the package yet.
if ! apt-cache show chromium >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $("$(find_chromium)" --version 2>/dev/null | head -n1)"
