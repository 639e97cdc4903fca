//! OpenSSH key revocation lists (KRL), as `sshd`'s `RevokedKeys` and
//! `ssh-keygen -Q` read them. Pure: a [`Krl`] value in, bytes out.
//!
//! The format is OpenSSH's `PROTOCOL.krl`: a header (magic `SSHKRL\n\0`,
//! format version 1, KRL version, generation date, flags, reserved, comment)
//! followed by sections, each a type byte and an SSH `string` of data. zt
//! writes three kinds:
//!
//! - one certificates section per CA (the CA's public key blob, a reserved
//!   string, then subsections): a serial list (0x20) and a key-ID list (0x23);
//! - a SHA-256 fingerprint section (0x05) for plain keys.
//!
//! OpenSSH's parser refuses unsorted or repeated serials and fingerprint
//! hashes, so every list is kept in a `BTreeSet`: sorted and unique by
//! construction. Serials are random 63-bit numbers (see docs/decisions.md),
//! so ranges and bitmaps would not make the list smaller; they are not used.
//! The KRL is not signed (OpenSSH ignores KRL signatures); it is fetched
//! over TLS from the broker.

use std::collections::{BTreeMap, BTreeSet};

pub const MAGIC: &[u8; 8] = b"SSHKRL\n\0";
pub const FORMAT_VERSION: u32 = 1;

pub const SECTION_CERTIFICATES: u8 = 0x01;
pub const SECTION_FINGERPRINT_SHA256: u8 = 0x05;
pub const CERT_SECTION_SERIAL_LIST: u8 = 0x20;
pub const CERT_SECTION_KEY_ID: u8 = 0x23;

/// What a KRL revokes. Lists are sorted and unique by construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Krl {
    /// Increases whenever the content changes.
    pub version: u64,
    /// Unix seconds.
    pub generated_date: u64,
    pub comment: String,
    /// Per CA public key blob (SSH wire encoding): revoked certificates.
    pub certificates: BTreeMap<Vec<u8>, RevokedCertificates>,
    /// SHA-256 hashes of revoked public key blobs (what `SHA256:` fingerprints show).
    pub sha256_fingerprints: BTreeSet<[u8; 32]>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedCertificates {
    pub serials: BTreeSet<u64>,
    pub key_ids: BTreeSet<String>,
}

impl Krl {
    /// The revoked certificates of CA `ca_key_blob`, created empty if needed.
    pub fn ca(&mut self, ca_key_blob: Vec<u8>) -> &mut RevokedCertificates {
        self.certificates.entry(ca_key_blob).or_default()
    }

    /// The binary KRL.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u64(&mut out, self.version);
        put_u64(&mut out, self.generated_date);
        put_u64(&mut out, 0); // flags: none defined
        put_string(&mut out, b""); // reserved
        put_string(&mut out, self.comment.as_bytes());
        for (ca, revoked) in &self.certificates {
            if revoked.serials.is_empty() && revoked.key_ids.is_empty() {
                continue;
            }
            let mut section = Vec::new();
            put_string(&mut section, ca);
            put_string(&mut section, b""); // reserved
            if !revoked.serials.is_empty() {
                let mut list = Vec::with_capacity(revoked.serials.len() * 8);
                for serial in &revoked.serials {
                    put_u64(&mut list, *serial);
                }
                section.push(CERT_SECTION_SERIAL_LIST);
                put_string(&mut section, &list);
            }
            if !revoked.key_ids.is_empty() {
                let mut list = Vec::new();
                for key_id in &revoked.key_ids {
                    put_string(&mut list, key_id.as_bytes());
                }
                section.push(CERT_SECTION_KEY_ID);
                put_string(&mut section, &list);
            }
            out.push(SECTION_CERTIFICATES);
            put_string(&mut out, &section);
        }
        if !self.sha256_fingerprints.is_empty() {
            let mut section = Vec::new();
            for hash in &self.sha256_fingerprints {
                put_string(&mut section, hash);
            }
            out.push(SECTION_FINGERPRINT_SHA256);
            put_string(&mut out, &section);
        }
        out
    }
}

