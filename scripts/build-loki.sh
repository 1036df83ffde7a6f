#!/usr/bin/env bash
# Builds the pinned Loki server into bin/loki for end-to-end tests, through a
# content-addressed cache: the key covers tools/loki/go.mod, go.sum and the Go
# version, so a clean clone on a machine that built the same Loki before
# copies the binary instead of spending minutes compiling it.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-bin/loki}
cache_root=${ALLOY_CURATED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alloy-curated}
key=$( (cat tools/loki/go.mod tools/loki/go.sum; go version) | sha256sum | cut -c1-16)
cached="$cache_root/loki-$key"

mkdir -p "$(dirname "$out")"
if [ -x "$cached" ]; then
  cp "$cached" "$out"
  echo "build-loki: $out from cache ($cached)"
  exit 0
fi

echo "build-loki: building Loki (cold: ~4 min with a warm Go build cache, longer without)"
(cd tools/loki && go build -mod=mod -o "../../$out.tmp" github.com/grafana/loki/v3/cmd/loki)
mv "$out.tmp" "$out"
mkdir -p "$cache_root"
cp "$out" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached"
echo "build-loki: built $out and cached it as $cached"
