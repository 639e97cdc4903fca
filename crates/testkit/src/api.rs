//! The broker's HTTP API driven the way `zt` drives it, without the `zt`
//! binary: ID tokens from a development issuer (device flow, auto-approved,
//! then refresh-token rotation for a fresh ID token each time, since the
//! broker accepts each ID token once), the RFC 8693 exchange with a DPoP
//! proof, and certificate requests with a fresh key, DPoP proof and
//! possession proof.
//!
//! The broker benchmark uses it too. Async; errors are strings that say which
//! step failed with what answer.

#![allow(dead_code)]

use serde::Deserialize;
use ssh_key::{Algorithm, PrivateKey};
use zt_core::dpop::Binding;
use zt_core::jose::SigningKey;
use zt_core::posture::PostureReport;
use zt_core::proto;
use zt_core::requests::{certificate_request, exchange_form};

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const SCOPE: &str = "openid email profile groups offline_access";
pub const CLIENT_ID: &str = "zt";

pub use zt_os::clock::unix_now;

/// An HTTP answer: status and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

async fn answer(response: Result<reqwest::Response, reqwest::Error>) -> Result<Answer, String> {
    let response = response.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| format!("reading the body failed: {e}"))?;
    Ok(Answer { status, body })
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, answer: &Answer) -> Result<T, String> {
    if answer.status != 200 {
        return Err(format!("{what}: HTTP {}: {}", answer.status, answer.body));
    }
    serde_json::from_str(&answer.body).map_err(|e| format!("{what}: {e}: {}", answer.body))
}

#[derive(Deserialize)]
struct DeviceAuthorization {
    device_code: String,
}

#[derive(Deserialize)]
struct IdpTokens {
    id_token: String,
    refresh_token: Option<String>,
}

/// A logged-in user at an auto-approving development issuer.
pub struct IdTokens {
    http: reqwest::Client,
    issuer: String,
    refresh_token: String,
}

impl IdTokens {
    /// Device flow at `issuer` (which approves every code at once); returns
    /// the session and its first ID token.
    pub async fn login(http: &reqwest::Client, issuer: &str) -> Result<(IdTokens, String), String> {
        let auth = answer(
            http.post(format!("{issuer}/device_authorization"))
                .form(&[("client_id", CLIENT_ID), ("scope", SCOPE)])
                .send()
                .await,
        )
        .await?;
        let auth: DeviceAuthorization = parse("device authorization", &auth)?;
        let tokens = answer(
            http.post(format!("{issuer}/token"))
                .form(&[
                    ("grant_type", DEVICE_CODE_GRANT),
                    ("device_code", auth.device_code.as_str()),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await,
        )
        .await?;
        let tokens: IdpTokens = parse("device code grant", &tokens)?;
        let refresh_token = tokens
            .refresh_token
            .ok_or("the issuer sent no refresh token")?;
        Ok((
            IdTokens {
                http: http.clone(),
                issuer: issuer.to_owned(),
                refresh_token,
            },
            tokens.id_token,
        ))
    }

    /// A new ID token through the (rotating) refresh token.
    pub async fn fresh(&mut self) -> Result<String, String> {
        let tokens = answer(
            self.http
                .post(format!("{}/token", self.issuer))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", self.refresh_token.as_str()),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await,
        )
        .await?;
        let tokens: IdpTokens = parse("refresh grant", &tokens)?;
        if let Some(next) = tokens.refresh_token {
            self.refresh_token = next;
        }
        Ok(tokens.id_token)
    }
}

/// The broker's discovery document.
pub async fn configuration(
    http: &reqwest::Client,
    broker: &str,
) -> Result<proto::BrokerConfiguration, String> {
    let got = answer(
        http.get(format!("{broker}{}", proto::WELL_KNOWN_PATH))
            .send()
            .await,
    )
    .await?;
    parse("configuration", &got)
}

/// One simulated `zt`: its DPoP device key and broker access token.
pub struct Client {
    pub device: SigningKey,
    pub access_token: String,
}

/// The token exchange; the raw answer, and the client when it succeeded.
pub async fn exchange(
    http: &reqwest::Client,
    token_endpoint: &str,
    id_token: &str,
) -> Result<(Answer, Option<Client>), String> {
    let device = SigningKey::generate().map_err(|e| e.to_string())?;
    let (proof, _) = zt_core::dpop::create_proof(&device, "POST", token_endpoint, unix_now(), None)
        .map_err(|e| e.to_string())?;
    let form = exchange_form(id_token);
    let got = answer(
        http.post(token_endpoint)
            .header("DPoP", proof)
            .form(&form)
            .send()
            .await,
    )
    .await?;
    if got.status != 200 {
        return Ok((got, None));
    }
    let token: proto::TokenExchangeResponse = parse("token exchange", &got)?;
    Ok((
        got,
        Some(Client {
            device,
            access_token: token.access_token,
        }),
    ))
}

/// Everything one certificate request sends: a fresh Ed25519 key, a DPoP
/// proof with `ath`, and the possession proof over that proof's `jti`.
pub struct Prepared {
    pub authorization: String,
    pub dpop: String,
    pub body: String,
}

pub fn prepare(client: &Client, certificate_endpoint: &str) -> Result<Prepared, String> {
    let key =
        PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).map_err(|e| e.to_string())?;
    let (dpop, jti) = zt_core::dpop::create_proof(
        &client.device,
        "POST",
        certificate_endpoint,
        unix_now(),
        Some(&client.access_token),
    )
    .map_err(|e| e.to_string())?;
    let request = certificate_request(&key, &jti, None).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(&request).map_err(|e| e.to_string())?;
    Ok(Prepared {
        authorization: format!("DPoP {}", client.access_token),
        dpop,
        body,
    })
}

/// [`prepare`] as `zt` does it under a rule that checks posture: the body carries `report`,
/// and the DPoP proof signs the report's digest together with `nonce` (the broker's, from a
/// `DPoP-Nonce` header; single use, so one per request). Without a nonce the request is
/// `zt`'s first try, which the broker answers with 401 `use_dpop_nonce` and a nonce.
pub fn prepare_with_posture(
    client: &Client,
    certificate_endpoint: &str,
    nonce: Option<&str>,
    report: &PostureReport,
) -> Result<Prepared, String> {
    let key =
        PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).map_err(|e| e.to_string())?;
    let digest = zt_core::posture::digest(report);
    let (dpop, jti) = zt_core::dpop::create_bound_proof(
        &client.device,
        "POST",
        certificate_endpoint,
        unix_now(),
        Some(&client.access_token),
        Binding {
            nonce,
            posture_digest: Some(&digest),
        },
    )
    .map_err(|e| e.to_string())?;
    let request =
        certificate_request(&key, &jti, Some(report.clone())).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(&request).map_err(|e| e.to_string())?;
    Ok(Prepared {
        authorization: format!("DPoP {}", client.access_token),
        dpop,
        body,
    })
}

