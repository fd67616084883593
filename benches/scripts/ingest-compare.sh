#!/usr/bin/env bash
# ingest-compare.sh: writes the same TSBS cpu-only data set into InfluxDB 1.x
# and into Augur, one after the other on this machine, and prints a
# side-by-side table: throughput, batch latency, peak RSS and on-disk bytes,
# with Augur/InfluxDB ratios.
#
# Each server gets a fresh temp folder and free loopback ports. After the
# write it is left to settle (InfluxDB snapshots its cache and compacts; see
# lib.sh), its peak RSS (VmHWM) is read, it is stopped with SIGTERM (Augur
# flushes on shutdown), and its folder is measured twice: allocated blocks
# (`du -s --block-size=1`, the real footprint) and apparent size (`du -sb`,
# which also counts InfluxDB's sparse, preallocated series-file segments).
#
# Usage: benches/scripts/ingest-compare.sh [--only influxdb|augur|both]
#          [--hosts 100] [--hours 24] [--interval 10s] [--workers 4]
#          [--batch 5000] [--seed 123] [--gzip] [--ingest-timeout 1800]
#          [--settle-max 300] [--json-dir DIR] [-- extra augur-bench ingest flags]
# Env: BENCH_KEEP=1 keeps the temp folder; INFLUX_INDEX=tsi1 switches the
#      InfluxDB index; AUGUR_BIN, INFLUXD_BIN, BENCH_BIN override binaries.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=both
HOSTS=100
HOURS=24
INTERVAL=10s
WORKERS=4
BATCH=5000
SEED=123
GZIP=()
INGEST_TIMEOUT=1800
SETTLE_MAX=300
JSON_DIR=""
EXTRA=()

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --only) ONLY="$2"; shift 2 ;;
        --hosts) HOSTS="$2"; shift 2 ;;
        --hours) HOURS="$2"; shift 2 ;;
        --interval) INTERVAL="$2"; shift 2 ;;
        --workers) WORKERS="$2"; shift 2 ;;
        --batch) BATCH="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --gzip) GZIP=(--gzip); shift ;;
        --ingest-timeout) INGEST_TIMEOUT="$2"; shift 2 ;;
        --settle-max) SETTLE_MAX="$2"; shift 2 ;;
        --json-dir) JSON_DIR="$2"; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
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

declare -A RESULT_JSON PEAK_KIB DISK_BYTES ALLOC_BYTES SETTLE_SECS CLEAN_STOP LOAD_AVG

# Runs the whole measurement against one server.
measure() {
    local server="$1" dir="$BENCH_TMP/$1" json rc=0 settle_min=0
    LOAD_AVG[$server]="$(load_avg)"
    start_server "$server" "$dir"
    json="$dir/ingest.json"
    log "$server: ingest --hosts $HOSTS --hours $HOURS --interval $INTERVAL --workers $WORKERS --batch $BATCH ${GZIP[*]} ${EXTRA[*]}"
    bounded "$INGEST_TIMEOUT" "$BENCH_BIN" ingest --url "$SERVER_URL" --db benchmark --create-db \
        --hosts "$HOSTS" --hours "$HOURS" --interval "$INTERVAL" --workers "$WORKERS" \
        --batch "$BATCH" --seed "$SEED" "${GZIP[@]}" --output json "${EXTRA[@]}" >"$json" || rc=$?
    case "$rc" in
        0) ;;
        2) log "warning: $server: some writes failed (see errors below)" ;;
        124 | 137) die "$server: ingest ran past $INGEST_TIMEOUT s" ;;
        *) die "$server: augur-bench ingest failed (exit $rc)" ;;
    esac
    RESULT_JSON[$server]="$json"
    [[ "$server" == influxdb ]] && settle_min=30
    log "$server: settling (min ${settle_min}s, max ${SETTLE_MAX}s)"
    SETTLE_SECS[$server]="$(settle_dir "$SERVER_DATA" "$settle_min" "$SETTLE_MAX")"
    PEAK_KIB[$server]="$(proc_kib "$SERVER_PID" VmHWM)"
    if stop_pid "$SERVER_PID" 120; then CLEAN_STOP[$server]=yes; else CLEAN_STOP[$server]=no; fi
    DISK_BYTES[$server]="$(dir_bytes "$SERVER_DATA")"
    ALLOC_BYTES[$server]="$(dir_alloc_bytes "$SERVER_DATA")"
    if [[ -n "$JSON_DIR" ]]; then
        mkdir -p "$JSON_DIR"
        cp "$json" "$JSON_DIR/ingest-$server.json"
    fi
    log "$server: done ($(json_get values_per_sec "$json") values/s, peak RSS $(kib_to_mib "${PEAK_KIB[$server]}") MiB, $(bytes_to_mib "${ALLOC_BYTES[$server]}") MiB on disk)"
}

