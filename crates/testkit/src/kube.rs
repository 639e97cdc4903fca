//! A real consumer for `zt token --format kubectl`: kubectl itself, pointed at a fake
//! Kubernetes API server on loopback.
//!
//! [`KubeCheck`] serves HTTPS on 127.0.0.1 with a certificate from a throwaway CA (the
//! kubeconfig trusts it through `certificate-authority-data`), records the `Authorization`
//! header of every request, answers a bearer-authenticated request with a small JSON
//! object and anything else with a Kubernetes-shaped 401. [`KubeCheck::run`] writes a
//! kubeconfig whose user is an exec credential plugin (`client.authentication.k8s.io/v1`)
//! and runs `kubectl get --raw /zt-check` with it: kubectl runs the plugin, parses its
//! `ExecCredential` as client-go does and sends `status.token` as the bearer token, so a
//! test sees exactly what a cluster would.
//!
//! kubectl is optional on a developer machine: [`kubectl_available`] and
//! [`require_kubectl`] let a test skip (or, with `ZT_REQUIRE_PEERS=1`, fail) without it.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::process::{GroupChild, wait_until};

/// The path `run` asks for; the server answers any path alike.
pub const CHECK_PATH: &str = "/zt-check";
/// The exec-credential API version kubectl is configured with and expects back.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1";
/// How long one kubectl run (including its exec plugin) may take.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a `kubectl` that runs is on `$PATH`.
pub fn kubectl_available() -> bool {
    super::find_in_path("kubectl").is_some()
        && Command::new("kubectl")
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}

/// `true` if kubectl is here for the test to go on; otherwise prints `SKIPPED <test>: ...`
/// and returns `false`. Unlike [`require_peers`](super::require_peers), even with
/// `ZT_REQUIRE_PEERS=1`: kubectl is no Debian package this project can install (Debian's
/// `kubernetes-client` predates `client.authentication.k8s.io/v1`), so CI runs the check where
/// the machine has kubectl, and the skip is listed at the end of `tests/run`.
pub fn require_kubectl() -> bool {
    if kubectl_available() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    let why = "kubectl not found in PATH (https://kubernetes.io/docs/tasks/tools/)";
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// The `ExecCredential` a plugin prints for `token`, expiring at `expiration_unix`: what
/// `zt token --format kubectl` must print.
pub fn exec_credential(token: &str, expiration_unix: u64) -> Value {
    json!({
        "apiVersion": EXEC_API_VERSION,
        "kind": "ExecCredential",
        "status": {
            "token": token,
            "expirationTimestamp": zt_core::time::rfc3339(expiration_unix),
        },
    })
}

/// A fake Kubernetes API server over TLS on 127.0.0.1. Dropping it stops the server.
pub struct KubeCheck {
    server: String,
    ca_pem: String,
    seen: Arc<Mutex<Vec<String>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl KubeCheck {
    pub fn start() -> KubeCheck {
        let (ca_pem, cert_der, key_der) = certificates();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.into()], key_der)
        .expect("a server certificate");
        let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let server = format!("https://{}", listener.local_addr().expect("local address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(any).with_state(seen.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        crate::http::run_in_background(move || async move {
            let server = axum_server::from_tcp_rustls(listener, config)
                .expect("serve TLS")
                .serve(app.into_make_service());
            tokio::select! {
                _ = server => {}
                _ = rx => {}
            }
        });
        KubeCheck {
            server,
            ca_pem,
            seen,
            _shutdown: tx,
        }
    }

    /// `https://127.0.0.1:PORT`, the cluster's `server`.
    pub fn server_url(&self) -> String {
        self.server.clone()
    }

    /// A kubeconfig (JSON, which kubectl reads as YAML) for this server whose user runs
    /// `command args...` with `env` added to kubectl's environment as an exec plugin,
    /// never interactively, without cluster info.
    pub fn kubeconfig(&self, command: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
        let env: Vec<Value> = env
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "zt-check",
                "cluster": {
                    "server": self.server,
                    "certificate-authority-data": STANDARD.encode(&self.ca_pem),
                },
            }],
            "users": [{
                "name": "zt",
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": command,
                        "args": args,
                        "env": env,
                        "interactiveMode": "Never",
                        "provideClusterInfo": false,
                    },
                },
            }],
            "contexts": [{ "name": "zt-check", "context": { "cluster": "zt-check", "user": "zt" } }],
            "current-context": "zt-check",
        })
    }

    /// Writes [`kubeconfig`](Self::kubeconfig) to a private file, runs `kubectl
    /// --kubeconfig FILE get --raw /zt-check` (30 s at most), and returns the
    /// `Authorization` header of each `/zt-check` request the server saw during the run
    /// (`""` for a request without one), or kubectl's stderr if it failed.
    ///
    /// Other requests are answered but not returned: Google Cloud SDK's `kubectl` is a
    /// dispatcher that first asks `GET /version` (running the exec plugin itself) to pick a
    /// versioned kubectl, which then runs the plugin again. So the plugin may run more
    /// than once per `run` (its stderr, which kubectl passes through, shows twice too): a
    /// test that counts the plugin's runs must allow for that.
    pub fn run(
        &self,
        command: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Vec<String>, String> {
        let dir = super::tempdir();
        let kubeconfig = dir.path().join("kubeconfig");
        write_private(
            &kubeconfig,
            &self.kubeconfig(command, args, env).to_string(),
        );
        let stdout_path = dir.path().join("stdout");
        let stderr_path = dir.path().join("stderr");
        self.seen.lock().expect("seen").clear();

        let mut kubectl = Command::new("kubectl");
        kubectl
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["--request-timeout", "20s", "get", "--raw", CHECK_PATH])
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
        // A process group, so a hung plugin dies with kubectl on timeout.
        let mut child =
            GroupChild::spawn(kubectl).map_err(|e| format!("cannot run kubectl: {e}"))?;
        let mut status = None;
        let finished = wait_until(KUBECTL_TIMEOUT, || {
            status = child.try_exited();
            status.is_some()
        });
        if !finished {
            child.kill();
        }
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let seen = std::mem::take(&mut *self.seen.lock().expect("seen"));
        match status {
            None => Err(format!(
                "kubectl did not finish within {KUBECTL_TIMEOUT:?}: {stderr}"
            )),
            Some(status) if !status.success() => Err(stderr),
            Some(_) if !stdout.contains("\"zt-check\"") => Err(format!(
                "kubectl succeeded but printed {stdout:?}; stderr: {stderr}"
            )),
            Some(_) => Ok(seen),
        }
    }
}

