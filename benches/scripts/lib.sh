#!/usr/bin/env bash
# lib.sh: helpers shared by the benchmark scripts in this folder (sourced,
# not run). Starts InfluxDB 1.x and Augur on free loopback ports in a
# temporary folder, waits for them, reads their peak RSS and on-disk size,
# stops them, and cleans up on exit whatever happened.
#
# Everything stays on 127.0.0.1, and every wait has a bound.

# SERVER_* and GUARD_PID are set here and read by the sourcing scripts.
# shellcheck disable=SC2034

set -euo pipefail

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_BIN="${BENCH_BIN:-$BENCH_ROOT/target/release/augur-bench}"
AUGUR_BIN="${AUGUR_BIN:-$BENCH_ROOT/target/release/augur}"
INFLUXD_BIN="${INFLUXD_BIN:-influxd}"
BENCH_TMP=""
BENCH_KEEP="${BENCH_KEEP:-0}"
BENCH_PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Creates the temp root and installs the exit trap. Call once, first.
bench_init() {
    BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/augur-bench.XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "work dir $BENCH_TMP"
}

# Stops every server still running, then removes the temp root (unless BENCH_KEEP=1).
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "cleanup: stopping pid $pid"
            stop_pid "$pid" 20 || true
        fi
    done
    if [[ -n "$BENCH_TMP" && -d "$BENCH_TMP" ]]; then
        if [[ "$BENCH_KEEP" == 1 ]]; then
            log "kept $BENCH_TMP"
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
}

# Prints N distinct free loopback TCP ports, one a line.
free_ports() {
    local n="$1"
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
        return
    fi
    local found=0 port
    while ((found < n)); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            found=$((found + 1))
        fi
    done
}

# Builds augur-bench (release) if its binary is missing.
ensure_bench_bin() {
    if [[ ! -x "$BENCH_BIN" ]]; then
        log "building augur-bench (release)"
        (cd "$BENCH_ROOT" && cargo build --release -p augur-bench --bin augur-bench) >&2
    fi
}

# Builds the augur server (release) if its binary is missing.
ensure_augur_bin() {
    if [[ ! -x "$AUGUR_BIN" ]]; then
        log "building augur (release)"
        (cd "$BENCH_ROOT" && cargo build --release -p augur-server) >&2
    fi
}

# Installs InfluxDB 1.x from Debian if influxd is missing.
ensure_influxd() {
    if ! command -v "$INFLUXD_BIN" >/dev/null 2>&1; then
        log "installing influxdb (Debian package)"
        apt-get install -y influxdb >&2 || { apt-get update >&2 && apt-get install -y influxdb >&2; }
    fi
    command -v "$INFLUXD_BIN" >/dev/null 2>&1 || die "influxd not found after install"
}

# Version string of influxd, e.g. "InfluxDB v1.6.7~rc0".
influxd_version() {
    "$INFLUXD_BIN" version 2>/dev/null | awk '{print $1, $2}'
}

# Waits until GET $1/ping answers 204 while pid $2 lives; at most $3 seconds.
wait_ping() {
    local url="$1" pid="$2" limit="$3" waited=0 code
    while ((waited < limit * 10)); do
        kill -0 "$pid" 2>/dev/null || return 1
        code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url/ping" || true)"
        [[ "$code" == 204 ]] && return 0
        sleep 0.1
        waited=$((waited + 1))
    done
    return 1
}

# Starts influxd with a minimal config under $1; sets SERVER_PID, SERVER_URL, SERVER_DATA.
start_influxd() {
    local dir="$1" ports http rpc
    mkdir -p "$dir"
    ports="$(free_ports 2)"
    http="$(sed -n 1p <<<"$ports")"
    rpc="$(sed -n 2p <<<"$ports")"
    cat >"$dir/influxdb.conf" <<CONF
# Written by benches/scripts/lib.sh for one benchmark run.
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"

[meta]
  dir = "$dir/storage/meta"
  logging-enabled = false

[data]
  dir = "$dir/storage/data"
  wal-dir = "$dir/storage/wal"
  index-version = "${INFLUX_INDEX:-inmem}"
  query-log-enabled = false
  cache-max-memory-size = "${INFLUX_CACHE_MAX:-1g}"
  # Snapshot the cache and fully compact soon after writes stop, so the
  # on-disk size is measured on settled TSM files (defaults: 10m and 4h).
  cache-snapshot-write-cold-duration = "5s"
  compact-full-write-cold-duration = "20s"
  max-series-per-database = 0
  max-values-per-tag = 0

[coordinator]
  # Default 10s: under high cardinality a batch can take longer, and a
  # server-side timeout would count as an error although the write goes on.
  write-timeout = "${INFLUX_WRITE_TIMEOUT:-120s}"

[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$http"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0

[ifql]
  enabled = false
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
CONF
    "$INFLUXD_BIN" run -config "$dir/influxdb.conf" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    BENCH_PIDS+=("$SERVER_PID")
    SERVER_URL="http://127.0.0.1:$http"
    SERVER_DATA="$dir/storage"
    if ! wait_ping "$SERVER_URL" "$SERVER_PID" 60; then
        tail -n 20 "$dir/server.log" >&2 || true
        die "influxd did not answer /ping within 60 s"
    fi
    log "influxd pid $SERVER_PID on $SERVER_URL"
}

# Starts augur under $1; sets SERVER_PID, SERVER_URL, SERVER_DATA.
start_augur() {
    local dir="$1" port
    mkdir -p "$dir/storage"
    port="$(free_ports 1)"
    # Authentication stays on, as in production: the bench sends this token
    # (InfluxDB, run without auth, ignores the header).
    export AUGUR_TOKEN="augur_bench_admin_token_0123456789abcdef"
    AUGUR_ADMIN_TOKEN="$AUGUR_TOKEN" "$AUGUR_BIN" serve --data-dir "$dir/storage" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    BENCH_PIDS+=("$SERVER_PID")
    SERVER_URL="http://127.0.0.1:$port"
    SERVER_DATA="$dir/storage"
    if ! wait_ping "$SERVER_URL" "$SERVER_PID" 60; then
        tail -n 20 "$dir/server.log" >&2 || true
        die "augur did not answer /ping within 60 s"
    fi
    grep -q "augur listening on" "$dir/server.log" || log "warning: augur did not print its listening line"
    log "augur pid $SERVER_PID on $SERVER_URL"
}

# Starts server $1 (influxdb|augur) under folder $2.
start_server() {
    case "$1" in
        influxdb) start_influxd "$2" ;;
        augur) start_augur "$2" ;;
        *) die "unknown server $1" ;;
    esac
}

