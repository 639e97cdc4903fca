#!/usr/bin/env bash
# Time from `zt-broker revoke` to sshd refusing the revoked certificate, with
# `zt host krl-sync` run every INTERVAL seconds (what zt-krl-sync.timer does,
# emulated by a loop) on a real sshd enrolled through `zt host enroll`.
#
#   benches/revocation_latency.sh [INTERVAL_SECS=5] [RUNS=5] [BIN_DIR]
#
# Each run: log in (a fresh certificate), check that ssh works, revoke the
# certificate's serial, then try ssh with that certificate every 100 ms until
# sshd refuses it. Prints each delay and the worst; nothing is asserted.
# Expected: at most INTERVAL + one sync (tens of ms) + one probe period.
set -euo pipefail

interval=${1:-5}
runs=${2:-5}
bin=${3:-target/debug}
zt=$bin/zt
broker=$bin/zt-broker
sshd=/usr/sbin/sshd

work=$(mktemp -d /tmp/zt-krl-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$broker" dev --listen 127.0.0.1:0 --json --auto-approve alice --dir "$work/broker" \
  >"$work/ready.json" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/ready.json ]] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["broker"])' "$work/ready.json")
config=$work/broker/zt-broker.toml

# The target: only the host key and the principals file are made by hand;
# everything else comes from `zt host enroll`.
target=$work/sshd
mkdir -p "$target/principals"
ssh-keygen -q -t ed25519 -N '' -f "$target/host_key"
login=$(id -un)
echo ops >"$target/principals/$login"
"$broker" host token create --config "$config" --principals 127.0.0.1 --ttl 5m >"$work/token" 2>/dev/null
"$zt" host enroll --broker "$url" --token-file "$work/token" --host-key "$target/host_key" \
  --zt-dir "$target" --sshd-config-dir "$target/sshd_config.d" >/dev/null 2>&1
chmod -R go+rX "$target"
chmod 600 "$target/host_key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$target/sshd_config" <<CFG
ListenAddress 127.0.0.1
HostKey $target/host_key
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PidFile none
LogLevel VERBOSE
Include $target/sshd_config.d/*.conf
CFG
[[ $(id -u) == 0 ]] && mkdir -p /run/sshd
"$sshd" -D -e -f "$target/sshd_config" -p "$port" 2>"$work/sshd.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

# The timer: krl-sync every $interval seconds.
( while :; do "$zt" host krl-sync --zt-dir "$target" 2>/dev/null || true; sleep "$interval"; done ) &
pids+=($!)

export XDG_CONFIG_HOME=$work/home/config XDG_STATE_HOME=$work/home/state XDG_RUNTIME_DIR=$work/home/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export ZT_CREDENTIAL_STORE=file
unset SSH_AUTH_SOCK
ssh_with_cert() {
  "$zt" ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=5 -p "$port" "$login@127.0.0.1" -- true 2>/dev/null
}

worst=0
for run in $(seq "$runs"); do
  "$zt" login --broker "$url" >/dev/null 2>&1
  ssh_with_cert || { echo "ssh failed before revoking" >&2; cat "$work/sshd.log" >&2; exit 1; }
  serial=$("$zt" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificate"]["serial"])')
  start=$(date +%s.%N)
  "$broker" revoke --config "$config" --serial "$serial" 2>/dev/null
  while ssh_with_cert; do sleep 0.1; done
  end=$(date +%s.%N)
  delay=$(python3 -c "print(f'{$end - $start:.2f}')")
  worst=$(python3 -c "print(max($worst, $delay))")
  echo "run $run: serial $serial refused by sshd ${delay}s after zt-broker revoke (sync interval ${interval}s)"
done
echo "worst of $runs: ${worst}s with a ${interval}s sync interval"
