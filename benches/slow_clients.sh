#!/usr/bin/env bash
# An honest client next to slow clients (slowloris): a release `zt-broker dev
# --no-rate-limits` on 127.0.0.1, and the bench binary benches/slow_clients.rs run once per
# phase: unloaded; next to CONNECTIONS slow connections from ADDRESSES loopback addresses
# (127.0.0.2 up) that reconnect whenever closed; next to slowhttptest -H (Debian's
# slowhttptest, from 127.0.0.1 only; skipped with a message when it is not installed).
# The honest client sends RATE certificate requests a second for SECS seconds from
# 127.0.0.100, each on a new connection. Prints success, p50 and p99 against the unloaded
# phase, the broker's RSS and peak RSS (VmHWM); asserts nothing. See benches/README.md.
#
#   benches/slow_clients.sh [SECS=30]
#   ZT_BENCH_SLOW_CONNECTIONS=5000 ZT_BENCH_SLOW_ADDRESSES=50 ZT_BENCH_RATE=100
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-30}
CONNECTIONS=${ZT_BENCH_SLOW_CONNECTIONS:-5000}
ADDRESSES=${ZT_BENCH_SLOW_ADDRESSES:-50}
RATE=${ZT_BENCH_RATE:-100}
# The DPoP proofs are made before a phase and live 60 s; 5000 connections is the item's
# scenario; 200 addresses stay inside 127.0.0.0/24.
((SECS >= 5 && SECS <= 45)) || { echo "SECS must be between 5 and 45" >&2; exit 2; }
((CONNECTIONS >= 1 && CONNECTIONS <= 20000)) || { echo "ZT_BENCH_SLOW_CONNECTIONS: 1..20000" >&2; exit 2; }
((ADDRESSES >= 1 && ADDRESSES <= 200)) || { echo "ZT_BENCH_SLOW_ADDRESSES: 1..200" >&2; exit 2; }

cd "$ROOT"
echo "building the release zt-broker and the bench…" >&2
cargo build -q --release -p zt-broker
BENCH=$(cargo bench --bench slow_clients --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "slow_clients" and m.get("executable"):
        print(m["executable"])')
[[ -x $BENCH ]] || { echo "could not build benches/slow_clients.rs" >&2; exit 1; }
ZT_BROKER_BIN=${ZT_BROKER_BIN:-$ROOT/target/release/zt-broker}

# The attack holds a socket per slow connection (and slowhttptest as many again).
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
want=$((CONNECTIONS + 1024))
((hard >= want)) || { echo "the hard open-file limit ($hard) is below $want; lower ZT_BENCH_SLOW_CONNECTIONS" >&2; exit 1; }
ulimit -n "$want"

WORK=$(mktemp -d /tmp/zt-slow-clients-bench-XXXXXX)
BROKER_PID=''
cleanup() {
    set +e
    [[ -n $BROKER_PID ]] && { kill "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkfifo "$WORK/ready"
"$ZT_BROKER_BIN" dev --listen 127.0.0.1:0 --json --no-rate-limits --auto-approve alice \
    --dir "$WORK/broker" >"$WORK/ready" 2>"$WORK/broker.stderr" &
BROKER_PID=$!
exec 3<"$WORK/ready"
read -r -t 30 READY <&3 || { echo "broker did not start:" >&2; cat "$WORK/broker.stderr" >&2; exit 1; }
URL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["broker"])' "$READY")

echo "zt-broker dev ($ZT_BROKER_BIN) at $URL, pid $BROKER_PID; $(nproc) CPUs; open-file limit $want"
echo "honest client: $RATE certificate requests/s for $SECS s from 127.0.0.100, a new connection each"
phase() {
    "$BENCH" --broker "$URL" --broker-pid "$BROKER_PID" --rate "$RATE" --secs "$SECS" "$@"
}

echo
echo "== unloaded"
unloaded=$(phase --attack none)
echo "$unloaded"
baseline=$(sed -n 's/.*p50 *\([0-9.]*\) ms *p99 *\([0-9.]*\) ms.*/\1,\2/p' <<<"$unloaded" | head -1)

echo
echo "== $CONNECTIONS slow connections from $ADDRESSES addresses (written in benches/slow_clients.rs), reconnecting"
phase --attack "slowloris:$CONNECTIONS:$ADDRESSES" --baseline "$baseline"

echo
if command -v slowhttptest >/dev/null; then
    echo "== slowhttptest -H -c $CONNECTIONS -r 2000 -i 5 -x 24 (from 127.0.0.1 only: it cannot bind source addresses)"
    phase --attack "slowhttptest:$CONNECTIONS" --baseline "$baseline"
else
    echo "== slowhttptest: not installed (apt-get install slowhttptest); skipped"
fi

echo
echo "broker peak RSS over the whole run: $(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$BROKER_PID/status")"
echo "broker pressure warnings logged: $(grep -c 'many connections are waiting' "$WORK/broker.stderr" || true)"
