//! Workload identity for `--ci`: where a CI job's short-lived OIDC token comes from, and
//! fetching it. No secret of zt's is stored anywhere: the job proves who it is with a token its
//! platform issues, and the broker exchanges that token like an ID token.
//!
//! [`detect`] is pure (options and an environment lookup in, a [`Source`] out); [`fetch`] does
//! the I/O. Sources, detected in this order unless `--ci-source` names one:
//!
//! 1. GitHub Actions OIDC: `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//!    (GitHub sets both only for workflows with `permissions: id-token: write`).
//! 2. A GitLab CI `id_tokens` variable: `--id-token-env NAME`, or `ZT_ID_TOKEN` when `GITLAB_CI`
//!    is set (`id_tokens: ZT_ID_TOKEN: aud: <broker audience>`).
//! 3. A token file: `--id-token-file PATH`, `ZT_ID_TOKEN_FILE`, or the Kubernetes projected
//!    service-account token at [`KUBERNETES_TOKEN_PATH`] when it exists.
//! 4. OAuth 2.0 client credentials: `ZT_CLIENT_ID` with `ZT_CLIENT_SECRET` or
//!    `ZT_CLIENT_SECRET_FILE`, at `ZT_CLIENT_ISSUER` or else the broker's identity provider.
//!
//! An empty variable counts as unset (shells and CI systems export empty values).

use std::path::{Path, PathBuf};

use zt_core::text::Printable;

use super::error::{Error, IdpOperation};

mod fetch;
#[cfg(test)]
mod tests;

pub use fetch::{fetch, is_jwt};

/// Where a Kubernetes pod mounts the projected service-account token meant for zt (a
/// `serviceAccountToken` projection with the broker's audience, path `zt-token`, in a volume
/// mounted at `/var/run/secrets/tokens`).
pub const KUBERNETES_TOKEN_PATH: &str = "/var/run/secrets/tokens/zt-token";
/// The GitLab CI `id_tokens` variable zt reads unless `--id-token-env` names another.
pub const DEFAULT_TOKEN_VARIABLE: &str = "ZT_ID_TOKEN";

const GITHUB_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
const GITHUB_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
const TOKEN_FILE: &str = "ZT_ID_TOKEN_FILE";
const CLIENT_ID: &str = "ZT_CLIENT_ID";
const CLIENT_SECRET: &str = "ZT_CLIENT_SECRET";
const CLIENT_SECRET_FILE: &str = "ZT_CLIENT_SECRET_FILE";
const CLIENT_ISSUER: &str = "ZT_CLIENT_ISSUER";
const CLIENT_SCOPE: &str = "ZT_CLIENT_SCOPE";

const SEE_README: &str = "see \"CI and workload identity\" in the README";
/// A JWT from a CI platform is a few KiB; anything much larger is not one.
const MAX_TOKEN: usize = 16 * 1024;
const MAX_SECRET: usize = 4 * 1024;
/// For every answer read here: a token response or a discovery document, never more.
const MAX_BODY: usize = 64 * 1024;
const CLIENT_CREDENTIALS_GRANT: IdpOperation = IdpOperation::ClientCredentials;

/// What `--ci-source` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    GithubActions,
    Gitlab,
    File,
    ClientCredentials,
}

impl SourceKind {
    /// The `--ci-source` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::GithubActions => "github-actions",
            SourceKind::Gitlab => "gitlab",
            SourceKind::File => "file",
            SourceKind::ClientCredentials => "client-credentials",
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `--ci` flags that choose a source.
#[derive(Debug, Clone, Default)]
pub struct CiOptions {
    /// `--ci-source`: this source only, no detection.
    pub source: Option<SourceKind>,
    /// `--id-token-env NAME`: the variable holding the token (GitLab CI `id_tokens`).
    pub id_token_env: Option<String>,
    /// `--id-token-file PATH`.
    pub id_token_file: Option<PathBuf>,
}

/// A credential that must not reach a log: `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the client secret of the client credentials grant is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSecret {
    /// `ZT_CLIENT_SECRET`.
    Value(Secret),
    /// `ZT_CLIENT_SECRET_FILE`, read when the token is fetched.
    File(PathBuf),
}

