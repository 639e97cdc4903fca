# Shared setup of the loopback benchmarks (sourced, not run): the binaries as
# install.sh builds them (zt: the client profile; zt-broker: release),
# a work directory removed on exit, `zt-broker dev` (development IdP
# auto-approving alice), `zt login` with the file credential store and no
# agent, and a certificate-only sshd configured as crates/testkit/src/sshd.rs does.
#
# Before sourcing, set BENCH_NAME (used in the work directory's name).
# Afterwards: ROOT, ZT_BIN, ZT_BROKER_BIN, WORK, BROKER_URL, BROKER_CONFIG,
# USER_CA, H (the user's HOME), zt_env (env prefix for zt), RT (zt's runtime
# directory), S (sshd's directory), LOGIN, PORT.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ZT_BIN=${ZT_BIN:-$ROOT/target/client/zt}
ZT_BROKER_BIN=${ZT_BROKER_BIN:-$ROOT/target/release/zt-broker}
SSHD=/usr/sbin/sshd
for bin in "$ZT_BIN" "$ZT_BROKER_BIN"; do
    [[ -x $bin ]] || {
        echo "missing $bin: run cargo build --release -p zt-broker && cargo build --profile client -p zt" >&2
        exit 1
    }
done

WORK=$(mktemp -d "/tmp/zt-${BENCH_NAME:?}-bench-XXXXXX")
chmod 0755 "$WORK" # sshd reads the principals file as the login user
BROKER_PID='' SSHD_PID=''
cleanup() {
    set +e
    for pid in $SSHD_PID $BROKER_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- broker -----------------------------------------------------------------
mkfifo "$WORK/ready"
"$ZT_BROKER_BIN" dev --listen 127.0.0.1:0 --json --auto-approve alice \
    --dir "$WORK/broker" >"$WORK/ready" 2>"$WORK/broker.stderr" &
BROKER_PID=$!
exec 3<"$WORK/ready"
read -r -t 30 READY <&3 || { echo "broker did not start:" >&2; cat "$WORK/broker.stderr" >&2; exit 1; }
# Keep fd 3 open so the broker's stdout never sees a closed pipe.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$READY" "$1"; }
BROKER_URL=$(field broker)
USER_CA=$(field user_ca)
BROKER_CONFIG=$(field config)

# --- zt login (file credential store, no agent) -------------------------------
H=$WORK/home
mkdir -p "$H/run" "$H/.ssh"
chmod 0700 "$H/run" "$H/.ssh"
zt_env=(env -u SSH_AUTH_SOCK -u ZT_PROFILE -u ZT_BROKER
    HOME="$H" XDG_CONFIG_HOME="$H/config" XDG_STATE_HOME="$H/state"
    XDG_DATA_HOME="$H/data" XDG_RUNTIME_DIR="$H/run" ZT_CREDENTIAL_STORE=file)
"${zt_env[@]}" "$ZT_BIN" login --broker "$BROKER_URL" </dev/null >"$WORK/login.out" 2>&1 \
    || { echo "zt login failed:" >&2; cat "$WORK/login.out" >&2; exit 1; }
RT=$H/run/zt/default

# --- sshd (config as crates/testkit/src/sshd.rs) -----------------------------------
S=$WORK/sshd
mkdir -p "$S/principals"
chmod 0755 "$S"
LOGIN=$(id -un)
printf 'ops\n' >"$S/principals/$LOGIN"
chmod 0644 "$S/principals/$LOGIN"
printf '%s\n' "$USER_CA" >"$S/user_ca_keys"
ssh-keygen -q -t ed25519 -N '' -C zt-bench-sshd -f "$S/ssh_host_ed25519_key"
"$ZT_BROKER_BIN" sign-host --config "$BROKER_CONFIG" "$S/ssh_host_ed25519_key.pub" \
    --principals 127.0.0.1 >/dev/null 2>"$WORK/sign-host.err" \
    || { cat "$WORK/sign-host.err" >&2; exit 1; }
cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $S/ssh_host_ed25519_key
HostCertificate $S/ssh_host_ed25519_key-cert.pub
PidFile none
AuthorizedKeysFile none
AuthorizedPrincipalsFile $S/principals/%u
TrustedUserCAKeys $S/user_ca_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
LogLevel VERBOSE
ExposeAuthInfo yes
EOF
if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
    mkdir -p /run/sshd && chmod 0755 /run/sshd
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SSHD" -D -e -f "$S/sshd_config" -p "$PORT" -E "$S/sshd.log" </dev/null >/dev/null 2>"$S/sshd.stderr" &
SSHD_PID=$!
for _ in $(seq 100); do
    if python3 - "$PORT" <<'PY' 2>/dev/null; then break; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2)
s.settimeout(2)
sys.exit(0 if s.recv(8).startswith(b"SSH-2.0-") else 1)
PY
    sleep 0.1
done
