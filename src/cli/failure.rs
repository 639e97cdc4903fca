//! The one place where client errors become exit statuses, messages and hints (the
//! contract in the README and `zt --help`). Decisions are made on the broker's error code
//! and the identity provider's OAuth code, never on message text.

use zt_core::posture::Failing;
use zt_core::proto::ErrorCode;
use zt_core::text::Printable;
use zt_os::exit::{Exit, Failure};

use crate::client::error::{BrokerRefusal, Error, IdpOperation, IdpRefusal, OAuthError};

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Broker(refusal) => broker_refusal(&refusal),
            Error::Idp(refusal) => idp_refusal(&refusal),
            Error::Unreachable {
                untrusted_certificate,
                ..
            } => {
                let hint = if untrusted_certificate {
                    "its TLS certificate does not verify; if it comes from a private CA, set SSL_CERT_FILE to that CA's PEM bundle"
                } else {
                    "check the network and the URL; `zt status` shows the configured broker"
                };
                Failure::new(Exit::Unreachable, e.to_string()).hint(hint)
            }
            Error::Config { message, hint } => {
                let failure = Failure::config(message);
                match hint {
                    Some(hint) => failure.hint(hint),
                    None => failure,
                }
            }
            Error::InvalidProfile(_) => Failure::new(Exit::Usage, e.to_string()),
            Error::NotLoggedIn(message) => Failure::login_required(message),
            Error::IdTokenRejected { .. } => Failure::new(Exit::Denied, e.to_string()),
            Error::NotGranted {
                ref rule,
                ref missing,
                ..
            } => {
                let quoted: Vec<String> = missing.iter().map(|m| format!("\"{m}\"")).collect();
                let hint = format!(
                    "ask an admin to add {} to the extensions of rule {rule:?}, or connect without it",
                    quoted.join(" and ")
                );
                Failure::new(Exit::Denied, e.to_string()).hint(hint)
            }
            Error::PostureLost { ref failing, .. } => posture_failure(e.to_string(), failing)
                .hint("the certificate was removed; fix what is listed, then run the command again (`zt posture` shows the report)"),
            Error::File(file) => file.into(),
            Error::Keyring { .. } => Failure::config(e.to_string()).hint(
                "unlock or repair the OS keyring, or keep zt's secrets in 0600 files: ZT_CREDENTIAL_STORE=file",
            ),
            // The peer broke the protocol, or the environment failed in a way nobody can fix
            // from here: the one place exit 1 remains.
            Error::Protocol(_) | Error::Internal(_) => Failure::unexpected(e.to_string()),
        }
    }
}

/// A broker refusal, decided on its code; on its status only when the answer did not come
/// from a broker (a proxy's 502, a web server's 404).
fn broker_refusal(refusal: &BrokerRefusal) -> Failure {
    let what = refusal.describe();
    match refusal.code {
        Some(ErrorCode::AccessDenied) => denied(&what),
        Some(ErrorCode::DeviceRevoked | ErrorCode::DeviceNotApproved) => denied(&what),
        Some(ErrorCode::PostureNotMet) => posture_failure(
            format!("the broker refused this device's posture: {what}"),
            &refusal.failing,
        )
        .hint("fix what is listed, then try again; `zt posture` shows the device's report"),
        Some(ErrorCode::InvalidToken | ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce) => {
            credentials_refused(&what)
        }
        Some(ErrorCode::InvalidGrant | ErrorCode::IdTokenReused) => {
            Failure::login_required(format!("the broker refused the identity token: {what}"))
        }
        Some(ErrorCode::RateLimited) => limited(&what),
        Some(ErrorCode::TemporarilyUnavailable) => unavailable(&what),
        Some(
            ErrorCode::InvalidRequest
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::InvalidTarget
            | ErrorCode::InvalidKey
            | ErrorCode::NotFound
            | ErrorCode::ServerError,
        ) => answered(refusal.status, &what),
        None => match refusal.status {
            403 => denied(&what),
            401 => credentials_refused(&what),
            429 => limited(&what),
            502..=504 => unavailable(&what),
            status => answered(status, &what),
        },
    }
}

