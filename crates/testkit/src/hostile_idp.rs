//! An in-process hostile identity provider for the attack tests (fakes are for hostile
//! cases only; real logins go through oidc-provider): OIDC discovery and a JWKS with an RSA and an
//! EC key the test holds, so the test can sign good tokens and forge bad ones. It
//! counts every JWKS fetch and every fetch of a URL only an attacker would name (a
//! `jku`/`x5u` target), and can answer the JWKS with a redirect elsewhere.
//!
//! The real login path is proven against panva's oidc-provider elsewhere; this IdP
//! exists only to sign what a real one never would.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use zt_core::jose::{SigningKey, b64, random_id};

/// The client id the broker under test is configured with (`zt-broker init --client-id zt`).
pub const CLIENT_ID: &str = "zt";
pub const RSA_KID: &str = "rsa-1";
pub const EC_KID: &str = "ec-1";
/// A path the IdP serves keys on that its metadata never names: only a forged
/// header (`jku`, `x5u`) points there, so any fetch of it is the broker obeying one.
pub const ATTACKER_KEYS_PATH: &str = "/attacker-keys";

pub use zt_os::clock::unix_now;

/// One RSA key per test process: generating RSA keys is the slow part.
fn shared_rsa() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).expect("generate an RSA key"))
}

/// A second RSA key, for "another IdP's key".
fn other_rsa() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).expect("generate an RSA key"))
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let public = pair.public_key();
    json!({
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    })
}

/// What the IdP's routes read.
struct Shared {
    issuer: String,
    jwks: Value,
    jwks_redirect: Option<String>,
    jwks_uri: Option<String>,
    jwks_fetches: AtomicUsize,
    attacker_fetches: AtomicUsize,
}

#[derive(Default)]
pub struct HostileOptions {
    /// Answer `GET /jwks` with `302 Location: <this>` instead of the keys.
    pub jwks_redirect: Option<String>,
    /// The `jwks_uri` discovery names, instead of this IdP's own `/jwks`.
    pub jwks_uri: Option<String>,
}

pub struct HostileIdp {
    pub issuer: String,
    shared: Arc<Shared>,
    ec: SigningKey,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl HostileIdp {
    pub fn start() -> HostileIdp {
        Self::start_with(HostileOptions::default())
    }

    pub fn start_with(options: HostileOptions) -> HostileIdp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let ec = SigningKey::generate().unwrap();
        let mut ec_jwk = serde_json::to_value(ec.public_jwk()).unwrap();
        ec_jwk["kid"] = EC_KID.into();
        ec_jwk["alg"] = "ES256".into();
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            jwks: json!({ "keys": [rsa_jwk(shared_rsa(), RSA_KID), ec_jwk] }),
            jwks_redirect: options.jwks_redirect,
            jwks_uri: options.jwks_uri,
            jwks_fetches: AtomicUsize::new(0),
            attacker_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route(ATTACKER_KEYS_PATH, get(attacker_keys))
            .with_state(shared.clone());
        let tx = crate::http::serve(listener, app);
        HostileIdp {
            issuer,
            shared,
            ec,
            _shutdown: tx,
        }
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn attacker_fetches(&self) -> usize {
        self.shared.attacker_fetches.load(Ordering::SeqCst)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    pub fn attacker_keys_url(&self) -> String {
        format!("{}{ATTACKER_KEYS_PATH}", self.issuer)
    }

    /// Claims a real IdP would sign for `sub` in `groups`, valid for five minutes.
    pub fn claims(&self, sub: &str, groups: &[&str]) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer, "sub": sub, "aud": CLIENT_ID, "azp": CLIENT_ID,
            "exp": now + 300, "iat": now, "jti": random_id(),
            "email": format!("{sub}@example.com"), "email_verified": true, "groups": groups,
        })
    }

    /// A correctly signed RS256 ID token for `sub` in `groups`.
    pub fn id_token(&self, sub: &str, groups: &[&str]) -> String {
        self.rs256(
            json!({"kid": RSA_KID, "typ": "JWT"}),
            &self.claims(sub, groups),
        )
    }

    /// RS256 with this IdP's published RSA key; `header` gets `alg` added.
    pub fn rs256(&self, header: Value, claims: &Value) -> String {
        sign_rs256(shared_rsa(), header, claims)
    }

    /// RS256 with a key this IdP does not publish (another IdP's key).
    pub fn rs256_foreign(&self, header: Value, claims: &Value) -> String {
        sign_rs256(other_rsa(), header, claims)
    }

    /// ES256 with this IdP's published EC key (kid `ec-1`).
    pub fn es256(&self, claims: &Value) -> String {
        self.ec.sign_jws(&json!({"kid": EC_KID}), claims).unwrap()
    }

    /// The public RSA JWK (as an attacker would read it from the JWKS).
    pub fn rsa_public_jwk(&self) -> Value {
        rsa_jwk(shared_rsa(), RSA_KID)
    }

    /// A foreign RSA key's public JWK, for headers that embed "their own" key.
    pub fn foreign_public_jwk(&self) -> Value {
        rsa_jwk(other_rsa(), "attacker")
    }
}

/// RS256 over raw header and payload texts (for repeated member names and the like).
pub fn sign_raw_rs256(header: &str, payload: &str) -> String {
    sign_input(shared_rsa(), format!("{}.{}", b64(header), b64(payload)))
}

fn sign_rs256(pair: &RsaKeyPair, mut header: Value, claims: &Value) -> String {
    header["alg"] = "RS256".into();
    let header = serde_json::to_vec(&header).unwrap();
    let claims = serde_json::to_vec(claims).unwrap();
    sign_input(pair, format!("{}.{}", b64(header), b64(claims)))
}

/// `input` + "." + its RS256 signature by `pair`.
fn sign_input(pair: &RsaKeyPair, input: String) -> String {
    let mut sig = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64(sig))
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({
        "issuer": shared.issuer,
        "jwks_uri": shared.jwks_uri.clone().unwrap_or_else(|| format!("{}/jwks", shared.issuer)),
    }))
    .into_response()
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    match &shared.jwks_redirect {
        Some(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location.clone())]).into_response()
        }
        None => axum::Json(shared.jwks.clone()).into_response(),
    }
}

async fn attacker_keys(State(shared): State<Arc<Shared>>) -> Response {
    shared.attacker_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({ "keys": [rsa_jwk(other_rsa(), "attacker")] })).into_response()
}
