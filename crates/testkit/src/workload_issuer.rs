//! A loopback workload-identity issuer for the CI tests. It stands in for the two issuers a
//! CI job or a pod gets its identity from:
//!
//! - GitHub Actions' OIDC token service: discovery, a JWKS, and the endpoint a job reaches
//!   through `ACTIONS_ID_TOKEN_REQUEST_URL` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
//!   (`GET <request_url>&audience=<aud>` with `Authorization: Bearer <request token>`,
//!   answering `{"count": 1, "value": "<jwt>"}`);
//! - a Kubernetes service-account issuer: the same discovery and JWKS, and projected
//!   service-account token files ([`WorkloadIssuer::write_token_file`]).
//!
//! The keys are real (RSA 2048 through aws-lc-rs, or P-256 through `zt_core::jose`) and the
//! tokens are real RS256/ES256 JWS, so a verifier under test checks real signatures against
//! a real JWKS. [`mint`](WorkloadIssuer::mint) signs exactly the claims it is given, which
//! is how tests make expired, wrong-audience or otherwise hostile tokens; a token from
//! another issuer is forged by minting on a second `WorkloadIssuer`.
//!
//! Like [`hostile_idp`](super::hostile_idp), it runs on its own thread and runtime, so it
//! works from plain `#[test]`s and from inside `#[tokio::test]`s alike.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use zt_core::jose::{SigningKey, b64, random_id};
use zt_os::clock::unix_now;

/// The path of the GitHub-shaped token endpoint; [`WorkloadIssuer::request_url`] names it
/// with its `?api-version=2.0` query, to which clients append `&audience=...`.
pub const TOKEN_PATH: &str = "/_apis/token";
/// Lifetime of the tokens the endpoint and [`WorkloadIssuer::github_claims`] make (GitHub's
/// own are valid for about five minutes).
pub const GITHUB_TOKEN_TTL_SECS: u64 = 300;
/// Lifetime of [`WorkloadIssuer::kubernetes_claims`] tokens: the kubelet's default
/// `expirationSeconds` for a projected service-account token.
pub const KUBERNETES_TOKEN_TTL_SECS: u64 = 3600;
/// The file name [`WorkloadIssuer::write_token_file`] writes in its directory.
pub const TOKEN_FILE_NAME: &str = "token";
/// The repository the endpoint issues for until [`WorkloadIssuer::set_job_claims`].
pub const DEFAULT_REPOSITORY: &str = "acme/app";
/// The ref the endpoint issues for until [`WorkloadIssuer::set_job_claims`].
pub const DEFAULT_REF: &str = "refs/heads/main";

/// The signature algorithm of an issuer's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA 2048 key (GitHub's and Kubernetes'
    /// default).
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// The JOSE name: `RS256` or `ES256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(SigningKey),
}

/// One signing key with its `kid`.
struct IssuerKey {
    kid: String,
    alg: Alg,
    pair: Pair,
}

impl IssuerKey {
    fn generate(alg: Alg) -> IssuerKey {
        let pair = match alg {
            Alg::Rs256 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("generate an RSA key"))
            }
            Alg::Es256 => Pair::Ec(SigningKey::generate().expect("generate a P-256 key")),
        };
        // A random kid: two issuers in one test never share one, so a verifier that
        // looked keys up by kid alone, across issuers, would be caught.
        let kid = format!("{}-{}", alg.as_str().to_lowercase(), &random_id()[..10]);
        IssuerKey { kid, alg, pair }
    }

    fn public_jwk(&self) -> Value {
        let mut jwk = match &self.pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(key) => serde_json::to_value(key.public_jwk()).expect("serialise a JWK"),
        };
        jwk["kid"] = self.kid.clone().into();
        jwk["alg"] = self.alg.as_str().into();
        jwk["use"] = "sig".into();
        jwk
    }

    /// A compact JWS of `claims`; `typ: JWT` in the header when `typed`.
    fn sign(&self, claims: &Value, typed: bool) -> String {
        let mut header = json!({ "alg": self.alg.as_str(), "kid": self.kid });
        if typed {
            header["typ"] = "JWT".into();
        }
        match &self.pair {
            Pair::Ec(key) => key.sign_jws(&header, claims).expect("ES256 signing"),
            Pair::Rsa(pair) => {
                let input = format!(
                    "{}.{}",
                    b64(serde_json::to_vec(&header).expect("serialise a header")),
                    b64(serde_json::to_vec(claims).expect("serialise claims")),
                );
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut signature,
                )
                .expect("RS256 signing");
                format!("{input}.{}", b64(signature))
            }
        }
    }
}

