#!/usr/bin/env bash
# image-rootfs.sh BINARY ROOTFS: lays out the root filesystem of the
# alloy-custom image: the static binary and, from the same directory,
# curated-erase (the erasure command, docs/privacy.md), configs/fargate.alloy as
# /etc/alloy/config.alloy with the module it imports (container_logs.alloy),
# CA certificates, time zones, an unprivileged
# alloy user (10001) and its writable storage directory.
set -euo pipefail
bin=$1
root=$2
repo=$(cd "$(dirname "$0")/.." && pwd)

# A FROM scratch image has no dynamic loader: refuse a binary that needs one
# (its PT_INTERP path sits in the first page).
erase=$(dirname "$bin")/curated-erase
if [ ! -x "$erase" ]; then
  echo "image-rootfs: $erase is missing; build it with make bin/curated-erase" >&2
  exit 1
fi
for b in "$bin" "$erase"; do
  if head -c 4096 "$b" | grep -qa 'ld-linux'; then
    echo "image-rootfs: $b is dynamically linked; build it with CGO_ENABLED=0 (the Makefile does)" >&2
    exit 1
  fi
done

mkdir -p "$root"/{bin,etc/alloy,etc/ssl/certs,usr/share,var/lib/alloy/data,var/lib/alloy/spool,tmp}
install -m 0755 "$bin" "$root/bin/alloy-custom"
install -m 0755 "$erase" "$root/bin/curated-erase"
install -m 0644 "$repo/configs/fargate.alloy" "$root/etc/alloy/config.alloy"
install -m 0644 "$repo/configs/container_logs.alloy" "$root/etc/alloy/container_logs.alloy"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
printf 'root:x:0:0:root:/root:/sbin/nologin\nalloy:x:10001:10001:alloy:/var/lib/alloy:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nalloy:x:10001:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
