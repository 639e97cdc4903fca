//! The test IdP: panva's `oidc-provider` (tests/idp/server.mjs) on 127.0.0.1, started
//! per test, driven over HTTP as a browser and a device would drive it.

mod browser;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use self::browser::Browser;
use super::http::{self, JsonResponse};
use super::process::GroupChild;

/// The directory of the test IdP (package.json, package-lock.json, server.mjs).
pub const IDP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/idp");

/// The IdP's interactive client: public, native, device flow and refresh tokens.
pub const CLIENT_ID: &str = "zt";

/// The confidential CI client of server.mjs: `client_credentials` only, authenticated with
/// [`CI_CLIENT_SECRET`] (HTTP Basic; oidc-provider accepts the same secret in the form body).
pub const CI_CLIENT_ID: &str = "zt-ci";
/// [`CI_CLIENT_ID`]'s secret: public, like the test accounts' passwords.
pub const CI_CLIENT_SECRET: &str = "zt-ci-secret-for-tests-only";
/// The resource indicator `zt-ci` may ask for unless [`IdpOptions::ci_resource`] says
/// otherwise; a token for it is an RFC 9068 JWT (`typ: at+jwt`) with this `aud`.
pub const DEFAULT_CI_RESOURCE: &str = "urn:zt:broker";

/// Every scope the client may ask for.
pub const ALL_SCOPES: &str = "openid email profile groups offline_access";

/// The device-code grant type of RFC 8628.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The test accounts of server.mjs: (username, password).
pub const ALICE: (&str, &str) = ("alice", "alice-pw");
pub const BOB: (&str, &str) = ("bob", "bob-pw");
pub const CAROL: (&str, &str) = ("carol", "carol-pw");
/// Hostile claims (newlines, a forged output line, terminal escapes, bidi overrides): see
/// server.mjs. Member of `sre`, so the e2e policy grants mallory what it grants alice.
pub const MALLORY: (&str, &str) = ("mallory", "mallory-pw");

/// How long node may take to print its ready line before the start is retried.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings passed to server.mjs as environment variables; `None` keeps its default.
#[derive(Debug, Clone, Default)]
pub struct IdpOptions {
    /// `IDP_DEVICE_CODE_TTL` (default 600 s).
    pub device_code_ttl_secs: Option<u64>,
    /// `IDP_ACCESS_TOKEN_TTL` (default 3600 s).
    pub access_token_ttl_secs: Option<u64>,
    /// `IDP_ID_TOKEN_TTL` (default 3600 s).
    pub id_token_ttl_secs: Option<u64>,
    /// `IDP_CI_RESOURCE`: the one resource `zt-ci` may get a JWT access token for
    /// (default [`DEFAULT_CI_RESOURCE`]).
    pub ci_resource: Option<String>,
}

/// A running test IdP. Dropping it kills the node process group.
pub struct TestIdp {
    /// `http://127.0.0.1:PORT`, the issuer and base URL.
    pub issuer: String,
    child: GroupChild,
    log_dir: tempfile::TempDir,
}

/// Makes sure `tests/idp/node_modules` exists, running `npm ci` at most once per process.
///
/// Concurrent test processes do not race: `npm ci` runs in a private staging directory
/// whose `node_modules` is then renamed into place, and rename is atomic; the loser of a
/// race just discards its copy.
pub fn ensure_node_modules() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(install_node_modules).clone()
}

fn install_node_modules() -> Result<(), String> {
    let target = Path::new(IDP_DIR).join("node_modules");
    if is_installed(&target) {
        return Ok(());
    }
    let staging = tempfile::Builder::new()
        .prefix(".npm-staging-")
        .tempdir_in(IDP_DIR)
        .map_err(|e| format!("cannot create a staging directory in {IDP_DIR}: {e}"))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(Path::new(IDP_DIR).join(file), staging.path().join(file))
            .map_err(|e| format!("cannot copy {file} to {}: {e}", staging.path().display()))?;
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(staging.path())
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`npm ci` in {IDP_DIR} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    match std::fs::rename(staging.path().join("node_modules"), &target) {
        Ok(()) => Ok(()),
        // Another test process installed it first.
        Err(_) if is_installed(&target) => Ok(()),
        Err(e) => Err(format!("cannot move node_modules into {IDP_DIR}: {e}")),
    }
}

