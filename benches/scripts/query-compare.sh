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
#          [--augur-state head|sealed|both] [--json-dir DIR]
#
# Augur holds recent points in memory (its head, up to 20 M values) and seals
# them into compressed blocks when the head is full or at shutdown; the
# default data set (8.64 M values) stays in the head. `--augur-state` picks
# what is measured: `head` (as loaded), `sealed` (after a restart, SIGTERM
# having sealed everything, like InfluxDB's fully compacted TSM files), or
# `both` (the default: head first, then restart and again).
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
AUGUR_STATE=both
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
        --augur-state) AUGUR_STATE="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
done

case "$ONLY" in
    both) SERVERS=(influxdb augur) ;;
    influxdb | augur) SERVERS=("$ONLY") ;;
    *) die "--only takes influxdb, augur or both" ;;
esac

case "$AUGUR_STATE" in
    head) AUGUR_STATES=(head) ;;
    sealed) AUGUR_STATES=(sealed) ;;
    both) AUGUR_STATES=(head sealed) ;;
    *) die "--augur-state takes head, sealed or both" ;;
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

# Runs the query bench against the server started last; report key $1, label $2.
run_queries() {
    local key="$1" label="$2" json="$BENCH_TMP/query-$1.json" rc=0
    LOAD_AVG[$key]="$(load_avg)"
    log "$key: querying (load avg ${LOAD_AVG[$key]})"
    bounded "$QUERY_TIMEOUT" "$BENCH_BIN" query --url "$SERVER_URL" --db benchmark --label "$label" \
        --hosts "$HOSTS" --start "$START" --hours "$HOURS" --interval "$INTERVAL" --seed "$SEED" \
        --queries-per-type "$QUERIES" --warmup "$WARMUP" --scan-repeats "$SCAN_REPEATS" \
        "${TYPE_ARGS[@]}" --output json >"$json" || rc=$?
    case "$rc" in
        0) ;;
        2) log "warning: $key: some queries failed (they count as failures in the table)" ;;
        124 | 137) die "$key: queries ran past $QUERY_TIMEOUT s" ;;
        *) die "$key: augur-bench query failed (exit $rc)" ;;
    esac
    REPORT[$key]="$json"
    if [[ -n "$JSON_DIR" ]]; then
        mkdir -p "$JSON_DIR"
        cp "$json" "$JSON_DIR/query-$key.json"
    fi
}

# Loads, settles and queries one server (Augur in each of AUGUR_STATES).
measure() {
    local server="$1" dir="$BENCH_TMP/$1" rc=0 settle_min settle_max state
    start_server "$server" "$dir"
    log "$server: loading $HOSTS hosts x $HOURS h at $INTERVAL"
    bounded 1800 "$BENCH_BIN" ingest --url "$SERVER_URL" --db benchmark --create-db \
        --hosts "$HOSTS" --hours "$HOURS" --interval "$INTERVAL" --start "$START" --seed "$SEED" \
        --output json >"$dir/ingest.json" || rc=$?
    ((rc == 0)) || die "$server: ingest failed (exit $rc): $(json_get first_error "$dir/ingest.json" 2>/dev/null)"
    log "$server: loaded ($(json_get rows_ok "$dir/ingest.json") rows, $(json_get values_per_sec "$dir/ingest.json") values/s)"
    if [[ -n "$JSON_DIR" ]]; then
        mkdir -p "$JSON_DIR"
        cp "$dir/ingest.json" "$JSON_DIR/ingest-$server.json"
    fi
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
    if [[ "$server" == influxdb ]]; then
        run_queries influxdb InfluxDB
    else
        for state in "${AUGUR_STATES[@]}"; do
            if [[ "$state" == sealed ]]; then
                # SIGTERM seals the head into blocks; the restarted server
                # starts with an empty head.
                log "augur: restarting so that everything is sealed"
                stop_pid "$SERVER_PID" 120 || die "augur did not stop cleanly"
                start_server augur "$dir"
                settle_dir "$SERVER_DATA" 5 15 >/dev/null
            fi
            run_queries "augur-$state" "Augur ($state)"
        done
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
    echo "$server: settled ${SETTLE_SECS[$server]} s"
done
for key in "${!LOAD_AVG[@]}"; do
    echo "$key: load avg 1m before the queries ${LOAD_AVG[$key]}"
done
if [[ "$ONLY" == both ]]; then
    for state in "${AUGUR_STATES[@]}"; do
        echo
        "$BENCH_BIN" query-table --baseline "${REPORT[influxdb]}" --candidate "${REPORT[augur-$state]}"
    done
else
    for key in "${!REPORT[@]}"; do
        echo
        cat "${REPORT[$key]}"
    done
fi
exit 0