/// A fresh broker nonce, the way `zt` gets one under a posture rule: a certificate request
/// with `report` and no nonce (a fresh key and proof each time, nothing replayed), which the
/// broker refuses with 401 `use_dpop_nonce` and a new nonce in the `DPoP-Nonce` header. Any
/// other answer is an error. The refusal is on the broker's audit record
/// (`certificate_refused`); no certificate is issued.
pub async fn fetch_nonce(
    http: &reqwest::Client,
    client: &Client,
    certificate_endpoint: &str,
    report: &PostureReport,
) -> Result<String, String> {
    let request = prepare_with_posture(client, certificate_endpoint, None, report)?;
    let response = http
        .post(certificate_endpoint)
        .header("Authorization", request.authorization)
        .header("DPoP", request.dpop)
        .header("Content-Type", "application/json")
        .body(request.body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let nonce = response
        .headers()
        .get(proto::DPOP_NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let got = answer(Ok(response)).await?;
    let code = got.json()["error"].as_str().map(str::to_owned);
    match (got.status, code.as_deref(), nonce) {
        (401, Some("use_dpop_nonce"), Some(nonce)) => Ok(nonce),
        (status, _, nonce) => Err(format!(
            "a nonce-less posture request: expected 401 use_dpop_nonce with a {} header, got HTTP {status}{}: {}",
            proto::DPOP_NONCE_HEADER,
            if nonce.is_some() {
                " (with a nonce)"
            } else {
                ""
            },
            got.body
        )),
    }
}

/// `count` fresh nonces through [`fetch_nonce`], one request after another.
pub async fn fetch_nonces(
    http: &reqwest::Client,
    client: &Client,
    certificate_endpoint: &str,
    report: &PostureReport,
    count: usize,
) -> Result<Vec<String>, String> {
    let mut nonces = Vec::with_capacity(count);
    for _ in 0..count {
        nonces.push(fetch_nonce(http, client, certificate_endpoint, report).await?);
    }
    Ok(nonces)
}

/// Send a prepared certificate request.
pub async fn send_certificate_request(
    http: &reqwest::Client,
    certificate_endpoint: &str,
    request: Prepared,
) -> Result<Answer, String> {
    answer(
        http.post(certificate_endpoint)
            .header("Authorization", request.authorization)
            .header("DPoP", request.dpop)
            .header("Content-Type", "application/json")
            .body(request.body)
            .send()
            .await,
    )
    .await
}