/// Exit 5, with each failing requirement on its own lines (evidence and fix) and in
/// `--json` as `details.failing`.
fn posture_failure(message: String, failing: &[Failing]) -> Failure {
    let mut message = message;
    // The broker's list is escaped already; a local re-check's evidence is not. Escaping
    // twice changes nothing.
    for f in failing {
        message.push_str(&format!(
            "\n  {}: {}",
            Printable(&f.requirement),
            Printable(&f.evidence)
        ));
        if let Some(fix) = &f.fix {
            message.push_str(&format!("\n    fix: {}", Printable(fix)));
        }
    }
    Failure::new(Exit::Posture, message).details(serde_json::json!({ "failing": failing }))
}

fn denied(what: &str) -> Failure {
    Failure::new(
        Exit::Denied,
        format!("the broker denied the request: {what}"),
    )
}

fn credentials_refused(what: &str) -> Failure {
    Failure::login_required(format!("the broker refused the credentials: {what}"))
}

fn limited(what: &str) -> Failure {
    Failure::new(
        Exit::Unreachable,
        format!("the broker is limiting requests: {what}"),
    )
}

fn unavailable(what: &str) -> Failure {
    Failure::new(
        Exit::Unreachable,
        format!("the broker is unavailable: {what}"),
    )
}

fn answered(status: u16, what: &str) -> Failure {
    Failure::unexpected(format!("the broker answered HTTP {status}: {what}"))
}

/// OAuth errors that mean the client is set up wrongly at the IdP (RFC 6749 §5.2).
const IDP_SETUP_ERRORS: &[&str] = &[
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "unsupported_grant_type",
    "invalid_request",
];
/// OAuth errors that mean the IdP cannot answer right now (RFC 6749 §4.1.2.1).
const IDP_BUSY_ERRORS: &[&str] = &["server_error", "temporarily_unavailable"];

fn idp_refusal(refusal: &IdpRefusal) -> Failure {
    match (refusal.operation, &refusal.code) {
        (IdpOperation::DeviceToken, OAuthError::AccessDenied) => Failure::new(
            Exit::Denied,
            "the sign-in was denied at the identity provider",
        ),
        (IdpOperation::DeviceToken, OAuthError::ExpiredToken) => {
            Failure::login_required("the device code expired before the sign-in was approved")
        }
        (IdpOperation::Refresh | IdpOperation::DeviceToken, OAuthError::InvalidGrant) => {
            Failure::login_required("the identity provider no longer accepts the saved session")
        }
        (IdpOperation::ClientCredentials, OAuthError::Other(_) | OAuthError::InvalidGrant) => {
            Failure::config(refusal.to_string()).hint(
                "check ZT_CLIENT_ID and its secret, and that the identity provider lets this client use the client_credentials grant for the broker's audience",
            )
        }
        (_, OAuthError::Other(code)) if IDP_SETUP_ERRORS.contains(&code.as_str()) => {
            Failure::config(refusal.to_string()).hint(
                "the broker's identity provider settings (client_id, scopes, device grant) do not match the identity provider; ask a zt admin",
            )
        }
        (_, OAuthError::Other(code)) if IDP_BUSY_ERRORS.contains(&code.as_str()) => {
            Failure::new(Exit::Unreachable, refusal.to_string())
                .hint("the identity provider is failing or busy; try again shortly")
        }
        _ => Failure::unexpected(refusal.to_string()),
    }
}

