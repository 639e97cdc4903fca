//! A running development issuer on `127.0.0.1:0` and a small HTTP client for it, shared by
//! the HTTP-level test modules.

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use super::{DevIssuer, DevIssuerConfig};

pub(super) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A running issuer at `http://127.0.0.1:<port>/dev-idp`.
pub(super) struct Harness {
    pub issuer: Arc<DevIssuer>,
    /// The issuer URL, `iss`.
    pub base: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    pub async fn start(adjust: impl FnOnce(&mut DevIssuerConfig)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}/dev-idp");
        let mut config = DevIssuerConfig::new(base.parse().unwrap(), "zt");
        config.interval_secs = 1;
        adjust(&mut config);
        let issuer = DevIssuer::new(config).unwrap();
        let app = axum::Router::new().nest("/dev-idp", Arc::clone(&issuer).router());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            issuer,
            base,
            http,
            server,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form; returns the status and the JSON body (Null when empty).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{path} {status}"
        );
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, body)
    }

    pub async fn authorize(&self, scope: &str) -> Value {
        let (status, body) = self
            .post(
                "/device_authorization",
                &[("client_id", "zt"), ("scope", scope)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn poll(&self, device_code: &str) -> (StatusCode, Value) {
        self.post(
            "/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("client_id", "zt"),
                ("device_code", device_code),
            ],
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "zt"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Verifies an ID token with the key from `/jwks` and returns its claims.
    pub async fn verify(&self, id_token: &str) -> Value {
        let set: JwkSet = self.get("/jwks").await.json().await.unwrap();
        assert_eq!(set.keys.len(), 1);
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid, set.keys[0].common.key_id);
        let key = DecodingKey::from_jwk(&set.keys[0]).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["zt"]);
        validation.set_issuer(&[&self.base]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .unwrap()
            .claims
    }
}
