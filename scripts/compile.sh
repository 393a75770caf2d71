#!/usr/bin/env bash
# Builds single-file ferry binaries for Linux x86_64 and aarch64 with `deno compile`:
#   dist/ferry-x86_64-unknown-linux-gnu
#   dist/ferry-aarch64-unknown-linux-gnu
# Everything ferry needs is embedded (the program, its npm packages, deno.json's version); the
# binaries read nothing from the source tree. `deno compile` downloads the Deno runtime for each
# target (denort, from dl.deno.land) on first use and caches it in DENO_DIR; without access to it,
# this script fails with one line and exit code 1.
#
# Usage: scripts/compile.sh [TARGET...]   (default: both targets above)
#        DENO=/path/to/deno scripts/compile.sh
set -euo pipefail

cd "$(dirname "$0")/.."
deno="${DENO:-deno}"
if ! command -v "$deno" >/dev/null 2>&1; then
  if [ -x .tools/node_modules/.bin/deno ]; then
    deno=.tools/node_modules/.bin/deno
  else
    echo "ferry: deno not found on PATH (set DENO=/path/to/deno)" >&2
    exit 1
  fi
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
fi

# The same rights and V8 flags as ./main.ts: a compiled binary never prompts; it is limited to these.
permissions=(--allow-net --allow-read --allow-write --allow-env --allow-run --v8-flags=--max-semi-space-size=1)

mkdir -p dist
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in "${targets[@]}"; do
  out="dist/ferry-$target"
  # --no-check: `deno task check` type-checks; compile only packs the program.
  if ! "$deno" compile --quiet --no-check --target "$target" "${permissions[@]}" \
    --include src/server/bcrypt_worker.ts --output "$out" main.ts >"$log" 2>&1; then
    if grep -qiE 'dl\.deno\.land|denort|base binary|error sending request|dns error' "$log"; then
      echo "ferry: deno compile needs to download its runtime (denort) from dl.deno.land, which is not reachable; build the binaries on a machine with internet access, or use 'deno task bundle'" >&2
    else
      echo "ferry: deno compile --target $target failed: $(grep -m1 -iE 'error' "$log" || head -n1 "$log")" >&2
    fi
    rm -f "$out"
    exit 1
  fi
  echo "$out"
done
