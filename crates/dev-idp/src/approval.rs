//! What the `/device` page shows and what its form does: look up a user code, render the
//! approve/deny form, apply the decision.

use std::time::SystemTime;

use axum::http::StatusCode;
use serde::Deserialize;

use super::device::{UserCodeState, normalize_user_code};
use super::pages::{self, Kind};
use super::random::SecretRng;
use super::{DevIssuer, DevIssuerError};

/// `GET /device` query.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub user_code: Option<String>,
}

/// `POST /device` form: `user=<username>` approves, `deny=1` denies.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    pub user_code: Option<String>,
    pub form_token: Option<String>,
    pub user: Option<String>,
    pub deny: Option<String>,
}

/// An HTML page and its status.
pub type Page = (StatusCode, String);

impl DevIssuer {
    /// The page for `GET /device`, with or without a user code.
    pub(super) fn approval_page(
        &self,
        user_code: Option<&str>,
        rng: &mut impl SecretRng,
        now: SystemTime,
    ) -> Page {
        let Some(typed) = user_code.map(str::trim).filter(|c| !c.is_empty()) else {
            return (StatusCode::OK, pages::enter_code(None, None));
        };
        let Some(code) = normalize_user_code(typed) else {
            let notice = "That is not a code of this issuer: it has 8 letters, like BCDF-GHJK.";
            return (StatusCode::OK, pages::enter_code(Some(notice), Some(typed)));
        };
        let mut state = self.lock();
        let notice = match state.devices.user_code_state(&code, now) {
            UserCodeState::Pending { scopes } => {
                let token = state.form_tokens.issue(&code, rng, now);
                let display = super::device::display_user_code(&code);
                let html = pages::decide(&display, &scopes.to_param(), &self.config.users, &token);
                return (StatusCode::OK, html);
            }
            UserCodeState::Unknown => {
                "No login is waiting for that code. Check it, or run `zt login` again."
            }
            UserCodeState::Expired => "That code has expired. Run `zt login` again for a new one.",
            UserCodeState::Decided => "That code was already approved or denied.",
        };
        (StatusCode::OK, pages::enter_code(Some(notice), Some(typed)))
    }

    /// The result page for `POST /device`.
    pub(super) fn submit_decision(&self, form: &DecisionForm, now: SystemTime) -> Page {
        let error = |status, message: &str| {
            (
                status,
                pages::result(Kind::Error, "Nothing was changed", message),
            )
        };
        let typed = form.user_code.as_deref().unwrap_or_default();
        let Some(code) = normalize_user_code(typed) else {
            return error(
                StatusCode::BAD_REQUEST,
                "The form carried no valid user code.",
            );
        };
        let token = form.form_token.as_deref().unwrap_or_default();
        if !self.lock().form_tokens.consume(token, &code, now) {
            return error(
                StatusCode::BAD_REQUEST,
                "This form is stale or was already submitted. Open the device page again.",
            );
        }
        let username = match (form.user.as_deref(), form.deny.as_deref()) {
            (None, Some(_)) => None,
            (Some(user), None) => Some(user),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Choose one user to approve as, or deny.",
                );
            }
        };
        match self.decide_at(typed, username, now) {
            Ok(()) => match username {
                Some(user) => (
                    StatusCode::OK,
                    pages::result(
                        Kind::Approved,
                        "Login approved",
                        &format!(
                            "Approved as {user}. The terminal running `zt login` continues on its own."
                        ),
                    ),
                ),
                None => (
                    StatusCode::OK,
                    pages::result(Kind::Denied, "Login denied", "The login was denied."),
                ),
            },
            Err(e) => {
                let status = match e {
                    DevIssuerError::UnknownUserCode(_) => StatusCode::NOT_FOUND,
                    DevIssuerError::UserCodeExpired(_) => StatusCode::GONE,
                    DevIssuerError::AlreadyDecided(_) => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                error(status, &e.to_string())
            }
        }
    }
}