/// A detected source, with everything [`fetch`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    GithubActions {
        request_url: String,
        request_token: Secret,
    },
    /// A variable that holds the token itself (GitLab CI `id_tokens`).
    EnvVar {
        name: String,
        token: Secret,
    },
    File(PathBuf),
    ClientCredentials {
        issuer: String,
        client_id: String,
        secret: ClientSecret,
        /// `ZT_CLIENT_SCOPE`, for providers that want a `scope` with the grant.
        scope: Option<String>,
    },
}

impl Source {
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::GithubActions { .. } => SourceKind::GithubActions,
            Source::EnvVar { .. } => SourceKind::Gitlab,
            Source::File(_) => SourceKind::File,
            Source::ClientCredentials { .. } => SourceKind::ClientCredentials,
        }
    }

    /// In human terms, for messages: partly outside text, so print it through `Printable`.
    pub fn describe(&self) -> String {
        match self {
            Source::GithubActions { .. } => "GitHub Actions OIDC".into(),
            Source::EnvVar { name, .. } => format!("GitLab CI id_token {name}"),
            Source::File(path) => format!("file {}", path.display()),
            Source::ClientCredentials {
                issuer, client_id, ..
            } => format!("client credentials for {client_id} at {issuer}"),
        }
    }
}

/// A workload token, as the source gave it (the broker verifies it).
#[derive(Clone)]
pub struct WorkloadToken {
    pub token: String,
    pub source: SourceKind,
}

impl std::fmt::Debug for WorkloadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadToken")
            .field("token", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// The process environment, for [`detect`] and [`is_ci_environment`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Whether zt runs as a workload, so that a command without a session takes the `--ci` path
/// on its own: `CI` set to anything but `false`/`0` (GitHub, GitLab, CircleCI, Travis,
/// Buildkite, Bitbucket set `CI=true`), or `GITHUB_ACTIONS`, `GITLAB_CI`, `TF_BUILD` (Azure
/// Pipelines), `JENKINS_URL`, or `ZT_ID_TOKEN_FILE` / `ZT_CLIENT_ID` (zt's own CI inputs), or
/// the Kubernetes token file exists. A pod alone (`KUBERNETES_SERVICE_HOST`) is not enough: a
/// person in `kubectl exec` should be told to log in, not that no workload token was found.
pub fn is_ci_environment(
    env: &dyn Fn(&str) -> Option<String>,
    kubernetes_token_path: &Path,
) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let ci = env("CI").is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"));
    ci || [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "TF_BUILD",
        "JENKINS_URL",
        TOKEN_FILE,
        CLIENT_ID,
    ]
    .into_iter()
    .any(set)
        || kubernetes_token_path.exists()
}