# Prints a /proc/<pid>/status field in KiB (VmHWM = peak RSS, VmRSS = now); 0 if gone.
proc_kib() {
    awk -v key="$2:" '$1 == key { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Sends SIGTERM to $1, waits up to $2 s, then SIGKILL; reaps it. Fails if it had to kill.
stop_pid() {
    local pid="$1" limit="$2" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && ((waited < limit * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: pid $pid ignored SIGTERM for $limit s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# Apparent size in bytes of folder $1 (`du -sb`; counts sparse preallocation).
dir_bytes() {
    du -sb "$1" | awk '{print $1}'
}

# Allocated size in bytes of folder $1 (blocks actually used on disk).
dir_alloc_bytes() {
    du -s --block-size=1 "$1" | awk '{print $1}'
}

# Waits at least $2 s, then until the size of $1 is unchanged over three
# 5 s samples; gives up after $3 s in all. Prints the seconds waited.
settle_dir() {
    local dir="$1" min="$2" max="$3" start now last="" same=0 size
    start=$SECONDS
    sleep "$min"
    while ((SECONDS - start < max)); do
        size="$(dir_bytes "$dir")"
        if [[ "$size" == "$last" ]]; then
            same=$((same + 1))
            ((same >= 2)) && break
        else
            same=0
        fi
        last="$size"
        sleep 5
    done
    now=$SECONDS
    echo $((now - start))
}

# Value of key $1 in the flat one-line JSON object in file $2: a string
# (without its quotes, escapes left as they are), a number, a boolean or null.
json_get() {
    local key="$1" value
    value="$(sed -n 's/.*"'"$key"'":"\(\([^"\\]\|\\.\)*\)".*/\1/p' "$2")"
    if [[ -z "$value" ]]; then
        value="$(sed -n 's/.*"'"$key"'":\([^",}]*\).*/\1/p' "$2")"
    fi
    echo "$value"
}

# $1 / $2 with two decimals, or n/a.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# KiB to MiB with one decimal.
kib_to_mib() {
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

# Bytes to MiB with one decimal.
bytes_to_mib() {
    awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

# Starts a watchdog that SIGKILLs server pid $1 if its RSS passes $2 KiB
# (protects the shared machine from the OOM killer) and then creates file $3.
# Sets GUARD_PID; stop it with stop_pid.
start_rss_guard() {
    local pid="$1" limit="$2" flag="$3"
    (
        trap 'exit 0' TERM
        while kill -0 "$pid" 2>/dev/null; do
            if (($(proc_kib "$pid" VmRSS) > limit)); then
                echo "[$(date +%H:%M:%S)] RSS guard: pid $pid passed $((limit / 1024)) MiB; killing it" >&2
                touch "$flag"
                kill -KILL "$pid" 2>/dev/null || true
                exit 0
            fi
            sleep 0.5
        done
    ) &
    GUARD_PID=$!
    BENCH_PIDS+=("$GUARD_PID")
}

# Default RSS guard: 80% of this machine's memory, in KiB.
default_rss_limit_kib() {
    awk '/MemTotal/ { printf "%d", $2 * 0.8 }' /proc/meminfo
}

# One-minute load average: other work on the machine skews every figure.
load_avg() {
    cut -d' ' -f1 /proc/loadavg
}

# Seconds-bounded command: timeout wrapper that also kills the process group's child.
bounded() {
    local secs="$1"
    shift
    timeout --kill-after=10 "$secs" "$@"
}
