//! Durations as written in a policy file (`90s`, `15m`, `1h30m`, `2d`) and
//! their display form for messages.

use std::fmt;
use std::time::Duration;

/// The longest duration a policy may write. Certificates are meant to be
/// short-lived; anything beyond a month is almost certainly a mistake.
pub const MAX_POLICY_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// Why a duration string is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it is empty")]
    Empty,
    #[error("it is negative")]
    Negative,
    #[error("it is not a duration such as 90s, 15m, 1h30m or 2d (units d, h, m, s; no spaces)")]
    Syntax,
    #[error("units must go from largest to smallest, each at most once (1h30m, not 30m1h)")]
    UnitOrder,
    #[error("the number is too large")]
    Overflow,
    #[error("it is zero")]
    Zero,
    #[error("it is longer than 30 days")]
    TooLong,
}

/// Parses `<number><unit>` groups, units `d`, `h`, `m`, `s` in that order,
/// each at most once: `90s`, `15m`, `1h30m`, `2d`. The total must be more than
/// zero and at most [`MAX_POLICY_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let mut total: u64 = 0;
    // Seconds-per-unit of the previous group; units must strictly decrease.
    let mut previous_unit = u64::MAX;
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits == rest.len() {
            // A unit with no number ("h"), or a number with no unit ("90").
            return Err(DurationError::Syntax);
        }
        let mut number: u64 = 0;
        for &d in &rest[..digits] {
            number = number
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(DurationError::Overflow)?;
        }
        let unit = match rest[digits] {
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return Err(DurationError::Syntax),
        };
        if unit >= previous_unit {
            return Err(DurationError::UnitOrder);
        }
        previous_unit = unit;
        total = number
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or(DurationError::Overflow)?;
        rest = &rest[digits + 1..];
    }
    let duration = Duration::from_secs(total);
    if duration.is_zero() {
        return Err(DurationError::Zero);
    }
    if duration > MAX_POLICY_DURATION {
        return Err(DurationError::TooLong);
    }
    Ok(duration)
}

/// Displays a duration in the policy syntax (`1h30m`, `2d`, `45s`). Sub-second
/// parts (only possible in requested TTLs) are shown with Rust's own notation.
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() != 0 {
            return write!(f, "{:?}", self.0);
        }
        let mut secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')] {
            if secs >= unit {
                write!(f, "{}{name}", secs / unit)?;
                secs %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Result<Duration, DurationError> {
        Ok(Duration::from_secs(n))
    }

    #[test]
    fn accepted() {
        assert_eq!(parse_duration("90s"), secs(90));
        assert_eq!(parse_duration("15m"), secs(900));
        assert_eq!(parse_duration("1h"), secs(3600));
        assert_eq!(parse_duration("1h30m"), secs(5400));
        assert_eq!(parse_duration("2d"), secs(172_800));
        assert_eq!(parse_duration("1d2h3m4s"), secs(93_784));
        assert_eq!(parse_duration("0h30m"), secs(1800));
        assert_eq!(parse_duration("30d"), secs(30 * 86_400));
        assert_eq!(parse_duration("720h"), secs(30 * 86_400));
    }

    #[test]
    fn refused() {
        use DurationError::*;
        for (text, err) in [
            ("", Empty),
            ("-1h", Negative),
            ("90", Syntax),
            ("h", Syntax),
            ("1 h", Syntax),
            (" 1h", Syntax),
            ("1H", Syntax),
            ("1w", Syntax),
            ("1.5h", Syntax),
            ("+1h", Syntax),
            ("1h30", Syntax),
            ("one hour", Syntax),
            ("1h1h", UnitOrder),
            ("30m1h", UnitOrder),
            ("0s", Zero),
            ("0h0m", Zero),
            ("31d", TooLong),
            ("30d1s", TooLong),
            ("99999999999999999999s", Overflow),
            ("18446744073709551615d", Overflow),
            ("213503982334602d", Overflow),
            ("213503982334601d1000000h", Overflow),
        ] {
            assert_eq!(parse_duration(text), Err(err), "{text:?}");
        }
    }

    #[test]
    fn display() {
        let show = |s| DisplayDuration(Duration::from_secs(s)).to_string();
        assert_eq!(show(0), "0s");
        assert_eq!(show(45), "45s");
        assert_eq!(show(90), "1m30s");
        assert_eq!(show(5400), "1h30m");
        assert_eq!(show(2 * 86_400), "2d");
        assert_eq!(show(10 * 365 * 86_400), "3650d");
        assert_eq!(
            DisplayDuration(Duration::from_millis(1500)).to_string(),
            "1.5s"
        );
    }
}
