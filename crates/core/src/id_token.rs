//! Verification of OpenID Connect ID tokens presented to the broker.
//!
//! Pure: the caller supplies the issuer's JWKS, the expected issuer and
//! client id, and the time. The checks follow OIDC Core §3.1.3.7 and
//! RFC 8725: the algorithm comes from the key, never from the token alone;
//! `none` and HMAC are never accepted; a header that names its own key is
//! refused; `exp`/`iat` must be numbers.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::jose;
use crate::policy::Identity;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is not a well-formed JWT")]
    Malformed,
    #[error("the ID token uses algorithm {0}, which the broker never accepts")]
    ForbiddenAlgorithm(String),
    #[error("the ID token header names its own key or critical extensions ({0}); refused")]
    ForbiddenHeader(&'static str),
    #[error(
        "the ID token is signed by a key the identity provider does not publish (kid {})",
        shown_kid(.0)
    )]
    UnknownKey(Option<String>),
    #[error("the ID token's algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("the ID token signature does not verify")]
    BadSignature,
    #[error(
        "the ID token was issued by {}, not by the configured identity provider {expected:?}",
        shown(found)
    )]
    WrongIssuer { expected: String, found: String },
    #[error("the ID token is not meant for this client (aud/azp do not contain {0:?})")]
    WrongAudience(String),
    #[error("the ID token has expired; run `zt login` again")]
    Expired,
    #[error("the ID token is not valid yet (nbf/iat in the future); check the clocks")]
    NotYetValid,
    #[error(
        "the ID token was issued {age} s ago, more than the {max} s this broker accepts; ask the identity provider for a fresh one"
    )]
    TooOld { age: u64, max: u64 },
    #[error(
        "the ID token is valid for {lifetime} s, more than the {max} s this broker accepts; shorten the identity provider's ID token lifetime"
    )]
    TooLongLived { lifetime: u64, max: u64 },
    #[error("the ID token lacks or mistypes a required claim: {}", shown(.0))]
    BadClaims(String),
    #[error(
        "the ID token repeats a header or claim name (or its payload is not a JSON object); refused"
    )]
    DuplicateMember,
    #[error("the token is an access token, not an ID token")]
    NotAnIdToken,
}

/// Token-supplied text for an error message: quoted, escaped and short, so
/// a hostile token cannot fill a response or a log line.
fn shown(text: &str) -> String {
    crate::text::quoted(text, 80)
}

fn shown_kid(kid: &Option<String>) -> String {
    kid.as_deref().map_or_else(|| "none".to_owned(), shown)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    groups: Option<Vec<String>>,
}

/// What a verified ID token says about its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdToken {
    pub identity: Identity,
    pub expires_at: u64,
    /// The key of the single-use ledger: see [`ledger_key`].
    pub token_id: String,
}

pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub now: u64,
    pub bounds: TokenBounds,
}

/// How old and how long-lived an ID token may be. zt exchanges an ID token moments after the
/// device flow or a refresh handed it out, so an old one is a replay or a leak; and a token that
/// lives for years is a credential no IdP should issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBounds {
    /// `now - iat` may be at most this (plus [`LEEWAY_SECS`]).
    pub max_age_secs: u64,
    /// `exp - iat` may be at most this.
    pub max_lifetime_secs: u64,
}

impl Default for TokenBounds {
    fn default() -> Self {
        TokenBounds {
            max_age_secs: 300,
            max_lifetime_secs: 24 * 3600,
        }
    }
}

/// The `kid` a token asks for, so the caller can decide to refetch the
/// JWKS (at most once a minute) before calling [`verify`] again.
pub fn requested_kid(token: &str) -> Option<String> {
    jose::decode_compact_header(token)?
        .get("kid")?
        .as_str()
        .map(str::to_owned)
}

pub fn verify(
    token: &str,
    jwks: &JwkSet,
    expect: &Expectations<'_>,
) -> Result<VerifiedIdToken, IdTokenError> {
    let raw = verified_payload(token, jwks, TypPolicy::IdToken)?;
    let claims: Claims =
        serde_json::from_value(raw).map_err(|e| IdTokenError::BadClaims(e.to_string()))?;
    check_claims(&claims, expect)?;
    let token_id = ledger_key(&claims.iss, claims.jti.as_deref(), token);
    Ok(VerifiedIdToken {
        identity: Identity::person(
            &claims.iss,
            &claims.sub,
            claims.email.filter(|_| claims.email_verified == Some(true)),
            claims.groups.unwrap_or_default(),
        ),
        expires_at: claims.exp,
        token_id,
    })
}

