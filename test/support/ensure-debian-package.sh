#!/usr/bin/env bash
# Installs a Debian package when what a test or tool needs from it is missing. Idempotent: when it
# is there, it only says so. Used by the ensure-*.sh scripts (test/redis, test/console,
# test/prometheus, tools); nothing is started here.
#
#   ensure-debian-package.sh [--stop-service UNIT] PACKAGE CHECK [MORE_PACKAGES...]
#
#   PACKAGE          the package to install (named in the messages, and the one looked up in apt's lists)
#   CHECK            what must be there: a command (alternatives joined by '|', e.g. chromium|chromium-browser),
#                    whose `--version` is printed as "PACKAGE: ...", or an absolute path pattern of a file
#                    (e.g. /usr/lib/*/faketime/libfaketimeMT.so.1), printed nothing
#   MORE_PACKAGES    installed with it (e.g. fonts)
#   --stop-service   the package may start a system service the tests do not use: stop it after installing
set -euo pipefail

stop_service=""
if [ "${1:-}" = "--stop-service" ]; then
  stop_service="$2"
  shift 2
fi
if [ "$#" -lt 2 ]; then
  echo "usage: ensure-debian-package.sh [--stop-service UNIT] PACKAGE CHECK [MORE_PACKAGES...]" >&2
  exit 2
fi
package="$1"
check="$2"
shift 2

# The first of the CHECK commands on PATH; empty when none is.
find_command() {
  local name
  local IFS='|'
  for name in $check; do
    if command -v "$name" 2>/dev/null; then return 0; fi
  done
  return 0
}

present() {
  if [[ "$check" == /* ]]; then compgen -G "$check" >/dev/null; else [ -n "$(find_command)" ]; fi
}

# The first line a command prints for --version: on stdout, or on stderr for those that write it there.
say_version() {
  if [[ "$check" == /* ]]; then return 0; fi
  local bin line
  bin="$(find_command)"
  line="$("$bin" --version 2>/dev/null | head -n1 || true)"
  if [ -z "$line" ]; then line="$("$bin" --version 2>&1 | head -n1 || true)"; fi
  echo "$package: $line"
}

if present; then
  say_version
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "$package is missing and we are not root: install Debian's $package package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when apt does not know the package yet.
if ! apt-cache show "$package" >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends "$package" "$@" >/dev/null
if [ -n "$stop_service" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$stop_service" 2>/dev/null; then
  $SUDO systemctl stop "$stop_service" || true
fi
say_version
