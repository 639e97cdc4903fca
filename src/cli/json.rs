//! `--json` output: one JSON document on stdout per command (one object per line for the
//! commands that stream events: `login`, `forward`), with the same shapes everywhere. Serials
//! are decimal strings; times are RFC 3339 under their name and unix seconds under
//! `<name>_unix`. Failures are `{"error": …}` documents (`zt_os::exit::Failure::to_json`).

use serde_json::{Map, Value, json};

use crate::client::session::{CertificateInfo, Session};

/// Print one JSON document (or one event line) on stdout.
pub fn emit(value: &Value) {
    // A reader that went away is not zt's failure; anything else was already reported by
    // the command or will show in its exit status.
    let _ = zt_os::stdout::println(&value.to_string());
}

/// A certificate as every `--json` output shows it.
pub fn certificate(cert: &CertificateInfo, now: u64) -> Value {
    let mut out = json!({
        "serial": cert.serial.to_string(),
        "key_id": cert.key_id,
        "principals": cert.principals,
        "rule": cert.rule,
        "in_agent": cert.in_agent,
        "expired": cert.valid_before <= now,
    });
    if let Some(posture) = &cert.posture {
        out["posture"] = json!({
            "digest": posture.digest,
            "passed": posture.passed,
            "warnings": posture.warnings,
            "requirements": posture.requirements.to_string(),
        });
    }
    insert_time(&mut out, "valid_after", cert.valid_after);
    insert_time(&mut out, "valid_before", cert.valid_before);
    out
}

/// The identity a session belongs to.
pub fn identity(session: &Session) -> Value {
    json!({
        "issuer": session.issuer,
        "subject": session.subject,
        "email": session.email,
        "groups": session.groups,
    })
}

/// Add `name` (RFC 3339) and `name_unix` to the object `value`.
pub fn insert_time(value: &mut Value, name: &str, unix: u64) {
    if let Value::Object(map) = value {
        extend(map, zt_core::time::json_fields(name, unix));
    }
}

fn extend(map: &mut Map<String, Value>, fields: [(String, Value); 2]) {
    for (k, v) in fields {
        map.insert(k, v);
    }
}
