//! HTTP: the axum router and its handlers. Handlers read the clock, parse the request, call
//! the flow in `flows.rs` / `approval.rs` and turn the result into a response.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use rand_core::OsRng;
use serde_json::json;

use super::DevIssuer;
use super::approval::{DecisionForm, Page, PageQuery};
use super::error::{OAuthError, no_store};
use super::flows::{
    DEVICE_CODE_GRANT, DeviceAuthorizationForm, REFRESH_TOKEN_GRANT, RevokeForm, TokenForm,
};
use super::scope;

type Issuer = State<Arc<DevIssuer>>;

pub fn router(issuer: Arc<DevIssuer>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize).post(authorize))
        .route(
            "/device_authorization",
            axum::routing::post(device_authorization),
        )
        .route("/token", axum::routing::post(token))
        .route("/revoke", axum::routing::post(revoke))
        .route("/device", get(device_page).post(device_decision))
        .with_state(issuer)
}

/// A malformed form body (wrong content type, duplicate or non-UTF-8 parameters) as an OAuth
/// error rather than axum's plain-text rejection.
fn form_error(rejection: FormRejection) -> OAuthError {
    OAuthError::invalid_request(format!(
        "the request body must be application/x-www-form-urlencoded with each parameter once: {rejection}"
    ))
}

fn json_no_store(value: impl serde::Serialize) -> Response {
    let mut response = Json(value).into_response();
    no_store(&mut response);
    response
}

async fn discovery(State(issuer): Issuer) -> Response {
    let base = issuer.issuer();
    json_no_store(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "device_authorization_endpoint": format!("{base}/device_authorization"),
        "jwks_uri": format!("{base}/jwks"),
        "revocation_endpoint": format!("{base}/revoke"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "grant_types_supported": [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
        "scopes_supported": scope::SUPPORTED,
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "claims_supported": [
            "iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "jti",
            "email", "email_verified", "name", "preferred_username", "groups",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
}

async fn jwks(State(issuer): Issuer) -> Response {
    // The key is new on every start, so nothing should keep an old copy.
    json_no_store(issuer.key.jwk_set())
}

async fn authorize() -> OAuthError {
    OAuthError::bad_request(
        "unsupported_response_type",
        "the development issuer only supports the device authorization grant; use `zt login`",
    )
}

async fn device_authorization(
    State(issuer): Issuer,
    form: Result<Form<DeviceAuthorizationForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) = form.map_err(form_error)?;
    let response = issuer.device_authorization(&form, &mut OsRng, SystemTime::now())?;
    Ok(json_no_store(response))
}

async fn token(
    State(issuer): Issuer,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) = form.map_err(form_error)?;
    let response = issuer.token(&form, &mut OsRng, SystemTime::now())?;
    Ok(json_no_store(response))
}

async fn revoke(
    State(issuer): Issuer,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) = form.map_err(form_error)?;
    issuer.revoke(&form)?;
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}

async fn device_page(
    State(issuer): Issuer,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let user_code = query.ok().and_then(|Query(q)| q.user_code);
    html(issuer.approval_page(user_code.as_deref(), &mut OsRng, SystemTime::now()))
}

async fn device_decision(
    State(issuer): Issuer,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let message = format!("The form could not be read: {rejection}");
            let page =
                super::pages::result(super::pages::Kind::Error, "Nothing was changed", &message);
            return html((StatusCode::BAD_REQUEST, page));
        }
    };
    html(issuer.submit_decision(&form, SystemTime::now()))
}

/// An HTML page with headers that keep it out of caches and frames (the approve buttons must
/// not be clickjacked) and forbid any script.
fn html((status, body): Page) -> Response {
    let mut response = (status, Html(body)).into_response();
    no_store(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
