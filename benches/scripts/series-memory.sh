#!/usr/bin/env bash
# series-memory.sh: the distinct-series memory test. Writes N rows that are
# each a new series (`augur-bench ingest --series-mode distinct`, default
# 1,000,000) into InfluxDB 1.x and into Augur, one after the other, and
# reports each server's resident memory: idle after start, peak while
# ingesting (VmHWM), and after the write settles, plus the peak growth per
# series.
#
# Usage: benches/scripts/series-memory.sh [--only influxdb|augur|both]
#          [--series 1000000] [--workers 4] [--batch 5000] [--seed 123]
#          [--settle 15] [--ingest-timeout 1800] [--json-dir DIR]
#          [--max-rss-mib N (default: 80% of RAM; the server is killed past it)]
#          [-- extra augur-bench ingest flags]
# Env: BENCH_KEEP=1 keeps the temp folder; INFLUX_INDEX=tsi1 switches the
#      InfluxDB index (default inmem); INFLUX_CACHE_MAX (default 8g here);
#      AUGUR_BIN, INFLUXD_BIN, BENCH_BIN.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A million new series sit in InfluxDB's cache before any snapshot; with
# the default 1g cap, tsi1 rejected some batches ("cache-max-memory-size
# exceeded"). Raise the cap here so that every series is accepted.
export INFLUX_CACHE_MAX="${INFLUX_CACHE_MAX:-8g}"

ONLY=both
SERIES=1000000
WORKERS=4
BATCH=5000
SEED=123
SETTLE=15
INGEST_TIMEOUT=1800
JSON_DIR=""
MAX_RSS_KIB="$(default_rss_limit_kib)"
EXTRA=()

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --only) ONLY="$2"; shift 2 ;;
        --series) SERIES="$2"; shift 2 ;;
        --workers) WORKERS="$2"; shift 2 ;;
        --batch) BATCH="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --settle) SETTLE="$2"; shift 2 ;;
        --ingest-timeout) INGEST_TIMEOUT="$2"; shift 2 ;;
        --json-dir) JSON_DIR="$2"; shift 2 ;;
        --max-rss-mib) MAX_RSS_KIB=$(($2 * 1024)); shift 2 ;;
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

declare -A RESULT_JSON IDLE_KIB PEAK_KIB AFTER_KIB LOAD_AVG

measure() {
    local server="$1" dir="$BENCH_TMP/$1" json rc=0
    LOAD_AVG[$server]="$(load_avg)"
    start_server "$server" "$dir"
    sleep 2
    IDLE_KIB[$server]="$(proc_kib "$SERVER_PID" VmRSS)"
    json="$dir/ingest.json"
    start_rss_guard "$SERVER_PID" "$MAX_RSS_KIB" "$dir/rss-guard-fired"
    log "$server: ingest --series-mode distinct --series $SERIES --workers $WORKERS --batch $BATCH ${EXTRA[*]}"
    bounded "$INGEST_TIMEOUT" "$BENCH_BIN" ingest --url "$SERVER_URL" --db benchmark --create-db \
        --series-mode distinct --series "$SERIES" --workers "$WORKERS" --batch "$BATCH" \
        --seed "$SEED" --output json "${EXTRA[@]}" >"$json" || rc=$?
    case "$rc" in
        0) ;;
        2) log "warning: $server: some writes failed (see errors below)" ;;
        124 | 137) die "$server: ingest ran past $INGEST_TIMEOUT s" ;;
        *) die "$server: augur-bench ingest failed (exit $rc)" ;;
    esac
    [[ -e "$dir/rss-guard-fired" ]] && die "$server: RSS passed $((MAX_RSS_KIB / 1024)) MiB; run aborted"
    RESULT_JSON[$server]="$json"
    PEAK_KIB[$server]="$(proc_kib "$SERVER_PID" VmHWM)"
    sleep "$SETTLE"
    AFTER_KIB[$server]="$(proc_kib "$SERVER_PID" VmRSS)"
    # The peak may also be reached while settling (e.g. a cache snapshot).
    PEAK_KIB[$server]="$(proc_kib "$SERVER_PID" VmHWM)"
    stop_pid "$SERVER_PID" 120 || true
    stop_pid "$GUARD_PID" 5 || true
    if [[ -n "$JSON_DIR" ]]; then
        mkdir -p "$JSON_DIR"
        cp "$json" "$JSON_DIR/series-$server.json"
    fi
    log "$server: done (peak RSS $(kib_to_mib "${PEAK_KIB[$server]}") MiB)"
}

for server in "${SERVERS[@]}"; do
    measure "$server"
done

value_of() {
    local server="$1" what="$2" rows
    [[ -n "${RESULT_JSON[$server]:-}" ]] || { echo ""; return; }
    case "$what" in
        idle_mib) kib_to_mib "${IDLE_KIB[$server]}" ;;
        peak_mib) kib_to_mib "${PEAK_KIB[$server]}" ;;
        after_mib) kib_to_mib "${AFTER_KIB[$server]}" ;;
        per_series)
            # Over all series sent: a batch that failed may still have created its series.
            rows="$(json_get rows "${RESULT_JSON[$server]}")"
            awk -v p="${PEAK_KIB[$server]}" -v i="${IDLE_KIB[$server]}" -v n="$rows" \
                'BEGIN { if (n > 0) printf "%.0f", (p - i) * 1024 / n; else print "" }' ;;
        load_avg) echo "${LOAD_AVG[$server]}" ;;
        *) json_get "$what" "${RESULT_JSON[$server]}" ;;
    esac
}

row() {
    local label="$1" key="$2" with_ratio="$3" a b r=""
    a="$(value_of influxdb "$key")"
    b="$(value_of augur "$key")"
    [[ "$with_ratio" == yes ]] && r="$(ratio "$b" "$a")"
    printf '| %-28s | %14s | %14s | %14s |\n' "$label" "${a:--}" "${b:--}" "${r:-}"
}

echo
echo "augur-bench ingest --series-mode distinct --series $SERIES: $WORKERS workers, $BATCH-row batches"
echo "InfluxDB: $(influxd_version 2>/dev/null || echo n/a), index ${INFLUX_INDEX:-inmem}, cache-max-memory-size $INFLUX_CACHE_MAX; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo
printf '| %-28s | %14s | %14s | %14s |\n' metric InfluxDB Augur Augur/InfluxDB
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})"
row "series sent" rows no
row "series acknowledged (204)" rows_ok no
row "errors (batches)" errors no
row "elapsed s" elapsed_secs yes
row "series/s" rows_per_sec yes
row "idle RSS MiB" idle_mib yes
row "peak RSS MiB (VmHWM)" peak_mib yes
row "RSS after ${SETTLE}s settle MiB" after_mib yes
row "peak growth bytes/series" per_series yes
row "load avg 1m at start" load_avg no
for server in "${SERVERS[@]}"; do
    err="$(json_get first_error "${RESULT_JSON[$server]}")"
    [[ -n "$err" && "$err" != null ]] && echo "$server first error: $err"
done
exit 0
