#!/usr/bin/env bash
# Builds one commit of Tollgate outside the working tree, so that a benchmark measures exactly that
# commit even while others have uncommitted changes in the checkout:
#   bash bench/build-export.sh [commit=HEAD] [dir=.cache/bench/tollgate-<sha>]
#   BENCH_TOLLGATE_ROOT=<dir> make bench
# Uses the checkout's node_modules (symlinked): the commit's package.json must match what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short "${1:-HEAD}")
dir=${2:-.cache/bench/tollgate-$commit}
rm -rf "$dir" && mkdir -p "$dir"
paths=(cli operator dataplane package.json tsconfig.json tsconfig.build.json)
# The image's entrypoint, which the bench starts Tollgate through (older commits have none).
if git cat-file -e "$commit:bin/tollgate" 2>/dev/null; then paths+=(bin); fi
git archive "$commit" "${paths[@]}" | tar -x -C "$dir"
ln -s "$PWD/node_modules" "$dir/node_modules"
( cd "$dir" && ./node_modules/.bin/tsc -p tsconfig.build.json )
echo "$commit" > "$dir/.bench-commit"
echo "$dir"
