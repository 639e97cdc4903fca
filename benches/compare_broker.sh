#!/usr/bin/env bash
# The broker benchmark on two revisions, interleaved, so both see the same
# machine state: benches/compare_broker.sh BASE_REV [ROUNDS]
#
# Builds BASE_REV (in a temporary git worktree) and the working tree in
# release, then runs `broker --bench` ROUNDS times (default 3) alternating
# base and head, 1000 certificates per level at 1, 8 and 64 clients. Prints
# each run's per-level lines; compare the medians.
set -euo pipefail
base=${1:?usage: benches/compare_broker.sh BASE_REV [ROUNDS]}
rounds=${2:-3}
root=$(git rev-parse --show-toplevel)
wt=$(mktemp -d "${TMPDIR:-/tmp}/zt-bench-base.XXXXXX")
git -C "$root" worktree add --detach "$wt" "$base" >/dev/null
trap 'git -C "$root" worktree remove --force "$wt"' EXIT

build() { (cd "$1" && cargo build --release --locked --bench broker --bin zt-broker -q); }
newest_bench() { ls -t "$1"/target/release/deps/broker-* | grep -v '\.d$' | head -1; }
build "$wt"
build "$root"
declare -A bench=([base]="$(newest_bench "$wt")" [head]="$(newest_bench "$root")")

export ZT_BENCH_REQUESTS=${ZT_BENCH_REQUESTS:-1000} ZT_BENCH_LEVELS=${ZT_BENCH_LEVELS:-1,8,64}
export ZT_BENCH_KEYGEN_CERTS=${ZT_BENCH_KEYGEN_CERTS:-100}
for round in $(seq "$rounds"); do
    for side in base head; do
        echo "### round $round: $side"
        "${bench[$side]}" --bench 2>&1 | grep -E '^concurrency|^ssh-keygen'
    done
done
