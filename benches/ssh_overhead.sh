#!/usr/bin/env bash
# What `zt ssh` adds to a connection when its certificate is cached: the
# wall-clock time of `zt ssh … true` against plain `ssh … true` with the same
# key, certificate, known_hosts and options, against the same local sshd.
# Runs are interleaved (zt, ssh, ssh, zt, …) so drift hits both sides alike;
# prints both medians and their difference. No pass/fail on timing.
#
# Usage: benches/ssh_overhead.sh [RUNS]        (default 50, minimum 30)
# Needs: the binaries as install.sh builds them
# (cargo build --release -p zt-broker && cargo build --profile client -p zt), /usr/sbin/sshd, ssh,
# ssh-keygen, python3. Run as root (sshd must switch to the login user) or as
# a user whose sshd can run unprivileged.
# Env: ZT_BIN / ZT_BROKER_BIN override target/client/zt and target/release/zt-broker.
set -euo pipefail

RUNS=${1:-50}
if (( RUNS < 30 )); then RUNS=30; fi
BENCH_NAME=ssh
# shellcheck source=benches/lib/loopback.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/loopback.sh"
for f in id_ed25519 id_ed25519-cert.pub known_hosts; do
    [[ -f $RT/$f ]] || { echo "zt login left no $RT/$f" >&2; ls -la "$RT" >&2 || true; exit 1; }
done

# --- the two commands ------------------------------------------------------------
COMMON=(-F /dev/null -o BatchMode=yes -p "$PORT" "$LOGIN@127.0.0.1" true)
ZT_CMD=("${zt_env[@]}" "$ZT_BIN" ssh "${COMMON[@]}")
# What zt ssh execs (src/client/ssh_args.rs), spelled out.
SSH_CMD=("${zt_env[@]}" ssh
    -o IdentitiesOnly=yes
    -o "CertificateFile=$RT/id_ed25519-cert.pub"
    -o "IdentityFile=$RT/id_ed25519"
    -o "UserKnownHostsFile=$RT/known_hosts"
    -o StrictHostKeyChecking=yes
    -o IdentityAgent=none
    "${COMMON[@]}")

# Both must work before anything is timed.
"${ZT_CMD[@]}" </dev/null || { echo "zt ssh failed; sshd log:" >&2; cat "$S/sshd.log" >&2; exit 1; }
"${SSH_CMD[@]}" </dev/null || { echo "plain ssh failed; sshd log:" >&2; cat "$S/sshd.log" >&2; exit 1; }

echo "sshd 127.0.0.1:$PORT, broker $BROKER_URL, $RUNS interleaved runs each (+3 warm-up)"
echo "zt ssh:    ${ZT_CMD[*]:${#zt_env[@]}}"
echo "plain ssh: ${SSH_CMD[*]:${#zt_env[@]}}"

# --- timing ----------------------------------------------------------------------
python3 -c 'import json,sys; json.dump({"zt": sys.argv[1].split("\x1f"), "ssh": sys.argv[2].split("\x1f")}, open(sys.argv[3], "w"))' \
    "$(IFS=$'\x1f'; echo "${ZT_CMD[*]}")" "$(IFS=$'\x1f'; echo "${SSH_CMD[*]}")" "$WORK/cmds.json"
python3 - "$RUNS" "$WORK/cmds.json" <<'PY'
import json, statistics, subprocess, sys, time

runs = int(sys.argv[1])
cmds = json.load(open(sys.argv[2]))

def once(argv):
    t = time.perf_counter_ns()
    subprocess.run(argv, stdin=subprocess.DEVNULL, check=True)
    return (time.perf_counter_ns() - t) / 1e6

for _ in range(3):
    once(cmds["zt"]); once(cmds["ssh"])
times = {"zt": [], "ssh": []}
for i in range(runs):
    order = ("zt", "ssh") if i % 2 == 0 else ("ssh", "zt")
    for name in order:
        times[name].append(once(cmds[name]))

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

for name, label in (("ssh", "plain ssh"), ("zt", "zt ssh")):
    xs = times[name]
    print(f"{label:>10}: median {statistics.median(xs):7.2f} ms  "
          f"p10 {q(xs, 10):7.2f}  p90 {q(xs, 90):7.2f}  min {min(xs):7.2f}  (n={len(xs)})")
mz, ms = statistics.median(times["zt"]), statistics.median(times["ssh"])
paired = [z - s for z, s in zip(times["zt"], times["ssh"])]
print(f"difference of medians (zt - ssh): {mz - ms:+.2f} ms ({(mz / ms - 1) * 100:+.1f} %)")
print(f"median of paired differences:     {statistics.median(paired):+.2f} ms")
print()
print("| Command | Median ms | p90 ms | Runs |")
print("|---|---:|---:|---:|")
print(f"| `ssh` (same key, cert, options) | {ms:.2f} | {q(times['ssh'], 90):.2f} | {runs} |")
print(f"| `zt ssh` (cached certificate) | {mz:.2f} | {q(times['zt'], 90):.2f} | {runs} |")
print(f"| **zt overhead** | **{mz - ms:+.2f}** | | |")
PY
