//! The client's HTTP: one reqwest client (rustls, no redirects, timeouts)
//! and its adapter for the `openidconnect` crate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zt_os::exit::{Exit, Failure};

/// HTTPS, or HTTP on loopback (development); nothing else.
pub fn check_url(what: &str, text: &str) -> Result<url::Url, Failure> {
    zt_core::urls::https_or_loopback(what, text).map_err(|e| Failure::config(e.to_string()))
}

pub fn client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        // A redirect could send tokens to another host; OAuth endpoints
        // never need one.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("zt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::unexpected(format!("cannot build the HTTP client: {e}")))
}

pub fn unreachable(what: &str, e: impl std::fmt::Display) -> Failure {
    let message = format!("{what} is unreachable: {e}");
    let hint = if message.contains("certificate") {
        "its TLS certificate does not verify; if it comes from a private CA, set SSL_CERT_FILE to that CA's PEM bundle"
    } else {
        "check the network and the URL; `zt status` shows the configured broker"
    };
    Failure::new(Exit::Unreachable, message).hint(hint)
}

/// `e` and its sources, one after the other (reqwest hides the cause of a
/// failed request, such as a certificate that does not verify, in them).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    sanitize(&text)
}

/// Text from the network goes to a terminal: escaped and bounded, so a
/// hostile server can neither rewrite the screen nor fill it.
pub fn sanitize(text: &str) -> String {
    zt_core::text::printable(text, 500)
}

/// `openidconnect` speaks `http` crate requests; this runs them on reqwest.
#[derive(Clone)]
pub struct OidcHttp(pub reqwest::Client);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OidcHttpError(String);

impl<'c> openidconnect::AsyncHttpClient<'c> for OidcHttp {
    type Error = OidcHttpError;
    type Future = Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, OidcHttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let mut builder = self.0.request(parts.method, &url).body(body);
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| OidcHttpError(e.to_string()))?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| OidcHttpError(e.to_string()))?;
            out.body(bytes.to_vec())
                .map_err(|e| OidcHttpError(e.to_string()))
        })
    }
}
