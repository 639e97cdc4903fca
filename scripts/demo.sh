#!/usr/bin/env bash
# End-to-end demo on one machine, nothing else needed: a development broker
# with its built-in identity provider (loopback only, SQLite in a temp dir),
# a loopback certificate-only sshd, `zt login` (approved automatically as the
# development user alice) and `zt ssh` into that sshd.
#
#   scripts/demo.sh [BIN_DIR]     BIN_DIR holds zt and zt-broker (default: PATH)
set -euo pipefail

bin=${1:-}
zt=${bin:+$bin/}zt
broker=${bin:+$bin/}zt-broker
sshd=/usr/sbin/sshd

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

if [[ ! -x $sshd ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing openssh-server (Debian package) for the demo target"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null
  else
    echo "demo: $sshd is missing; install OpenSSH's server (Debian: apt-get install openssh-server)" >&2
    exit 1
  fi
fi

work=$(mktemp -d /tmp/zt-demo.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

say "starting zt-broker dev (development identity provider, auto-approving as alice)"
"$broker" dev --listen 127.0.0.1:0 --json --auto-approve alice --dir "$work/broker" \
  >"$work/ready.json" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/ready.json ]] && break; sleep 0.1; done
[[ -s $work/ready.json ]] || { cat "$work/broker.log" >&2; exit 1; }
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["broker"])' "$work/ready.json")
user_ca=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_ca"])' "$work/ready.json")
echo "broker: $url" >&2

say "starting a loopback sshd that trusts the broker's CAs"
login=$(id -un)
mkdir -p "$work/sshd/principals"
echo "$user_ca" >"$work/sshd/user_ca.pub"
echo ops >"$work/sshd/principals/$login"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host_key"
"$broker" sign-host --config "$work/broker/zt-broker.toml" "$work/sshd/host_key.pub" --principals 127.0.0.1 >/dev/null
chmod -R go+rX "$work/sshd"
chmod 600 "$work/sshd/host_key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/sshd/sshd_config" <<CFG
ListenAddress 127.0.0.1
HostKey $work/sshd/host_key
HostCertificate $work/sshd/host_key-cert.pub
TrustedUserCAKeys $work/sshd/user_ca.pub
AuthorizedPrincipalsFile $work/sshd/principals/%u
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PidFile none
LogLevel VERBOSE
CFG
[[ $(id -u) == 0 ]] && mkdir -p /run/sshd
"$sshd" -D -e -f "$work/sshd/sshd_config" -p "$port" 2>"$work/sshd.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

export XDG_CONFIG_HOME=$work/home/config XDG_STATE_HOME=$work/home/state XDG_RUNTIME_DIR=$work/home/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

say "zt login --broker $url"
"$zt" login --broker "$url"

say "zt status"
"$zt" status

say "zt ssh -p $port -- $login@127.0.0.1 id -un   (OpenSSH, certificate from the broker, host verified by the host CA)"
"$zt" ssh -F /dev/null -o BatchMode=yes -p "$port" -- "$login@127.0.0.1" id -un || { cat "$work/sshd.log" >&2; exit 1; }

say "what sshd saw"
grep -m1 'Accepted publickey' "$work/sshd.log" >&2 || true
say "demo finished: everything ran on loopback and is removed now"
