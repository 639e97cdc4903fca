//! Verification of workload tokens presented to the broker: a CI job's OIDC token (GitHub
//! Actions, GitLab CI `id_tokens`), a Kubernetes projected service-account token, or an
//! RFC 9068 JWT access token from an OAuth client-credentials grant.
//!
//! Pure, and as strict as [`crate::id_token`]: the same header checks (the algorithm comes
//! from the issuer's key; `none`, HMAC, embedded keys and `crit` refused; repeated member
//! names refused), then exact `iss`, an `aud` that contains the broker's workload audience,
//! and typed `exp`/`iat` inside the configured bounds. What differs is what a token says:
//! no email or groups, but claims (repository, ref, namespace, …) that policy rules match.

use std::collections::BTreeMap;

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde_json::Value;

use crate::id_token::{
    IdTokenError, TokenBounds, TokenTimes, TypPolicy, check_times, ledger_key, subject_fault,
    verified_payload,
};
use crate::jose;
use crate::policy::Identity;

/// Bounds on the claims kept from one token: enough for every CI system's claim set (GitHub
/// sends about 25), small enough that a token cannot bloat the access token or the audit log.
const MAX_CLAIMS: usize = 100;
const MAX_CLAIM_VALUE_LEN: usize = 1024;
const MAX_DEPTH: usize = 4;
/// Claims that change with every token and mean nothing to a rule.
const VOLATILE: [&str; 4] = ["exp", "iat", "nbf", "jti"];

pub struct Expectations<'a> {
    /// The trusted issuer, exactly as `iss` must read.
    pub issuer: &'a str,
    /// The audience `aud` must contain.
    pub audience: &'a str,
    /// Which claim names the workload (`sub` unless the issuer is configured otherwise).
    pub subject_claim: &'a str,
    pub now: u64,
    pub bounds: TokenBounds,
}

/// What a verified workload token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWorkloadToken {
    /// `workload` is always `Some`: the flattened claims.
    pub identity: Identity,
    pub expires_at: u64,
    /// The key of the single-use ledger: the issuer and `jti`, else a hash of the signed part.
    pub token_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims checked by type; everything else is kept as it came, flattened.
#[derive(Debug, Deserialize)]
struct Times {
    iss: String,
    aud: Audience,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
}

/// The issuer a token claims, read without verifying anything: only to pick which trusted
/// issuer's keys and rules verify it next. Never trusted on its own.
pub fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = jose::b64_decode(payload)?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

pub fn verify(
    token: &str,
    jwks: &JwkSet,
    expect: &Expectations<'_>,
) -> Result<VerifiedWorkloadToken, IdTokenError> {
    let payload = verified_payload(token, jwks, TypPolicy::Workload)?;
    let times: Times = serde_json::from_value(payload.clone())
        .map_err(|e| IdTokenError::BadClaims(e.to_string()))?;
    if times.iss != expect.issuer {
        return Err(IdTokenError::WrongIssuer {
            expected: expect.issuer.to_owned(),
            found: times.iss,
        });
    }
    let audiences: Vec<&str> = match &times.aud {
        Audience::One(a) => vec![a.as_str()],
        Audience::Many(v) => v.iter().map(String::as_str).collect(),
    };
    if !audiences.contains(&expect.audience) {
        return Err(IdTokenError::WrongAudience(expect.audience.to_owned()));
    }
    check_times(
        TokenTimes {
            exp: times.exp,
            iat: times.iat,
            nbf: times.nbf,
        },
        expect.now,
        expect.bounds,
    )?;
    let subject = payload
        .get(expect.subject_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            IdTokenError::BadClaims(format!(
                "{} (the workload's name) is missing or not a non-empty string",
                expect.subject_claim
            ))
        })?
        .to_owned();
    if let Some(why) = subject_fault(&subject) {
        return Err(IdTokenError::BadClaims(format!(
            "{} (the workload's name) {why}",
            expect.subject_claim
        )));
    }
    let claims = flatten(&payload);
    let token_id = ledger_key(&times.iss, times.jti.as_deref(), token);
    Ok(VerifiedWorkloadToken {
        identity: Identity {
            issuer: times.iss,
            subject,
            email: None,
            groups: Vec::new(),
            workload: Some(claims),
        },
        expires_at: times.exp,
        token_id,
    })
}

/// A token's claims as rules see them: nested objects joined with `.` (Kubernetes'
/// `kubernetes.io.namespace`), strings as they are, numbers and booleans as JSON writes them.
/// Arrays, nulls, values over 1 KiB, names a policy could not write, objects nested deeper
/// than four levels, the time claims and anything past the hundredth claim are left out:
/// a rule naming a left-out claim does not match (fail closed).
///
/// A name reached twice (a top-level `"kubernetes.io.namespace"` next to a nested
/// `kubernetes.io` → `namespace`) is ambiguous: it is left out altogether, so neither spelling
/// can stand in for the other.
pub fn flatten(payload: &Value) -> BTreeMap<String, String> {
    let mut flat = Flat::default();
    if let Value::Object(map) = payload {
        for (name, value) in map {
            if !VOLATILE.contains(&name.as_str()) {
                add(&mut flat, name.clone(), value, 1);
            }
        }
    }
    flat.claims
}

#[derive(Default)]
struct Flat {
    claims: BTreeMap<String, String>,
    /// Every flattened name reached, kept or not, to find the ones reached twice.
    seen: std::collections::BTreeSet<String>,
}

fn add(out: &mut Flat, name: String, value: &Value, depth: usize) {
    let plain = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b));
    if !plain {
        return;
    }
    let text = match value {
        Value::Object(map) if depth < MAX_DEPTH => {
            for (key, inner) in map {
                add(out, format!("{name}.{key}"), inner, depth + 1);
            }
            return;
        }
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if !out.seen.insert(name.clone()) {
        // Reached before under another spelling: ambiguous, so kept under neither.
        out.claims.remove(&name);
        return;
    }
    if let Some(text) = text.filter(|t| t.len() <= MAX_CLAIM_VALUE_LEN) {
        if out.claims.len() < MAX_CLAIMS {
            out.claims.insert(name, text);
        }
    }
}

#[cfg(test)]
mod tests;
