#!/usr/bin/env bash
# What the client costs, before and after, in one run: the size of `zt` as installed, the
# median of `zt ssh-config check` with a valid certificate (what every `Match exec` starts)
# next to /bin/true, the clean release build of the workspace, and the rebuild after touching
# one client file. BASE and HEAD are each built from a clean `git worktree` into a fresh
# target directory; the spawn medians are interleaved so drift hits all three alike.
#
# Usage: benches/footprint.sh BASE [HEAD] [SPAWNS]
#   BASE, HEAD  git revisions (HEAD defaults to HEAD); BASE may be from before the workspace,
#               when `cargo build --release` built both binaries into target/release
#   SPAWNS      spawns per command (default 400, at least 300)
# Needs: git, cargo, python3, /usr/sbin/sshd and ssh (benches/lib/loopback.sh), root.
# Takes 30-40 minutes on two cores: six clean builds' worth of compiling.
set -euo pipefail

BASE=${1:?usage: benches/footprint.sh BASE [HEAD] [SPAWNS]}
HEAD_REV=${2:-HEAD}
SPAWNS=${3:-400}
((SPAWNS >= 300)) || SPAWNS=300
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mktemp -d /tmp/zt-footprint-XXXXXX)
echo "work directory: $OUT" >&2

seconds() { python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.0f}")' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }

# checkout NAME REV: a clean worktree of REV at $OUT/NAME.
checkout() {
    git -C "$ROOT" worktree add --detach "$OUT/$1" "$2" >/dev/null 2>&1
}

# The workspace layout (client at the root, broker in crates/broker) or the single crate.
is_workspace() { grep -q '^\[workspace\]' "$1/Cargo.toml"; }

# build_all NAME: a clean release build as its install.sh did it; prints the seconds.
build_all() {
    local dir=$OUT/$1 start
    start=$(now)
    if is_workspace "$dir" && grep -q '^\[profile.client\]' "$dir/Cargo.toml"; then
        (cd "$dir" && cargo build -q --locked --release -p zt-broker &&
            cargo build -q --locked --profile client -p zt) >&2
    else
        (cd "$dir" && cargo build -q --locked --release) >&2
    fi
    seconds "$start"
}

# build_workspace NAME: `cargo build --release` of everything the workspace builds by default.
build_workspace() {
    local dir=$OUT/$1 start
    start=$(now)
    (cd "$dir" && CARGO_TARGET_DIR=$OUT/$1-ws-target cargo build -q --locked --release) >&2
    seconds "$start"
}

# rebuild NAME: touch one client file, rebuild the client as installed; prints the seconds.
rebuild() {
    local dir=$OUT/$1 start
    touch "$dir/src/cli/status.rs"
    start=$(now)
    if grep -q '^\[profile.client\]' "$dir/Cargo.toml"; then
        (cd "$dir" && cargo build -q --locked --profile client -p zt) >&2
    else
        (cd "$dir" && cargo build -q --locked --release) >&2
    fi
    seconds "$start"
}

# debug_rebuild NAME: a debug build (the edit-compile loop), then touch one client file and
# rebuild; prints the seconds of the rebuild.
debug_rebuild() {
    local dir=$OUT/$1 start
    (cd "$dir" && CARGO_TARGET_DIR=$OUT/$1-debug-target cargo build -q --locked) >&2
    touch "$dir/src/cli/status.rs"
    start=$(now)
    (cd "$dir" && CARGO_TARGET_DIR=$OUT/$1-debug-target cargo build -q --locked) >&2
    seconds "$start"
}

# client_bin NAME: the `zt` install.sh would install.
client_bin() {
    if [[ -x $OUT/$1/target/client/zt ]]; then
        echo "$OUT/$1/target/client/zt"
    else
        echo "$OUT/$1/target/release/zt"
    fi
}

remove_worktrees() {
    git -C "$ROOT" worktree remove --force "$OUT/base" >/dev/null 2>&1 || true
    git -C "$ROOT" worktree remove --force "$OUT/head" >/dev/null 2>&1 || true
}
checkout base "$BASE"
checkout head "$HEAD_REV"
trap remove_worktrees EXIT

