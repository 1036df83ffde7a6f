#!/usr/bin/env bash
# Builds a pinned server from its tools module (tools/loki, tools/alertmanager)
# into bin/, through a content-addressed cache: the key covers the module's
# go.mod, go.sum, this script and the Go version, so a clean clone on a machine that built
# the same server before copies the binary instead of compiling it again.
#   scripts/build-tool.sh loki bin/loki
#   scripts/build-tool.sh alertmanager bin/alertmanager
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:?usage: build-tool.sh loki|alertmanager [out]}
out=${2:-bin/$name}
case "$name" in
  loki)         pkg=github.com/grafana/loki/v3/cmd/loki ;;
  alertmanager) pkg=github.com/prometheus/alertmanager/cmd/alertmanager ;;
  *) echo "build-tool: unknown tool $name" >&2; exit 2 ;;
esac

cache_root=${ALLOY_CURATED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alloy-curated}
key=$( (cat "tools/$name/go.mod" "tools/$name/go.sum" "$0"; go version) | sha256sum | cut -c1-16)
cached="$cache_root/$name-$key"

mkdir -p "$(dirname "$out")"
if [ -x "$cached" ]; then
  cp "$cached" "$out"
  echo "build-tool: $out from cache ($cached)"
  exit 0
fi

echo "build-tool: building $pkg (cold: minutes)"
flags=(-mod=mod)
if [ "$name" = alertmanager ]; then
  # The module zip lacks the web UI's compiled assets (ui/app/dist, made by
  # npm in Alertmanager's release build), and the ui package embeds them, so
  # build from a copy of the module with a one-page placeholder there. The
  # API (/api/v2) is complete; the deployment runs the official image.
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  version=$(cd tools/alertmanager && go list -mod=mod -m -f '{{.Version}}' github.com/prometheus/alertmanager)
  src=$(cd tools/alertmanager && go mod download -json "github.com/prometheus/alertmanager@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp -r "$src" "$work/alertmanager"
  chmod -R u+w "$work/alertmanager"
  for ui in elm mantine; do
    mkdir -p "$work/alertmanager/ui/app/dist/$ui"
    cp tools/alertmanager/ui/index.html "$work/alertmanager/ui/app/dist/$ui/index.html"
  done
  cp tools/alertmanager/go.mod "$work/go.mod"
  cp tools/alertmanager/go.sum "$work/go.sum"
  (cd tools/alertmanager && go mod edit -modfile="$work/go.mod" -replace="github.com/prometheus/alertmanager=$work/alertmanager")
  flags+=(-modfile="$work/go.mod" -ldflags "-X github.com/prometheus/common/version.Version=${version#v} -X github.com/prometheus/common/version.Branch=module")
fi
(cd "tools/$name" && go build "${flags[@]}" -o "../../$out.tmp" "$pkg")
mv "$out.tmp" "$out"
mkdir -p "$cache_root"
cp "$out" "$cached.tmp.$$" && mv "$cached.tmp.$$" "$cached"
echo "build-tool: built $out and cached it as $cached"
