//! HTTP surface of the broker: routes, thin handlers, request limits and
//! timeouts, and the listener (HTTPS with rustls, or plain HTTP on
//! loopback / behind an explicit insecure flag).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Json, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::config::LimitsConfig;
use super::connections::{Bounds, LimitedAcceptor, parking_capacity};
use super::service::{Broker, Refusal, RequestMeta};
use zt_core::proto::{self, ErrorBody, ErrorCode};

/// Largest request body accepted; a certificate request with an RSA-8192
/// key and its signature is well under this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections the kernel queues for `accept`.
const LISTEN_BACKLOG: i32 = 4096;

pub fn router(broker: Arc<Broker>) -> Router {
    // Rate limited per client address before any work is done for them.
    let limited = Router::new()
        .route(proto::TOKEN_PATH, post(token))
        .route(proto::CERTIFICATE_PATH, post(certificate))
        .route(proto::HOST_CERTIFICATE_PATH, post(host_certificate))
        .route_layer(middleware::from_fn_with_state(
            broker.clone(),
            limit_address,
        ));
    Router::new()
        .route(proto::WELL_KNOWN_PATH, get(configuration))
        .route(proto::KRL_PATH, get(krl))
        .route(proto::JWKS_PATH, get(jwks))
        .merge(limited)
        .route(proto::HEALTH_PATH, get(|| async { "ok\n" }))
        .route(proto::READY_PATH, get(ready))
        .fallback(|| async { Refusal::new(ErrorCode::NotFound, "no such endpoint") })
        .with_state(broker)
        .layer(middleware::from_fn(refuse_repeated_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(oauth_style_413))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

/// Headers that decide who a request is and what it says, each of which must appear at most
/// once: with two, one part of a stack may read the first and another the last (RFC 9449
/// §4.3 demands this of `DPoP`).
const SINGLE_HEADERS: [(&str, ErrorCode); 5] = [
    ("dpop", ErrorCode::InvalidDpopProof),
    ("authorization", ErrorCode::InvalidToken),
    ("content-type", ErrorCode::InvalidRequest),
    ("content-length", ErrorCode::InvalidRequest),
    ("host", ErrorCode::InvalidRequest),
];

/// Refuse a request that repeats a header of [`SINGLE_HEADERS`] before anything reads it.
async fn refuse_repeated_headers(request: Request, next: Next) -> Response {
    if let Some(refusal) = repeated_header(request.headers()) {
        tracing::info!(reason = %refusal.description, "request refused");
        return refusal.into_response();
    }
    next.run(request).await
}

fn repeated_header(headers: &HeaderMap) -> Option<Refusal> {
    SINGLE_HEADERS.iter().find_map(|(name, code)| {
        (headers.get_all(*name).iter().count() > 1).then(|| {
            Refusal::new(
                *code,
                format!("the request has more than one {name} header; send exactly one"),
            )
        })
    })
}

async fn limit_address(
    State(broker): State<Arc<Broker>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match broker.limits().check_address(addr.ip()) {
        Ok(()) => next.run(request).await,
        Err(retry) => {
            Refusal::rate_limited(retry.0, "too many requests from this address").into_response()
        }
    }
}

fn meta(headers: &HeaderMap, addr: SocketAddr) -> RequestMeta {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestMeta {
        request_id: zt_core::jose::random_id(),
        client_addr: Some(addr),
        dpop: text("dpop"),
        authorization: text(header::AUTHORIZATION.as_str()),
        now: zt_os::clock::unix_now(),
    }
}

fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn configuration(State(broker): State<Arc<Broker>>) -> Json<proto::BrokerConfiguration> {
    Json(broker.configuration())
}

/// The token keys (RFC 7517 JWK set). Services cache it: an hour is well inside the time a
/// rotated-out key stays published.
async fn jwks(State(broker): State<Arc<Broker>>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        Json(broker.jwks()),
    )
}

async fn ready(State(broker): State<Arc<Broker>>) -> Result<&'static str, Refusal> {
    broker.ready().await.map(|()| "ready\n")
}

async fn token(
    State(broker): State<Arc<Broker>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<proto::TokenExchangeRequest>, FormRejection>,
) -> Result<Response, Response> {
    let Form(req) = form.map_err(form_rejection)?;
    let meta = meta(&headers, addr);
    let response = broker
        .exchange(&meta, &req)
        .await
        .map_err(|e| refused(&meta, e))?;
    let mut response = no_store(Json(response));
    set_nonce(&mut response, &broker.fresh_nonce(meta.now));
    Ok(response)
}

async fn certificate(
    State(broker): State<Arc<Broker>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<proto::CertificateRequest>, JsonRejection>,
) -> Result<Response, Response> {
    let Json(req) = body.map_err(json_rejection)?;
    let meta = meta(&headers, addr);
    let response = broker
        .issue_certificate(&meta, &req)
        .await
        .map_err(|e| refused(&meta, e))?;
    tracing::info!(request_id = %meta.request_id, serial = response.serial, rule = %response.rule, "certificate issued");
    let mut response = no_store(Json(response));
    set_nonce(&mut response, &broker.fresh_nonce(meta.now));
    Ok(response)
}

