//! The certificate key ID: a canonical, escaped record of who asked for a
//! certificate. sshd logs the key ID on every login, so it must identify the
//! person and request unambiguously and must never carry a control character,
//! a field separator or anything else a log reader could be fooled by.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Longest key ID zt produces, in bytes.
pub const MAX_KEY_ID_LEN: usize = 1024;

/// The identity and request facts that go into a key ID. All values are
/// untrusted text (they come from the IdP and the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIdFields<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// Only a verified email; `None` leaves the field out.
    pub email: Option<&'a str>,
    pub device: &'a str,
    pub request_id: &'a str,
}

/// Per-field caps on the *encoded* value. Their sum plus the labels
/// (`zt:iss=;sub=;email=;device=;req=`, 32 bytes) is 992, under
/// [`MAX_KEY_ID_LEN`]. Fixed caps make truncation independent of the other
/// fields, so the same input always gives the same ID.
const ISSUER_CAP: usize = 256;
const SUBJECT_CAP: usize = 256;
const EMAIL_CAP: usize = 256;
const DEVICE_CAP: usize = 128;
const REQUEST_CAP: usize = 64;

/// Marks a truncated value. `*` is outside the unescaped set, so it can never
/// come out of [`escape`] and a reader can always tell a cut value from a real one.
const TRUNCATION_MARK: char = '*';
/// Hex digits of SHA-256(original value) kept after the mark, so two long
/// values that share a prefix still give different IDs.
const TRUNCATION_HASH_HEX: usize = 16;

/// Builds `zt:iss=<v>;sub=<v>;email=<v>;device=<v>;req=<v>` (the `email` field
/// is omitted when `None`).
///
/// Every byte outside `[A-Za-z0-9._~@+/:-]` is written as `%XX` (upper-case
/// hex), so `;`, `=`, `%`, spaces, control bytes and non-ASCII never appear
/// raw. A value whose encoding exceeds its cap is cut (never inside a `%XX`)
/// and ends in `*` followed by 16 hex digits of the SHA-256 of the full value.
/// The result is at most [`MAX_KEY_ID_LEN`] bytes.
pub fn key_id(fields: &KeyIdFields<'_>) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("zt:iss=");
    push_field(&mut out, fields.issuer, ISSUER_CAP);
    out.push_str(";sub=");
    push_field(&mut out, fields.subject, SUBJECT_CAP);
    if let Some(email) = fields.email {
        out.push_str(";email=");
        push_field(&mut out, email, EMAIL_CAP);
    }
    out.push_str(";device=");
    push_field(&mut out, fields.device, DEVICE_CAP);
    out.push_str(";req=");
    push_field(&mut out, fields.request_id, REQUEST_CAP);
    debug_assert!(out.len() <= MAX_KEY_ID_LEN);
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._~@+/:-".contains(&b)
}

/// Percent-encodes `value`, byte by byte.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn push_field(out: &mut String, value: &str, cap: usize) {
    let encoded = escape(value);
    if encoded.len() <= cap {
        out.push_str(&encoded);
        return;
    }
    let keep = cap - 1 - TRUNCATION_HASH_HEX;
    let mut cut = keep;
    // Back off so a `%XX` triple is never split: if one of the two bytes
    // before the cut is '%', the escape starts there.
    for back in 1..=2 {
        if encoded.as_bytes()[keep - back] == b'%' {
            cut = keep - back;
        }
    }
    out.push_str(&encoded[..cut]);
    out.push(TRUNCATION_MARK);
    let digest = Sha256::digest(value.as_bytes());
    out.push_str(&hex::encode(digest)[..TRUNCATION_HASH_HEX]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(issuer: &'a str, subject: &'a str, email: Option<&'a str>) -> KeyIdFields<'a> {
        KeyIdFields {
            issuer,
            subject,
            email,
            device: "dev-1",
            request_id: "req-7",
        }
    }

    #[test]
    fn plain_values_are_kept() {
        let id = key_id(&fields(
            "https://idp.example",
            "248289761001",
            Some("alice@example.com"),
        ));
        assert_eq!(
            id,
            "zt:iss=https://idp.example;sub=248289761001;email=alice@example.com;device=dev-1;req=req-7"
        );
    }

    #[test]
    fn email_field_is_omitted_when_absent() {
        let id = key_id(&fields("https://idp", "bob", None));
        assert_eq!(id, "zt:iss=https://idp;sub=bob;device=dev-1;req=req-7");
    }

    #[test]
    fn separators_controls_and_non_ascii_are_escaped() {
        let id = key_id(&fields(
            "a;b=c%d e",
            "x\ny\r\u{0}\u{1b}[31m",
            Some("é@ü.de"),
        ));
        assert_eq!(
            id,
            "zt:iss=a%3Bb%3Dc%25d%20e;sub=x%0Ay%0D%00%1B%5B31m;email=%C3%A9@%C3%BC.de;device=dev-1;req=req-7"
        );
        // A value cannot forge another field.
        let forged = key_id(&fields("https://idp", "bob;sub=root", None));
        assert_eq!(forged.matches(";sub=").count(), 1);
    }

    #[test]
    fn only_the_unescaped_set_and_escapes_appear() {
        let all_bytes: String = (0u8..=127).map(char::from).collect();
        let id = key_id(&fields(&all_bytes, "s", None));
        let mut rest = id.as_str();
        while let Some(i) = rest.find('%') {
            let hex = &rest[i + 1..i + 3];
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
            );
            rest = &rest[i + 3..];
        }
        assert!(
            id.bytes()
                .all(|b| is_unreserved(b) || b"%;=".contains(&b) || b == b'*'),
            "{id}"
        );
        assert!(!id.contains('*'), "short values are not truncated");
    }

    #[test]
    fn long_values_are_truncated_deterministically_and_marked() {
        let huge = "é".repeat(5000);
        let id = key_id(&KeyIdFields {
            issuer: &huge,
            subject: &huge,
            email: Some(&huge),
            device: &huge,
            request_id: &huge,
        });
        assert!(id.len() <= MAX_KEY_ID_LEN, "{}", id.len());
        assert_eq!(id.matches('*').count(), 5);
        assert_eq!(
            id,
            key_id(&KeyIdFields {
                issuer: &huge,
                subject: &huge,
                email: Some(&huge),
                device: &huge,
                request_id: &huge
            })
        );
        // No escape is split by the cut.
        for part in id.split(';') {
            let value = part.split_once('=').unwrap().1;
            let (kept, hash) = value.split_once('*').unwrap();
            assert_eq!(hash.len(), TRUNCATION_HASH_HEX);
            assert!(kept.len() % 3 == 0 && kept.starts_with('%'), "{kept}");
        }
    }

    #[test]
    fn truncated_values_with_a_common_prefix_stay_distinct() {
        let a = format!("{}a", "x".repeat(400));
        let b = format!("{}b", "x".repeat(400));
        assert_ne!(
            key_id(&fields(&a, "s", None)),
            key_id(&fields(&b, "s", None))
        );
    }

    #[test]
    fn value_exactly_at_the_cap_is_not_truncated() {
        let at_cap = "r".repeat(REQUEST_CAP);
        let id = key_id(&KeyIdFields {
            request_id: &at_cap,
            ..fields("i", "s", None)
        });
        assert!(id.ends_with(&at_cap));
        let over = "r".repeat(REQUEST_CAP + 1);
        let id = key_id(&KeyIdFields {
            request_id: &over,
            ..fields("i", "s", None)
        });
        assert!(id.contains('*'));
        assert_eq!(id.split(";req=").nth(1).unwrap().len(), REQUEST_CAP);
    }
}
