#!/usr/bin/env bash
# Runs a local Loki (bin/loki) and alloy-custom on configs/loki.alloy until
# Ctrl-C. Query what arrived with:
#   curl -sG http://127.0.0.1:3100/loki/api/v1/query_range --data-urlencode 'query={env="local"}'
set -euo pipefail
cd "$(dirname "$0")/.."

data=.cache/up
mkdir -p "$data/loki" "$data/alloy"
LOKI_DATA="$PWD/$data/loki" ./bin/loki -config.file=configs/loki/loki-local.yaml -config.expand-env=true \
  >"$data/loki.log" 2>&1 &
loki_pid=$!
trap 'kill $loki_pid 2>/dev/null; wait $loki_pid 2>/dev/null' EXIT

echo "up: waiting for Loki on 127.0.0.1:3100 (log: $data/loki.log)"
for _ in $(seq 1 120); do
  if curl -fsS http://127.0.0.1:3100/ready >/dev/null 2>&1; then break; fi
  if ! kill -0 $loki_pid 2>/dev/null; then echo "up: Loki exited"; tail -20 "$data/loki.log"; exit 1; fi
  sleep 0.5
done

echo "up: alloy-custom: event API on http://127.0.0.1:8080/v1/events, Alloy UI on http://127.0.0.1:12345"
./bin/alloy-custom run --stability.level=public-preview --disable-reporting \
  --storage.path="$data/alloy" --server.http.listen-addr=127.0.0.1:12345 configs/loki.alloy