/// The key under which a verified token is entered in the single-use ledger: the issuer and
/// its `jti` (a `jti` is unique only per issuer, RFC 7519 §4.1.7), else a hash of the signed
/// part (header and payload). Not of the whole token: an ECDSA signature has a twin,
/// `(r, n - s)`, that verifies just as well, and a replay under the twin must hit the same key.
pub(crate) fn ledger_key(issuer: &str, jti: Option<&str>, token: &str) -> String {
    match jti {
        Some(jti) => format!("{issuer} {jti}"),
        None => {
            let signed = token.rsplit_once('.').map_or(token, |(signed, _)| signed);
            jose::sha256_b64(signed.as_bytes())
        }
    }
}

/// The longest subject the broker accepts, in bytes. OpenID Connect allows 255 ASCII
/// characters; this leaves room for identity providers that go further, and keeps an
/// identity within what a store indexes (PostgreSQL's index entries stop near 2.7 KB).
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// What makes `subject` unfit to name an identity, if anything: empty, longer than
/// [`MAX_SUBJECT_BYTES`], or holding a NUL, which no identity provider means and
/// PostgreSQL's text cannot store. Other control characters are kept and escaped wherever
/// the subject is shown.
pub(crate) fn subject_fault(subject: &str) -> Option<String> {
    if subject.is_empty() {
        Some("is empty".into())
    } else if subject.len() > MAX_SUBJECT_BYTES {
        Some(format!("is longer than {MAX_SUBJECT_BYTES} bytes"))
    } else if subject.contains('\0') {
        Some("holds a NUL character".into())
    } else {
        None
    }
}

/// Which `typ` headers a token may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypPolicy {
    /// An ID token: never an access token or a DPoP proof.
    IdToken,
    /// A workload token: a CI job's ID token, a service-account token, or an RFC 9068 JWT
    /// access token from a client-credentials grant; never a DPoP proof.
    Workload,
}

/// The payload of a JWS signed by a key of `jwks`, after every header check: the algorithm
/// comes from the key, `none` and HMAC are refused, a header naming its own key or critical
/// extensions is refused, and repeated member names are refused. Claims are not checked.
pub(crate) fn verified_payload(
    token: &str,
    jwks: &JwkSet,
    typ_policy: TypPolicy,
) -> Result<serde_json::Value, IdTokenError> {
    let header = jose::decode_compact_header(token).ok_or_else(|| malformed_or_duplicate(token))?;
    let alg = header
        .get("alg")
        .and_then(|v| v.as_str())
        .ok_or(IdTokenError::Malformed)?;
    if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") {
        return Err(IdTokenError::ForbiddenAlgorithm(alg.to_owned()));
    }
    for name in ["jwk", "jku", "x5u", "x5c", "crit"] {
        if header.get(name).is_some() {
            return Err(IdTokenError::ForbiddenHeader(name));
        }
    }
    if let Some(typ) = header.get("typ").and_then(|v| v.as_str()) {
        let typ = typ.to_ascii_lowercase();
        let access = typ == "at+jwt" || typ == "application/at+jwt";
        if typ == "dpop+jwt" || (access && typ_policy == TypPolicy::IdToken) {
            return Err(IdTokenError::NotAnIdToken);
        }
    }
    let kid = header
        .get("kid")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let jwk = select_key(jwks, kid.as_deref(), alg)
        .ok_or_else(|| IdTokenError::UnknownKey(kid.clone()))?;
    let algorithm = algorithm_for(jwk, alg)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| IdTokenError::UnknownKey(kid))?;

    // Signature first, with jsonwebtoken's claim checks switched off: the
    // claims are checked by the caller, with typed fields and our leeway.
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(|e| {
        match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenError::BadSignature,
            _ => IdTokenError::Malformed,
        }
    })?;
    // jsonwebtoken keeps the last of repeated claim names; read the signed
    // payload again, refusing repeats.
    jose::decode_compact_payload(token).ok_or(IdTokenError::DuplicateMember)
}

/// A header that does not parse: say so plainly when the only fault is a
/// repeated member name, so the IdP's operators can find it.
fn malformed_or_duplicate(token: &str) -> IdTokenError {
    let header = token
        .split('.')
        .next()
        .and_then(jose::b64_decode)
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    if header.is_some_and(|h| h.is_object()) && token.split('.').count() == 3 {
        IdTokenError::DuplicateMember
    } else {
        IdTokenError::Malformed
    }
}

