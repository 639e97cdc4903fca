//! Talking to zt-broker: discovery, token exchange and certificate
//! requests, each POST with a fresh DPoP proof from the device key.

use super::error::{BrokerRefusal, Error, Peer};
use super::retry::{self, Step};
use std::sync::Mutex;

use zt_core::dpop::{self, Binding};
use zt_core::jose::SigningKey;
use zt_core::posture::{self, PostureReport};
use zt_core::proto::{self, BrokerConfiguration, CertificateResponse, ErrorCode};
use zt_core::requests::{
    audience_form, certificate_request, exchange_form, workload_exchange_form,
};
use zt_core::text::Printable;
use zt_os::clock::unix_now;

pub struct BrokerClient {
    http: reqwest::Client,
    base: String,
    /// The broker's latest `DPoP-Nonce` (RFC 9449 §8), for the next posture-bound proof.
    nonce: Mutex<Option<String>>,
}

impl BrokerClient {
    pub fn new(http: reqwest::Client, broker_url: &str) -> Result<Self, Error> {
        super::http::check_url("broker URL", broker_url)?;
        Ok(BrokerClient {
            http,
            base: broker_url.trim_end_matches('/').to_owned(),
            nonce: Mutex::new(None),
        })
    }

    pub async fn configuration(&self) -> Result<BrokerConfiguration, Error> {
        let url = format!("{}{}", self.base, proto::WELL_KNOWN_PATH);
        let response = retry::send(Step::Repeatable, || Ok::<_, Error>(self.http.get(&url)))
            .await?
            .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
        let config = discovery_document(&url, response).await?;
        if config.api_version != proto::API_VERSION {
            return Err(Error::config_with_hint(
                format!(
                    "the broker speaks API version {}, this zt speaks {}",
                    config.api_version,
                    proto::API_VERSION
                ),
                "upgrade zt or the broker so they match",
            ));
        }
        if config.broker != self.base {
            return Err(Error::config(format!(
                "the broker at {} calls itself {}; use that URL with --broker",
                Printable(&self.base),
                Printable(&config.broker)
            )));
        }
        check_configuration(&self.base, &config)?;
        Ok(config)
    }

    /// RFC 8693 exchange of an ID token for a DPoP-bound broker token.
    pub async fn exchange(
        &self,
        config: &BrokerConfiguration,
        device: &SigningKey,
        id_token: &str,
    ) -> Result<String, Error> {
        // The ID token is single use: a try that reached the broker is not repeated.
        let token = self
            .post_token(config, device, &exchange_form(id_token), None, Step::Once)
            .await?;
        check_access_token(&token.access_token)?;
        Ok(token.access_token)
    }

    /// RFC 8693 exchange of a workload token (a CI job's) for a DPoP-bound broker token.
    pub async fn exchange_workload(
        &self,
        config: &BrokerConfiguration,
        device: &SigningKey,
        workload_token: &str,
    ) -> Result<String, Error> {
        let form = workload_exchange_form(workload_token);
        let token = self
            .post_token(config, device, &form, None, Step::Once)
            .await?;
        check_access_token(&token.access_token)?;
        Ok(token.access_token)
    }

    /// RFC 8693 exchange of the broker token for a short-lived token for `audience`.
    pub async fn token_for_audience(
        &self,
        config: &BrokerConfiguration,
        device: &SigningKey,
        access_token: &str,
        audience: &str,
    ) -> Result<proto::TokenExchangeResponse, Error> {
        let form = audience_form(access_token, audience);
        // Another token for the same audience is all a repeated try can cause.
        let token = self
            .post_token(config, device, &form, Some(access_token), Step::Repeatable)
            .await?;
        check_access_token(&token.access_token)?;
        Ok(token)
    }

    async fn post_token(
        &self,
        config: &BrokerConfiguration,
        device: &SigningKey,
        form: &proto::TokenExchangeRequest,
        access_token: Option<&str>,
        step: Step,
    ) -> Result<proto::TokenExchangeResponse, Error> {
        let response = retry::send::<Error>(step, || {
            // A fresh proof for each try: a proof is never sent twice.
            let (proof, _) = dpop::create_proof(
                device,
                "POST",
                &config.token_endpoint,
                unix_now(),
                access_token,
            )
            .map_err(|e| Error::internal(format!("cannot sign a DPoP proof: {e}")))?;
            Ok(self
                .http
                .post(&config.token_endpoint)
                .header("DPoP", proof)
                .form(form))
        })
        .await?
        .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
        self.keep_nonce(&response);
        read(response).await
    }

    /// Remember the nonce a response carries, for the next proof.
    fn keep_nonce(&self, response: &reqwest::Response) -> Option<String> {
        let nonce = response
            .headers()
            .get(proto::DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| n.len() <= 256 && n.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned)?;
        *self.nonce.lock().expect("nonce lock") = Some(nonce.clone());
        Some(nonce)
    }

