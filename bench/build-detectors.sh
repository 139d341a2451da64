#!/usr/bin/env bash
# Compiles one commit's content detectors alone (dataplane/policy/detectors and what they import)
# for bench/detectors-scan-ab.ts, in seconds rather than a whole build-export.sh:
#   bash bench/build-detectors.sh [commit=HEAD] [dir=.cache/bench/detectors-<sha>]
# Uses the checkout's node_modules (symlinked).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short "${1:-HEAD}")
dir=$(realpath -m "${2:-.cache/bench/detectors-$commit}")
src="$dir.src"
rm -rf "$dir" "$src" && mkdir -p "$dir" "$src"
git archive "$commit" dataplane tsconfig.json package.json | tar -x -C "$src"
ln -s "$PWD/node_modules" "$src/node_modules"
cat > "$src/tsconfig.detectors.json" <<EOF
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "noEmit": false, "removeComments": true, "sourceMap": false, "rootDir": ".", "outDir": "$dir" },
  "include": [],
  "files": ["dataplane/policy/detectors/index.ts"]
}
EOF
./node_modules/.bin/tsc -p "$src/tsconfig.detectors.json"
# Plain ES modules, loaded as they are (under tsx, .ts modules' exports are getters: a call per use).
echo '{"type":"module"}' > "$dir/package.json"
ln -s "$PWD/node_modules" "$dir/node_modules"
echo "$dir"
