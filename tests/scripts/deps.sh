#!/usr/bin/env bash
# Installs the system packages Augur's build and tests need on Debian/Ubuntu:
#   libclang-dev      bindgen for the RocksDB bindings
#   librocksdb-dev    the RocksDB library we link (see docs/development.md)
#   influxdb-client   the `influx` CLI, driven by the end-to-end tests
#   influxdb          InfluxDB 1.x, the peer the benchmarks and the differential
#                     and conformance tests compare against
#   python3-venv      a virtual environment for the Python `influxdb` client test
#   tmux              a pseudo-terminal for the `augur query` REPL test
#   openssl, curl     a self-signed certificate and an HTTP/2 client for the TLS test
#   haproxy           the load balancer the pool manager drives (its Runtime API), in the pools test
#   chromium          the browser the dashboard test drives (tests/browser, through playwright-core)
#   nodejs, npm       run that test's script; `npm ci` installs its pinned playwright-core
#   prometheus        the real Prometheus whose remote_write feeds /api/v1/write (prometheus test), and promtool for /metrics
#   mesa-vulkan-drivers, libvulkan1
#                     Mesa's software Vulkan driver (lavapipe): the LSTM's `gpu`
#                     feature (Burn's wgpu backend) is tested on it without a GPU
# Then `npm ci` in tests/browser. Idempotent: does nothing when everything is present.
set -euo pipefail
pkgs=(libclang-dev librocksdb-dev influxdb-client influxdb pkg-config python3-venv tmux openssl curl mesa-vulkan-drivers libvulkan1 haproxy chromium prometheus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm: only when missing (a newer Node from elsewhere will do).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -ne 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The dashboard test's pinned playwright-core (tests/browser/package-lock.json).
browser="$(cd "$(dirname "$0")/../browser" && pwd)"
if [ ! -f "$browser/node_modules/playwright-core/package.json" ]; then
  npm ci --prefix "$browser" --no-audit --no-fund
fi
