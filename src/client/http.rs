//! The client's HTTP: one reqwest client (rustls, no redirects, timeouts)
//! and its adapter for the `openidconnect` crate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::Error;
use zt_core::text::Printable;

/// HTTPS, or HTTP on loopback (development); nothing else. The URL may come from the broker's
/// discovery document: the error quotes it escaped and cut short.
pub fn check_url(what: &str, text: &str) -> Result<url::Url, Error> {
    zt_core::urls::https_or_loopback(what, text)
        .map_err(|e| Error::config(Printable(&e.to_string()).to_string()))
}

pub fn client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        // A redirect could send tokens to another host; OAuth endpoints
        // never need one.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("zt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
}

/// Whether `e` failed because a peer's TLS certificate did not verify: a rustls
/// certificate error somewhere in its chain. hyper-rustls puts it inside an `io::Error`, and
/// reqwest wraps that in another; `io::Error::source` skips the error it wraps, so those are
/// opened with `get_ref`.
pub fn is_untrusted_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(error) = next {
        if let Some(rustls) = error.downcast_ref::<rustls::Error>() {
            return matches!(
                rustls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    false
}

/// `e` and its sources, one after the other (reqwest hides the cause of a
/// failed request, such as a certificate that does not verify, in them).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    // Text from the network goes to a terminal: escaped and bounded, so a hostile server can
    // neither rewrite the screen nor fill it.
    Printable(&text).to_string()
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