/// The source `options` select, or the first one detected in the environment. Pure but for
/// one `exists` on `kubernetes_token_path`. `default_issuer` (the broker's identity provider)
/// serves client credentials when `ZT_CLIENT_ISSUER` is not set. Every refusal is
/// [`Error::Config`] and names what is missing.
pub fn detect(
    options: &CiOptions,
    env: &dyn Fn(&str) -> Option<String>,
    kubernetes_token_path: &Path,
    default_issuer: &str,
) -> Result<Source, Error> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let only_for = |flag: &str, kind: SourceKind| {
        Error::config_with_hint(
            format!("{flag} applies only to --ci-source {kind}"),
            format!("drop {flag}, or use --ci-source {kind}"),
        )
    };
    let kind = match (
        options.source,
        &options.id_token_env,
        &options.id_token_file,
    ) {
        (_, Some(_), Some(_)) => {
            return Err(Error::config_with_hint(
                "--id-token-env and --id-token-file name two different tokens",
                "give one of them",
            ));
        }
        (Some(kind), Some(_), None) if kind != SourceKind::Gitlab => {
            return Err(only_for("--id-token-env", SourceKind::Gitlab));
        }
        (Some(kind), None, Some(_)) if kind != SourceKind::File => {
            return Err(only_for("--id-token-file", SourceKind::File));
        }
        (Some(kind), _, _) => kind,
        (None, Some(_), None) => SourceKind::Gitlab,
        (None, None, Some(_)) => SourceKind::File,
        (None, None, None) => {
            return auto(&env, kubernetes_token_path, default_issuer);
        }
    };
    match kind {
        SourceKind::GithubActions => github_actions(&env).ok_or_else(|| {
            let missing: Vec<&str> = [GITHUB_URL, GITHUB_TOKEN]
                .into_iter()
                .filter(|name| env(name).is_none())
                .collect();
            Error::config_with_hint(
                format!(
                    "--ci-source github-actions: {} not set",
                    missing_list(&missing)
                ),
                "GitHub sets them only in jobs whose workflow has `permissions: id-token: write`",
            )
        }),
        SourceKind::Gitlab => {
            let name = options
                .id_token_env
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_VARIABLE.into());
            match env(&name) {
                Some(token) => Ok(env_var(name, token)),
                None => Err(Error::config_with_hint(
                    match &options.id_token_env {
                        Some(_) => format!(
                            "{} (named by --id-token-env) is not set or empty",
                            Printable(&name)
                        ),
                        None => format!("--ci-source gitlab: {name} is not set or empty"),
                    },
                    format!(
                        "declare it in the job of .gitlab-ci.yml: `id_tokens: {}: aud: <the broker's audience>`",
                        Printable(&name)
                    ),
                )),
            }
        }
        SourceKind::File => token_file(options, &env, kubernetes_token_path).ok_or_else(|| {
            Error::config_with_hint(
                format!(
                    "--ci-source file: no token file: --id-token-file and {TOKEN_FILE} are not set, and {} does not exist",
                    kubernetes_token_path.display()
                ),
                format!(
                    "pass --id-token-file PATH, set {TOKEN_FILE}, or mount a projected service-account token with the broker's audience at {}",
                    kubernetes_token_path.display()
                ),
            )
        }),
        SourceKind::ClientCredentials => client_credentials(&env, default_issuer)?.ok_or_else(|| {
            Error::config_with_hint(
                format!("--ci-source client-credentials: {CLIENT_ID} is not set"),
                format!("set {CLIENT_ID}, and {CLIENT_SECRET} or {CLIENT_SECRET_FILE}"),
            )
        }),
    }
}

/// The first source found, in the documented order.
fn auto(
    env: &dyn Fn(&str) -> Option<String>,
    kubernetes_token_path: &Path,
    default_issuer: &str,
) -> Result<Source, Error> {
    if let Some(source) = github_actions(env) {
        return Ok(source);
    }
    if env("GITLAB_CI").is_some() {
        if let Some(token) = env(DEFAULT_TOKEN_VARIABLE) {
            return Ok(env_var(DEFAULT_TOKEN_VARIABLE.into(), token));
        }
    }
    if let Some(source) = token_file(&CiOptions::default(), env, kubernetes_token_path) {
        return Ok(source);
    }
    if let Some(source) = client_credentials(env, default_issuer)? {
        return Ok(source);
    }
    Err(nothing_detected(env, kubernetes_token_path))
}

fn github_actions(env: &dyn Fn(&str) -> Option<String>) -> Option<Source> {
    Some(Source::GithubActions {
        request_url: env(GITHUB_URL)?,
        request_token: Secret(env(GITHUB_TOKEN)?),
    })
}

fn env_var(name: String, token: String) -> Source {
    Source::EnvVar {
        name,
        token: Secret(token),
    }
}

fn token_file(
    options: &CiOptions,
    env: &dyn Fn(&str) -> Option<String>,
    kubernetes_token_path: &Path,
) -> Option<Source> {
    let path = options
        .id_token_file
        .clone()
        .or_else(|| env(TOKEN_FILE).map(PathBuf::from))
        .or_else(|| {
            // Exists, not "is a file": something else there is refused by name, not skipped.
            kubernetes_token_path
                .exists()
                .then(|| kubernetes_token_path.to_owned())
        })?;
    Some(Source::File(path))
}