    /// Ask for a certificate for `ssh_key`, proving possession of it, with the device's
    /// posture report signed into the DPoP proof. A broker that wants a fresh nonce
    /// (`use_dpop_nonce`) gets one more try with the nonce it sent.
    pub async fn certificate(
        &self,
        config: &BrokerConfiguration,
        device: &SigningKey,
        access_token: &str,
        ssh_key: &ssh_key::PrivateKey,
        report: Option<&PostureReport>,
    ) -> Result<CertificateResponse, Error> {
        let url = &config.certificate_endpoint;
        let digest = report.map(posture::digest);
        let mut nonce = self.nonce.lock().expect("nonce lock").take();
        let mut retried = false;
        loop {
            // Repeatable: each try has its own proof and possession proof, and what a repeated
            // try can cause is a second certificate for the same key, audited like the first.
            let response = retry::send::<Error>(Step::Repeatable, || {
                let binding = Binding {
                    nonce: nonce.as_deref(),
                    posture_digest: digest.as_deref(),
                };
                let (proof, jti) = dpop::create_bound_proof(
                    device,
                    "POST",
                    url,
                    unix_now(),
                    Some(access_token),
                    binding,
                )
                .map_err(|e| Error::internal(format!("cannot sign a DPoP proof: {e}")))?;
                let body = certificate_request(ssh_key, &jti, report.cloned()).map_err(|e| {
                    Error::internal(format!("cannot prove possession of the SSH key: {e}"))
                })?;
                Ok(self
                    .http
                    .post(url)
                    .header("Authorization", format!("DPoP {access_token}"))
                    .header("DPoP", proof)
                    .json(&body))
            })
            .await?
            .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
            let fresh = self.keep_nonce(&response);
            match read(response).await {
                Err(Error::Broker(refusal))
                    if refusal.code == Some(ErrorCode::UseDpopNonce)
                        && fresh.is_some()
                        && !retried =>
                {
                    retried = true;
                    nonce = self.nonce.lock().expect("nonce lock").take();
                }
                other => return other,
            }
        }
    }
}

/// The discovery document is input from the network like any other: its
/// endpoints must be on the broker's own origin (tokens are sent there),
/// the IdP must be HTTPS (loopback excepted), and the CA keys must be plain
/// OpenSSH public keys (they become `@cert-authority` lines).
pub fn check_configuration(base: &str, config: &BrokerConfiguration) -> Result<(), Error> {
    let bad = |what: &str| {
        Error::config_with_hint(
            format!(
                "the broker at {} sent an unusable configuration: {what}",
                Printable(base)
            ),
            "the broker may be misconfigured, or something between you and it is interfering",
        )
    };
    let prefix = format!("{base}/");
    for (name, url) in [
        ("token_endpoint", &config.token_endpoint),
        ("certificate_endpoint", &config.certificate_endpoint),
    ] {
        let parsed = url::Url::parse(url).ok();
        let plain = parsed.as_ref().is_some_and(|u| {
            u.query().is_none() && u.fragment().is_none() && u.username().is_empty()
        });
        if !url.starts_with(&prefix) || !plain {
            return Err(bad(&format!("{name} is not on the broker's own URL")));
        }
    }
    super::http::check_url("identity provider issuer", &config.identity_provider.issuer)?;
    let client_id = &config.identity_provider.client_id;
    if client_id.is_empty() || client_id.chars().any(char::is_control) {
        return Err(bad(
            "identity_provider.client_id is empty or has control characters",
        ));
    }
    if config.host_ca_keys.is_empty() {
        return Err(bad("no host CA key"));
    }
    for key in config.host_ca_keys.iter().chain(&config.user_ca_keys) {
        ca_key(key).map_err(|_| bad("a CA key is not an OpenSSH public key"))?;
    }
    Ok(())
}

/// `zt token` prints the access token for scripts as it came: it must be a token (JWS compact
/// serialization is base64url and dots), never text that could drive a terminal.
fn check_access_token(token: &str) -> Result<(), Error> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Protocol(
            "the broker sent an access token that is not printable ASCII".into(),
        ));
    }
    Ok(())
}

/// A CA key from the discovery document, re-encoded (no comment): only
/// the key itself reaches zt's known_hosts.
pub fn ca_key(line: &str) -> Result<String, ssh_key::Error> {
    let mut key = ssh_key::PublicKey::from_openssh(line)?;
    key.set_comment("");
    key.to_openssh()
}

