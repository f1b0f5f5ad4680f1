#!/bin/bash
# Alternate etcd and setcd on loopback, fresh data dirs under the same parent directory,
# and run the same loadgen workloads against each. Prints JSON lines and a ratio table.
#
#   tools/loadgen/compare.sh [rounds]           (default 2 rounds; setcd skipped if not built)
#
# Env: LOADGEN (default ${TMPDIR:-/tmp}/setcd-loadgen/loadgen), SETCD (default
# <repo>/.build/release/setcd), ETCD (default /usr/bin/etcd), CLIENTS=64 CONNS=16 TOTAL=50000 WARMUP=1000,
# WORKLOADS="put range-l" (any of put, txn-put, range-l, range-s).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ROUNDS=${1:-2}
LOADGEN=${LOADGEN:-${TMPDIR:-/tmp}/setcd-loadgen/loadgen}
SETCD=${SETCD:-$REPO/.build/release/setcd}
ETCD=${ETCD:-/usr/bin/etcd}
CLIENTS=${CLIENTS:-64} CONNS=${CONNS:-16} TOTAL=${TOTAL:-50000} WARMUP=${WARMUP:-1000}
WORKLOADS=${WORKLOADS:-"put range-l"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/setcd-compare.XXXXXX")
RESULTS="$WORK/results.jsonl"
[ -x "$LOADGEN" ] || { echo "build first: $HERE/build.sh" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
    fi
}
trap 'stop_server' EXIT INT TERM

server_ticks() {  # utime+stime of the server process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}

wait_port() {  # wait until 127.0.0.1:$1 accepts connections (max ~20 s)
    for _ in $(seq 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

run_round() {  # $1 = etcd | setcd, $2 = round number
    local name=$1 round=$2 dir="$WORK/$1-$2" port peer
    mkdir -p "$dir"
    port=$(free_port)
    peer=$(free_port)
    local binary=$SETCD
    [ "$name" = etcd ] && binary=$ETCD
    "$binary" --data-dir "$dir/data" --name default \
        --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "default=http://127.0.0.1:$peer" >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port"; then
        echo "$name did not start; see $dir/server.log" >&2; stop_server; return 1
    fi
    sleep 0.5
    for w in $WORKLOADS; do
        local args
        case $w in
            range-l) args="--op range --consistency l" ;;
            range-s) args="--op range --consistency s" ;;
            *) args="--op $w" ;;
        esac
        local t0 t1
        t0=$(server_ticks)
        "$LOADGEN" --endpoints "127.0.0.1:$port" --conns "$CONNS" --clients "$CLIENTS" --total "$TOTAL" \
            --warmup "$WARMUP" $args --json >"$dir/$w.json"
        t1=$(server_ticks)
        # Server CPU (user+sys) per request, warm-up requests included in the count.
        python3 -c 'import json,sys,os
d=json.load(open(sys.argv[1])); d["server"]=sys.argv[2]; d["round"]=int(sys.argv[3]); d["workload"]=sys.argv[4]
hz=os.sysconf("SC_CLK_TCK"); n=d["total"]+int(sys.argv[6])
d["server_cpu_us_per_req"]=int(sys.argv[5])/hz*1e6/n; print(json.dumps(d))' \
            "$dir/$w.json" "$name" "$round" "$w" "$((t1 - t0))" "$WARMUP" | tee -a "$RESULTS"
    done
    stop_server
}

for r in $(seq "$ROUNDS"); do
    [ -x "$SETCD" ] && run_round setcd "$r"
    run_round etcd "$r"
done

python3 - "$RESULTS" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
by = collections.defaultdict(list)
for d in rows: by[(d["workload"], d["round"])].append(d)
print(f'\n{"workload":9} {"rnd":>3} {"server":6} {"req/s":>9} {"avg ms":>8} {"p50":>7} {"p99":>7} {"p99.9":>7} {"srvCPUus":>8} {"cliCPUus":>8} {"err":>4}')
for (w, r), ds in sorted(by.items()):
    for d in sorted(ds, key=lambda d: d["server"], reverse=True):
        print(f'{w:9} {r:>3} {d["server"]:6} {d["rps"]:9.0f} {d["avg_ms"]:8.3f} {d["p50_ms"]:7.3f} {d["p99_ms"]:7.3f} {d["p999_ms"]:7.3f} {d["server_cpu_us_per_req"]:8.0f} {d["client_cpu_us_per_req"]:8.0f} {d["errors"]:>4}')
    s = {d["server"]: d for d in ds}
    if "setcd" in s and "etcd" in s:
        print(f'{w:9} {r:>3} ratio  {s["setcd"]["rps"]/s["etcd"]["rps"]:9.2f} {s["setcd"]["avg_ms"]/s["etcd"]["avg_ms"]:8.2f} {s["setcd"]["p50_ms"]/s["etcd"]["p50_ms"]:7.2f} {s["setcd"]["p99_ms"]/s["etcd"]["p99_ms"]:7.2f} {s["setcd"]["p999_ms"]/s["etcd"]["p999_ms"]:7.2f} {s["setcd"]["server_cpu_us_per_req"]/s["etcd"]["server_cpu_us_per_req"]:8.2f}')
PY
echo "results: $RESULTS (server logs under $WORK)"