fn is_installed(node_modules: &Path) -> bool {
    node_modules.join("oidc-provider/package.json").is_file()
}

impl TestIdp {
    /// Starts server.mjs on a free port and waits for its ready line. A start that hangs
    /// (Node 20 can deadlock exporting a fresh key during start-up) is retried once.
    pub fn start(options: IdpOptions) -> TestIdp {
        if let Err(why) = ensure_node_modules() {
            panic!("test IdP cannot start: {why}");
        }
        match TestIdp::try_start(&options) {
            Ok(idp) => idp,
            Err(first) => {
                eprintln!("test IdP start failed, retrying once: {first}");
                TestIdp::try_start(&options)
                    .unwrap_or_else(|second| panic!("test IdP did not start twice: {second}"))
            }
        }
    }

    fn try_start(options: &IdpOptions) -> Result<TestIdp, String> {
        let log_dir = super::tempdir();
        let log_path = log_dir.path().join("idp.log");
        let log = File::create(&log_path).map_err(|e| format!("create {log_path:?}: {e}"))?;

        let mut command = Command::new("node");
        command
            .arg(Path::new(IDP_DIR).join("server.mjs"))
            .current_dir(IDP_DIR)
            .env("IDP_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let settings = [
            ("IDP_DEVICE_CODE_TTL", options.device_code_ttl_secs),
            ("IDP_ACCESS_TOKEN_TTL", options.access_token_ttl_secs),
            ("IDP_ID_TOKEN_TTL", options.id_token_ttl_secs),
        ];
        for (name, value) in settings {
            if let Some(value) = value {
                command.env(name, value.to_string());
            }
        }
        if let Some(resource) = &options.ci_resource {
            command.env("IDP_CI_RESOURCE", resource);
        }
        let mut child = GroupChild::spawn(command).map_err(|e| format!("spawn node: {e}"))?;

        // Read stdout on a thread so the wait can time out; the thread keeps draining
        // stdout until node exits so node never blocks on a full pipe.
        let stdout = child.stdout().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("IDP_READY ") {
                    let _ = ready_tx.send(issuer.trim().to_owned());
                }
            }
        });
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(issuer) => Ok(TestIdp {
                issuer,
                child,
                log_dir,
            }),
            Err(_) => {
                child.kill();
                Err(format!(
                    "no IDP_READY line within {READY_TIMEOUT:?}; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                ))
            }
        }
    }

    /// `issuer` + `path`, e.g. `idp.url("/token")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The IdP's stderr so far (oidc-provider notices and errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.log_dir.path().join("idp.log")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    // --- raw protocol calls, as a device (the `zt` CLI) makes them -----------------

    /// RFC 8628 device authorization request for client `zt`.
    pub fn device_authorization(&self, scope: &str) -> JsonResponse {
        http::post_form(
            &self.url("/device/auth"),
            &[("client_id", CLIENT_ID), ("scope", scope)],
        )
    }

    /// One token-endpoint poll with `device_code`.
    pub fn poll_device_code(&self, device_code: &str) -> JsonResponse {
        http::post_form(
            &self.url("/token"),
            &[
                ("client_id", CLIENT_ID),
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", device_code),
            ],
        )
    }

    /// A refresh-token grant.
    pub fn refresh(&self, refresh_token: &str) -> JsonResponse {
        http::post_form(
            &self.url("/token"),
            &[
                ("client_id", CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    /// A client-credentials grant for `zt-ci` (HTTP Basic authentication), naming
    /// `resource` when given: for the configured CI resource the answer's `access_token`
    /// is a JWT, for another resource `invalid_target`, for none an opaque token.
    pub fn client_credentials(&self, resource: Option<&str>) -> JsonResponse {
        let url = self.url("/token");
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(resource.map(|resource| ("resource", resource)));
        http::block_on(async {
            let response = http::client()
                .post(&url)
                .basic_auth(CI_CLIENT_ID, Some(CI_CLIENT_SECRET))
                .form(&form)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            http::into_json(response).await
        })
    }

    // --- the user's side, through the real pages -----------------------------------

    /// Enters `user_code` at `/device`, confirms, signs in and consents. Panics on failure.
    pub fn approve(&self, user_code: &str, username: &str, password: &str) {
        if let Err(why) = self.try_approve(user_code, username, password) {
            panic!("approving {user_code} as {username} failed: {why}");
        }
    }

    /// Like [`approve`](Self::approve), returning what went wrong (e.g. a wrong password
    /// gives ``expected page `device-success`, got `login` with error `invalid_credentials` ``).
    pub fn try_approve(
        &self,
        user_code: &str,
        username: &str,
        password: &str,
    ) -> Result<(), String> {
        let base = self.issuer.clone();
        let (user_code, username, password) = (
            user_code.to_owned(),
            username.to_owned(),
            password.to_owned(),
        );
        http::block_on(async move {
            let browser = Browser::new();
            let page = browser.get(&format!("{base}/device")).await?;
            let page = page.expect("device-input")?;
            let page = browser
                .submit(page, "user-code", &[("user_code", &user_code)])
                .await?;
            let page = browser
                .submit(page.expect("device-confirm")?, "confirm", &[])
                .await?;
            let page = browser
                .submit(
                    page.expect("login")?,
                    "login",
                    &[("username", &username), ("password", &password)],
                )
                .await?;
            // A grant that already covers the scopes skips the consent page.
            let page = if page.name == "consent" {
                browser.submit(&page, "confirm", &[]).await?
            } else {
                page
            };
            page.expect("device-success").map(|_| ())
        })
    }

    /// Enters `user_code` at `/device` and aborts on the confirmation page: the device
    /// code then answers `access_denied`. Panics on failure.
    pub fn deny(&self, user_code: &str) {
        if let Err(why) = self.try_deny(user_code) {
            panic!("denying {user_code} failed: {why}");
        }
    }

    pub fn try_deny(&self, user_code: &str) -> Result<(), String> {
        let base = self.issuer.clone();
        let user_code = user_code.to_owned();
        http::block_on(async move {
            let browser = Browser::new();
            let page = browser.get(&format!("{base}/device")).await?;
            let page = browser
                .submit(
                    page.expect("device-input")?,
                    "user-code",
                    &[("user_code", &user_code)],
                )
                .await?;
            let page = browser
                .submit(page.expect("device-confirm")?, "abort", &[])
                .await?;
            match (page.name.as_str(), page.error.as_deref()) {
                ("device-input", Some("aborted")) => Ok(()),
                _ => Err(page.expect("device-input (aborted)").unwrap_err()),
            }
        })
    }

    // --- test hooks of server.mjs ---------------------------------------------------

    /// Makes the next token poll for `user_code`'s device code answer `slow_down`.
    pub fn force_slow_down(&self, user_code: &str) {
        let response = http::post_json(
            &self.url("/__test/slow_down"),
            &json!({ "user_code": user_code }),
        );
        assert_eq!(
            response.status, 204,
            "force_slow_down({user_code}): {response:?}"
        );
    }

    /// Epoch milliseconds of every token poll for `user_code`'s device code so far.
    pub fn polls(&self, user_code: &str) -> Vec<u64> {
        let mut url = url::Url::parse(&self.url("/__test/polls")).expect("valid URL");
        url.query_pairs_mut().append_pair("user_code", user_code);
        let response = http::get_json(url.as_str());
        assert_eq!(response.status, 200, "polls({user_code}): {response:?}");
        response
            .body
            .as_array()
            .map(|times| times.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_else(|| panic!("polls({user_code}): not a list: {}", response.body))
    }
}
