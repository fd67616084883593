#!/usr/bin/env bash
# holt-winters-compare.sh: times InfluxQL's HOLT_WINTERS() and
# HOLT_WINTERS_WITH_FIT() on InfluxDB 1.x and on Augur, one after the other
# on this machine, with the same data and queries, and prints the median
# latency of each with the Augur/InfluxDB ratio.
#
# Data: one day of 1-minute points (1,440), the first 1,440 values of a real
# NAB trace (AWS EC2 CPU, 5-minute samples, written here one minute apart,
# so its daily cycle becomes a 288-point season). The queries forecast N
# points with season 288 from `mean(value)` in 1-minute buckets, as an SRE's
# dashboard does; each runs --repeat times per server (after one warm-up),
# and both servers must answer N forecast points.
#
# Usage: benches/scripts/holt-winters-compare.sh [--points 60] [--repeat 10]
#          [--trace ../shared/data/nab/ec2_cpu_utilization_5f5533.csv]
# Env: AUGUR_BIN, INFLUXD_BIN override binaries; BENCH_KEEP=1 keeps the temp folder.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POINTS=60
REPEAT=10
TRACE="$BENCH_ROOT/../shared/data/nab/ec2_cpu_utilization_5f5533.csv"
SEASON=288
BUCKETS=1440
T0=1700000000 # 2023-11-14T22:13:20Z: the series' first minute (seconds)

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --points) POINTS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --trace) TRACE="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
done
[[ -f "$TRACE" ]] || die "trace $TRACE not found"

bench_init
ensure_augur_bin
ensure_influxd

# The line protocol: one point a minute from T0.
LP="$BENCH_TMP/cpu.lp"
awk -F, -v t0="$T0" -v n="$BUCKETS" 'NR > 1 && NR <= n + 1 { printf "cpu value=%s %d\n", $2, t0 + (NR - 2) * 60 }' "$TRACE" >"$LP"
START="$(date -u -d "@$T0" +%Y-%m-%dT%H:%M:%SZ)"
END="$(date -u -d "@$((T0 + BUCKETS * 60))" +%Y-%m-%dT%H:%M:%SZ)"
RANGE="time >= '$START' AND time < '$END'"
QUERIES=(
    "SELECT holt_winters(mean(value), $POINTS, $SEASON) FROM cpu WHERE $RANGE GROUP BY time(1m)"
    "SELECT holt_winters_with_fit(mean(value), $POINTS, $SEASON) FROM cpu WHERE $RANGE GROUP BY time(1m)"
)
NAMES=(holt_winters holt_winters_with_fit)

declare -A MEDIAN ROWS

# Runs the queries against the server at $SERVER_URL; records medians in ms.
measure() {
    local server="$1" auth=() i q out times
    [[ "$server" == augur ]] && auth=(-H "Authorization: Token $AUGUR_TOKEN")
    curl -sf "${auth[@]}" -XPOST "$SERVER_URL/query" --data-urlencode 'q=CREATE DATABASE hw' >/dev/null
    curl -sf "${auth[@]}" -XPOST "$SERVER_URL/write?db=hw&precision=s" --data-binary @"$LP" >/dev/null
    for i in "${!QUERIES[@]}"; do
        q="${QUERIES[$i]}"
        out="$BENCH_TMP/$server.$i.json"
        # Warm-up, and the answer's size.
        curl -sf "${auth[@]}" -G "$SERVER_URL/query" --data-urlencode "db=hw" --data-urlencode "q=$q" >"$out"
        grep -q '"error"' "$out" && die "$server answered an error to $q: $(head -c 300 "$out")"
        ROWS[$server.$i]="$(grep -o '\],\[' "$out" | wc -l | awk '{ print $1 + 1 }')"
        times="$(for _ in $(seq "$REPEAT"); do
            curl -sf "${auth[@]}" -o /dev/null -w '%{time_total}\n' -G "$SERVER_URL/query" \
                --data-urlencode "db=hw" --data-urlencode "q=$q"
        done | sort -n)"
        MEDIAN[$server.$i]="$(awk '{ v[NR] = $1 * 1000 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m }' <<<"$times")"
        log "$server ${NAMES[$i]}: median ${MEDIAN[$server.$i]} ms over $REPEAT runs, ${ROWS[$server.$i]} rows"
    done
}

for server in influxdb augur; do
    start_server "$server" "$BENCH_TMP/$server"
    measure "$server"
    stop_pid "$SERVER_PID" 30 || true
done

echo
echo "HOLT_WINTERS on $BUCKETS 1-minute points, $POINTS forecast points, season $SEASON; median of $REPEAT runs"
echo "machine: $(nproc) cores, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), load $(load_avg)"
printf '| %-22s | %12s | %10s | %16s | %s |\n' query "InfluxDB ms" "Augur ms" "InfluxDB / Augur" "rows (InfluxDB / Augur)"
printf '|%s|%s|%s|%s|%s|\n' ------------------------ -------------- ------------ ------------------ -------------------------
for i in "${!QUERIES[@]}"; do
    printf '| %-22s | %12s | %10s | %16s | %s |\n' "${NAMES[$i]}" "${MEDIAN[influxdb.$i]}" "${MEDIAN[augur.$i]}" \
        "$(ratio "${MEDIAN[influxdb.$i]}" "${MEDIAN[augur.$i]}")×" "${ROWS[influxdb.$i]} / ${ROWS[augur.$i]}"
done
