#!/usr/bin/env bash
# Run zt's fuzz targets (libFuzzer through cargo-fuzz, nightly toolchain).
#
#   fuzz/run.sh [SECONDS] [TARGET...]     default: 60 s each, every target
#
# Each target starts from the committed seeds (fuzz/seeds/TARGET) plus
# whatever earlier runs found (fuzz/corpus/TARGET, not committed). Crashes
# land in fuzz/artifacts/TARGET/; the script exits non-zero if any target
# found one. The last libFuzzer status line of each run is printed.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz…" >&2
    cargo install cargo-fuzz --locked
fi
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== $t: ${secs}s" >&2
    if cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"logs/$t.log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1 | grep -o 'cov: [0-9]*' || echo 'cov: ?')
    echo "$t: $result, $runs runs in ${secs}s, $cov, corpus $(ls "corpus/$t" | wc -l) (log: fuzz/logs/$t.log)"
done
exit $status
