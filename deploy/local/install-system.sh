#!/usr/bin/env bash
# Installs what the local stack needs on a fresh Debian machine (idempotent): Java 17 for Kafka,
# Maven for the Kafka jars, PostgreSQL, Mosquitto, Prometheus (with promtool), xmllint, uv, and for the
# portal's browser tests Debian's Chromium with its chromedriver, a CJK font and npm (axe-core).
set -euo pipefail

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v prometheus >/dev/null || need+=(prometheus)
command -v xmllint >/dev/null || need+=(libxml2-utils)
command -v runuser >/dev/null || need+=(util-linux)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's packages may start their own default instances; the project runs its own on other ports.
  for svc in postgresql mosquitto prometheus; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
fi

command -v uv >/dev/null || python3 -m pip install -q uv
