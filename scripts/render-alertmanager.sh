#!/usr/bin/env bash
# Renders configs/alertmanager/ into OUT_DIR for a local Alertmanager (make up,
# the end-to-end tests): alertmanager.yml with its ${...} placeholders filled
# from the environment, the templates, and the secret files the receivers
# read at send time (mode 600). deploy/ does the same from stack parameters.
#
#   ALERT_WEBHOOK_URL      shortcut: a generic webhook (ALERT_RECEIVER=webhook, ALERT_TARGET=the URL)
#   ALERT_RECEIVER         webhook | slack | msteams | discord | telegram | email | none
#                          (default: webhook when ALERT_WEBHOOK_URL is set, otherwise none)
#   ALERT_TARGET           the receiver's secret: webhook URL (webhook, slack, msteams,
#                          discord), bot token (telegram) or SMTP password (email)
#   ALERT_TELEGRAM_CHAT_ID telegram only
#   ALERT_EMAIL_TO, ALERT_EMAIL_FROM, ALERT_SMTP_SMARTHOST (host:port), ALERT_SMTP_USERNAME   email only
#   ALERT_HEARTBEAT_RECEIVER  heartbeat | none (default): where the always-firing Watchdog goes
#   ALERT_HEARTBEAT_TOPIC_ARN, ALERT_HEARTBEAT_REGION, ALERT_HEARTBEAT_SNS_URL   heartbeat only
#                          (the SNS topic, its region, and an endpoint other than AWS's)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: render-alertmanager.sh OUT_DIR}
receiver=${ALERT_RECEIVER:-}
target=${ALERT_TARGET:-}
if [ -n "${ALERT_WEBHOOK_URL:-}" ]; then
  receiver=${receiver:-webhook}
  target=${target:-$ALERT_WEBHOOK_URL}
fi
receiver=${receiver:-none}

fail() { echo "render-alertmanager: $*" >&2; exit 2; }
case "$receiver" in
  none) ;;
  webhook|slack|msteams|discord)
    [[ "$target" =~ ^https?:// ]] || fail "ALERT_RECEIVER=$receiver needs ALERT_TARGET (or ALERT_WEBHOOK_URL): an http(s) URL" ;;
  telegram)
    [ -n "$target" ] || fail "ALERT_RECEIVER=telegram needs ALERT_TARGET: the bot token"
    [[ "${ALERT_TELEGRAM_CHAT_ID:-}" =~ ^-?[0-9]+$ ]] || fail "ALERT_RECEIVER=telegram needs ALERT_TELEGRAM_CHAT_ID: a number" ;;
  email)
    [ -n "${ALERT_EMAIL_TO:-}" ] || fail "ALERT_RECEIVER=email needs ALERT_EMAIL_TO"
    [[ "${ALERT_SMTP_SMARTHOST:-}" =~ :[0-9]+$ ]] || fail "ALERT_RECEIVER=email needs ALERT_SMTP_SMARTHOST: host:port" ;;
  *) fail "ALERT_RECEIVER=$receiver: must be one of webhook, slack, msteams, discord, telegram, email, none" ;;
esac

heartbeat=${ALERT_HEARTBEAT_RECEIVER:-none}
case "$heartbeat" in
  none) ;;
  heartbeat)
    [[ "${ALERT_HEARTBEAT_TOPIC_ARN:-}" =~ ^arn:aws[a-z-]*:sns: ]] || fail "ALERT_HEARTBEAT_RECEIVER=heartbeat needs ALERT_HEARTBEAT_TOPIC_ARN: an SNS topic ARN"
    [ -n "${ALERT_HEARTBEAT_REGION:-}" ] || fail "ALERT_HEARTBEAT_RECEIVER=heartbeat needs ALERT_HEARTBEAT_REGION" ;;
  *) fail "ALERT_HEARTBEAT_RECEIVER=$heartbeat: must be heartbeat or none" ;;
esac

mkdir -p "$out/templates" "$out/secrets"
out=$(cd "$out" && pwd)
cp configs/alertmanager/templates/*.tmpl "$out/templates/"
(umask 077; printf '%s' "$target" >"$out/secrets/target"; printf '%s' "${ALERT_TELEGRAM_CHAT_ID:-0}" >"$out/secrets/telegram_chat_id")

# Bash's own replacement, not sed: values may hold any character. `&` in a
# replacement means the match in bash 5.2 unless patsub_replacement is off.
shopt -u patsub_replacement 2>/dev/null || true
config=$(<configs/alertmanager/alertmanager.yml)
config=${config//'${ALERT_RECEIVER}'/$receiver}
config=${config//'${ALERT_SECRETS_DIR}'/$out/secrets}
config=${config//'${ALERT_EMAIL_TO}'/${ALERT_EMAIL_TO:-alerts@example.invalid}}
config=${config//'${ALERT_EMAIL_FROM}'/${ALERT_EMAIL_FROM:-alloy-curated@example.invalid}}
config=${config//'${ALERT_SMTP_SMARTHOST}'/${ALERT_SMTP_SMARTHOST:-localhost:25}}
config=${config//'${ALERT_SMTP_USERNAME}'/${ALERT_SMTP_USERNAME:-}}
config=${config//'${ALERT_HEARTBEAT_RECEIVER}'/$heartbeat}
# Unused with none, but Alertmanager validates every receiver it reads.
config=${config//'${ALERT_HEARTBEAT_TOPIC_ARN}'/${ALERT_HEARTBEAT_TOPIC_ARN:-arn:aws:sns:us-east-1:000000000000:unused}}
config=${config//'${ALERT_HEARTBEAT_REGION}'/${ALERT_HEARTBEAT_REGION:-us-east-1}}
config=${config//'${ALERT_HEARTBEAT_SNS_URL}'/${ALERT_HEARTBEAT_SNS_URL:-}}
if [[ "$config" =~ \$\{[A-Z_]+\} ]]; then
  fail "configs/alertmanager/alertmanager.yml has a placeholder this script does not fill: $(grep -o '\${[A-Z_]*}' <<<"$config" | sort -u | tr '\n' ' ')"
fi
printf '%s\n' "$config" >"$out/alertmanager.yml"
echo "render-alertmanager: $out/alertmanager.yml (receiver $receiver, heartbeat $heartbeat)"
