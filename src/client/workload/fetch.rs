//! Fetching a workload token from the source [`super::detect`] found: GitHub Actions' token
//! endpoint, a variable, a file, or an OAuth client credentials grant. Every answer is read
//! bounded, every refusal names what to fix, and no secret reaches a message.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use zt_core::text::Printable;

use super::{
    CLIENT_CREDENTIALS_GRANT, CLIENT_ID, CLIENT_ISSUER, CLIENT_SECRET_FILE, ClientSecret,
    GITHUB_URL, MAX_BODY, MAX_SECRET, MAX_TOKEN, SEE_README, Secret, Source, TOKEN_FILE,
    WorkloadToken,
};
use crate::client::error::{Error, IdpRefusal, OAuthError, Peer};

/// A token for `audience` from `source`: GitHub Actions is asked for that audience, client
/// credentials send it as `resource` (RFC 8707); a variable or a file holds the token as the
/// platform minted it, and the broker checks its `aud`.
pub async fn fetch(
    http: &reqwest::Client,
    source: &Source,
    audience: &str,
) -> Result<WorkloadToken, Error> {
    let token = match source {
        Source::GithubActions {
            request_url,
            request_token,
        } => fetch_github_actions(http, request_url, request_token, audience).await?,
        Source::EnvVar { name, token } => {
            let token = token.expose().trim();
            if !is_jwt(token) {
                return Err(Error::config_with_hint(
                    format!("{} does not hold a JWT", Printable(name)),
                    format!(
                        "declare it under `id_tokens:` in .gitlab-ci.yml (with `aud:`), not under `variables:`; {SEE_README}"
                    ),
                ));
            }
            token.to_owned()
        }
        Source::File(path) => read_token_file(path)?,
        Source::ClientCredentials {
            issuer,
            client_id,
            secret,
            scope,
        } => {
            let secret = match secret {
                ClientSecret::Value(secret) => secret.clone(),
                ClientSecret::File(path) => read_client_secret(path)?,
            };
            let endpoint = token_endpoint(http, issuer).await?;
            let grant = Grant {
                client_id,
                secret: &secret,
                scope: scope.as_deref(),
                audience,
            };
            fetch_client_credentials(http, &endpoint, &grant).await?
        }
    };
    Ok(WorkloadToken {
        token,
        source: source.kind(),
    })
}

/// Whether `text` is shaped like a signed JWT: three non-empty base64url parts, at most
/// [`MAX_TOKEN`] bytes, the first a JSON object. The broker verifies the rest.
pub fn is_jwt(text: &str) -> bool {
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    text.len() <= MAX_TOKEN
        && text.split('.').count() == 3
        && text.split('.').all(base64url)
        && zt_core::jose::decode_compact_header(text).is_some()
}

async fn fetch_github_actions(
    http: &reqwest::Client,
    request_url: &str,
    request_token: &Secret,
    audience: &str,
) -> Result<String, Error> {
    const WHAT: &str = "GitHub Actions' OIDC token service";
    // The request token is a bearer credential: never over plain HTTP off this machine.
    let mut url = crate::client::http::check_url(GITHUB_URL, request_url)?;
    url.query_pairs_mut().append_pair("audience", audience);
    let response = http
        .get(url)
        .bearer_auth(request_token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(WHAT, &e))?;
    let status = response.status();
    let body = read_body(WHAT, response).await?;
    if matches!(status.as_u16(), 401 | 403) {
        return Err(Error::config_with_hint(
            format!("{WHAT} refused the token request: HTTP {status}"),
            "the job needs `permissions: id-token: write` in its workflow (pull requests from forks never get it)",
        ));
    }
    if !status.is_success() {
        return Err(refused(WHAT, status));
    }
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| Error::Protocol(format!("{WHAT} answered without a token (`value`)")))?;
    if !is_jwt(&answer.value) {
        return Err(Error::Protocol(format!(
            "{WHAT} answered with a token that is not a JWT of at most 16 KiB"
        )));
    }
    Ok(answer.value)
}

