#!/usr/bin/env bash
# What `zt ssh-config install` costs per connection, binaries as installed:
#  1. `zt ssh-config check` with a valid certificate (what `Match exec`
#     runs): median over RUNS runs, spawned directly, next to `/bin/true`
#     spawned the same way (the process-start floor of this machine);
#  2. `ssh host true` through the installed ~/.ssh/config against bare
#     `ssh` with the same key, certificate and known_hosts as -o options.
# Runs are interleaved so drift hits both sides alike; prints medians and
# differences. No pass/fail on timing.
#
# Usage: benches/ssh_config.sh [RUNS]        (default 200, minimum 100)
# Needs: the binaries as install.sh builds them
# (cargo build --release -p zt-broker && cargo build --profile client -p zt), /usr/sbin/sshd, ssh,
# ssh-keygen, python3; root (sshd must switch to the login user).
# Env: ZT_BIN / ZT_BROKER_BIN override target/client/zt and target/release/zt-broker.
set -euo pipefail

RUNS=${1:-200}
if (( RUNS < 100 )); then RUNS=100; fi
BENCH_NAME=sshcfg
# shellcheck source=benches/lib/loopback.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/loopback.sh"

# The user's own part of ~/.ssh/config, then zt's Include on top of it.
printf 'Host bench-target\n    HostName 127.0.0.1\n    Port %s\n    User %s\n    BatchMode yes\n' \
    "$PORT" "$LOGIN" >"$H/.ssh/config"
"${zt_env[@]}" "$ZT_BIN" ssh-config install --hosts bench-target </dev/null 2>"$WORK/install.err" \
    || { cat "$WORK/install.err" >&2; exit 1; }

CHECK_CMD=("${zt_env[@]}" "$ZT_BIN" --profile default ssh-config check)
TRUE_CMD=("${zt_env[@]}" /bin/true)
VIA_CONFIG=("${zt_env[@]}" ssh -F "$H/.ssh/config" bench-target true)
BARE_SSH=("${zt_env[@]}" ssh -F /dev/null -o BatchMode=yes -p "$PORT"
    -o IdentitiesOnly=yes
    -o "CertificateFile=$RT/id_ed25519-cert.pub"
    -o "IdentityFile=$RT/id_ed25519"
    -o "UserKnownHostsFile=$RT/known_hosts"
    -o StrictHostKeyChecking=yes
    -o IdentityAgent=none
    "$LOGIN@127.0.0.1" true)

"${CHECK_CMD[@]}" </dev/null || { echo "zt ssh-config check failed" >&2; exit 1; }
"${VIA_CONFIG[@]}" </dev/null || { echo "ssh via the installed config failed; sshd log:" >&2; cat "$S/sshd.log" >&2; exit 1; }
"${BARE_SSH[@]}" </dev/null || { echo "bare ssh failed; sshd log:" >&2; cat "$S/sshd.log" >&2; exit 1; }
ISSUED_BEFORE=$(grep -c 'certificate issued\|certificate_issued' "$WORK/broker.stderr" || true)

echo "sshd 127.0.0.1:$PORT, broker $BROKER_URL, $RUNS runs each (interleaved, +5 warm-up)"
echo "installed config:"
sed 's/^/    /' "$H/.ssh/zt/default.conf"

python3 -c 'import json,sys; json.dump({k: v.split("\x1f") for k, v in zip(["check","true","config","bare"], sys.argv[1:5])}, open(sys.argv[5], "w"))' \
    "$(IFS=$'\x1f'; echo "${CHECK_CMD[*]}")" "$(IFS=$'\x1f'; echo "${TRUE_CMD[*]}")" \
    "$(IFS=$'\x1f'; echo "${VIA_CONFIG[*]}")" "$(IFS=$'\x1f'; echo "${BARE_SSH[*]}")" "$WORK/cmds.json"
python3 - "$RUNS" "$WORK/cmds.json" <<'PY'
import json, os, statistics, sys, time

runs = int(sys.argv[1])
cmds = json.load(open(sys.argv[2]))
devnull = os.open(os.devnull, os.O_RDWR)

def once(argv):
    # posix_spawn + waitpid: the least overhead Python can add to a spawn.
    t = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ,
                          file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0)])
    _, status = os.waitpid(pid, 0)
    ms = (time.perf_counter_ns() - t) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv} failed")
    return ms

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def race(a, b, n):
    for _ in range(5):
        once(cmds[a]); once(cmds[b])
    times = {a: [], b: []}
    for i in range(n):
        for name in ((a, b) if i % 2 == 0 else (b, a)):
            times[name].append(once(cmds[name]))
    return times

def show(label, xs):
    print(f"{label:>34}: median {statistics.median(xs):8.3f} ms  p10 {q(xs, 10):8.3f}  "
          f"p90 {q(xs, 90):8.3f}  (n={len(xs)})")

t = race("check", "true", runs)
show("zt ssh-config check (valid cert)", t["check"])
show("/bin/true (spawn floor)", t["true"])
print(f"{'check above the spawn floor':>34}: {statistics.median(t['check']) - statistics.median(t['true']):+8.3f} ms")
print()
s = race("config", "bare", max(30, runs // 4))
show("ssh bench-target true (config)", s["config"])
show("bare ssh, same key/cert/options", s["bare"])
mc, mb = statistics.median(s["config"]), statistics.median(s["bare"])
paired = [c - b for c, b in zip(s["config"], s["bare"])]
print(f"{'added by the installed config':>34}: {mc - mb:+8.3f} ms (median of paired differences {statistics.median(paired):+.3f} ms)")
print()
print("| What | Median ms | p90 ms | Runs |")
print("|---|---:|---:|---:|")
print(f"| `zt ssh-config check`, valid certificate | {statistics.median(t['check']):.2f} | {q(t['check'], 90):.2f} | {runs} |")
print(f"| `/bin/true`, same spawn | {statistics.median(t['true']):.2f} | {q(t['true'], 90):.2f} | {runs} |")
print(f"| `ssh host true` via installed config | {mc:.2f} | {q(s['config'], 90):.2f} | {len(s['config'])} |")
print(f"| bare `ssh` with the same options | {mb:.2f} | {q(s['bare'], 90):.2f} | {len(s['bare'])} |")
print(f"| **added per connection** | **{mc - mb:+.2f}** | | |")
PY
ISSUED_AFTER=$(grep -c 'certificate issued\|certificate_issued' "$WORK/broker.stderr" || true)
echo "broker log lines about issued certificates: before timing $ISSUED_BEFORE, after $ISSUED_AFTER (equal: no renewal during the runs)"
