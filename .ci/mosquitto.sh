#!/usr/bin/env bash
# Starts GridPulse's CI Mosquitto on 127.0.0.1:${MQTT_TEST_PORT:-1885} with the repository's configuration
# (deploy/mosquitto/mosquitto.conf) and the dynamic-security plugin, initialised with an admin account.
# Prints the environment the fleet tests read (source its output: eval "$(.ci/mosquitto.sh)").
# Idempotent: a broker already answering on the port with these credentials is kept, unless MQTT_TEST_FRESH=1
# (CI sets it): then it is stopped and started again from an empty store, so no run inherits an earlier one's
# thousands of device accounts and retained schedules.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${MQTT_TEST_PORT:-1885}"
DIR="${MQTT_TEST_DIR:-/tmp/gridpulse-mosquitto-$PORT}"
ADMIN_USER="${MQTT_TEST_ADMIN_USERNAME:-gridpulse-admin}"
ADMIN_PASS="${MQTT_TEST_ADMIN_PASSWORD:-gridpulse-ci-admin}"
PLUGIN="$(dpkg -L mosquitto 2>/dev/null | grep -m1 'mosquitto_dynamic_security.so' || true)"
if [ -z "$PLUGIN" ]; then
  if ! command -v mosquitto >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null
  fi
  PLUGIN="$(dpkg -L mosquitto | grep -m1 'mosquitto_dynamic_security.so')"
fi
# mosquitto_ctrl exits 0 even when refused ("Not authorized"): look for its answer
answering() { mosquitto_ctrl -h 127.0.0.1 -p "$PORT" -u "$ADMIN_USER" -P "$ADMIN_PASS" dynsec getDefaultACLAccess 2>/dev/null | grep -q publishClientSend; }
# a broker started from an older deploy/mosquitto/mosquitto.conf is restarted with the repository's current one
if answering && { [ "${MQTT_TEST_FRESH:-0}" = 1 ] || ! cmp -s deploy/mosquitto/mosquitto.conf "$DIR/repo-mosquitto.conf"; }; then
  pkill -f "mosquitto -d -c $DIR/mosquitto.conf" || true
  for _ in $(seq 1 50); do answering || break; sleep 0.1; done
fi
if ! answering; then
  mkdir -p "$DIR"
  rm -f "$DIR/dynamic-security.json" "$DIR/mosquitto.db"
  mosquitto_ctrl dynsec init "$DIR/dynamic-security.json" "$ADMIN_USER" "$ADMIN_PASS" >/dev/null
  { cat deploy/mosquitto/mosquitto.conf
    echo "listener $PORT 127.0.0.1"
    echo "plugin $PLUGIN"
    echo "plugin_opt_config_file $DIR/dynamic-security.json"
    echo "persistence true"
    echo "persistence_location $DIR/"
    echo "log_dest file $DIR/mosquitto.log"
  } > "$DIR/mosquitto.conf"
  chmod 700 "$DIR"
  [ "$(id -u)" = 0 ] && chown -R mosquitto "$DIR" 2>/dev/null || true
  cp deploy/mosquitto/mosquitto.conf "$DIR/repo-mosquitto.conf"
  mosquitto -d -c "$DIR/mosquitto.conf"
  for _ in $(seq 1 50); do answering && break; sleep 0.1; done
  answering || { echo "mosquitto on 127.0.0.1:$PORT did not start; see $DIR/mosquitto.log" >&2; exit 1; }
fi
echo "export TEST_MQTT_URL=mqtt://127.0.0.1:$PORT"
echo "export TEST_MQTT_ADMIN_USERNAME=$ADMIN_USER"
echo "export TEST_MQTT_ADMIN_PASSWORD=$ADMIN_PASS"
