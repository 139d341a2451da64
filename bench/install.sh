#!/usr/bin/env bash
# Installs what `make bench` needs, idempotently. A peer that cannot be installed is reported (its
# log under .cache/bench/) and skipped; the run then shows it as unavailable, with the error.
#   - nginx and wrk from Debian's packages (apt-get; as root, or through sudo when it exists), and
#     linux-perf for bench/perf-capture-ab.sh (optional: nothing else needs it)
#   - the emulator and the load generator (Go, standard library only) into .cache/bench/bin
#   - Portkey's gateway into bench/peers/portkey/node_modules (npm ci from its own lockfile)
#   - LiteLLM proxy, pinned EXACTLY to 1.82.6, into bench/.venv (never any other version)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/bench
mkdir -p "$CACHE/bin"
status=0
say() { printf '[install] %s\n' "$*" >&2; }

# --- Debian packages ------------------------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    say "cannot install ${need[*]}: not root and no sudo"
  else
    say "apt-get install ${need[*]}"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
      >"$CACHE/install-apt.log" 2>&1 || say "apt-get failed; see $CACHE/install-apt.log"
  fi
fi
command -v wrk >/dev/null 2>&1 || { say "wrk is required and missing"; status=1; }
command -v nginx >/dev/null 2>&1 || say "nginx missing: its row will say so"

# --- Go tools -------------------------------------------------------------------------------------
if command -v go >/dev/null 2>&1; then
  ( cd bench && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$CACHE/bin/emulator" ./cmd/emulator \
      && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$CACHE/bin/loadgen" ./cmd/loadgen ) \
    >"$CACHE/install-go.log" 2>&1 || { say "go build failed; see $CACHE/install-go.log"; status=1; }
else
  say "go is required (emulator and load generator) and missing"; status=1
fi

# --- Reference proxies (node-floor, express-floor), compiled so that no TypeScript loader runs ---
./node_modules/.bin/tsc --module nodenext --moduleResolution nodenext --target es2023 --strict --skipLibCheck --types node \
  --outDir "$CACHE/js" bench/node-floor.ts bench/express-floor.ts >"$CACHE/install-floors.log" 2>&1 \
  || say "compiling the reference proxies failed; see $CACHE/install-floors.log"

# --- Portkey --------------------------------------------------------------------------------------
PK=bench/peers/portkey
if [ ! -f "$PK/node_modules/@portkey-ai/gateway/package.json" ] || [ "$PK/package-lock.json" -nt "$PK/node_modules/.package-lock.json" ]; then
  say "npm ci in $PK"
  ( cd "$PK" && npm ci --ignore-scripts --no-audit --no-fund ) >"$CACHE/install-portkey.log" 2>&1 \
    || say "Portkey install failed; see $CACHE/install-portkey.log"
fi

# --- LiteLLM (exact pin; 1.82.7 and 1.82.8 were malicious releases) -------------------------------
LITELLM=1.82.6
VENV=bench/.venv
have=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('litellm'))" 2>/dev/null || true)
if [ "$have" != "$LITELLM" ]; then
  if [ -n "$have" ]; then say "bench/.venv has litellm $have, not $LITELLM: recreating it"; rm -rf "$VENV"; fi
  say "python3 -m venv $VENV; pip install litellm[proxy]==$LITELLM"
  { python3 -m venv "$VENV" \
      && "$VENV/bin/pip" install --disable-pip-version-check -q -r bench/peers/litellm/requirements.txt; } \
    >"$CACHE/install-litellm.log" 2>&1 || say "LiteLLM install failed; see $CACHE/install-litellm.log"
  have=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('litellm'))" 2>/dev/null || true)
  if [ -n "$have" ] && [ "$have" != "$LITELLM" ]; then
    say "pip installed litellm $have instead of $LITELLM: removing bench/.venv"; rm -rf "$VENV"
  fi
fi
exit $status