/// What the routes and the test share.
struct Shared {
    issuer: String,
    request_token: String,
    /// Every published key; the last one signs.
    keys: Mutex<Vec<IssuerKey>>,
    job_claims: Mutex<Value>,
    token_requests: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

impl Shared {
    fn keys(&self) -> MutexGuard<'_, Vec<IssuerKey>> {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sign(&self, claims: &Value, typed: bool) -> String {
        self.keys()
            .last()
            .expect("an issuer always has a key")
            .sign(claims, typed)
    }

    fn job_claims(&self) -> Value {
        self.job_claims
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A running workload issuer on `http://127.0.0.1:PORT`. Dropping it stops the server.
pub struct WorkloadIssuer {
    alg: Alg,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl WorkloadIssuer {
    /// Starts an issuer whose keys (the first one and every [`rotate`](Self::rotate)d one)
    /// use `alg`. Its job claims start as [`github_claims`](Self::github_claims) for
    /// [`DEFAULT_REPOSITORY`] on [`DEFAULT_REF`].
    pub fn start(alg: Alg) -> WorkloadIssuer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let issuer = format!("http://{}", listener.local_addr().expect("local address"));
        let job_claims = github_claims_at(
            &issuer,
            DEFAULT_REPOSITORY,
            DEFAULT_REF,
            &default_audience(DEFAULT_REPOSITORY),
            unix_now(),
        );
        let shared = Arc::new(Shared {
            issuer,
            request_token: random_id(),
            keys: Mutex::new(vec![IssuerKey::generate(alg)]),
            job_claims: Mutex::new(job_claims),
            token_requests: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route(TOKEN_PATH, get(token))
            .with_state(shared.clone());
        let tx = crate::http::serve(listener, app);
        WorkloadIssuer {
            alg,
            shared,
            _shutdown: tx,
        }
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// `http://127.0.0.1:PORT`: the base URL and the `iss` of every token (no trailing slash).
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// `<issuer>/jwks`, as discovery names it.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// What a job finds in `ACTIONS_ID_TOKEN_REQUEST_URL`: the token endpoint with its
    /// `?api-version=2.0` query already there, so a client appends `&audience=...`.
    pub fn request_url(&self) -> String {
        format!("{}{TOKEN_PATH}?api-version=2.0", self.shared.issuer)
    }

    /// What a job finds in `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the bearer secret the token
    /// endpoint requires.
    pub fn request_token(&self) -> String {
        self.shared.request_token.clone()
    }

    /// The claims the token endpoint issues from now on. `iss`, `aud`, `iat`, `nbf`, `exp`
    /// and `jti` are replaced on each request, so the output of
    /// [`github_claims`](Self::github_claims) can be passed as it is.
    pub fn set_job_claims(&self, claims: Value) {
        assert!(claims.is_object(), "job claims must be a JSON object");
        *self
            .shared
            .job_claims
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = claims;
    }

    /// How many tokens the endpoint has handed out (refused requests do not count).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many times `/jwks` has been fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The `kid` of the current signing key.
    pub fn current_kid(&self) -> String {
        self.shared
            .keys()
            .last()
            .expect("an issuer always has a key")
            .kid
            .clone()
    }

    /// Signs exactly `claims` with the current key; the header is `{alg, kid, typ: "JWT"}`,
    /// as GitHub's tokens have it. Nothing is added or checked: expired, not-yet-valid or
    /// wrong-audience tokens are the caller's to make.
    pub fn mint(&self, claims: Value) -> String {
        self.shared.sign(&claims, true)
    }

    /// Like [`mint`](Self::mint) with the header `{alg, kid}` and no `typ`, as the
    /// Kubernetes API server signs service-account tokens.
    pub fn mint_untyped(&self, claims: Value) -> String {
        self.shared.sign(&claims, false)
    }

    /// A new key (of the issuer's [`Alg`]) signs from now on; the JWKS publishes the old
    /// ones too until [`drop_old_keys`](Self::drop_old_keys). Returns the new `kid`.
    pub fn rotate(&self) -> String {
        let key = IssuerKey::generate(self.alg);
        let kid = key.kid.clone();
        self.shared.keys().push(key);
        kid
    }

    /// Stops publishing every key but the current signing key.
    pub fn drop_old_keys(&self) {
        let mut keys = self.shared.keys();
        let current = keys.len() - 1;
        keys.drain(..current);
    }

    /// The JWK set `/jwks` serves right now.
    pub fn jwks(&self) -> Value {
        jwk_set(&self.shared)
    }

    /// The claims of a GitHub Actions job token for a push to `git_ref` (`refs/heads/...`,
    /// `refs/tags/...` or `refs/pull/N/merge`) of `repository` (`OWNER/REPO`), with the
    /// claim names and string-typed values GitHub uses, valid from now for
    /// [`GITHUB_TOKEN_TTL_SECS`], `iss` this issuer, a fresh `jti`. Run ids, shas and actor
    /// are fixed values (`run_id` "42", `actor` "octocat", `workflow` "deploy").
    ///
    /// GitHub adds `environment` (and makes `sub` `repo:OWNER/REPO:environment:NAME`) when
    /// the job names an environment: see [`with_github_environment`].
    pub fn github_claims(&self, repository: &str, git_ref: &str, audience: &str) -> Value {
        github_claims_at(
            &self.shared.issuer,
            repository,
            git_ref,
            audience,
            unix_now(),
        )
    }

    /// The claims of a projected service-account token for `service_account` in
    /// `namespace` as Kubernetes (1.30+) issues them: `aud` a one-element array,
    /// `sub` `system:serviceaccount:NS:SA`, a `kubernetes.io` object with the namespace and
    /// the service account's, pod's and node's names and uids; valid from now for
    /// [`KUBERNETES_TOKEN_TTL_SECS`], `iss` this issuer.
    pub fn kubernetes_claims(
        &self,
        namespace: &str,
        service_account: &str,
        audience: &str,
    ) -> Value {
        let now = unix_now();
        json!({
            "aud": [audience],
            "exp": now + KUBERNETES_TOKEN_TTL_SECS,
            "iat": now,
            "nbf": now,
            "iss": self.shared.issuer,
            "jti": uuid(),
            "kubernetes.io": {
                "namespace": namespace,
                "node": { "name": "node-1", "uid": uuid() },
                "pod": { "name": format!("{service_account}-6f9c7d8b5-x2k9q"), "uid": uuid() },
                "serviceaccount": { "name": service_account, "uid": uuid() },
            },
            "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
        })
    }

    /// Mints `claims` as Kubernetes would ([`mint_untyped`](Self::mint_untyped)) and writes
    /// the token to `dir/token` the way the kubelet projects it: the JWT alone, no newline,
    /// mode 0600. A second call replaces the file atomically (rename), as a rotation does.
    pub fn write_token_file(&self, dir: &Path, claims: Value) -> PathBuf {
        let path = dir.join(TOKEN_FILE_NAME);
        let staging = dir.join(format!(".{TOKEN_FILE_NAME}.{}", random_id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staging)
            .unwrap_or_else(|e| panic!("create {}: {e}", staging.display()));
        file.write_all(self.mint_untyped(claims).as_bytes())
            .and_then(|()| file.sync_all())
            .unwrap_or_else(|e| panic!("write {}: {e}", staging.display()));
        std::fs::rename(&staging, &path)
            .unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
        path
    }
}

/// `claims` for a job that runs in `environment`: GitHub then adds the `environment` claim
/// and puts the environment, not the ref, into `sub`.
pub fn with_github_environment(mut claims: Value, environment: &str) -> Value {
    let repository = claims["repository"]
        .as_str()
        .expect("GitHub claims carry `repository`")
        .to_owned();
    claims["environment"] = environment.into();
    claims["sub"] = format!("repo:{repository}:environment:{environment}").into();
    claims
}

/// GitHub's default `aud` when a job asks for no audience: the owner's URL.
fn default_audience(repository: &str) -> String {
    let owner = repository.split('/').next().unwrap_or(repository);
    format!("https://github.com/{owner}")
}

fn github_claims_at(
    issuer: &str,
    repository: &str,
    git_ref: &str,
    audience: &str,
    now: u64,
) -> Value {
    let owner = repository.split('/').next().unwrap_or(repository);
    let (ref_type, event_name, sub) = if git_ref.starts_with("refs/tags/") {
        ("tag", "push", format!("repo:{repository}:ref:{git_ref}"))
    } else if git_ref.starts_with("refs/pull/") {
        (
            "branch",
            "pull_request",
            format!("repo:{repository}:pull_request"),
        )
    } else {
        ("branch", "push", format!("repo:{repository}:ref:{git_ref}"))
    };
    let sha = "8f2c3a9d4e5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d";
    let workflow_ref = format!("{repository}/.github/workflows/deploy.yml@{git_ref}");
    json!({
        "jti": random_id(),
        "sub": sub,
        "aud": audience,
        "ref": git_ref,
        "sha": sha,
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": "1001",
        "repository_id": "2002",
        "repository_visibility": "private",
        "run_id": "42",
        "run_number": "7",
        "run_attempt": "1",
        "actor": "octocat",
        "actor_id": "3003",
        "workflow": "deploy",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "head_ref": "",
        "base_ref": "",
        "event_name": event_name,
        "ref_type": ref_type,
        "ref_protected": "true",
        "runner_environment": "github-hosted",
        "iss": issuer,
        "nbf": now,
        "iat": now,
        "exp": now + GITHUB_TOKEN_TTL_SECS,
    })
}

/// A random RFC 4122 version-4 UUID, the form Kubernetes uids take.
fn uuid() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG failed");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn jwk_set(shared: &Shared) -> Value {
    let keys: Vec<Value> = shared.keys().iter().map(IssuerKey::public_jwk).collect();
    json!({ "keys": keys })
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let algs: Vec<&str> = shared.keys().iter().map(|k| k.alg.as_str()).collect();
    axum::Json(json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}/jwks", shared.issuer),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": algs,
        "scopes_supported": ["openid"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository"],
    }))
    .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(jwk_set(&shared)).into_response()
}

/// GitHub's token endpoint: bearer-authenticated, `aud` from the `audience` query.
async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = format!("Bearer {}", shared.request_token);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if presented != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "Bad credentials" })),
        )
            .into_response();
    }
    let mut claims = shared.job_claims();
    let audience = match query.get("audience") {
        Some(audience) => audience.clone(),
        None => default_audience(claims["repository"].as_str().unwrap_or(DEFAULT_REPOSITORY)),
    };
    let now = unix_now();
    claims["iss"] = shared.issuer.clone().into();
    claims["aud"] = audience.into();
    claims["iat"] = now.into();
    claims["nbf"] = now.into();
    claims["exp"] = (now + GITHUB_TOKEN_TTL_SECS).into();
    claims["jti"] = random_id().into();
    let jwt = shared.sign(&claims, true);
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({ "count": 1, "value": jwt })).into_response()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    use super::*;
    use crate::http::{self, JsonResponse};

    /// Verifies `token` against the issuer's published JWKS (found through discovery),
    /// for `audience`, as a relying party would; returns the claims.
    fn verify(issuer: &WorkloadIssuer, token: &str, audience: &str) -> Value {
        let discovery = http::get_json(&format!(
            "{}/.well-known/openid-configuration",
            issuer.issuer()
        ));
        assert_eq!(discovery.str("issuer"), issuer.issuer());
        let set: JwkSet =
            serde_json::from_value(http::get_json(discovery.str("jwks_uri")).body).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.expect("a kid");
        let jwk = set.find(&kid).expect("the kid is published");
        let algorithm = match issuer.alg() {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
        };
        assert_eq!(header.alg, algorithm);
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer.issuer()]);
        validation.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "sub", "aud"]);
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims
    }

    fn request(url: &str, bearer: Option<&str>) -> JsonResponse {
        http::block_on(async {
            let mut request = http::client().get(url);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            http::into_json(request.send().await.unwrap()).await
        })
    }

    #[test]
    fn minted_tokens_verify_against_the_published_jwks() {
        for alg in [Alg::Rs256, Alg::Es256] {
            let issuer = WorkloadIssuer::start(alg);
            let token = issuer.mint(issuer.github_claims("acme/app", "refs/heads/main", "zt"));
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            assert_eq!(header.kid, Some(issuer.current_kid()));
            let claims = verify(&issuer, &token, "zt");
            assert_eq!(claims["sub"], "repo:acme/app:ref:refs/heads/main");
            assert_eq!(claims["repository_owner"], "acme");
            assert_eq!(claims["ref_type"], "branch");
            assert_eq!(issuer.jwks_fetches(), 1);
        }
    }

    #[test]
    fn the_token_endpoint_issues_the_job_claims_for_the_asked_audience() {
        let issuer = WorkloadIssuer::start(Alg::Rs256);
        assert!(
            issuer
                .request_url()
                .ends_with("/_apis/token?api-version=2.0")
        );
        let url = format!("{}&audience=urn%3Azt%3Abroker", issuer.request_url());
        let response = request(&url, Some(&issuer.request_token()));
        assert_eq!(response.status, 200, "{response:?}");
        assert_eq!(response.body["count"], 1);
        let claims = verify(&issuer, response.str("value"), "urn:zt:broker");
        assert_eq!(claims["repository"], DEFAULT_REPOSITORY);
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            300
        );

        let job = with_github_environment(
            issuer.github_claims("acme/infra", "refs/tags/v1", "ignored"),
            "prod",
        );
        issuer.set_job_claims(job);
        let response = request(&issuer.request_url(), Some(&issuer.request_token()));
        let claims = verify(&issuer, response.str("value"), "https://github.com/acme");
        assert_eq!(claims["sub"], "repo:acme/infra:environment:prod");
        assert_eq!(claims["ref_type"], "tag");
        assert_eq!(issuer.token_requests(), 2);
    }

    #[test]
    fn the_token_endpoint_refuses_a_wrong_or_missing_bearer() {
        let issuer = WorkloadIssuer::start(Alg::Es256);
        let url = format!("{}&audience=zt", issuer.request_url());
        assert_eq!(request(&url, Some("not-the-token")).status, 401);
        assert_eq!(request(&url, None).status, 401);
        assert_eq!(issuer.token_requests(), 0);
    }

    #[test]
    fn rotation_publishes_both_keys_until_the_old_ones_are_dropped() {
        let issuer = WorkloadIssuer::start(Alg::Es256);
        let old_kid = issuer.current_kid();
        let old = issuer.mint(issuer.github_claims("acme/app", "refs/heads/main", "zt"));
        let new_kid = issuer.rotate();
        assert_ne!(old_kid, new_kid);
        let new = issuer.mint(issuer.github_claims("acme/app", "refs/heads/main", "zt"));
        assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 2);
        verify(&issuer, &old, "zt");
        verify(&issuer, &new, "zt");
        issuer.drop_old_keys();
        let keys = issuer.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], new_kid.as_str());
    }

    #[test]
    fn token_files_are_kubernetes_shaped() {
        let issuer = WorkloadIssuer::start(Alg::Rs256);
        let dir = crate::tempdir();
        let claims = issuer.kubernetes_claims("ci", "deployer", "urn:zt:broker");
        let path = issuer.write_token_file(dir.path(), claims);
        assert_eq!(path, dir.path().join("token"));
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        let token = std::fs::read_to_string(&path).unwrap();
        assert!(!token.ends_with('\n') && token.split('.').count() == 3);
        assert_eq!(jsonwebtoken::decode_header(&token).unwrap().typ, None);
        let claims = verify(&issuer, &token, "urn:zt:broker");
        assert_eq!(claims["sub"], "system:serviceaccount:ci:deployer");
        assert_eq!(claims["kubernetes.io"]["namespace"], "ci");
        assert_eq!(
            claims["kubernetes.io"]["serviceaccount"]["name"],
            "deployer"
        );
        assert_eq!(claims["aud"], json!(["urn:zt:broker"]));
        // A rewrite replaces the file in place.
        issuer.write_token_file(dir.path(), issuer.kubernetes_claims("ci", "other", "x"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
