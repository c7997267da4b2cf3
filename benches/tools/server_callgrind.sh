#!/usr/bin/env bash
# Per-request user-mode cost of a tcp_echo server under callgrind (issue 20): instructions and
# simulated D1/LL misses per round trip, stable where wall-clock CPU time on a shared machine is
# not. The server runs under `valgrind --tool=callgrind --cache-sim=yes`; the Go client
# (benches/peers/go, `tcp_echo_client`) makes CONNS connections and R1, then R2 round trips on
# each; the counters are dumped after each run (callgrind_control), and the cost per round trip
# is (run 2 - run 1) / (CONNS x (R2 - R1)), so accepts, spawns and exits cancel out.
#
#   benches/tools/server_callgrind.sh NAME SERVER_EXE [CONNS R1 R2]
#
#   cargo build --release -p gort-benches --bin gort_work
#   CARGO_TARGET_DIR=target/peers-rust cargo build --release --locked \
#       --manifest-path benches/peers/rust/Cargo.toml --bin tokio_work
#   (cd benches/peers/go && go build -o ../../../target/peers-go/gopeer .)
#   benches/tools/server_callgrind.sh gort target/release/gort_work
#   benches/tools/server_callgrind.sh tokio target/peers-rust/release/tokio_work
#
# Prints one line: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw per round trip. The dumps stay in
# $OUT (default /tmp/server_callgrind) as NAME.cg.1 and NAME.cg.2 for callgrind_annotate
# (`--inclusive=no --show=Ir,D1mr,D1mw --sort=D1mr`; build with
# CARGO_PROFILE_RELEASE_DEBUG=line-tables-only for source lines). Callgrind runs the threads
# one at a time and simulates one cache: it counts the lines a request touches, not the ones
# that move between cores.
set -euo pipefail
name=$1 exe=$2 conns=${3:-1000} r1=${4:-20} r2=${5:-120}
root=$(cd "$(dirname "$0")/../.." && pwd)
client=${GOPEER:-$root/target/peers-go/gopeer}
out=${OUT:-/tmp/server_callgrind}
mkdir -p "$out"
rm -f "$out/$name".cg*
export GOMAXPROCS=2 GORT_MAXPROCS=2 BENCH_WORKERS=2
valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$out/$name.cg" \
    "$exe" tcp_echo_server >"$out/$name.stdout" 2>"$out/$name.valgrind" &
vg=$!
trap 'kill $vg 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -q LISTENING "$out/$name.stdout" 2>/dev/null && break
    sleep 0.2
done
port=$(sed -n 's/LISTENING port=//p' "$out/$name.stdout")
[[ -n "$port" ]] || { echo "server did not start: $out/$name.valgrind" >&2; exit 1; }
addr=127.0.0.1:$port
"$client" tcp_echo_client "$addr" "$conns" 5 >/dev/null # warm-up: stacks, pools, buffers
callgrind_control -z "$vg" >/dev/null 2>&1
"$client" tcp_echo_client "$addr" "$conns" "$r1" >/dev/null
callgrind_control -d run1 "$vg" >/dev/null 2>&1
"$client" tcp_echo_client "$addr" "$conns" "$r2" >/dev/null
callgrind_control -d run2 "$vg" >/dev/null 2>&1
kill "$vg"
wait "$vg" 2>/dev/null || true
trap - EXIT
python3 - "$out/$name.cg.1" "$out/$name.cg.2" "$((conns * (r2 - r1)))" "$name" <<'PY'
import sys
def summary(path):
    for line in open(path):
        if line.startswith("events:"):
            events = line.split()[1:]
        if line.startswith("summary:"):
            return events, [int(x) for x in line.split()[1:]]
events, a = summary(sys.argv[1])
_, b = summary(sys.argv[2])
n = float(sys.argv[3])
print(sys.argv[4] + ": " + "  ".join(f"{e}={(y - x) / n:.1f}" for e, x, y in zip(events, a, b)))
PY
