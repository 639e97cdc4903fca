//! Raw calls to the broker HTTP API for the attack tests: a device key making DPoP
//! proofs, token exchange and certificate requests, each with the honest default
//! and a way to replace any part of it (proof, token, body) with a forged one.
//!
//! Request shapes come from `zt_core::requests` (the same functions `zt` and the
//! benchmark use), so only what a test deliberately changes differs from a real client.

use serde_json::Value;
use ssh_key::{Algorithm, PrivateKey};
use zt_core::jose::SigningKey;
use zt_core::proto;
use zt_core::requests::{certificate_request, exchange_form};

use super::hostile_idp::unix_now;
use super::http::{JsonResponse, block_on, client, into_json};

/// One simulated `zt`: a device key talking to one broker.
pub struct Caller {
    pub device: SigningKey,
    pub base: String,
    http: reqwest::Client,
}

/// What a DPoP proof says; the honest default is `Proof::honest(url)`.
pub struct Proof<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub iat: u64,
    pub access_token: Option<&'a str>,
}

impl Caller {
    pub fn new(base: &str) -> Caller {
        Self::with_client(base, client())
    }

    /// A caller using `http` (its own TLS roots, local address, …).
    pub fn with_client(base: &str, http: reqwest::Client) -> Caller {
        Caller {
            device: SigningKey::generate().unwrap(),
            base: base.to_owned(),
            http,
        }
    }

    /// A caller connecting from `source` (e.g. 127.0.0.2: another client address).
    pub fn from_address(base: &str, source: &str) -> Caller {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        Self::with_client(base, http)
    }

    pub fn token_url(&self) -> String {
        format!("{}{}", self.base, proto::TOKEN_PATH)
    }

    pub fn certificate_url(&self) -> String {
        format!("{}{}", self.base, proto::CERTIFICATE_PATH)
    }

    /// A proof by this caller's device key; returns (proof, jti).
    pub fn proof(&self, p: &Proof<'_>) -> (String, String) {
        zt_core::dpop::create_proof(&self.device, p.method, p.url, p.iat, p.access_token).unwrap()
    }

    /// The proof an honest client sends to the token endpoint.
    pub fn token_proof(&self) -> String {
        let url = self.token_url();
        self.proof(&Proof {
            method: "POST",
            url: &url,
            iat: unix_now(),
            access_token: None,
        })
        .0
    }

    /// `POST /v1/token` with `form` and an optional `DPoP` header.
    pub fn exchange_raw(
        &self,
        form: &proto::TokenExchangeRequest,
        dpop: Option<&str>,
    ) -> JsonResponse {
        self.exchange_at(&self.base, form, dpop)
    }

    /// [`exchange_raw`](Self::exchange_raw) sent to `replica`, another address of the same
    /// broker (proofs still name `base`, as behind a load balancer).
    pub fn exchange_at(
        &self,
        replica: &str,
        form: &proto::TokenExchangeRequest,
        dpop: Option<&str>,
    ) -> JsonResponse {
        let url = format!("{replica}{}", proto::TOKEN_PATH);
        let mut request = self.http.post(url).form(form);
        if let Some(proof) = dpop {
            request = request.header("DPoP", proof);
        }
        send(request)
    }

    /// An honest token exchange of `id_token`.
    pub fn exchange(&self, id_token: &str) -> JsonResponse {
        self.exchange_raw(&exchange_form(id_token), Some(&self.token_proof()))
    }

    /// An honest exchange that must succeed; the broker access token.
    pub fn access_token(&self, id_token: &str) -> String {
        let reply = self.exchange(id_token);
        assert_eq!(reply.status, 200, "token exchange failed: {}", reply.body);
        reply.str("access_token").to_owned()
    }

    /// `POST /v1/ssh/certificates` with the given headers and JSON body.
    pub fn certificate_raw(
        &self,
        authorization: Option<&str>,
        dpop: Option<&str>,
        body: &Value,
    ) -> JsonResponse {
        self.certificate_at(&self.base, authorization, dpop, body)
    }

    /// [`certificate_raw`](Self::certificate_raw) sent to `replica` (see
    /// [`exchange_at`](Self::exchange_at)).
    pub fn certificate_at(
        &self,
        replica: &str,
        authorization: Option<&str>,
        dpop: Option<&str>,
        body: &Value,
    ) -> JsonResponse {
        let url = format!("{replica}{}", proto::CERTIFICATE_PATH);
        let mut request = self.http.post(url).json(body);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        if let Some(proof) = dpop {
            request = request.header("DPoP", proof);
        }
        send(request)
    }

    /// `POST url` with exactly these headers (repeats allowed) and a JSON body.
    pub fn post_with_headers(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> JsonResponse {
        let mut request = self.http.post(url).body(body.to_string());
        for (name, value) in headers {
            // `header` appends: a name given twice is sent twice.
            request = request.header(*name, *value);
        }
        send(request)
    }

    /// An honest certificate request for `key`, with `edit` applied to the body
    /// (after the possession proof is made).
    pub fn certificate_with(
        &self,
        access_token: &str,
        key: &PrivateKey,
        edit: impl FnOnce(&mut Value),
    ) -> JsonResponse {
        let (proof, mut body) = self.certificate_body(access_token, key);
        edit(&mut body);
        self.certificate_raw(Some(&format!("DPoP {access_token}")), Some(&proof), &body)
    }

    /// An honest certificate request for `key`.
    pub fn certificate(&self, access_token: &str, key: &PrivateKey) -> JsonResponse {
        self.certificate_with(access_token, key, |_| {})
    }

    /// A fresh DPoP proof for the certificate endpoint and the request body that
    /// proves possession of `key` over its `jti`.
    pub fn certificate_body(&self, access_token: &str, key: &PrivateKey) -> (String, Value) {
        let url = self.certificate_url();
        let (proof, jti) = self.proof(&Proof {
            method: "POST",
            url: &url,
            iat: unix_now(),
            access_token: Some(access_token),
        });
        let body = serde_json::to_value(certificate_request(key, &jti, None).unwrap()).unwrap();
        (proof, body)
    }
}

/// A posture-bound certificate request: the report the body carries, the digest the proof
/// signs (normally the report's), and the broker nonce the proof carries.
pub struct PostureRequest<'a> {
    pub report: Option<&'a zt_core::posture::PostureReport>,
    pub signed_digest: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

impl Caller {
    /// A certificate request for `key` as `zt` makes it under a posture rule; returns the
    /// proof and body too, to replay them.
    pub fn posture_certificate(
        &self,
        access_token: &str,
        key: &PrivateKey,
        r: &PostureRequest<'_>,
    ) -> (JsonResponse, String, Value) {
        let url = self.certificate_url();
        let binding = zt_core::dpop::Binding {
            nonce: r.nonce,
            posture_digest: r.signed_digest,
        };
        let (proof, jti) = zt_core::dpop::create_bound_proof(
            &self.device,
            "POST",
            &url,
            unix_now(),
            Some(access_token),
            binding,
        )
        .unwrap();
        let body = serde_json::to_value(certificate_request(key, &jti, r.report.cloned()).unwrap())
            .unwrap();
        let reply =
            self.certificate_raw(Some(&format!("DPoP {access_token}")), Some(&proof), &body);
        (reply, proof, body)
    }
}

/// A fresh Ed25519 key to certify.
pub fn ssh_key() -> PrivateKey {
    PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap()
}

fn send(request: reqwest::RequestBuilder) -> JsonResponse {
    block_on(async {
        let response = request.send().await.expect("send a request to the broker");
        into_json(response).await
    })
}
