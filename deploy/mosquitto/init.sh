#!/bin/sh
# The compose broker's init step (service mosquitto-init, image eclipse-mosquitto:2): writes the broker's whole
# configuration into its data volume — the repository's deploy/mosquitto/mosquitto.conf (shared settings, no
# listener by design) plus the listener, the dynamic-security plugin and persistence — and, on the first run only,
# initialises the dynamic-security store with the admin account GridPulse drives (MQTT_ADMIN_USERNAME /
# MQTT_ADMIN_PASSWORD). The same lines as .ci/mosquitto.sh. Idempotent: an existing store is kept.
# Paths and port are overridable (the deploy test runs this script against a local mosquitto).
set -eu
BASE_CONF="${BASE_CONF:-/gridpulse/mosquitto.conf}"
DATA="${DATA:-/mosquitto/data}"
PLUGIN="${PLUGIN:-/usr/lib/mosquitto_dynamic_security.so}"
PORT="${PORT:-1883}"
ADMIN_USER="${MQTT_ADMIN_USERNAME:-gridpulse-admin}"
: "${MQTT_ADMIN_PASSWORD:?set MQTT_ADMIN_PASSWORD (deploy/.env)}"
mkdir -p "$DATA"
if [ ! -s "$DATA/dynamic-security.json" ]; then
  mosquitto_ctrl dynsec init "$DATA/dynamic-security.json" "$ADMIN_USER" "$MQTT_ADMIN_PASSWORD" >/dev/null
fi
{
  cat "$BASE_CONF"
  echo "listener $PORT"
  echo "plugin $PLUGIN"
  echo "plugin_opt_config_file $DATA/dynamic-security.json"
  echo "persistence true"
  echo "persistence_location $DATA/"
  echo "log_dest stdout"
} > "$DATA/mosquitto.conf"
if [ "$(id -u)" = 0 ]; then chown -R mosquitto:mosquitto "$DATA" 2>/dev/null || true; fi
echo "mosquitto-init: $DATA/mosquitto.conf written (listener $PORT, dynamic security)"
