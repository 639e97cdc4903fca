//! Unix seconds as people and scripts read them: RFC 3339 in UTC. Pure: the caller has read
//! the clock.

/// `unix` seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A time for `--json` output: the RFC 3339 text under `name` and the unix seconds under
/// `<name>_unix`, so both people and scripts read it without converting.
pub fn json_fields(name: &str, unix: u64) -> [(String, serde_json::Value); 2] {
    [
        (name.to_owned(), rfc3339(unix).into()),
        (format!("{name}_unix"), unix.into()),
    ]
}

/// (year, month, day) of the proleptic Gregorian calendar, `days` after 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn json_has_both_forms() {
        let [(a, text), (b, unix)] = json_fields("valid_before", 1_800_000_000);
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("valid_before", "valid_before_unix")
        );
        assert_eq!(text, "2027-01-15T08:00:00Z");
        assert_eq!(unix, 1_800_000_000u64);
    }
}