/// Decode an `ssh-keygen -l` style fingerprint (`SHA256:` + unpadded base64)
/// into the 32-byte hash a KRL holds.
pub fn parse_sha256_fingerprint(text: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let b64 = text.strip_prefix("SHA256:")?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()?;
    bytes.try_into().ok()
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // KRL fields are far below 4 GiB (bounded by the store's content).
    put_u32(out, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny reader for the tests: the inverse of the writer above.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            head
        }
        fn u8(&mut self) -> u8 {
            self.take(1)[0]
        }
        fn u32(&mut self) -> u32 {
            u32::from_be_bytes(self.take(4).try_into().unwrap())
        }
        fn u64(&mut self) -> u64 {
            u64::from_be_bytes(self.take(8).try_into().unwrap())
        }
        fn string(&mut self) -> &'a [u8] {
            let n = self.u32() as usize;
            self.take(n)
        }
        fn done(&self) -> bool {
            self.0.is_empty()
        }
    }

    #[test]
    fn an_empty_krl_is_just_the_header() {
        let krl = Krl {
            version: 7,
            generated_date: 1_700_000_000,
            comment: "zt".into(),
            ..Krl::default()
        };
        let bytes = krl.encode();
        let mut r = Reader(&bytes);
        assert_eq!(r.take(8), MAGIC);
        assert_eq!(r.u32(), 1);
        assert_eq!(r.u64(), 7);
        assert_eq!(r.u64(), 1_700_000_000);
        assert_eq!(r.u64(), 0);
        assert_eq!(r.string(), b"");
        assert_eq!(r.string(), b"zt");
        assert!(r.done());
    }

    #[test]
    fn sections_round_trip_sorted_and_unique() {
        let mut krl = Krl::default();
        let ca = krl.ca(b"ca-blob".to_vec());
        for serial in [30, 5, u64::MAX >> 1, 5, 17] {
            ca.serials.insert(serial);
        }
        ca.key_ids.insert("zt:b".into());
        ca.key_ids.insert("zt:a".into());
        ca.key_ids.insert("zt:a".into());
        krl.ca(b"empty-ca".to_vec()); // no entries: no section
        krl.sha256_fingerprints.insert([9; 32]);
        krl.sha256_fingerprints.insert([1; 32]);
        let bytes = krl.encode();
        let mut r = Reader(&bytes);
        r.take(8 + 4 + 8 + 8 + 8);
        r.string();
        r.string();

        assert_eq!(r.u8(), SECTION_CERTIFICATES);
        let mut section = Reader(r.string());
        assert_eq!(section.string(), b"ca-blob");
        assert_eq!(section.string(), b"");
        assert_eq!(section.u8(), CERT_SECTION_SERIAL_LIST);
        let mut serials = Reader(section.string());
        let mut got = Vec::new();
        while !serials.done() {
            got.push(serials.u64());
        }
        assert_eq!(got, [5, 17, 30, u64::MAX >> 1]);
        assert_eq!(section.u8(), CERT_SECTION_KEY_ID);
        let mut ids = Reader(section.string());
        assert_eq!(ids.string(), b"zt:a");
        assert_eq!(ids.string(), b"zt:b");
        assert!(ids.done() && section.done());

        assert_eq!(r.u8(), SECTION_FINGERPRINT_SHA256);
        let mut hashes = Reader(r.string());
        assert_eq!(hashes.string(), [1; 32]);
        assert_eq!(hashes.string(), [9; 32]);
        assert!(hashes.done() && r.done());
    }

    #[test]
    fn fingerprints_parse_as_ssh_keygen_prints_them() {
        use ssh_key::private::{Ed25519Keypair, PrivateKey};
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&[3; 32]));
        let fingerprint = key.public_key().fingerprint(ssh_key::HashAlg::Sha256);
        let parsed = parse_sha256_fingerprint(&fingerprint.to_string()).unwrap();
        assert_eq!(parsed.as_slice(), fingerprint.as_bytes());
        assert_eq!(parse_sha256_fingerprint("MD5:aa"), None);
        assert_eq!(parse_sha256_fingerprint("SHA256:c2hvcnQ"), None);
    }
}