/// For the target-side `zt host` commands, where the caller is a host, not a person: a
/// refused enrolment token or certificate is a denial (there is no `zt login` to run).
pub fn host_failure(e: Error) -> Failure {
    match e {
        Error::Broker(refusal) => {
            let exit = match (refusal.code, refusal.status) {
                (Some(ErrorCode::InvalidToken | ErrorCode::AccessDenied), _)
                | (None, 401 | 403) => Exit::Denied,
                (Some(ErrorCode::TemporarilyUnavailable | ErrorCode::RateLimited), _)
                | (None, 500..) => Exit::Unreachable,
                _ => Exit::Unexpected,
            };
            Failure::new(exit, format!("the broker refused: {}", refusal.describe()))
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: Option<ErrorCode>) -> Error {
        Error::Broker(BrokerRefusal {
            status,
            code,
            error: code.map_or_else(|| format!("HTTP {status}"), |c| c.as_str().to_owned()),
            description: Some("d".into()),
            failing: vec![],
        })
    }

    #[test]
    fn broker_codes_decide_the_exit_status() {
        let cases = [
            (403, Some(ErrorCode::AccessDenied), Exit::Denied),
            (401, Some(ErrorCode::InvalidToken), Exit::LoginRequired),
            (401, Some(ErrorCode::InvalidDpopProof), Exit::LoginRequired),
            (400, Some(ErrorCode::InvalidGrant), Exit::LoginRequired),
            (400, Some(ErrorCode::IdTokenReused), Exit::LoginRequired),
            (429, Some(ErrorCode::RateLimited), Exit::Unreachable),
            (
                503,
                Some(ErrorCode::TemporarilyUnavailable),
                Exit::Unreachable,
            ),
            (400, Some(ErrorCode::InvalidKey), Exit::Unexpected),
            (500, Some(ErrorCode::ServerError), Exit::Unexpected),
            (502, None, Exit::Unreachable),
            (403, None, Exit::Denied),
            (404, None, Exit::Unexpected),
        ];
        for (status, code, exit) in cases {
            assert_eq!(
                Failure::from(refusal(status, code)).exit,
                exit,
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn the_status_does_not_override_a_known_code() {
        // A broker code wins over a status that would say otherwise.
        let failure = Failure::from(refusal(400, Some(ErrorCode::AccessDenied)));
        assert_eq!(failure.exit, Exit::Denied);
    }

    #[test]
    fn oauth_codes_decide_idp_failures() {
        let idp = |operation, code| {
            Failure::from(Error::Idp(IdpRefusal {
                operation,
                code,
                description: None,
            }))
            .exit
        };
        use IdpOperation::*;
        assert_eq!(idp(DeviceToken, OAuthError::AccessDenied), Exit::Denied);
        assert_eq!(
            idp(DeviceToken, OAuthError::ExpiredToken),
            Exit::LoginRequired
        );
        assert_eq!(idp(Refresh, OAuthError::InvalidGrant), Exit::LoginRequired);
        assert_eq!(
            idp(Refresh, OAuthError::Other("x".into())),
            Exit::Unexpected
        );
        let other = |code: &str| OAuthError::Other(code.into());
        assert_eq!(
            idp(DeviceAuthorization, other("invalid_client")),
            Exit::Config
        );
        assert_eq!(
            idp(DeviceAuthorization, other("invalid_scope")),
            Exit::Config
        );
        assert_eq!(
            idp(Refresh, other("temporarily_unavailable")),
            Exit::Unreachable
        );
    }

    #[test]
    fn a_host_whose_token_is_refused_is_denied() {
        let failure = host_failure(refusal(401, Some(ErrorCode::InvalidToken)));
        assert_eq!(failure.exit, Exit::Denied);
        let failure = host_failure(refusal(503, Some(ErrorCode::TemporarilyUnavailable)));
        assert_eq!(failure.exit, Exit::Unreachable);
    }

    #[test]
    fn an_untrusted_certificate_gets_the_ssl_cert_file_hint() {
        let failure = Failure::from(Error::Unreachable {
            peer: crate::client::error::Peer::Broker,
            detail: "x".into(),
            untrusted_certificate: true,
        });
        assert_eq!(failure.exit, Exit::Unreachable);
        assert!(failure.hint.unwrap().contains("SSL_CERT_FILE"));
    }
}
