#!/usr/bin/env bash
# ensure-package.sh COMMAND [PACKAGE]: installs Debian's PACKAGE (default:
# COMMAND) when COMMAND is missing, for tests that need chromium or buildah.
set -euo pipefail
cmd=$1
pkg=${2:-$1}
if command -v "$cmd" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-package: $cmd is missing; install Debian's $pkg package (apt-get install $pkg)" >&2
  exit 1
fi
echo "ensure-package: installing Debian's $pkg"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
