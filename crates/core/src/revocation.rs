//! Revocations as the broker records them, and the KRL they make. Pure: the
//! store hands in what it holds, [`build_krl`] returns the KRL to serve.
//!
//! Four ways to name what is revoked: a certificate serial, a certificate
//! key ID, a user (IdP issuer and subject: every unexpired certificate the
//! broker issued to them, and no new ones), and a public key (SHA-256
//! fingerprint: that key, certified or not).

use serde::{Deserialize, Serialize};

use crate::krl::{self, Krl};

/// One revocation. Serialised into audit records as `{"serial":"N"}` (a decimal string; older
/// records hold a number),
/// `{"key_id":"…"}`, `{"user":{"issuer":"…","subject":"…"}}` or `{"key":"SHA256:…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Revocation {
    Serial(#[serde(with = "crate::proto::decimal")] u64),
    KeyId(String),
    User { issuer: String, subject: String },
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("--serial must be a non-zero certificate serial")]
    ZeroSerial,
    #[error("--key-id must be 1 to 1024 bytes without control characters")]
    BadKeyId,
    #[error("--user must be ISSUER,SUBJECT (the IdP issuer URL and the user's subject)")]
    BadUser,
    #[error("--key must be a SHA-256 fingerprint as `ssh-keygen -lf key.pub` prints it (SHA256:…)")]
    BadFingerprint,
}

impl Revocation {
    pub fn serial(serial: u64) -> Result<Self, RevocationError> {
        if serial == 0 {
            return Err(RevocationError::ZeroSerial);
        }
        Ok(Revocation::Serial(serial))
    }

    pub fn key_id(key_id: &str) -> Result<Self, RevocationError> {
        if key_id.is_empty()
            || key_id.len() > crate::ca::MAX_KEY_ID_LEN
            || key_id.chars().any(char::is_control)
        {
            return Err(RevocationError::BadKeyId);
        }
        Ok(Revocation::KeyId(key_id.to_owned()))
    }

    /// `ISSUER,SUBJECT`. The issuer is a URL and has no comma; the subject
    /// is everything after the first comma.
    pub fn user(text: &str) -> Result<Self, RevocationError> {
        let (issuer, subject) = text.split_once(',').ok_or(RevocationError::BadUser)?;
        let bad = |s: &str| s.is_empty() || s.chars().any(char::is_control);
        if bad(issuer) || bad(subject) {
            return Err(RevocationError::BadUser);
        }
        Ok(Revocation::User {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        })
    }

    pub fn key(fingerprint: &str) -> Result<Self, RevocationError> {
        krl::parse_sha256_fingerprint(fingerprint).ok_or(RevocationError::BadFingerprint)?;
        Ok(Revocation::Key(
            fingerprint.trim_end_matches('=').to_owned(),
        ))
    }

    /// The store's (kind, value) for this revocation; unique per revocation.
    pub fn store_key(&self) -> (&'static str, String) {
        match self {
            Revocation::Serial(s) => ("serial", s.to_string()),
            Revocation::KeyId(k) => ("key_id", k.clone()),
            Revocation::User { issuer, subject } => (
                "user",
                serde_json::to_string(&[issuer, subject]).expect("strings serialise"),
            ),
            Revocation::Key(f) => ("key", f.clone()),
        }
    }

    /// The inverse of [`store_key`](Self::store_key).
    pub fn from_store(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "serial" => value.parse().ok().map(Revocation::Serial),
            "key_id" => Some(Revocation::KeyId(value.to_owned())),
            "user" => {
                let [issuer, subject]: [String; 2] = serde_json::from_str(value).ok()?;
                Some(Revocation::User { issuer, subject })
            }
            "key" => Some(Revocation::Key(value.to_owned())),
            _ => None,
        }
    }

    /// The `user` store value for an identity, to look it up.
    pub fn user_store_value(issuer: &str, subject: &str) -> String {
        Revocation::User {
            issuer: issuer.into(),
            subject: subject.into(),
        }
        .store_key()
        .1
    }
}

/// Everything revoked, as the store holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// The highest revocation number (0 when nothing was ever revoked).
    pub version: u64,
    /// When the last revocation was recorded (unix seconds).
    pub updated_at: u64,
    pub entries: Vec<Revocation>,
    /// Serials of the unexpired certificates issued to revoked users.
    pub user_serials: Vec<u64>,
}

