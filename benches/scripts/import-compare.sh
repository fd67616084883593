#!/usr/bin/env bash
# import-compare.sh: loads the same TSBS cpu-only file into one Augur server
# twice, once with `augur import` and once with InfluxDB's own `influx
# -import` (Debian's influxdb-client), and prints points/s of each and the
# ratio. Both clients write over HTTP to the same server process (separate
# databases), so the difference is the client: parsing, batching,
# concurrency. Counts are read back to check nothing was lost.
#
# Usage: benches/scripts/import-compare.sh [--hosts 100] [--hours 24]
#          [--workers 4] [--batch 5000]
# Env: BENCH_KEEP=1 keeps the temp folder; AUGUR_BIN, BENCH_BIN, INFLUX_BIN
#      override binaries.

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOSTS=100
HOURS=24
WORKERS=4
BATCH=5000
INFLUX_BIN="${INFLUX_BIN:-influx}"

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --hosts) HOSTS="$2"; shift 2 ;;
        --hours) HOURS="$2"; shift 2 ;;
        --workers) WORKERS="$2"; shift 2 ;;
        --batch) BATCH="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

command -v "$INFLUX_BIN" >/dev/null 2>&1 || die "the influx CLI is missing (tests/scripts/deps.sh installs influxdb-client)"
bench_init
ensure_bench_bin
ensure_augur_bin

log "generating $HOSTS hosts x $HOURS h"
"$BENCH_BIN" generate --hosts "$HOSTS" --hours "$HOURS" -o "$BENCH_TMP/augur.lp"
"$BENCH_BIN" generate --hosts "$HOSTS" --hours "$HOURS" --influx-import-header import_influx -o "$BENCH_TMP/influx.lp"
POINTS="$(grep -cv '^#\|^$' "$BENCH_TMP/augur.lp")"
BYTES="$(stat -c %s "$BENCH_TMP/augur.lp")"
log "$POINTS points, $BYTES bytes"

start_augur "$BENCH_TMP/server"
PORT="${SERVER_URL##*:}"
"$AUGUR_BIN" query --url "$SERVER_URL" --token "$AUGUR_TOKEN" \
    -e "CREATE DATABASE import_augur; CREATE DATABASE import_influx; CREATE USER bench WITH PASSWORD 'bench-password' WITH ALL PRIVILEGES" >/dev/null

now() { date +%s.%N; }

log "augur import"
t0="$(now)"
"$AUGUR_BIN" import "$BENCH_TMP/augur.lp" --db import_augur --url "$SERVER_URL" --token "$AUGUR_TOKEN" \
    --workers "$WORKERS" --batch "$BATCH" >"$BENCH_TMP/augur-import.log" 2>&1
t1="$(now)"
AUGUR_S="$(echo "$t1 - $t0" | bc -l)"

log "influx -import"
t0="$(now)"
"$INFLUX_BIN" -host 127.0.0.1 -port "$PORT" -username bench -password bench-password \
    -import -path "$BENCH_TMP/influx.lp" -precision ns >"$BENCH_TMP/influx-import.log" 2>&1
t1="$(now)"
INFLUX_S="$(echo "$t1 - $t0" | bc -l)"

count() {
    "$AUGUR_BIN" query --url "$SERVER_URL" --token "$AUGUR_TOKEN" --db "$1" --format csv \
        -e "SELECT count(usage_user) FROM cpu" | tail -n 1 | awk -F, '{print $NF}'
}
AUGUR_N="$(count import_augur)"
INFLUX_N="$(count import_influx)"
stop_pid "$SERVER_PID" 60 || true

AUGUR_PPS="$(echo "$POINTS / $AUGUR_S" | bc -l)"
INFLUX_PPS="$(echo "$POINTS / $INFLUX_S" | bc -l)"
printf '\n%-16s %12s %10s %14s %12s\n' client points seconds points/s "read back"
printf '%-16s %12d %10.2f %14.0f %12s\n' "augur import" "$POINTS" "$AUGUR_S" "$AUGUR_PPS" "$AUGUR_N"
printf '%-16s %12d %10.2f %14.0f %12s\n' "influx -import" "$POINTS" "$INFLUX_S" "$INFLUX_PPS" "$INFLUX_N"
printf 'ratio augur/influx: %.2fx (workers %s, batch %s)\n' "$(echo "$AUGUR_PPS / $INFLUX_PPS" | bc -l)" "$WORKERS" "$BATCH"
[[ "$AUGUR_N" == "$POINTS" && "$INFLUX_N" == "$POINTS" ]] || die "a client lost points: $AUGUR_N / $INFLUX_N of $POINTS"