async fn host_certificate(
    State(broker): State<Arc<Broker>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<proto::HostCertificateRequest>, JsonRejection>,
) -> Result<Response, Response> {
    let Json(req) = body.map_err(json_rejection)?;
    let meta = meta(&headers, addr);
    let response = broker
        .issue_host_certificate(&meta, &req)
        .await
        .map_err(|e| refused(&meta, e))?;
    tracing::info!(request_id = %meta.request_id, serial = response.serial, principals = %response.principals.join(","), "host certificate issued");
    Ok(no_store(Json(response)))
}

/// The KRL, with an ETag; `If-None-Match` with the current ETag gets 304.
async fn krl(State(broker): State<Arc<Broker>>, headers: HeaderMap) -> Result<Response, Refusal> {
    let document = broker.krl(zt_os::clock::unix_now()).await?;
    let etag =
        header::HeaderValue::from_str(&document.etag).map_err(|_| Refusal::internal("bad ETag"))?;
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == document.etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            document.bytes.clone(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

/// `RequestBodyLimitLayer` refuses a too-large `Content-Length` before the
/// body is read, with a plain-text answer; give it the broker's error shape.
async fn oauth_style_413(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return too_large();
    }
    response
}

/// 413, with the broker's error shape. The one answer whose status is not its code's:
/// the request was malformed by its size.
fn too_large() -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("request body over {MAX_BODY_BYTES} bytes"),
        ),
        None,
    )
}

fn json_rejection(e: JsonRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    Refusal::bad_request(format!("bad JSON body: {}", printable(&e.body_text()))).into_response()
}

fn form_rejection(e: FormRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    Refusal::bad_request(format!("bad token request: {}", printable(&e.body_text())))
        .into_response()
}

/// Text that may carry pieces of the request, made safe for one log line.
fn printable(text: &str) -> String {
    zt_core::text::printable(text, 300)
}

/// The one place a refusal becomes HTTP: the status its code travels with, the OAuth-style
/// body, `no-store`, `WWW-Authenticate` on 401 and `Retry-After` on 429 and 503.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = match (self.retry_after, status) {
            (Some(secs), _) => Some(secs),
            (None, StatusCode::SERVICE_UNAVAILABLE) => Some(5),
            _ => None,
        };
        let body = ErrorBody {
            failing: self.failing,
            ..ErrorBody::new(self.code, self.description)
        };
        let mut response = error_response(status, body, retry_after);
        if let Some(nonce) = self.nonce {
            set_nonce(&mut response, &nonce);
        }
        response
    }
}

/// The `DPoP-Nonce` header (RFC 9449 §8) with a fresh broker nonce.
fn set_nonce(response: &mut Response, nonce: &str) {
    if let Ok(value) = header::HeaderValue::from_str(nonce) {
        response
            .headers_mut()
            .insert(proto::DPOP_NONCE_HEADER, value);
    }
}

fn error_response(status: StatusCode, body: ErrorBody, retry_after: Option<u64>) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("DPoP algs=\"ES256\""),
        );
    }
    if let Some(secs) = retry_after {
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

/// A refusal of a request, logged (the service has audited it) and answered.
fn refused(meta: &RequestMeta, e: Refusal) -> Response {
    log_refusal(meta, &e);
    e.into_response()
}

fn log_refusal(meta: &RequestMeta, e: &Refusal) {
    // Descriptions can quote pieces of the request (a kid, an issuer), and
    // `%` formatting of tracing fields escapes nothing: escape them here so
    // no request can forge a log line.
    tracing::info!(request_id = %meta.request_id, status = e.code.http_status(), code = e.code.as_str(), reason = %printable(&e.description), "request refused");
}

/// Serve `router` on `listener` until ctrl-c/SIGTERM, within `limits`' connection
/// bounds, header deadlines and request-head size.
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    limits: &LimitsConfig,
) -> std::io::Result<()> {
    // std listens with a backlog of 128. While reconnecting slow clients keep that queue
    // full, an honest client's SYN is dropped and retried a second later; a longer queue
    // (the kernel caps it at net.core.somaxconn) waits instead.
    socket2::SockRef::from(&listener).listen(LISTEN_BACKLOG)?;
    let header_timeout = Duration::from_secs(limits.header_read_timeout_secs);
    let acceptor = LimitedAcceptor::new(Bounds::from_limits(limits), parking_capacity(limits));
    let sweeper = tokio::spawn(acceptor.sweeper());
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
            let mut server = axum_server::from_tcp_rustls(listener, config)?
                .map(|tls| tls.handshake_timeout(header_timeout).acceptor(acceptor))
                .first_request_timeout(header_timeout)
                .handle(handle);
            http1_limits(server.http_builder(), limits);
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(acceptor)
                .first_request_timeout(header_timeout)
                .handle(handle);
            http1_limits(server.http_builder(), limits);
            server.serve(service).await
        }
    };
    sweeper.abort();
    served
}

/// hyper's own bounds on a request head: the header-read timeout (the connection table
/// shortens it under pressure) and the buffer a head must fit in.
fn http1_limits(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    limits: &LimitsConfig,
) {
    builder
        .http1()
        .header_read_timeout(Some(Duration::from_secs(limits.header_read_timeout_secs)))
        .max_buf_size(limits.max_request_head_bytes as usize);
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
