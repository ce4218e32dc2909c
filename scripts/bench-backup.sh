#!/usr/bin/env bash
# Backup and rehydrate throughput on a local TLS cluster (3 replicas, 1 coordinator) of the
# release build: fills the log with COUNT entries of SIZE, takes an on-demand backup on the
# coordinator, fetches it, wipes and initializes every replica, and rehydrates the fetched file.
# Prints MB/s (10^6 bytes per second of backup file) for each step. See docs/benchmarks.md.
#
#   swift build -c release --product replog
#   scripts/bench-backup.sh                       # 1024 entries of 1MB: a 1 GiB log
#   SIZE=4KB COUNT=262144 scripts/bench-backup.sh # the same gigabyte in small entries
#
# Needs about 8 times the log's size free under WORK (default: a new directory in /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-1MB}
COUNT=${COUNT:-1024}
CONCURRENCY=${CONCURRENCY:-8}
BATCH=${BATCH:-256}
BASE=${BASE:-23000}
WORK=${WORK:-$(mktemp -d /tmp/replog-bench-backup.XXXXXX)}
replog=${REPLOG:-$PWD/.build/release/replog}
[ -x "$replog" ] || { echo "build first: swift build -c release --product replog" >&2; exit 1; }

cluster=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
certs=$WORK/certs
peers="1=127.0.0.1:$((BASE + 1)),2=127.0.0.1:$((BASE + 2)),3=127.0.0.1:$((BASE + 3))"
client=(--coordinator "127.0.0.1:$((BASE + 100))" --cert "$certs/client-bench.pem" --key "$certs/client-bench.key"
    --ca "$certs/ca.pem" --timeout 120)
pids=()

stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
rate() { awk -v bytes="$1" -v start="$2" -v end="$3" 'BEGIN { s = end - start; printf "%.2f s, %.1f MB/s", s, bytes / s / 1e6 }'; }

start_cluster() {
    for id in 1 2 3; do
        "$replog" replica --path "$WORK/replica-$id" --listen "127.0.0.1:$((BASE + id))" --id "$id" --peers "$peers" \
            --cluster-id "$cluster" --cert "$certs/replica-$id.pem" --key "$certs/replica-$id.key" \
            --ca "$certs/ca.pem" --log-level warning >>"$WORK/replica-$id.log" 2>&1 &
        pids+=($!)
    done
    "$replog" coordinator --listen "127.0.0.1:$((BASE + 100))" --id 101 --replicas "$peers" --cluster-id "$cluster" \
        --cert "$certs/coordinator-101.pem" --key "$certs/coordinator-101.key" --ca "$certs/ca.pem" \
        --admin "127.0.0.1:$((BASE + 200))" --log-level notice "$@" >>"$WORK/coordinator.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$((BASE + 200))/ready" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "the cluster did not become ready; see $WORK/*.log" >&2
    exit 1
}

mkdir -p "$WORK"
"$replog" certs create-ca --dir "$certs" >/dev/null
for id in 1 2 3; do
    "$replog" certs create-node --dir "$certs" --role replica --id "$id" --host 127.0.0.1 >/dev/null
done
"$replog" certs create-node --dir "$certs" --role coordinator --id 101 --host 127.0.0.1 >/dev/null
"$replog" certs create-client --dir "$certs" --name bench >/dev/null
for id in 1 2 3; do "$replog" initialize --path "$WORK/replica-$id" >/dev/null; done

echo "== filling the log: $COUNT entries of $SIZE ($CONCURRENCY in flight)"
start_cluster --backup-dir "$WORK/backups"
"$replog" bench "${client[@]}" --size "$SIZE" --count "$COUNT" --concurrency "$CONCURRENCY" --type random

echo "== backup on the coordinator (replog backup create)"
start=$(now)
"$replog" backup create "${client[@]}" --label bench --json >"$WORK/created.json"
end=$(now)
id=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$WORK/created.json")
size=$(sed 's/.*"size":\([0-9]*\).*/\1/' "$WORK/created.json")
echo "backup $id: $size bytes in $(rate "$size" "$start" "$end")"
grep "backup ready" "$WORK/coordinator.log" | tail -1

echo "== fetch (replog backup fetch, verified)"
start=$(now)
"$replog" backup fetch "${client[@]}" "$id" --to "$WORK/fetched.backup" >/dev/null
end=$(now)
echo "fetched $size bytes in $(rate "$size" "$start" "$end")"

echo "== verify offline (replog backup verify)"
start=$(now)
"$replog" backup verify "$WORK/fetched.backup" >/dev/null
end=$(now)
echo "verified $size bytes in $(rate "$size" "$start" "$end")"

echo "== wipe and initialize every replica, then rehydrate (batches of $BATCH)"
stop_all
rm -rf "$WORK/backups"
for id in 1 2 3; do
    rm -rf "$WORK/replica-$id"
    "$replog" initialize --path "$WORK/replica-$id" >/dev/null
done
start_cluster
start=$(now)
"$replog" rehydrate "${client[@]}" --backup "$WORK/fetched.backup" --batch-size "$BATCH"
end=$(now)
echo "rehydrated $size bytes in $(rate "$size" "$start" "$end")"