/// `None` when none of the client variables is set; a half-done setup is an error.
fn client_credentials(
    env: &dyn Fn(&str) -> Option<String>,
    default_issuer: &str,
) -> Result<Option<Source>, Error> {
    let secret = match (env(CLIENT_SECRET), env(CLIENT_SECRET_FILE)) {
        (Some(_), Some(_)) => {
            return Err(Error::config_with_hint(
                format!("both {CLIENT_SECRET} and {CLIENT_SECRET_FILE} are set"),
                "unset one of them",
            ));
        }
        (Some(value), None) => Some(ClientSecret::Value(Secret(value))),
        (None, Some(path)) => Some(ClientSecret::File(path.into())),
        (None, None) => None,
    };
    let (client_id, secret) = match (env(CLIENT_ID), secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        (None, Some(_)) => {
            return Err(Error::config_with_hint(
                format!("a client secret is set but {CLIENT_ID} is not"),
                format!("set {CLIENT_ID} to the client the secret belongs to"),
            ));
        }
        (Some(_), None) => {
            return Err(Error::config_with_hint(
                format!("{CLIENT_ID} is set but neither {CLIENT_SECRET} nor {CLIENT_SECRET_FILE}"),
                format!(
                    "set {CLIENT_SECRET_FILE} to a file only you can read (zt never takes a secret from the command line)"
                ),
            ));
        }
    };
    let issuer = match env(CLIENT_ISSUER) {
        Some(issuer) => {
            super::http::check_url(CLIENT_ISSUER, &issuer)?;
            issuer
        }
        None if default_issuer.is_empty() => {
            return Err(Error::config_with_hint(
                format!("{CLIENT_ISSUER} is not set and the broker names no identity provider"),
                format!("set {CLIENT_ISSUER} to the OpenID issuer that knows {CLIENT_ID}"),
            ));
        }
        None => {
            super::http::check_url("the broker's identity provider issuer", default_issuer)?;
            default_issuer.to_owned()
        }
    };
    Ok(Some(Source::ClientCredentials {
        issuer,
        client_id,
        secret,
        scope: env(CLIENT_SCOPE),
    }))
}

fn missing_list(names: &[&str]) -> String {
    match names {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(" and ")),
    }
}

/// Every source and what it needs, and a hint for the platform zt seems to run on.
fn nothing_detected(env: &dyn Fn(&str) -> Option<String>, kubernetes_token_path: &Path) -> Error {
    let message = format!(
        "no workload identity found for --ci; zt looks for, in this order:\n  \
         github-actions: {GITHUB_URL} and {GITHUB_TOKEN}\n  \
         gitlab: GITLAB_CI and {DEFAULT_TOKEN_VARIABLE}, or the variable named by --id-token-env\n  \
         file: --id-token-file, {TOKEN_FILE}, or {}\n  \
         client-credentials: {CLIENT_ID} and {CLIENT_SECRET} or {CLIENT_SECRET_FILE} (issuer: {CLIENT_ISSUER} or the broker's identity provider)",
        kubernetes_token_path.display()
    );
    let platform = if env("GITHUB_ACTIONS").is_some() {
        "this is a GitHub Actions job: add `permissions: id-token: write` to the workflow".into()
    } else if env("GITLAB_CI").is_some() {
        format!(
            "this is a GitLab CI job: add `id_tokens: {DEFAULT_TOKEN_VARIABLE}: aud: <the broker's audience>` to it"
        )
    } else if env("KUBERNETES_SERVICE_HOST").is_some() {
        format!(
            "in Kubernetes, mount a projected service-account token with the broker's audience at {}",
            kubernetes_token_path.display()
        )
    } else {
        "set up one of them, or run `zt login` without --ci to sign in as a person".into()
    };
    Error::config_with_hint(message, format!("{platform}; {SEE_README}"))
}