/// The issuer's `token_endpoint` (OpenID Connect Discovery 1.0 §4).
async fn token_endpoint(http: &reqwest::Client, issuer: &str) -> Result<url::Url, Error> {
    let base = crate::client::http::check_url("the client credentials issuer", issuer)?;
    let what = format!(
        "the OpenID provider {}",
        Printable(base.as_str().trim_end_matches('/'))
    );
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(&what, &e))?;
    let status = response.status();
    let body = read_body(&what, response).await?;
    let wrong_issuer = |why: String| {
        Error::config_with_hint(
            format!("{} is not an OpenID provider: {why}", Printable(issuer)),
            format!("set {CLIENT_ISSUER} to the issuer URL of the provider that knows {CLIENT_ID}"),
        )
    };
    if matches!(status.as_u16(), 429 | 500..) {
        return Err(refused(&what, status));
    }
    if !status.is_success() {
        return Err(wrong_issuer(format!(
            "GET {} answered {status}",
            Printable(&url)
        )));
    }
    #[derive(Deserialize)]
    struct Metadata {
        issuer: String,
        token_endpoint: String,
    }
    let metadata: Metadata = serde_json::from_slice(&body).map_err(|_| {
        wrong_issuer(format!(
            "GET {} answered no issuer and token_endpoint",
            Printable(&url)
        ))
    })?;
    // §4.3: the document must name the issuer it was fetched for.
    if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(wrong_issuer(format!(
            "its discovery document names the issuer {}",
            Printable(&metadata.issuer)
        )));
    }
    crate::client::http::check_url("token_endpoint", &metadata.token_endpoint)
}

/// One client credentials grant (RFC 6749 §4.4).
struct Grant<'a> {
    client_id: &'a str,
    secret: &'a Secret,
    scope: Option<&'a str>,
    audience: &'a str,
}

async fn fetch_client_credentials(
    http: &reqwest::Client,
    endpoint: &url::Url,
    grant: &Grant<'_>,
) -> Result<String, Error> {
    let what = format!("the token endpoint {}", Printable(endpoint.as_str()));
    // RFC 6749 §2.3.1: both are form-urlencoded before they are joined and base64-encoded.
    let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let (id, secret): (String, String) = (encode(grant.client_id), encode(grant.secret.expose()));
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("resource", grant.audience),
    ];
    if let Some(scope) = grant.scope {
        form.push(("scope", scope));
    }
    let response = http
        .post(endpoint.clone())
        .basic_auth(id, Some(secret))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable(&what, &e))?;
    let status = response.status();
    let body = read_body(&what, response).await?;
    if !status.is_success() {
        #[derive(Deserialize)]
        struct OAuthErrorBody {
            error: String,
            error_description: Option<String>,
        }
        return Err(match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(refusal) => IdpRefusal {
                operation: CLIENT_CREDENTIALS_GRANT,
                code: OAuthError::parse(&refusal.error),
                description: refusal.error_description.map(|d| Printable(&d).to_string()),
            }
            .into(),
            Err(_) => refused(&what, status),
        });
    }
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| Error::Protocol(format!("{what} answered without an access_token")))?;
    if !is_jwt(&answer.access_token) {
        return Err(Error::config_with_hint(
            format!(
                "{what} issued an access token that is not a JWT; the broker verifies workload tokens as JWTs"
            ),
            "configure the identity provider to issue JWT access tokens for the broker's audience (the `resource` zt sends)",
        ));
    }
    Ok(answer.access_token)
}

/// A non-success status without an OAuth error: the peer is failing or busy (exit 6), or it
/// answered something zt cannot act on.
fn refused(what: &str, status: reqwest::StatusCode) -> Error {
    if matches!(status.as_u16(), 429 | 500..) {
        Error::Unreachable {
            peer: Peer::IdentityProvider,
            detail: format!("{what} answered HTTP {status}"),
            untrusted_certificate: false,
        }
    } else {
        Error::Protocol(format!("{what} answered HTTP {status}"))
    }
}

fn unreachable(what: &str, e: &reqwest::Error) -> Error {
    let mut error = Error::unreachable(Peer::IdentityProvider, e);
    if let Error::Unreachable { detail, .. } = &mut error {
        *detail = format!("{what}: {detail}");
    }
    error
}