fn write_private(path: &PathBuf, contents: &str) {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The check server's CA (PEM), certificate (DER) and key (see [`super::tls`]).
fn certificates() -> (String, Vec<u8>, rustls::pki_types::PrivateKeyDer<'static>) {
    let made = super::tls::localhost_certificates("zt kubectl check CA");
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_der.into());
    (made.ca_pem, made.cert_der, key_der)
}

/// Every request: a bearer gets a version object at `/version` and the check object
/// elsewhere, anything else a 401 `Status` as the API server sends it (client-go then
/// reruns the plugin once). Only requests for [`CHECK_PATH`] are recorded: a kubectl
/// wrapper may ask for `/version` first (see [`KubeCheck::run`]).
async fn any(
    State(seen): State<Arc<Mutex<Vec<String>>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let bearer = authorization.starts_with("Bearer ") && authorization.len() > "Bearer ".len();
    if uri.path() == CHECK_PATH {
        seen.lock().expect("seen").push(authorization);
    }
    if bearer && uri.path() == "/version" {
        return axum::Json(json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.4",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-04-22T00:00:00Z", "goVersion": "go1.23.6", "compiler": "gc",
            "platform": "linux/amd64",
        }))
        .into_response();
    }
    if bearer {
        return axum::Json(json!({ "zt-check": "ok", "path": uri.path() })).into_response();
    }
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    });
    (StatusCode::UNAUTHORIZED, axum::Json(status)).into_response()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A plugin script printing `output` (the token comes from `$ZT_TEST_TOKEN`).
    fn plugin(dir: &Path, name: &str, output: &str) -> PathBuf {
        let path = dir.join(name);
        let script =
            format!("#!/bin/sh\ncat <<'EOF' | sed \"s/@TOKEN@/$ZT_TEST_TOKEN/\"\n{output}\nEOF\n");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn kubectl_sends_the_token_of_a_valid_exec_credential() {
        if !require_kubectl() {
            return;
        }
        let check = KubeCheck::start();
        let dir = crate::tempdir();
        let credential = exec_credential("@TOKEN@", zt_os::clock::unix_now() + 300);
        let script = plugin(dir.path(), "good.sh", &credential.to_string());
        let seen = check
            .run(&script, &[], &[("ZT_TEST_TOKEN", "tok-123")])
            .unwrap();
        assert_eq!(seen, ["Bearer tok-123"]);
    }

    #[test]
    fn kubectl_refuses_invalid_exec_credentials() {
        if !require_kubectl() {
            return;
        }
        let check = KubeCheck::start();
        let dir = crate::tempdir();
        let mut wrong = exec_credential("tok", zt_os::clock::unix_now() + 300);
        wrong["apiVersion"] = "client.authentication.k8s.io/v1beta1".into();
        let script = plugin(dir.path(), "wrong.sh", &wrong.to_string());
        let stderr = check.run(&script, &[], &[]).unwrap_err();
        assert!(
            stderr.contains("plugin returned version client.authentication.k8s.io/v1beta1"),
            "{stderr}"
        );

        let no_status = json!({ "apiVersion": EXEC_API_VERSION, "kind": "ExecCredential" });
        let script = plugin(dir.path(), "no-status.sh", &no_status.to_string());
        let stderr = check.run(&script, &[], &[]).unwrap_err();
        assert!(
            stderr.contains("exec plugin didn't return a status field"),
            "{stderr}"
        );

        let empty = exec_credential("", zt_os::clock::unix_now() + 300);
        let script = plugin(dir.path(), "empty.sh", &empty.to_string());
        let stderr = check.run(&script, &[], &[]).unwrap_err();
        assert!(
            stderr.contains("exec plugin didn't return a token"),
            "{stderr}"
        );

        let script = plugin(dir.path(), "garbage.sh", "not json");
        let stderr = check.run(&script, &[], &[]).unwrap_err();
        assert!(stderr.contains("decoding stdout"), "{stderr}");
    }
}
