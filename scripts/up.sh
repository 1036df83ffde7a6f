#!/usr/bin/env bash
# Runs a local Loki (bin/loki) with its ruler on configs/loki/rules/, a local
# Alertmanager (bin/alertmanager) and alloy-custom on configs/loki.alloy until
# Ctrl-C. Notifications go where ALERT_WEBHOOK_URL (or ALERT_RECEIVER and
# ALERT_TARGET, see scripts/render-alertmanager.sh) says; without them alerts
# are only listed by Alertmanager's API.
set -euo pipefail
cd "$(dirname "$0")/.."

data=.cache/up
mkdir -p "$data/loki" "$data/alloy" "$data/alertmanager"
./scripts/render-alertmanager.sh "$data/alertmanager/config"

# The ruler's local storage: one directory per tenant, "fake" with auth off.
rm -rf "$data/loki/rules" && mkdir -p "$data/loki/rules/fake"
cp configs/loki/rules/*.yaml "$data/loki/rules/fake/"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

./bin/alertmanager --config.file="$data/alertmanager/config/alertmanager.yml" \
  --storage.path="$data/alertmanager/data" --web.listen-address=127.0.0.1:9093 \
  --cluster.listen-address= >"$data/alertmanager.log" 2>&1 &
pids+=($!)
LOKI_DATA="$PWD/$data/loki" ALERTMANAGER_URL=http://127.0.0.1:9093 \
  ./bin/loki -config.file=configs/loki/loki-local.yaml -config.expand-env=true >"$data/loki.log" 2>&1 &
pids+=($!)

wait_ready() { # name url log
  for _ in $(seq 1 120); do
    if curl -fsS "$2" >/dev/null 2>&1; then return 0; fi
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "up: a server exited; last lines of $3:"; tail -20 "$3"; exit 1; }
    done
    sleep 0.5
  done
  echo "up: $1 not ready at $2 (log: $3)"; exit 1
}
echo "up: waiting for Alertmanager and Loki (logs in $data/)"
wait_ready Alertmanager http://127.0.0.1:9093/-/ready "$data/alertmanager.log"
wait_ready Loki http://127.0.0.1:3100/ready "$data/loki.log"

cat <<'MSG'
up: event API     http://127.0.0.1:8080/v1/events
up: Loki          http://127.0.0.1:3100  (alert rules: http://127.0.0.1:3100/prometheus/api/v1/rules)
up: Alertmanager  http://127.0.0.1:9093  (alerts: http://127.0.0.1:9093/api/v2/alerts)
up: Alloy UI      http://127.0.0.1:12345
up: trigger a test alert (IntegrationFailing: three failed syncs of two sessions or more, notified within ~20 s):
  curl -sS http://127.0.0.1:8080/v1/events -H 'Content-Type: application/json' \
    -d '[{"event":"shopify.sync","service":"collabmaker","level":"error","session_id":"test-1","attributes":{"error":"test alert"}},
         {"event":"shopify.sync","service":"collabmaker","level":"error","session_id":"test-2","attributes":{"error":"test alert"}},
         {"event":"shopify.sync","service":"collabmaker","level":"error","session_id":"test-3","attributes":{"error":"test alert"}}]'
MSG

./bin/alloy-custom run --stability.level=public-preview --disable-reporting \
  --storage.path="$data/alloy" --server.http.listen-addr=127.0.0.1:12345 configs/loki.alloy
