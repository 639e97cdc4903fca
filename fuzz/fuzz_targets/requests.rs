//! Request bodies as the broker parses them (JSON certificate requests,
//! form-encoded token exchanges), then the checks on what they carry:
//! subject key, possession proof, principals, and the key ID built from
//! identity fields. No input may panic; a key ID never holds control bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_key::PublicKey;
use zt_core::ca::{self, KeyIdFields};
use zt_core::proto::{CertificateRequest, TokenExchangeRequest};

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<TokenExchangeRequest>(data);
    if let Ok(req) = serde_json::from_slice::<CertificateRequest>(data) {
        if let Ok(key) = PublicKey::from_openssh(req.public_key.trim()) {
            let _ = ca::check_subject_key(&key, &[]);
            let message = ca::possession_message("jti-0123456789abcdef", req.public_key.trim());
            let _ = ca::verify_possession(&key, &message, &req.possession_proof);
            let _ = ca::fingerprint(&key);
        }
        for p in req.principals.iter().flatten() {
            let _ = zt_core::ca::check_principal(p);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut fields = text.splitn(3, '\u{0}');
        let (issuer, subject, email) = (
            fields.next().unwrap_or(""),
            fields.next().unwrap_or(""),
            fields.next(),
        );
        let id = ca::key_id(&KeyIdFields {
            issuer,
            subject,
            email,
            device: "device",
            request_id: "request",
        });
        assert!(!id.chars().any(char::is_control), "{id:?}");
        let _ = ca::check_source_address(text);
        let _ = ca::check_force_command(text);
    }
});