for server in "${SERVERS[@]}"; do
    measure "$server"
done

# One table row: label, key-or-value for influxdb, for augur, ratio flag.
value_of() {
    local server="$1" what="$2"
    [[ -n "${RESULT_JSON[$server]:-}" ]] || { echo ""; return; }
    case "$what" in
        peak_rss_mib) kib_to_mib "${PEAK_KIB[$server]}" ;;
        disk_mib) bytes_to_mib "${DISK_BYTES[$server]}" ;;
        alloc_mib) bytes_to_mib "${ALLOC_BYTES[$server]}" ;;
        bytes_per_value) awk -v b="${ALLOC_BYTES[$server]}" -v v="$(json_get values_ok "${RESULT_JSON[$server]}")" \
            'BEGIN { if (v > 0) printf "%.3f", b / v; else print "" }' ;;
        settle_s) echo "${SETTLE_SECS[$server]}" ;;
        clean_stop) echo "${CLEAN_STOP[$server]}" ;;
        load_avg) echo "${LOAD_AVG[$server]}" ;;
        *) json_get "$what" "${RESULT_JSON[$server]}" ;;
    esac
}

row() {
    local label="$1" key="$2" with_ratio="$3" a b r=""
    a="$(value_of influxdb "$key")"
    b="$(value_of augur "$key")"
    [[ "$with_ratio" == yes ]] && r="$(ratio "$b" "$a")"
    printf '| %-24s | %16s | %16s | %14s |\n' "$label" "${a:--}" "${b:--}" "${r:-}"
}

first_json="${RESULT_JSON[${SERVERS[0]}]}"
echo
echo "augur-bench ingest: $(json_get rows "$first_json") rows ($HOSTS hosts x ${HOURS} h at $INTERVAL), $WORKERS workers, $BATCH-row batches${GZIP:+, gzip}"
echo "InfluxDB: $(influxd_version 2>/dev/null || echo n/a), index ${INFLUX_INDEX:-inmem}; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo
printf '| %-24s | %16s | %16s | %14s |\n' metric InfluxDB Augur Augur/InfluxDB
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..16})"
row "values/s" values_per_sec yes
row "rows/s" rows_per_sec yes
row "elapsed s" elapsed_secs yes
row "batch latency p50 ms" latency_p50_ms yes
row "batch latency p99 ms" latency_p99_ms yes
row "rows written" rows_ok no
row "errors (batches)" errors no
row "peak RSS MiB" peak_rss_mib yes
row "on-disk MiB (allocated)" alloc_mib yes
row "on-disk MiB (du -sb)" disk_mib yes
row "allocated bytes/value" bytes_per_value yes
row "settle s" settle_s no
row "clean SIGTERM stop" clean_stop no
row "load avg 1m at start" load_avg no
for server in "${SERVERS[@]}"; do
    err="$(json_get first_error "${RESULT_JSON[$server]}")"
    [[ -n "$err" && "$err" != null ]] && echo "$server first error: $err"
done
exit 0
