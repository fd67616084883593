#!/usr/bin/env bash
# pool-cycle.sh: times the resource-pool manager's allocation cycle on a
# release `augur`, with the fitted-model cache of forecast() on (the
# default) and off (`[forecast] cache_models = 0`: every cycle fits every
# model again), one server after the other on this machine.
#
# Data: --days of 1-minute demand (cpu and memory) for --services services
# (a daily cycle, a per-service level and noise), ending at the current
# minute. The pool has two dimensions (cpu_cores, memory_gib), each with a
# demand query grouped by service, so one cycle forecasts 2 x services
# groups (model `auto`, p95) over `history` = --days. It decides every
# second; the script reads augur_pool_cycle_duration_seconds from /metrics:
# the first cycle (every model fitted) and the mean of the next --cycles.
#
# Usage: benches/scripts/pool-cycle.sh [--services 20] [--days 7] [--cycles 10]
# Env: AUGUR_BIN overrides the binary; BENCH_KEEP=1 keeps the temp folder.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=20
DAYS=7
CYCLES=10

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --services) SERVICES="$2"; shift 2 ;;
        --days) DAYS="$2"; shift 2 ;;
        --cycles) CYCLES="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
done

bench_init
ensure_augur_bin

# The demand, as line protocol, ending at the last whole minute.
LP="$BENCH_TMP/usage.lp"
python3 - "$SERVICES" "$DAYS" "$(($(date +%s) / 60 * 60))" >"$LP" <<'PY'
import math, random, sys
services, days, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
n = days * 1440
rng = random.Random(7)
for s in range(services):
    base = 4 + 2 * s
    for i in range(n):
        t = last - (n - 1 - i) * 60
        day = math.sin(2 * math.pi * (t % 86400) / 86400)
        cpu = base * (1 + 0.4 * day) + rng.gauss(0, 0.3)
        print(f"usage,service=s{s} cpu={max(cpu, 0):.3f},mem={4 * max(cpu, 0) + rng.gauss(0, 1):.3f} {t}")
PY
log "$(wc -l <"$LP") demand points for $SERVICES services over $DAYS days"

# The value of metric $2 (no labels) in the /metrics text of server $1.
metric() {
    curl -sf -H "Authorization: Token $AUGUR_TOKEN" "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

# Runs one server with cache_models = $1; sets FIRST_MS and STEADY_MS.
measure() {
    local cache="$1" dir="$BENCH_TMP/cache-$1" url count sum0 count0 sum1 count1 waited
    mkdir -p "$dir"
    printf '[forecast]\ncache_models = %s\n[monitor]\nenabled = false\n' "$cache" >"$dir/augur.toml"
    export AUGUR_CONFIG="$dir/augur.toml"
    start_augur "$dir"
    unset AUGUR_CONFIG
    url="$SERVER_URL"
    curl -sf -XPOST -H "Authorization: Token $AUGUR_TOKEN" "$url/query" --data-urlencode 'q=CREATE DATABASE infra' >/dev/null
    split -l 50000 "$LP" "$dir/chunk."
    for f in "$dir"/chunk.*; do
        curl -sf -XPOST -H "Authorization: Token $AUGUR_TOKEN" "$url/write?db=infra&precision=s" --data-binary "@$f" ||
            die "write of $f failed"
    done
    curl -sf -XPOST -H "Authorization: Token $AUGUR_TOKEN" -H 'Content-Type: application/json' "$url/v1/pools" -d '{
      "name": "bench", "dimensions": ["cpu_cores", "memory_gib"],
      "shapes": [{"name": "m4", "capacity": {"cpu_cores": 4, "memory_gib": 16}, "hourly_cost": 0.2}],
      "min": 1, "max": 10000, "lead_time": "5m", "interval": "1s", "history": "'"$DAYS"'d",
      "demand": {
        "cpu_cores": {"database": "infra", "query": "SELECT sum(cpu) FROM usage GROUP BY time(1m), service"},
        "memory_gib": {"database": "infra", "query": "SELECT sum(mem) FROM usage GROUP BY time(1m), service"}}
    }' >/dev/null || die "pool definition refused"
    # Bounded polls: the first cycle, then --cycles more.
    waited=0
    while count="$(metric "$url" augur_pool_cycles_total)"; [[ "${count:-0}" -lt 1 ]]; do
        ((waited++ < 6000)) || die "no pool cycle within 10 minutes"
        sleep 0.1
    done
    sum0="$(metric "$url" augur_pool_cycle_duration_seconds_sum)"
    count0="$(metric "$url" augur_pool_cycles_total)"
    FIRST_MS="$(awk -v s="$sum0" -v c="$count0" 'BEGIN { printf "%.1f", s / c * 1000 }')"
    waited=0
    while count1="$(metric "$url" augur_pool_cycles_total)"; [[ "${count1:-0}" -lt $((count0 + CYCLES)) ]]; do
        ((waited++ < 12000)) || die "fewer than $CYCLES cycles within 20 minutes"
        sleep 0.1
    done
    sum1="$(metric "$url" augur_pool_cycle_duration_seconds_sum)"
    STEADY_MS="$(awk -v a="$sum0" -v b="$sum1" -v c="$count0" -v d="$count1" 'BEGIN { printf "%.1f", (b - a) / (d - c) * 1000 }')"
    stop_pid "$SERVER_PID" 30 || true
}

measure 1024
on_first="$FIRST_MS" on_steady="$STEADY_MS"
log "cache on: first cycle $on_first ms, then $on_steady ms"
measure 0
off_first="$FIRST_MS" off_steady="$STEADY_MS"
log "cache off: first cycle $off_first ms, then $off_steady ms"

echo
echo "pool cycle, $SERVICES services x 2 dimensions, $DAYS days of 1-minute history ($(nproc) cores, load $(load_avg))"
echo
echo "| forecast model cache | first cycle (ms) | next $CYCLES cycles, mean (ms) |"
echo "|---|---|---|"
echo "| on (default) | $on_first | $on_steady |"
echo "| off (cache_models = 0) | $off_first | $off_steady |"
echo
echo "steady-state speed-up from the cache: $(ratio "$off_steady" "$on_steady")x"