/// The body, refused past [`MAX_BODY`] without reading the rest.
async fn read_body(what: &str, mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let too_large = || Error::Protocol(format!("{what} answered more than 64 KiB"));
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(what, &e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A token file: a regular file (never a FIFO or a device, which could block or never end),
/// at most 16 KiB, trimmed, shaped like a JWT; on Unix owned by you or root and not writable
/// by every user. It may be readable by the group or others: Kubernetes mounts projected tokens
/// 0600, 0640 or 0644 (fsGroup), owned by root or by the pod's `runAsUser`, and the pod is the
/// boundary. Links are followed, as the kubelet's `..data` links must be.
pub(super) fn read_token_file(path: &Path) -> Result<String, Error> {
    let shown = Printable(&path.display().to_string()).to_string();
    let (bytes, metadata) = read_regular_file(path, &shown, MAX_TOKEN)?;
    check_token_owner(&shown, &metadata)?;
    let token = std::str::from_utf8(&bytes).unwrap_or_default().trim();
    if !is_jwt(token) {
        return Err(Error::config_with_hint(
            format!("token file {shown} does not hold a JWT"),
            format!("point zt at the file of an OIDC token (a JWT) for the broker; {SEE_README}"),
        ));
    }
    Ok(token.to_owned())
}

/// A token file's owner must be you or root (the kubelet's files are root's, or the pod's
/// `runAsUser`'s), and not every user may write it: anyone else could have planted the token.
#[cfg(unix)]
fn check_token_owner(shown: &str, metadata: &std::fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let (owner, mode) = (metadata.uid(), metadata.mode());
    let me = zt_os::files::current_uid();
    if owner != me && owner != 0 {
        return Err(Error::config_with_hint(
            format!(
                "token file {shown} belongs to uid {owner}, neither to you (uid {me}) nor to root"
            ),
            "another user could have planted it: use a token file that you or root own",
        ));
    }
    if mode & 0o002 != 0 {
        return Err(Error::config_with_hint(
            format!(
                "token file {shown} is writable by every user (mode {:o})",
                mode & 0o7777
            ),
            format!("anyone could have replaced the token: run `chmod o-w {shown}`"),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_token_owner(_: &str, _: &std::fs::Metadata) -> Result<(), Error> {
    Ok(())
}

/// `ZT_CLIENT_SECRET_FILE`, held to the rule of zt's secret files: yours, a regular file, not
/// a link, readable by you alone (`zt_os::files::read_secret`); then trimmed, at most 4 KiB.
fn read_client_secret(path: &Path) -> Result<Secret, Error> {
    let shown = Printable(&path.display().to_string()).to_string();
    let bytes = match zt_os::files::read_secret(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(Error::config(format!(
                "{CLIENT_SECRET_FILE} {shown} does not exist"
            )));
        }
        Err(e) => {
            return Err(Error::config_with_hint(
                format!("{CLIENT_SECRET_FILE}: {e}"),
                "the client secret file must be a regular file of yours, not a link, mode 0600",
            ));
        }
    };
    let secret = std::str::from_utf8(&bytes).unwrap_or_default().trim();
    if secret.is_empty() || bytes.len() > MAX_SECRET {
        return Err(Error::config(format!(
            "{CLIENT_SECRET_FILE} {shown} must hold one client secret (text, at most 4 KiB)"
        )));
    }
    Ok(Secret(secret.to_owned()))
}

/// At most `limit` bytes of `path` and its metadata, refusing anything but a regular file.
/// The metadata checked is the opened file's, so a file swapped in between is caught; on
/// Linux the open is non-blocking, so a FIFO swapped in cannot hang it either.
fn read_regular_file(
    path: &Path,
    shown: &str,
    limit: usize,
) -> Result<(Vec<u8>, std::fs::Metadata), Error> {
    let failed = |e: std::io::Error| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("token file {shown} does not exist")
        } else {
            format!("token file {shown}: {e}")
        };
        Error::config_with_hint(
            message,
            format!("check --id-token-file, {TOKEN_FILE} or the volume that holds the token"),
        )
    };
    let not_a_file = || {
        Error::config_with_hint(
            format!("token file {shown} is not a regular file"),
            "zt reads tokens only from regular files, never from a FIFO, a device or a directory",
        )
    };
    if !std::fs::metadata(path).map_err(failed)?.is_file() {
        return Err(not_a_file());
    }
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = open.open(path).map_err(failed)?;
    let metadata = file.metadata().map_err(failed)?;
    if !metadata.is_file() {
        return Err(not_a_file());
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() > limit {
        return Err(Error::config(format!(
            "token file {shown} is larger than {} KiB; it does not hold one token",
            limit / 1024
        )));
    }
    Ok((bytes, metadata))
}