/// The discovery document, or an error that says this URL is not a zt broker: a web server
/// answering 404 or HTML there is a wrong `--broker`, not a broker failure. A broker that is
/// down behind a proxy (502–504, 503) is still "unavailable".
async fn discovery_document(
    url: &str,
    response: reqwest::Response,
) -> Result<BrokerConfiguration, Error> {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let not_a_broker = |what: String| {
        Error::config_with_hint(
            format!(
                "{} is not a zt broker: GET {} {what}, where a broker serves its discovery document (JSON)",
                Printable(url.trim_end_matches(proto::WELL_KNOWN_PATH)),
                Printable(url)
            ),
            "check --broker (or the profile's broker in `zt status`): it is the broker's base URL, e.g. https://zt-broker.example.com",
        )
    };
    if matches!(status.as_u16(), 502..=504) {
        return read(response).await;
    }
    if !status.is_success() {
        return Err(not_a_broker(format!("answered {status}")));
    }
    if !content_type.starts_with("application/json") {
        let shown = if content_type.is_empty() {
            "no content type".to_owned()
        } else {
            Printable(&content_type).to_string()
        };
        return Err(not_a_broker(format!("answered {shown}")));
    }
    read(response).await.map_err(|e| match e {
        Error::Protocol(why) => not_a_broker(format!("answered JSON that is not zt's ({why})")),
        other => other,
    })
}

/// Decode a broker response; an error answer keeps its code as data.
pub(crate) async fn read<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, Error> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::unreachable(Peer::Broker, &e))?;
    if !status.is_success() {
        return Err(BrokerRefusal::from_answer(status.as_u16(), &bytes).into());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        // serde quotes unknown fields and variants as they came.
        Error::Protocol(format!(
            "the broker sent a response zt does not understand: {}",
            Printable(&e.to_string())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://broker.example";
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb6Pc7oEKmDkprHNm1Ksg6uDr4Zz5TfyJt4A0WnWuf3";

    fn good() -> BrokerConfiguration {
        BrokerConfiguration {
            api_version: proto::API_VERSION,
            broker: BASE.into(),
            audience: "zt-broker".into(),
            identity_provider: proto::IdentityProviderInfo {
                issuer: "https://idp.example".into(),
                client_id: "zt".into(),
                scopes: vec!["openid".into()],
            },
            user_ca_keys: vec![KEY.into()],
            host_ca_keys: vec![format!("{KEY} host-ca")],
            certificate_ttl: proto::TtlLimits {
                default_secs: 3600,
                max_secs: 3600,
            },
            token_endpoint: format!("{BASE}/v1/token"),
            certificate_endpoint: format!("{BASE}/v1/ssh/certificates"),
            jwks_uri: format!("{BASE}/v1/jwks"),
            workload_audience: BASE.into(),
        }
    }

    #[test]
    fn a_well_formed_configuration_passes() {
        check_configuration(BASE, &good()).unwrap();
    }

    #[test]
    fn hostile_configurations_are_refused() {
        type Mutation = Box<dyn Fn(&mut BrokerConfiguration)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "foreign token endpoint",
                Box::new(|c| c.token_endpoint = "https://evil.example/v1/token".into()),
            ),
            (
                "look-alike host",
                Box::new(|c| c.token_endpoint = format!("{BASE}.evil.example/v1/token")),
            ),
            (
                "userinfo trick",
                Box::new(|c| {
                    c.certificate_endpoint = "https://broker.example@evil.example/x".into()
                }),
            ),
            (
                "query",
                Box::new(|c| {
                    c.certificate_endpoint = format!("{BASE}/v1/ssh/certificates?to=evil")
                }),
            ),
            (
                "plain-http IdP",
                Box::new(|c| c.identity_provider.issuer = "http://idp.example".into()),
            ),
            (
                "file IdP",
                Box::new(|c| c.identity_provider.issuer = "file:///etc/passwd".into()),
            ),
            (
                "empty client id",
                Box::new(|c| c.identity_provider.client_id.clear()),
            ),
            ("no host CA", Box::new(|c| c.host_ca_keys.clear())),
            (
                "injected known_hosts line",
                Box::new(|c| c.host_ca_keys = vec![format!("{KEY}\n* ssh-ed25519 AAAA")]),
            ),
            (
                "garbage CA key",
                Box::new(|c| c.user_ca_keys = vec!["-oProxyCommand=sh".into()]),
            ),
        ];
        for (name, mutate) in cases {
            let mut config = good();
            mutate(&mut config);
            assert!(check_configuration(BASE, &config).is_err(), "{name} passed");
        }
    }

    #[test]
    fn an_access_token_that_could_drive_a_terminal_is_refused() {
        check_access_token("eyJhbGciOiJFUzI1NiJ9.e30.sig-_").unwrap();
        for bad in ["", "a\nb", "a\u{1b}[2J", "a b", "tok\u{202e}en", "t\u{9b}"] {
            assert!(check_access_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ca_keys_lose_their_comment() {
        assert_eq!(ca_key(&format!("{KEY} any comment")).unwrap(), KEY);
    }
}
