#!/usr/bin/env bash
# image-context.sh BINARY DIR: writes a build context to DIR that builds the
# final stage of the Dockerfile from an already compiled static BINARY,
# without the Go builder stage (which needs a registry to pull golang).
# Used by the image smoke test and `make image-local`.
set -euo pipefail
bin=$1
dir=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$dir"
mkdir -p "$dir"
"$repo/scripts/image-rootfs.sh" "$bin" "$dir/rootfs"
# The Dockerfile's last stage, reading the rootfs from the context instead
# of the builder stage.
awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$repo/Dockerfile" |
  sed 's#--from=builder \(.*\)/rootfs/#\1rootfs/#' >"$dir/Containerfile"
if ! head -1 "$dir/Containerfile" | grep -q '^FROM scratch'; then
  echo "image-context: the Dockerfile's last stage must be FROM scratch" >&2
  exit 1
fi