fn check_claims(claims: &Claims, expect: &Expectations<'_>) -> Result<(), IdTokenError> {
    if claims.iss != expect.issuer {
        return Err(IdTokenError::WrongIssuer {
            expected: expect.issuer.to_owned(),
            found: claims.iss.clone(),
        });
    }
    if let Some(why) = subject_fault(&claims.sub) {
        return Err(IdTokenError::BadClaims(format!("sub {why}")));
    }
    let audiences = claims.aud.values();
    if !audiences.contains(&expect.client_id) {
        return Err(IdTokenError::WrongAudience(expect.client_id.to_owned()));
    }
    // OIDC Core §3.1.3.7 (4, 5): with several audiences azp must be us; if
    // present at all it must be us.
    match &claims.azp {
        Some(azp) if azp != expect.client_id => {
            return Err(IdTokenError::WrongAudience(expect.client_id.to_owned()));
        }
        None if audiences.len() > 1 => {
            return Err(IdTokenError::WrongAudience(expect.client_id.to_owned()));
        }
        _ => {}
    }
    check_times(
        TokenTimes {
            exp: claims.exp,
            iat: claims.iat,
            nbf: claims.nbf,
        },
        expect.now,
        expect.bounds,
    )
}

/// The times every token the broker exchanges must keep, ID token or workload token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenTimes {
    pub exp: u64,
    pub iat: u64,
    pub nbf: Option<u64>,
}

/// Not expired, not from the future (both with [`LEEWAY_SECS`]), no older than
/// `bounds.max_age_secs` and valid for no longer than `bounds.max_lifetime_secs`.
pub(crate) fn check_times(
    times: TokenTimes,
    now: u64,
    bounds: TokenBounds,
) -> Result<(), IdTokenError> {
    if now > times.exp.saturating_add(LEEWAY_SECS) {
        return Err(IdTokenError::Expired);
    }
    let future = |t: u64| t > now.saturating_add(LEEWAY_SECS);
    if future(times.iat) || times.nbf.is_some_and(future) {
        return Err(IdTokenError::NotYetValid);
    }
    let age = now.saturating_sub(times.iat);
    if age > bounds.max_age_secs.saturating_add(LEEWAY_SECS) {
        return Err(IdTokenError::TooOld {
            age,
            max: bounds.max_age_secs,
        });
    }
    let lifetime = times.exp.saturating_sub(times.iat);
    if lifetime > bounds.max_lifetime_secs {
        return Err(IdTokenError::TooLongLived {
            lifetime,
            max: bounds.max_lifetime_secs,
        });
    }
    Ok(())
}

fn select_key<'a>(jwks: &'a JwkSet, kid: Option<&str>, alg: &str) -> Option<&'a Jwk> {
    let usable = |k: &&Jwk| {
        k.common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature)
    };
    match kid {
        Some(kid) => jwks
            .keys
            .iter()
            .filter(usable)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        // No kid: only unambiguous when exactly one key fits the algorithm.
        None => {
            let mut fitting = jwks
                .keys
                .iter()
                .filter(usable)
                .filter(|k| algorithm_for(k, alg).is_ok());
            let first = fitting.next()?;
            fitting.next().is_none().then_some(first)
        }
    }
}

/// The algorithm a key may be used with, given what the token claims.
fn algorithm_for(jwk: &Jwk, alg: &str) -> Result<Algorithm, IdTokenError> {
    let claimed: Algorithm = alg
        .parse()
        .map_err(|_| IdTokenError::ForbiddenAlgorithm(alg.to_owned()))?;
    let family_ok = match (&jwk.algorithm, claimed) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
        | (AlgorithmParameters::RSA(_), Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512) => {
            true
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
            p.curve == jsonwebtoken::jwk::EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => {
            p.curve == jsonwebtoken::jwk::EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) => true,
        _ => false,
    };
    // If the JWK pins an algorithm, the token must use exactly that one.
    let pinned_ok = match jwk.common.key_algorithm {
        None => true,
        Some(pinned) => key_algorithm_name(pinned) == Some(alg),
    };
    if family_ok && pinned_ok {
        Ok(claimed)
    } else {
        Err(IdTokenError::AlgorithmMismatch)
    }
}

fn key_algorithm_name(alg: KeyAlgorithm) -> Option<&'static str> {
    Some(match alg {
        KeyAlgorithm::RS256 => "RS256",
        KeyAlgorithm::RS384 => "RS384",
        KeyAlgorithm::RS512 => "RS512",
        KeyAlgorithm::PS256 => "PS256",
        KeyAlgorithm::PS384 => "PS384",
        KeyAlgorithm::PS512 => "PS512",
        KeyAlgorithm::ES256 => "ES256",
        KeyAlgorithm::ES384 => "ES384",
        KeyAlgorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