impl RevocationList {
    /// Whether a certificate with these facts is revoked.
    pub fn revokes(&self, serial: u64, key_id: &str, fingerprint: &str) -> bool {
        self.user_serials.contains(&serial)
            || self.entries.iter().any(|r| match r {
                Revocation::Serial(s) => *s == serial,
                Revocation::KeyId(k) => k == key_id,
                Revocation::Key(f) => f == fingerprint.trim_end_matches('='),
                Revocation::User { .. } => false,
            })
    }
}

/// The KRL for certificates signed by the CA whose public key blob is
/// `user_ca_blob`. Deterministic: the same list gives the same bytes, so an
/// ETag over them changes only when the content does.
pub fn build_krl(user_ca_blob: &[u8], list: &RevocationList) -> Krl {
    let mut krl = Krl {
        version: list.version,
        generated_date: list.updated_at,
        comment: "zt-broker".into(),
        ..Krl::default()
    };
    let mut fingerprints = Vec::new();
    let ca = krl.ca(user_ca_blob.to_vec());
    ca.serials.extend(list.user_serials.iter().copied());
    for entry in &list.entries {
        match entry {
            Revocation::Serial(s) => {
                ca.serials.insert(*s);
            }
            Revocation::KeyId(k) => {
                ca.key_ids.insert(k.clone());
            }
            Revocation::Key(f) => fingerprints.extend(krl::parse_sha256_fingerprint(f)),
            Revocation::User { .. } => {}
        }
    }
    krl.sha256_fingerprints.extend(fingerprints);
    krl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert_eq!(Revocation::serial(0), Err(RevocationError::ZeroSerial));
        assert_eq!(Revocation::key_id("a\nb"), Err(RevocationError::BadKeyId));
        assert_eq!(Revocation::user("nocomma"), Err(RevocationError::BadUser));
        assert_eq!(Revocation::user(",sub"), Err(RevocationError::BadUser));
        assert_eq!(
            Revocation::user("https://idp,a,b"),
            Ok(Revocation::User {
                issuer: "https://idp".into(),
                subject: "a,b".into()
            })
        );
        assert_eq!(
            Revocation::key("SHA256:nope"),
            Err(RevocationError::BadFingerprint)
        );
    }

    #[test]
    fn store_keys_round_trip_and_audit_form_is_stable() {
        let all = [
            Revocation::Serial(42),
            Revocation::KeyId("zt:x".into()),
            Revocation::User {
                issuer: "https://idp".into(),
                subject: "a\"b".into(),
            },
            Revocation::Key("SHA256:abc".into()),
        ];
        for r in &all {
            let (kind, value) = r.store_key();
            assert_eq!(Revocation::from_store(kind, &value).as_ref(), Some(r));
        }
        assert_eq!(
            serde_json::to_string(&all[0]).unwrap(),
            r#"{"serial":"42"}"#
        );
        // Records written before serials became strings still read.
        let old: Revocation = serde_json::from_str(r#"{"serial":42}"#).unwrap();
        assert_eq!(old, all[0]);
        assert_eq!(
            serde_json::to_string(&all[2]).unwrap(),
            r#"{"user":{"issuer":"https://idp","subject":"a\"b"}}"#
        );
    }

    #[test]
    fn the_krl_holds_every_kind_and_is_deterministic() {
        let list = RevocationList {
            version: 3,
            updated_at: 99,
            entries: vec![
                Revocation::Serial(9),
                Revocation::KeyId("k".into()),
                Revocation::Key(format!("SHA256:{}", "A".repeat(43))),
                Revocation::User {
                    issuer: "i".into(),
                    subject: "s".into(),
                },
            ],
            user_serials: vec![9, 4],
        };
        let krl = build_krl(b"ca", &list);
        let ca = &krl.certificates[b"ca".as_slice()];
        assert_eq!(ca.serials.iter().copied().collect::<Vec<_>>(), [4, 9]);
        assert!(ca.key_ids.contains("k"));
        assert_eq!(krl.sha256_fingerprints.len(), 1);
        assert_eq!(krl.encode(), build_krl(b"ca", &list).encode());
        assert!(list.revokes(4, "other", "SHA256:x"));
        assert!(list.revokes(1, "k", "SHA256:x"));
        assert!(!list.revokes(1, "other", "SHA256:x"));
    }
}