echo "== clean builds (base $(git -C "$ROOT" rev-parse --short "$BASE"), head $(git -C "$ROOT" rev-parse --short "$HEAD_REV"))" >&2
base_install=$(build_all base)
head_install=$(build_all head)
base_ws=$(build_workspace base)
head_ws=$(build_workspace head)
base_rebuild=$(rebuild base)
head_rebuild=$(rebuild head)
base_debug=$(debug_rebuild base)
head_debug=$(debug_rebuild head)
base_zt=$(client_bin base)
head_zt=$(client_bin head)
base_size=$(stat -c %s "$base_zt")
head_size=$(stat -c %s "$head_zt")
base_stripped=$(strip -o "$OUT/base-zt.stripped" "$base_zt" && stat -c %s "$OUT/base-zt.stripped")

echo "== spawns: $SPAWNS each, interleaved" >&2
export ZT_BIN=$head_zt
export ZT_BROKER_BIN=$OUT/head/target/release/zt-broker
BENCH_NAME=footprint
# shellcheck source=benches/lib/loopback.sh
source "$ROOT/benches/lib/loopback.sh"
trap 'cleanup; remove_worktrees' EXIT
for bin in "$base_zt" "$head_zt"; do
    "${zt_env[@]}" "$bin" ssh-config check </dev/null || { echo "$bin ssh-config check failed" >&2; exit 1; }
done
spawns=$("${zt_env[@]}" python3 - "$SPAWNS" "$base_zt" "$head_zt" <<'PY'
import os, statistics, sys, time
runs, base, head = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmds = {"true": ["/bin/true"], "base": [base, "ssh-config", "check"], "head": [head, "ssh-config", "check"]}
devnull = os.open(os.devnull, os.O_RDWR)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
def once(argv):
    t = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv} failed")
    return (time.perf_counter_ns() - t) / 1e6
times = {k: [] for k in cmds}
for _ in range(10):
    for argv in cmds.values():
        once(argv)
order = list(cmds)
for i in range(runs):
    for name in order[i % 3:] + order[:i % 3]:
        times[name].append(once(cmds[name]))
med = {k: statistics.median(v) for k, v in times.items()}
print(f"{med['true']:.3f} {med['base']:.3f} {med['head']:.3f}")
PY
)
read -r true_ms base_ms head_ms <<<"$spawns"

python3 - "$base_size" "$head_size" "$base_stripped" "$true_ms" "$base_ms" "$head_ms" \
    "$base_install" "$head_install" "$base_ws" "$head_ws" "$base_rebuild" "$head_rebuild" \
    "$base_debug" "$head_debug" "$SPAWNS" <<'PY'
import sys
(bs, hs, bstr, t, b, h, bi, hi, bw, hw, br, hr, bd, hd, n) = sys.argv[1:]
mb = lambda x: f"{int(x) / 1e6:.1f} MB"
print("| | base | head | head ÷ base |")
print("|---|---:|---:|---:|")
print(f"| `zt` as installed | {mb(bs)} ({mb(bstr)} stripped) | {mb(hs)} | {int(hs) / int(bs):.2f} |")
print(f"| `zt ssh-config check`, median of {n} | {float(b):.2f} ms | {float(h):.2f} ms | {float(h) / float(b):.2f} |")
print(f"| ... above `/bin/true` ({float(t):.2f} ms) | {float(b) - float(t):+.2f} ms | {float(h) - float(t):+.2f} ms | |")
print(f"| clean build as install.sh does it | {bi} s | {hi} s | {int(hi) / int(bi):.2f} |")
print(f"| clean `cargo build --release` (default members) | {bw} s | {hw} s | {int(hw) / int(bw):.2f} |")
print(f"| rebuild of `zt` as installed after touching src/cli/status.rs | {br} s | {hr} s | {int(hr) / max(1, int(br)):.2f} |")
print(f"| debug `cargo build` after touching src/cli/status.rs | {bd} s | {hd} s | {int(hd) / max(1, int(bd)):.2f} |")
PY
