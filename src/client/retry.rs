//! Trying a broker step again when the broker, not the request, failed: a replica that died
//! under a load balancer, a connection refused while one restarts, a database that is coming
//! back. A few tries within about a second, then the error goes to the user as before.
//!
//! What may be tried again depends on what a second try could do:
//!
//! - A request whose connection failed never reached a broker: any step may be sent again.
//! - A request that was sent may have been carried out before the failure. Only a
//!   [`Step::Repeatable`] one is sent again after a 502, 503 or 504, a reset or a timeout: a
//!   read, or a request rebuilt with a fresh DPoP proof whose repetition issues nothing the
//!   first did not (another certificate for the same key, both audited). A
//!   [`Step::Once`] request spends something single-use (an ID token, a workload token):
//!   sent again it would be refused as a replay, so its failure is reported instead.
//!
//! Each try is built anew by the caller (a fresh proof, a fresh `jti`): a proof is never sent
//! twice.

use std::time::Duration;

/// What a second try of a step could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Safe to send again after it was sent.
    Repeatable,
    /// Sent at most once; tried again only when it never left.
    Once,
}

/// Pauses before the second and third tries.
const PAUSES: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(600)];

/// Whether a broker's answer says the broker (or the balancer in front of it) failed, not the
/// request: nothing was refused on its merits.
fn broker_failed(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// Send what `build` makes, trying again as `step` allows. Returns the last answer or error.
pub async fn send<E>(
    step: Step,
    mut build: impl FnMut() -> Result<reqwest::RequestBuilder, E>,
) -> Result<Result<reqwest::Response, reqwest::Error>, E> {
    let mut tries = 0;
    loop {
        let result = build()?.send().await;
        let again = match &result {
            // Never connected: nothing reached a broker.
            Err(e) if e.is_connect() => true,
            Err(e) => step == Step::Repeatable && (e.is_timeout() || e.is_request()),
            Ok(response) => step == Step::Repeatable && broker_failed(response.status()),
        };
        if !again || tries == PAUSES.len() {
            return Ok(result);
        }
        tokio::time::sleep(PAUSES[tries]).await;
        tries += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A server that answers `502` to its first `failures` requests and `200` after; returns
    /// its URL, its request count, and what keeps it running.
    fn flaky(failures: usize) -> (String, Arc<AtomicUsize>, tokio::sync::oneshot::Sender<()>) {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        let router = axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        axum::http::StatusCode::BAD_GATEWAY
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let running = zt_testkit::http::serve(listener, router);
        (format!("http://{addr}/"), count, running)
    }

    async fn status(step: Step, url: &str) -> Result<u16, String> {
        let http = reqwest::Client::new();
        let result = send(step, || Ok::<_, ()>(http.post(url))).await.unwrap();
        result
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_repeatable_step_is_sent_again_after_a_broker_failure_and_a_once_step_is_not() {
        let (url, count, _running) = flaky(2);
        assert_eq!(status(Step::Repeatable, &url).await, Ok(200));
        assert_eq!(count.load(Ordering::SeqCst), 3);

        let (url, count, _running) = flaky(1);
        assert_eq!(status(Step::Once, &url).await, Ok(502));
        assert_eq!(count.load(Ordering::SeqCst), 1, "sent once");
    }

    #[tokio::test]
    async fn tries_are_bounded() {
        let (url, count, _running) = flaky(usize::MAX);
        assert_eq!(status(Step::Repeatable, &url).await, Ok(502));
        assert_eq!(count.load(Ordering::SeqCst), 1 + PAUSES.len());
    }

    #[tokio::test]
    async fn a_refused_connection_is_tried_again_for_any_step() {
        // Nothing listens here: every try fails to connect, and each is a new try.
        let url = format!("http://127.0.0.1:{}/", zt_testkit::free_port());
        let tries = AtomicUsize::new(0);
        let http = reqwest::Client::new();
        let result = send(Step::Once, || {
            tries.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(http.post(&url))
        })
        .await
        .unwrap();
        assert!(result.unwrap_err().is_connect());
        assert_eq!(tries.load(Ordering::SeqCst), 1 + PAUSES.len());
    }
}
