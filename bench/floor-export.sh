#!/usr/bin/env bash
# The Node floor (bench/node-floor.ts) laid out like an export of Tollgate, so that the A/B scripts
# (ab-throughput.ts) can run it side by side with a build: its dist/cli/tollgate.js takes the
# `dev -f <manifests> --port <port>` arguments they pass, reads the upstream URL from the manifests
# and starts the floor. Ablations (copies of an export with parts of dist/ disabled) are then
# measured against the floor and against each other the same way.
#   bash bench/floor-export.sh [dir=.cache/bench/node-floor]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.cache/bench/node-floor}
floor=$PWD/.cache/bench/js/node-floor.js
[ -f "$floor" ] || { echo "$floor is missing: run bench/install.sh" >&2; exit 1; }
rm -rf "$dir" && mkdir -p "$dir/dist/cli"
cp package.json "$dir/"
ln -s "$PWD/node_modules" "$dir/node_modules"
echo node-floor > "$dir/.bench-commit"
cat > "$dir/dist/cli/tollgate.js" <<JS
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
const args = process.argv.slice(2);
const manifests = args[args.indexOf('-f') + 1];
const port = args[args.indexOf('--port') + 1];
const base = /url: (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(readFileSync(join(manifests, 'provider.yaml'), 'utf8'))?.[1];
if (base === undefined) throw new Error('no loopback upstream URL in ' + manifests);
process.argv = [process.argv[0], 'node-floor.js', base, port];
process.on('SIGTERM', () => process.exit(0));
await import('$floor');
JS
echo "$dir"
