//! Identifiers that can exceed 2^53 (certificate serials, audit sequence numbers) travel as
//! decimal **strings** in every JSON body and output: jq 1.6 and JavaScript read JSON numbers
//! as doubles and silently round anything larger, so a serial copied from `zt status --json`
//! into `zt-broker revoke` would name another certificate.
//!
//! Reading accepts a JSON number too, for bodies written before this change (deprecated; see
//! docs/decisions.md). Use as `#[serde(with = "decimal")]`, or `decimal::option` for an
//! `Option<u64>`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(DecimalVisitor)
}

/// `text` as a serial, if it is a plain decimal: digits only, no sign, spaces, exponent or
/// leading zero (but "0" itself), within u64.
pub fn parse(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// In a JSON value built from types that still hold plain numbers (audit records written
/// before serials became strings, verification reports), turn the numbers under any of
/// `keys`, at any depth, into decimal strings.
pub fn stringify(value: &mut serde_json::Value, keys: &[&str]) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    serde_json::Value::Number(n) if keys.contains(&key.as_str()) => {
                        if let Some(u) = n.as_u64() {
                            *item = u.to_string().into();
                        }
                    }
                    other => stringify(other, keys),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| stringify(i, keys)),
        _ => {}
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned 64-bit integer as a decimal string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
        parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }
}

/// The same for an `Option<u64>` (absent or null is `None`).
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] u64);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Serial {
        #[serde(with = "super")]
        serial: u64,
    }

    #[test]
    fn large_serials_are_strings_and_survive_a_round_trip() {
        // 2^53 + 1: a double would make it ...992.
        let big = Serial {
            serial: 9_007_199_254_740_993,
        };
        let text = serde_json::to_string(&big).unwrap();
        assert_eq!(text, r#"{"serial":"9007199254740993"}"#);
        assert_eq!(serde_json::from_str::<Serial>(&text).unwrap(), big);
        let max = Serial { serial: u64::MAX };
        let text = serde_json::to_string(&max).unwrap();
        assert_eq!(serde_json::from_str::<Serial>(&text).unwrap(), max);
    }

    #[test]
    fn stringify_turns_the_named_numbers_into_strings_at_any_depth() {
        let mut value = serde_json::json!({
            "seq": 7, "time": 100,
            "certificate": {"serial": 9007199254740993u64, "valid_before": 5},
            "revocation": {"serial": "3"},
            "list": [{"seq": 1}],
        });
        super::stringify(&mut value, &["seq", "serial"]);
        assert_eq!(
            value,
            serde_json::json!({
                "seq": "7", "time": 100,
                "certificate": {"serial": "9007199254740993", "valid_before": 5},
                "revocation": {"serial": "3"},
                "list": [{"seq": "1"}],
            })
        );
    }

    #[test]
    fn numbers_are_still_read_during_the_deprecation_window() {
        let old: Serial = serde_json::from_str(r#"{"serial":42}"#).unwrap();
        assert_eq!(old.serial, 42);
    }

    #[test]
    fn anything_but_a_plain_decimal_is_refused() {
        for bad in [
            r#""""#,
            r#""-1""#,
            r#""+1""#,
            r#"" 1""#,
            r#""01""#,
            r#""1e3""#,
            r#""0x10""#,
            r#""18446744073709551616""#,
            "-1",
            "1.5",
            "true",
            "null",
        ] {
            let json = format!(r#"{{"serial":{bad}}}"#);
            assert!(
                serde_json::from_str::<Serial>(&json).is_err(),
                "{bad} accepted"
            );
        }
    }
}
