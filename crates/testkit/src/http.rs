//! Blocking HTTP for tests, on top of async `reqwest`.
//!
//! Why not `reqwest::blocking`: enabling that feature on the dev-dependency would make
//! `cargo test` resolve `reqwest` with different features than `cargo build`, so the crate
//! and its dependants would be compiled twice on a 2-core machine. A current-thread tokio
//! runtime (tokio is already a dependency) costs nothing extra.
//!
//! Each call runs its future on a fresh runtime in a scoped thread, so these helpers also
//! work from inside `#[tokio::test]` functions (a runtime cannot be nested in a thread).

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// Runs `future` to completion on a private current-thread runtime.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build a tokio runtime")
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Runs the future `make` builds on a current-thread runtime in a thread of its own, for the
/// in-process peers' servers (the future may hold what is not `Send`, such as a server).
pub fn run_in_background<F>(make: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()> + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a tokio runtime")
            .block_on(make());
    });
}

/// Serves `app` on `listener` (non-blocking, already bound) in the background until the
/// returned sender is dropped: the in-process peers (hostile IdP, workload issuer) keep it as
/// their `_shutdown` field.
pub fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    run_in_background(move || async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    tx
}

/// A client for raw protocol calls: no cookies, no redirects, short timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build an HTTP client")
}

/// An HTTP status with the JSON body (or `Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct JsonResponse {
    pub status: u16,
    pub body: Value,
    /// The `Retry-After` header, in seconds, when present.
    pub retry_after: Option<u64>,
    /// The `DPoP-Nonce` header, when present.
    pub nonce: Option<String>,
}

impl JsonResponse {
    /// The OAuth `error` code of an error response, if there is one.
    pub fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    /// A string member of the body; panics with the body if it is absent.
    pub fn str(&self, member: &str) -> &str {
        self.body
            .get(member)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string `{member}` in {} {}", self.status, self.body))
    }
}

pub async fn into_json(response: reqwest::Response) -> JsonResponse {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let nonce = response
        .headers()
        .get(zt_core::proto::DPOP_NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("read the response body");
    JsonResponse {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        retry_after,
        nonce,
    }
}

/// `GET url` and parse the answer as JSON.
pub fn get_json(url: &str) -> JsonResponse {
    block_on(async {
        let response = client()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        into_json(response).await
    })
}

/// `GET url`; the answer's body as text, whatever its status.
pub fn get_text(url: &str) -> String {
    block_on(async {
        client()
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"))
    })
}

/// `POST url` with an `application/x-www-form-urlencoded` body; parse the answer as JSON.
pub fn post_form(url: &str, form: &[(&str, &str)]) -> JsonResponse {
    block_on(async {
        let response = client()
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        into_json(response).await
    })
}

/// `POST url` with a JSON body; parse the answer as JSON.
pub fn post_json(url: &str, body: &Value) -> JsonResponse {
    block_on(async {
        let response = client()
            .post(url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        into_json(response).await
    })
}
