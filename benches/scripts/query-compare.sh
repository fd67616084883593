#!/usr/bin/env bash
# query-compare.sh: TSBS's devops query set against InfluxDB 1.x and Augur,
# each loaded with the same TSBS cpu-only data in the same invocation, and a
# side-by-side table of p50 / p99 / mean latency per query type with the
# Augur/InfluxDB ratios, plus the full-scan rate of `SELECT mean(*) FROM cpu`.
#
# For each server in turn (only one runs at a time): start it in a fresh temp
# folder on free loopback ports (lib.sh), write the data with `augur-bench
# ingest`, let it settle (InfluxDB snapshots its cache and fully compacts; the
# wait ends when the data folder has stopped changing), run `augur-bench
# query` with the same seed (so the same queries), then stop it.
#
# Usage: benches/scripts/query-compare.sh [--only influxdb|augur|both]
#          [--hosts 100] [--hours 24] [--interval 10s] [--seed 123]
#          [--queries-per-type 100] [--warmup 1] [--types a,b,...]
#          [--scan-repeats 5] [--settle-max 300] [--query-timeout 3600]
#          [--json-dir DIR]
# Env: BENCH_KEEP=1 keeps the temp folder; INFLUX_INDEX=tsi1 switches the
#      InfluxDB index; AUGUR_BIN, INFLUXD_BIN, BENCH_BIN override binaries.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=both
HOSTS=100
HOURS=24
INTERVAL=10s
SEED=123
QUERIES=100
WARMUP=1
TYPES=""
SCAN_REPEATS=5
SETTLE_MAX=300
QUERY_TIMEOUT=3600
JSON_DIR=""
START=2016-01-01T00:00:00Z

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --only) ONLY="$2"; shift 2 ;;
        --hosts) HOSTS="$2"; shift 2 ;;
        --hours) HOURS="$2"; shift 2 ;;
        --interval) INTERVAL="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --queries-per-type) QUERIES="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --types) TYPES="$2"; shift 2 ;;
        --scan-repeats) SCAN_REPEATS="$2"; shift 2 ;;
        --settle-max) SETTLE_MAX="$2"; shift 2 ;;
        --query-timeout) QUERY_TIMEOUT="$2"; shift 2 ;;
        --json-dir) JSON_DIR="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
done

case "$ONLY" in
    both) SERVERS=(influxdb augur) ;;
    influxdb | augur) SERVERS=("$ONLY") ;;
    *) die "--only takes influxdb, augur or both" ;;
esac

bench_init
ensure_bench_bin
for server in "${SERVERS[@]}"; do
    case "$server" in
        influxdb) ensure_influxd ;;
        augur) ensure_augur_bin ;;
    esac
done

TYPE_ARGS=()
[[ -n "$TYPES" ]] && TYPE_ARGS=(--types "$TYPES")

# Fails early (before any server starts) if a query type cannot be generated
# for this data size, e.g. a 12 h window in 6 h of data.
"$BENCH_BIN" query --print-queries --hosts "$HOSTS" --start "$START" --hours "$HOURS" \
    --queries-per-type 1 --seed "$SEED" "${TYPE_ARGS[@]}" >/dev/null

declare -A REPORT LOAD_AVG SETTLE_SECS

# Loads, settles and queries one server.
measure() {
    local server="$1" dir="$BENCH_TMP/$1" label rc=0 settle_min settle_max
    case "$server" in
        influxdb) label=InfluxDB ;;
        augur) label=Augur ;;
    esac
    start_server "$server" "$dir"
    log "$server: loading $HOSTS hosts x $HOURS h at $INTERVAL"
    bounded 1800 "$BENCH_BIN" ingest --url "$SERVER_URL" --db benchmark --create-db \
        --hosts "$HOSTS" --hours "$HOURS" --interval "$INTERVAL" --start "$START" --seed "$SEED" \
        --output json >"$dir/ingest.json" || rc=$?
    ((rc == 0)) || die "$server: ingest failed (exit $rc): $(json_get first_error "$dir/ingest.json" 2>/dev/null)"
    log "$server: loaded ($(json_get rows_ok "$dir/ingest.json") rows, $(json_get values_per_sec "$dir/ingest.json") values/s)"
    # InfluxDB compacts 20 s after the last write (lib.sh); Augur's folder
    # never stops changing (its self-monitoring writes every few seconds), so
    # it gets a shorter bound.
    settle_max="$SETTLE_MAX"
    if [[ "$server" == influxdb ]]; then
        settle_min=30
    else
        settle_min=5
        ((settle_max > 30)) && settle_max=30
    fi
    log "$server: settling (min ${settle_min}s, max ${settle_max}s)"
    SETTLE_SECS[$server]="$(settle_dir "$SERVER_DATA" "$settle_min" "$settle_max")"
    LOAD_AVG[$server]="$(load_avg)"
    log "$server: querying (load avg $(load_avg))"
    rc=0
    bounded "$QUERY_TIMEOUT" "$BENCH_BIN" query --url "$SERVER_URL" --db benchmark --label "$label" \
        --hosts "$HOSTS" --start "$START" --hours "$HOURS" --interval "$INTERVAL" --seed "$SEED" \
        --queries-per-type "$QUERIES" --warmup "$WARMUP" --scan-repeats "$SCAN_REPEATS" \
        "${TYPE_ARGS[@]}" --output json >"$dir/query.json" || rc=$?
    case "$rc" in
        0) ;;
        2) log "warning: $server: some queries failed (they count as failures in the table)" ;;
        124 | 137) die "$server: queries ran past $QUERY_TIMEOUT s" ;;
        *) die "$server: augur-bench query failed (exit $rc)" ;;
    esac
    REPORT[$server]="$dir/query.json"
    if [[ -n "$JSON_DIR" ]]; then
        mkdir -p "$JSON_DIR"
        cp "$dir/query.json" "$JSON_DIR/query-$server.json"
        cp "$dir/ingest.json" "$JSON_DIR/ingest-$server.json"
    fi
    stop_pid "$SERVER_PID" 120 || log "warning: $server did not stop cleanly"
}

for server in "${SERVERS[@]}"; do
    measure "$server"
done

echo
echo "augur-bench query: TSBS devops, $HOSTS hosts x $HOURS h at $INTERVAL from $START, seed $SEED," \
    "$QUERIES queries per type ($WARMUP untimed warm-up), one at a time"
echo "InfluxDB: $(influxd_version 2>/dev/null || echo n/a), index ${INFLUX_INDEX:-inmem}; machine: $(nproc) cores," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
for server in "${SERVERS[@]}"; do
    echo "$server: settled ${SETTLE_SECS[$server]} s; load avg 1m before the queries ${LOAD_AVG[$server]}"
done
echo
if [[ "$ONLY" == both ]]; then
    "$BENCH_BIN" query-table --baseline "${REPORT[influxdb]}" --candidate "${REPORT[augur]}"
else
    cat "${REPORT[${SERVERS[0]}]}"
fi
exit 0
