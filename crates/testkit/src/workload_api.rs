//! Raw calls for the workload-identity attack tests (issue 13), on top of
//! [`broker_client::Caller`](super::broker_client::Caller): a workload-token exchange, an
//! exchange of a broker access token for a token for another service, and a loopback port
//! that answers nobody and counts who connected, to prove the broker never contacted a host.
//!
//! Forms come from `zt_core::requests`, as `zt` builds them.

use std::net::TcpListener;

use serde_json::Value;
use zt_core::requests::{audience_form, workload_exchange_form};

use super::broker_client::{Caller, Proof};
use super::http::JsonResponse;

impl Caller {
    /// `POST /v1/token` exchanging a workload token (`subject_token_type` jwt), with an
    /// honest DPoP proof by this caller's device.
    pub fn workload_exchange(&self, token: &str) -> JsonResponse {
        self.exchange_raw(&workload_exchange_form(token), Some(&self.token_proof()))
    }

    /// A proof for the token endpoint by this caller's device, bound (`ath`) to
    /// `access_token`: what an exchange of a broker token for another audience carries.
    pub fn token_proof_for(&self, access_token: &str) -> String {
        let url = self.token_url();
        self.proof(&Proof {
            method: "POST",
            url: &url,
            iat: super::hostile_idp::unix_now(),
            access_token: Some(access_token),
        })
        .0
    }

    /// `zt token --audience`: `access_token` for a token for `audience`, with this caller's
    /// bound proof.
    pub fn service_token(&self, access_token: &str, audience: &str) -> JsonResponse {
        self.exchange_raw(
            &audience_form(access_token, audience),
            Some(&self.token_proof_for(access_token)),
        )
    }
}

/// Part `index` of a compact JWS (0 header, 1 payload) as JSON, unverified.
pub fn jws_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a compact JWS");
    let bytes = zt_core::jose::b64_decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

/// A loopback port that accepts TCP connections (the kernel completes the handshake) and
/// never answers. A client that connected is in the accept queue until
/// [`connections`](Self::connections) takes it, even if it gave up and closed meanwhile.
pub struct Unanswered {
    listener: TcpListener,
    seen: usize,
}

impl Unanswered {
    pub fn bind() -> Unanswered {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        Unanswered { listener, seen: 0 }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.listener.local_addr().expect("local address")
        )
    }

    /// How many connections were made so far.
    pub fn connections(&mut self) -> usize {
        while let Ok((stream, _)) = self.listener.accept() {
            drop(stream);
            self.seen += 1;
        }
        self.seen
    }
}
